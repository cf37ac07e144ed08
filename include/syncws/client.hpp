// Opening a client connection: syncws::connect("ws://host/path").
#pragma once

#include <syncws/connection.hpp>
#include <syncws/deflate.hpp>
#include <syncws/http.hpp>
#include <syncws/tls.hpp>
#include <syncws/uri.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws {

/// The version in the default User-Agent and Server headers.
inline constexpr std::string_view version = "0.1.0";

/// Options of `connect`. Every field has a sensible default.
struct ClientOptions {
    /// One deadline for everything before the connection is open: DNS, TCP, TLS and the
    /// opening handshake. Beyond it `connect` throws `Timeout`.
    std::chrono::milliseconds open_timeout{10000};
    /// Subprotocols to offer, in order of preference.
    std::vector<std::string> subprotocols;
    /// `Origin` header, if any.
    std::optional<std::string> origin;
    /// Extra request headers.
    Headers headers;
    /// `User-Agent` header; empty for none.
    std::string user_agent = "syncws/" + std::string(version);
    /// Offer permessage-deflate (RFC 7692), as Python websockets and browsers do.
    bool compression = true;
    /// What to offer when `compression` is on: window sizes, context takeover, level,
    /// memory level, and the size below which a message is sent uncompressed.
    ClientDeflateOptions deflate;
    /// TLS settings for `wss://`.
    TlsOptions tls;
    /// Connect to this Unix domain socket instead of the URI's host and port (the URI
    /// still gives Host and the resource name).
    std::string unix_socket;
    /// Redirects (301, 302, 303, 307, 308) followed at most; `wss://` → `ws://` is refused.
    int max_redirects = 10;
    /// Receive limits, keepalive, close timeout, write buffer, logging.
    ConnectionOptions connection;
};

/// A connection opened by `connect`.
class ClientConnection : public Connection {
public:
    using Connection::Connection;
};

/// Opens a WebSocket connection to `uri` (`ws://` or `wss://`) and returns it open.
///
/// Throws: `InvalidURI`; `NetworkError` (DNS, refused, reset); `Timeout` (`open_timeout`);
/// `TlsError` (certificate, hostname, handshake); `InvalidStatus` (the server answered
/// something else than 101: the response is attached); `InvalidHeader`,
/// `NegotiationError`, `SecurityLimit` (an invalid handshake response).
/// Thread safety: reentrant; the connection returned is safe from any thread.
ClientConnection connect(std::string_view uri, const ClientOptions& options = {});

} // namespace syncws
