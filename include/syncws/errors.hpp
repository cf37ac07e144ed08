// Everything syncws throws derives from syncws::Error.
//
//   Error
//   ├── ConnectionClosed            the connection is closed (both close frames)
//   │   ├── ConnectionClosedOK      1000 / 1001 / no status, both ways
//   │   └── ConnectionClosedError   anything else; the root cause is nested
//   ├── InvalidURI                  not a ws:// or wss:// URI
//   │   └── InvalidProxyURL         a proxy URL syncws cannot use
//   ├── InvalidHandshake            the opening handshake failed
//   │   ├── InvalidStatus           the server answered something else than 101
//   │   ├── ProxyError              a proxy did not open the tunnel (HTTP answer attached)
//   │   ├── InvalidHeader           a handshake header is missing or wrong
//   │   ├── NegotiationError        subprotocol or extension negotiation failed
//   │   └── SecurityLimit           the HTTP head exceeded a limit
//   ├── ProtocolError               the peer broke RFC 6455 (carries the close code)
//   │   └── PayloadTooBig           a message exceeded max_size (1009)
//   ├── Timeout                     open, recv, close or keepalive deadline passed
//   ├── TlsError                    TLS failure (certificate, handshake alert)
//   ├── NetworkError                an OS-level socket error (std::error_code)
//   └── InvalidState                API misuse (e.g. send after close): a bug in the caller
#pragma once

#include <syncws/frame.hpp>
#include <syncws/http.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace syncws {

/// Base of every exception syncws throws: one `catch (const syncws::Error&)` covers all.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An operation was called in a state where it is not allowed (e.g. `send_text` after
/// `send_close`). This is a bug in the calling code, never the peer's doing.
class InvalidState : public Error {
public:
    using Error::Error;
};

/// A string that is not a valid WebSocket URI. `what()` says why.
class InvalidURI : public Error {
public:
    /// `what()` is "<uri> isn't a valid WebSocket URI: <why>".
    InvalidURI(std::string uri, const std::string& why)
        : Error(uri + " isn't a valid WebSocket URI: " + why), uri_(std::move(uri)) {}

    /// Selects the constructor that takes the whole message.
    struct WholeMessage {};
    /// `what()` is `message` as it is: for a URI or host that is not meant as a WebSocket URI
    /// (a proxy URL, a host to send to a proxy).
    InvalidURI(WholeMessage, std::string uri, const std::string& message)
        : Error(message), uri_(std::move(uri)) {}

    /// The offending text (for a proxy URL: without its password).
    const std::string& uri() const noexcept { return uri_; }

private:
    std::string uri_;
};

/// A proxy URL (`ClientOptions::proxy`, or one from the environment) that syncws cannot use:
/// unknown scheme, missing host, bad port, bad escape, credentials the proxy's protocol
/// cannot carry. `what()` is "bad proxy URL "<url>": <why>"; the URL in it, and `uri()`,
/// have the password replaced by "***".
class InvalidProxyURL : public InvalidURI {
public:
    InvalidProxyURL(const std::string& url, const std::string& why)
        : InvalidURI(WholeMessage{}, url, "bad proxy URL \"" + url + "\": " + why) {}
};

/// The opening handshake failed (RFC 6455 §4).
class InvalidHandshake : public Error {
public:
    using Error::Error;
};

/// The server answered the opening handshake with a status other than 101.
class InvalidStatus : public InvalidHandshake {
public:
    explicit InvalidStatus(Response response)
        : InvalidHandshake("server rejected WebSocket connection: HTTP " +
                           std::to_string(response.status)),
          response_(std::move(response)) {}
    const Response& response() const noexcept { return response_; }

private:
    Response response_;
};

/// A proxy did not open the tunnel to the server; `what()` names the proxy, the target and
/// the reason ("proxy 10.0.0.1:3128 refused CONNECT to example.com:443: 503 Service
/// Unavailable").
///
/// - An HTTP proxy answered CONNECT with something else than 2xx: `response()` holds its
///   answer (status, reason, headers such as `Retry-After` or `Proxy-Authenticate`; no body).
///   A 5xx or 429 may pass; a 403 or 407 will not change by retrying.
/// - No `response()`: the proxy gave up in a way that may pass: it closed the connection
///   before answering (HTTP or SOCKS5), or a SOCKS5 proxy reported a general failure
///   (RFC 1928 reply 1).
///
/// Refusals that retrying will not change are plain `InvalidHandshake`s: an answer that is
/// not HTTP or not SOCKS5, a SOCKS5 refusal by rule, unsupported command or address type,
/// rejected credentials or authentication methods. When a SOCKS5 proxy reports that the
/// server itself cannot be reached (refused, unreachable, TTL expired) the error is the
/// `NetworkError` a direct connection would have thrown.
class ProxyError : public InvalidHandshake {
public:
    explicit ProxyError(const std::string& message, std::optional<Response> response = std::nullopt)
        : InvalidHandshake(message), response_(std::move(response)) {}
    /// The proxy's answer to CONNECT, if it sent one (status, headers such as Retry-After).
    const std::optional<Response>& response() const noexcept { return response_; }

private:
    std::optional<Response> response_;
};

/// A handshake header is missing, repeated or has a wrong value.
class InvalidHeader : public InvalidHandshake {
public:
    InvalidHeader(std::string name, const std::string& why)
        : InvalidHandshake(name + " header: " + why), name_(std::move(name)) {}
    const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
};

/// Subprotocol or extension negotiation failed.
class NegotiationError : public InvalidHandshake {
public:
    using InvalidHandshake::InvalidHandshake;
};

/// The HTTP head of the handshake exceeded a limit (line length, header count, size).
class SecurityLimit : public InvalidHandshake {
public:
    using InvalidHandshake::InvalidHandshake;
};

/// The peer broke the WebSocket protocol; `close_code()` is the code the connection
/// failed with (1002, 1007, 1009, …).
class ProtocolError : public Error {
public:
    ProtocolError(std::uint16_t close_code, const std::string& what)
        : Error(what), close_code_(close_code) {}
    std::uint16_t close_code() const noexcept { return close_code_; }

private:
    std::uint16_t close_code_;
};

/// A message exceeded `max_size` (RFC 6455 §7.4.1: 1009).
class PayloadTooBig : public ProtocolError {
public:
    explicit PayloadTooBig(const std::string& what)
        : ProtocolError(static_cast<std::uint16_t>(CloseCode::message_too_big), what) {}
};

/// The connection is closed. Carries the close frames received and sent, if any.
class ConnectionClosed : public Error {
public:
    ConnectionClosed(std::optional<Close> received, std::optional<Close> sent,
                     bool received_then_sent);
    const std::optional<Close>& received() const noexcept { return received_; }
    const std::optional<Close>& sent() const noexcept { return sent_; }
    /// True if the peer's close frame came first (it started the closing handshake).
    bool received_then_sent() const noexcept { return received_then_sent_; }

private:
    std::optional<Close> received_;
    std::optional<Close> sent_;
    bool received_then_sent_;
};

/// Closed normally: 1000 or 1001 (or no status) in both directions.
class ConnectionClosedOK : public ConnectionClosed {
public:
    using ConnectionClosed::ConnectionClosed;
};

/// Closed abnormally: an error code, or no close frame at all (1006). The root cause, if
/// any, is nested (`std::rethrow_if_nested`).
class ConnectionClosedError : public ConnectionClosed {
public:
    using ConnectionClosed::ConnectionClosed;
};

/// A deadline passed: opening handshake, receive, close or keepalive.
class Timeout : public Error {
public:
    using Error::Error;
};

/// A TLS failure: certificate verification (hostname mismatch, expired, unknown CA),
/// handshake alert, or OpenSSL configuration error. `what()` names the cause.
class TlsError : public Error {
public:
    using Error::Error;
};

/// An operating-system error on a socket (connection refused, reset, …).
class NetworkError : public Error {
public:
    NetworkError(std::error_code code, const std::string& what)
        : Error(what + ": " + code.message()), code_(code) {}
    const std::error_code& code() const noexcept { return code_; }

private:
    std::error_code code_;
};

} // namespace syncws
