// A small, real proxy for tests: HTTP CONNECT (optionally over TLS, an https:// proxy) or
// SOCKS5, on 127.0.0.1 and an ephemeral port. It records what each client asked for, can
// require credentials, and can refuse on purpose.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace syncws::net {
class Listener;
class SocketStream;
class TlsContext;
} // namespace syncws::net

namespace syncws::test {

/// What the proxy saw on one connection, recorded before it answered the client's request
/// (so it is there as soon as the client's call returns or throws).
struct ProxySeen {
    /// HTTP: the request head, exactly as received, and its first line.
    std::string head;
    std::string request_line;
    /// HTTP: the Proxy-Authorization header's value, if any.
    std::optional<std::string> proxy_authorization;
    /// The credentials received: decoded from Basic (HTTP), or RFC 1929 (SOCKS5).
    std::optional<std::string> user;
    std::optional<std::string> password;
    /// SOCKS5: the authentication methods the client offered, one byte each.
    std::string socks_methods;
    /// SOCKS5: the address type of the request (1 IPv4, 3 domain name, 4 IPv6).
    int socks_address_type = 0;
    /// The target: host (IP address text or name, IPv6 without brackets) and port.
    std::string target_host;
    std::uint16_t target_port = 0;
    /// True if the proxy connected to the target and started relaying.
    bool tunneled = false;
};

/// Options of `TestProxy`.
struct TestProxyOptions {
    enum class Kind { http, socks5 };
    Kind kind = Kind::http;
    /// Require these credentials. HTTP: 407 without them or with others. SOCKS5: only
    /// username/password (RFC 1929) is accepted; wrong ones get status 1.
    std::optional<std::string> user;
    std::optional<std::string> password;
    /// HTTP: answer CONNECT with this status line ("502 Bad Gateway") instead of connecting.
    std::string refuse_status;
    /// HTTP: header lines for that answer, each ending in CRLF ("Retry-After: 7\r\n").
    std::string refuse_headers;
    /// SOCKS5: answer CONNECT with this reply code (RFC 1928 §6) instead of connecting.
    unsigned char refuse_reply = 0;
    /// Listen with TLS (test_pki().server: localhost, 127.0.0.1, ::1): an https:// proxy.
    bool tls = false;
    /// Targets to connect to instead of the requested host ("proxied.test" → "127.0.0.1"),
    /// so tests can use names no resolver knows.
    std::map<std::string, std::string> hosts;
};

/// A CONNECT or SOCKS5 proxy on 127.0.0.1. A thread accepts; each connection gets a thread
/// that runs the proxy's side of the exchange, connects to the target and then relays both
/// ways (the second direction on a second thread) until both sides end.
///
/// The destructor closes the listener, aborts every stream and joins every thread.
/// Thread safety: `seen()` and `connections()` from any thread.
class TestProxy {
public:
    explicit TestProxy(TestProxyOptions options = {});
    TestProxy(const TestProxy&) = delete;
    TestProxy& operator=(const TestProxy&) = delete;
    ~TestProxy();

    std::uint16_t port() const noexcept { return port_; }

    /// "http://127.0.0.1:<port>" (socks5://, https:// as the options say), with
    /// `userinfo` ("user:pass") and another `scheme` ("socks5h") or host if given.
    std::string url(std::string_view userinfo = "", std::string_view scheme = "",
                    std::string_view host = "127.0.0.1") const;

    /// One entry per connection that got as far as a request, in order.
    std::vector<ProxySeen> seen() const;

    /// Connections accepted so far.
    std::size_t connections() const;

private:
    struct Connection;

    void accept_loop();
    void serve(Connection& connection);
    bool handle_http(Connection& connection, net::SocketStream*& target, std::string& early);
    bool handle_socks(Connection& connection, net::SocketStream*& target);
    net::SocketStream* connect_target(Connection& connection, const std::string& host,
                                      std::uint16_t port);
    void record(const ProxySeen& seen);

    TestProxyOptions options_;
    std::shared_ptr<net::TlsContext> tls_context_;
    std::unique_ptr<net::Listener> listener_;
    std::uint16_t port_ = 0;

    mutable std::mutex mutex_;
    bool stopping_ = false;                                // guarded by mutex_
    std::vector<std::unique_ptr<Connection>> connections_; // guarded by mutex_
    std::vector<ProxySeen> seen_;                          // guarded by mutex_
    std::thread accept_thread_;
};

} // namespace syncws::test
