// Reaching a host through a proxy: HTTP CONNECT (RFC 9110 §9.3.6) over plain TCP or TLS,
// and SOCKS5 (RFC 1928) with username/password authentication (RFC 1929). Choosing the proxy
// from the environment as curl, Python requests and websockets do. It knows nothing of
// WebSocket: after `http_connect` or `socks5_connect` the stream is a tunnel to the target.
#pragma once

#include "resolve.hpp"
#include "stream.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace syncws::net {

/// How to talk to a proxy.
enum class ProxyScheme {
    http,    ///< HTTP CONNECT over TCP.
    https,   ///< HTTP CONNECT over TLS to the proxy (TLS-in-TLS for `wss://`).
    socks5,  ///< SOCKS5; the target name is resolved locally and sent as an IP address.
    socks5h, ///< SOCKS5; the target name is sent for the proxy to resolve.
};

/// A parsed proxy URL.
///
/// Thread safety: a value type.
struct ProxyConfig {
    ProxyScheme scheme = ProxyScheme::http;
    /// Host name or IP literal, IPv6 without brackets.
    std::string host;
    /// Explicit, or the scheme's default: 80 for http, 443 for https, 1080 for SOCKS.
    std::uint16_t port = 0;
    /// Userinfo, percent-decoded. HTTP proxies get them as Basic credentials
    /// (`Proxy-Authorization`), SOCKS5 proxies through RFC 1929.
    std::optional<std::string> user;
    std::optional<std::string> password;

    /// True for socks5 and socks5h.
    bool is_socks() const noexcept {
        return scheme == ProxyScheme::socks5 || scheme == ProxyScheme::socks5h;
    }
    /// "host:port" (IPv6 bracketed): how messages name the proxy.
    std::string address() const;
    /// The URL without credentials ("socks5h://[::1]:1080"): safe to log.
    std::string to_string() const;
};

/// Parses a proxy URL: `http://`, `https://`, `socks5://` or `socks5h://` (case-insensitive),
/// optional `user:password@` (percent-encoded; "/", "?" and "#" must be, a raw "@" is
/// tolerated: the last one ends the userinfo), a host name or IP literal (IPv6 in
/// brackets), an optional port. A trailing "/" is allowed, as environment variables often
/// carry one; any other path, a query or a fragment is not. Text without "://" is taken as
/// an `http://` proxy, as curl and Python do ("proxy.example:3128").
///
/// Throws: `InvalidProxyURL` naming what is wrong (unknown scheme, missing host, bad port,
/// bad escape, an unencoded "/", "?" or "#" in the credentials, a SOCKS5 user name that is
/// empty or over 255 bytes or a password over 255 bytes (RFC 1929), an HTTP user name with
/// a ":" (RFC 7617)). The URL in the message has its password replaced by "***".
/// Thread safety: reentrant.
ProxyConfig parse_proxy_url(std::string_view url);

/// Looks up an environment variable: returns its value, or null if it is not set.
using EnvLookup = std::function<const char*(const char*)>;

/// The proxy URL the environment asks for to reach `host`:`port`, or nothing.
///
/// Checks `https_proxy` (for `secure`, i.e. `wss://`) or `http_proxy` (for `ws://`), then
/// `all_proxy`; for each the lower-case variable first, then the upper-case one; an empty
/// value counts as unset. As Python's urllib does, `HTTP_PROXY` is ignored when
/// `REQUEST_METHOD` is set: in a CGI program it carries the client's `Proxy:` request header
/// ("httpoxy", CVE-2016-5385). Nothing is returned when `no_proxy` (or `NO_PROXY`) says to
/// bypass the proxy for this host (see `bypass_proxy`).
///
/// `getenv` reads the environment; tests pass their own instead of changing the process's.
/// Thread safety: reentrant as long as nobody changes the environment meanwhile (POSIX).
std::optional<std::string> proxy_from_environment(bool secure, std::string_view host,
                                                  std::uint16_t port, const EnvLookup& getenv = {});

/// True if the `no_proxy` list says to connect to `host`:`port` directly.
///
/// The list is separated by commas (spaces around entries are ignored). Each entry is:
/// - `*`: bypass for every host;
/// - a host name or domain, with or without a leading dot: "example.com" and ".example.com"
///   both match "example.com" and every name under it ("a.example.com"), not
///   "badexample.com";
/// - an IP literal (IPv6 with or without brackets), matched against IP literal hosts only:
///   no name is resolved to decide;
/// - an IP network in CIDR notation ("10.0.0.0/8", "fd00::/8"), as curl accepts;
/// - any of these but `*` followed by ":port" (IPv6 in brackets then): only that port.
/// Names compare case-insensitively and ignore a trailing dot. `host` is an IPv6 literal
/// with or without brackets.
/// Thread safety: reentrant.
bool bypass_proxy(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// Opens a tunnel to `host`:`port` through the HTTP proxy `proxy` that `stream` is connected
/// to: sends `CONNECT host:port HTTP/1.1` with `Host` and, when the proxy URL has
/// credentials, `Proxy-Authorization: Basic` (RFC 7617); then reads the response head.
/// It reads the head one byte at a time and never past its blank line, so every byte the
/// proxy sends after it is left in `stream` for the tunnel's first reader.
///
/// Throws:
/// - `ProxyError` with the proxy's `response()` (status, reason, header fields; no
///   body) when it answers with something else than 2xx: "proxy 127.0.0.1:3128 refused
///   CONNECT to example.com:443: 407 Proxy Authentication Required". Like a non-101 answer
///   of the server, it is a refusal at the HTTP level on a connection that works, not an OS
///   error: retrying will not change a 403 or a 407, it may for a 503.
/// - `ProxyError` without a response when the proxy closes the connection before the end of
///   its answer;
/// - `InvalidHandshake` when it answers something else than HTTP, or 101 (a switch of
///   protocols CONNECT did not ask for);
/// - `SecurityLimit` if the answer's heads (interim 1xx included) exceed 8 KiB;
/// - `InvalidURI` if `host` is empty or has characters a request line cannot carry;
/// - `Timeout` when `deadline` passes; `NetworkError` or `TlsError` from `stream`.
/// Thread safety: uses `stream` as its reader and writer.
void http_connect(Stream& stream, std::string_view host, std::uint16_t port,
                  const ProxyConfig& proxy, Deadline deadline);

/// Opens a tunnel to `host`:`port` through the SOCKS5 proxy `proxy` that `stream` is
/// connected to (RFC 1928): offers "no authentication", and "username/password" (RFC 1929)
/// when the proxy URL has credentials; then asks for a CONNECT. With `socks5h` a host name
/// is sent as such (at most 255 bytes) for the proxy to resolve; with `socks5` it is resolved
/// here (with `resolver`, see `connect_tcp`) and its first address is sent. IP literals are
/// sent as addresses either way. It reads exactly the proxy's replies, so nothing of the
/// tunnel is consumed.
///
/// Throws:
/// - `NetworkError` when the proxy reports that the target itself failed, with the matching
///   code, as a direct connection would have: network unreachable (reply 3), host
///   unreachable (4), connection refused (5), TTL expired (6, `timed_out`); and for a failed
///   local name resolution (`socks5`);
/// - `ProxyError` (without a response) for what may pass: a general failure (reply 1), the
///   connection closed mid-way;
/// - `InvalidHandshake` for everything else the proxy refused or got wrong: not allowed by
///   ruleset (2), command or address type not supported (7, 8), an unknown reply code, no
///   acceptable authentication method, wrong user name or password, a reply that is not
///   SOCKS5; and for a host name too long to send;
/// - `InvalidURI` if `host` is empty or has characters a SOCKS5 request cannot carry;
/// - `Timeout` when `deadline` passes; `NetworkError` or `TlsError` from `stream`.
/// Thread safety: uses `stream` as its reader and writer.
void socks5_connect(Stream& stream, std::string_view host, std::uint16_t port,
                    const ProxyConfig& proxy, Deadline deadline,
                    const Resolver& resolver = {});

/// `http_connect` or `socks5_connect`, as `proxy.scheme` says. The stream must already reach
/// the proxy (over TLS for `https`).
void open_tunnel(Stream& stream, std::string_view host, std::uint16_t port,
                 const ProxyConfig& proxy, Deadline deadline, const Resolver& resolver = {});

} // namespace syncws::net
