// Try-parsing of HTTP/1.1 heads from a buffer (RFC 9112), with limits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <syncws/http.hpp>

namespace syncws::detail {

enum class ParseStatus {
    need_more, ///< the head (or body) is incomplete: feed more bytes
    done,      ///< parsed; `consumed` bytes belong to it
    error,     ///< malformed or beyond a limit; see `http_status` and `message`
};

struct HttpParseResult {
    ParseStatus status = ParseStatus::need_more;
    /// Bytes used by the message when `done` (head, plus the body for responses).
    std::size_t consumed = 0;
    /// For errors: 400 (malformed) or 431 (a limit was exceeded).
    int http_status = 0;
    /// For errors: what was wrong, for humans ("header line longer than 8192 bytes").
    std::string message;
    /// For errors: true if a limit was exceeded (SecurityLimit rather than InvalidHandshake).
    bool limit_exceeded = false;
};

/// Parses a request head (request line, headers, empty line) from the start of `input`.
/// Only HTTP/1.1 is accepted; a body is not read (handshake requests have none).
/// Never throws on malformed input. Lines end with CRLF (a bare LF is tolerated).
HttpParseResult parse_request(std::string_view input, const HttpLimits& limits, Request& out);

/// Parses a response head and, if it has a `Content-Length` and is not 101/1xx/204/304,
/// its body (up to `limits.max_body`). Never throws on malformed input.
HttpParseResult parse_response(std::string_view input, const HttpLimits& limits, Response& out);

} // namespace syncws::detail
