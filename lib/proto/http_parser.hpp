// Try-parsing of HTTP/1.1 heads from a buffer (RFC 9112), with limits.
#pragma once

#include <syncws/http.hpp>

#include <cstddef>
#include <string>
#include <string_view>

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
    /// For errors, the status a server answers with: 400 (malformed), 414 (request line
    /// longer than `max_line`), 431 (a header line, the field count or the head beyond a
    /// limit), 505 (HTTP version other than 1.1). Responses use the same codes, plus 413
    /// for a body beyond `max_body`.
    int http_status = 0;
    /// For errors: what was wrong, for humans ("header line longer than 8192 bytes").
    std::string message;
    /// For errors: true if a limit was exceeded (SecurityLimit rather than InvalidHandshake).
    bool limit_exceeded = false;
};

/// Parses a request head (request line, headers, empty line) from the start of `input`.
/// Only HTTP/1.1 is accepted. A handshake request has no body, so a request with
/// `Transfer-Encoding` or a non-zero `Content-Length` is an error (400): its body would
/// otherwise be read as WebSocket frames. Empty lines before the request line are skipped
/// (RFC 9112 §2.2). Lines end with CRLF (a bare LF is tolerated); obs-fold is refused.
///
/// The parse restarts from the start of `input` on each call. An error is reported as
/// soon as a prefix of the input shows it, and a prefix of a valid head is always
/// `need_more`. Never throws on malformed input (only `std::bad_alloc`); `out` is written
/// only when `done`.
HttpParseResult parse_request(std::string_view input, const HttpLimits& limits, Request& out);

/// Parses a response head and, unless the status is 1xx/204/304, its body (up to
/// `limits.max_body`): `Content-Length` bytes, or a chunked body (decoded; trailers are
/// dropped). A body delimited by the end of the connection (neither of those, or a
/// `Transfer-Encoding` that does not end in chunked) is left unread: the handshake never
/// waits for EOF. HTTP/1.1 and HTTP/1.0 are accepted; obs-fold lines are unfolded
/// (RFC 9112 §5.2). Same contract as `parse_request` otherwise.
HttpParseResult parse_response(std::string_view input, const HttpLimits& limits, Response& out);

} // namespace syncws::detail
