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
    /// One deadline for everything before the connection is open: DNS, TCP, the proxy (its
    /// TLS and the CONNECT or SOCKS5 exchange), TLS and the opening handshake. Beyond it
    /// `connect` throws `Timeout`.
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
    /// The proxy is chosen again for each hop.
    int max_redirects = 10;
    /// The proxy to connect through, overriding the environment:
    /// - `http://[user:password@]host[:port]`: HTTP CONNECT (port 80 by default), with Basic
    ///   proxy authentication when the URL has credentials;
    /// - `https://…`: the same over TLS to the proxy (port 443), set up by `proxy_tls`; for
    ///   `wss://` the server's own TLS then runs inside that one;
    /// - `socks5://[user:password@]host[:port]`: SOCKS5 (port 1080), with username/password
    ///   authentication (RFC 1929) when the URL has credentials; the server's host name is
    ///   resolved locally and its first address sent;
    /// - `socks5h://…`: the same, but the proxy resolves the host name.
    /// Credentials are percent-encoded ("p%40ss" for "p@ss"). For `wss://` the server's
    /// certificate is checked against the URI's host, never the proxy's. A bad URL throws
    /// `InvalidURI` from `connect`. Empty: see `proxy_from_environment`. Never used with
    /// `unix_socket`.
    std::string proxy;
    /// When `proxy` is empty, take the proxy from the environment as curl and Python do:
    /// `https_proxy` for `wss://`, `http_proxy` for `ws://`, then `all_proxy`, each in lower
    /// case first, then upper case; no proxy for hosts that `no_proxy` lists (comma-separated
    /// names, domain suffixes with or without a leading dot, `*`, IP addresses or CIDR
    /// networks, each with an optional `:port`). `HTTP_PROXY` is ignored in CGI programs
    /// (`REQUEST_METHOD` set), where a request header can set it. The environment is read on
    /// each `connect`: don't change it meanwhile from another thread (POSIX `setenv` is not
    /// thread-safe). False: connect directly unless `proxy` is set.
    bool proxy_from_environment = true;
    /// TLS settings for an `https://` proxy: which CAs to trust for the proxy's certificate,
    /// a client certificate for it, etc. (`tls` is for the WebSocket server).
    TlsOptions proxy_tls;
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
/// Throws: `InvalidURI` (also for a bad proxy URL); `NetworkError` (DNS, refused, reset);
/// `Timeout` (`open_timeout`); `TlsError` (certificate, hostname, handshake; with the proxy
/// too); `InvalidStatus` (the server answered something else than 101: the response is
/// attached); `InvalidHeader`, `NegotiationError`, `SecurityLimit` (an invalid handshake
/// response).
///
/// Through a proxy: failing to reach the proxy is a `NetworkError` or `Timeout` as above.
/// A proxy's refusal is a `ProxyError` or another `InvalidHandshake` naming the proxy, the target
/// and the reason: an HTTP proxy's non-2xx answer to CONNECT ("proxy 10.0.0.1:3128 refused
/// CONNECT to example.com:443: 407 Proxy Authentication Required"), an invalid answer,
/// credentials or authentication methods a SOCKS5 proxy rejects, a SOCKS5 refusal by rule.
/// When a SOCKS5 proxy reports that the *server* failed (connection refused, host or network
/// unreachable, TTL expired), `connect` throws the `NetworkError` a direct connection would
/// have thrown (`code()` is `connection_refused`, `host_unreachable`, `network_unreachable`
/// or `timed_out`). An HTTP proxy's answer that is too large is a `SecurityLimit`.
/// Thread safety: reentrant; the connection returned is safe from any thread.
ClientConnection connect(std::string_view uri, const ClientOptions& options = {});

} // namespace syncws
