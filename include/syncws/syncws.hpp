// The whole public API of syncws in one include.
#pragma once

#include <syncws/bytes.hpp>
#include <syncws/client.hpp>
#include <syncws/connection.hpp>
#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>
#include <syncws/extension.hpp>
#include <syncws/frame.hpp>
#include <syncws/http.hpp>
#include <syncws/log.hpp>
#include <syncws/protocol.hpp>
#include <syncws/reconnect.hpp>
#include <syncws/server.hpp>
#include <syncws/tls.hpp>
#include <syncws/uri.hpp>
