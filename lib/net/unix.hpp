// Unix domain socket client connections.
#pragma once

#include "socket.hpp"

#include <memory>
#include <string>
#include <sys/socket.h>

namespace syncws::net {

/// Connects to the Unix domain stream socket at `path`. A connect blocks only while the
/// server's backlog is full; it then waits until `deadline`.
///
/// Throws: `NetworkError` "cannot connect to path" (ENOENT, ECONNREFUSED for a stale socket
/// file, ENAMETOOLONG for a path longer than sockaddr_un allows); `Timeout` when the deadline
/// passes.
/// Thread safety: reentrant.
std::unique_ptr<SocketStream> connect_unix(const std::string& path, Deadline deadline);

namespace detail {

/// Fills a sockaddr_un for `path`; returns its length. Throws `NetworkError`
/// (ENAMETOOLONG) if the path does not fit. Declared here for the listener.
socklen_t make_unix_address(const std::string& path, sockaddr_storage& out);

} // namespace detail
} // namespace syncws::net
