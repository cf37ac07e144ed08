#include "test_proxy.hpp"

#include "listener.hpp"
#include "socket.hpp"
#include "stream.hpp"
#include "tcp.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <utility>
#if SYNCWS_TEST_HAVE_TLS
#include "tls.hpp"
#include "tls_certs.hpp"
#endif

namespace syncws::test {

namespace {

constexpr auto patience = std::chrono::seconds(30);

net::Deadline soon() {
    return std::chrono::steady_clock::now() + patience;
}

// The client went away or sent nonsense: the connection's thread just ends.
struct Hangup : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string read_exactly(net::Stream& stream, std::size_t n) {
    std::string out(n, '\0');
    std::size_t have = 0;
    while (have < n) {
        if (!stream.wait_readable(soon())) throw Hangup("client too slow");
        const std::size_t r = stream.read_some(out.data() + have, n - have);
        if (r == 0) throw Hangup("client hung up");
        have += r;
    }
    return out;
}

unsigned char byte_at(const std::string& s, std::size_t i) {
    return static_cast<unsigned char>(s.at(i));
}

void write(net::Stream& stream, const std::string& bytes) {
    stream.write_all(bytes.data(), bytes.size());
}

// After a refusal: half-close, then wait for the client to hang up, so that closing with its
// bytes unread does not reset the connection before it read the answer.
void finish(net::Stream& stream) {
    try {
        stream.shutdown_write();
        char buf[512];
        while (stream.wait_readable(soon()) && stream.read_some(buf, sizeof buf) > 0) {
        }
    } catch (const std::exception&) {
    }
}

// RFC 4648 base64, written apart from the library's encoder so that a test can catch it.
std::optional<std::string> base64_decode(std::string_view in) {
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        } else if (c == '=') {
            break;
        } else {
            return std::nullopt;
        }
        bits = (bits << 6) | static_cast<unsigned>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// Forwards to a stream that someone else owns: the TLS layer of an https:// proxy must not
// own the socket, which stays reachable for `abort()` until the proxy is destroyed.
class BorrowedStream final : public net::Stream {
public:
    explicit BorrowedStream(net::Stream& inner) : inner_(inner) {}
    std::size_t read_some(char* buf, std::size_t n) override { return inner_.read_some(buf, n); }
    void write_all(const char* data, std::size_t n) override { inner_.write_all(data, n); }
    std::size_t write_some_now(const char* data, std::size_t n) override {
        return inner_.write_some_now(data, n);
    }
    bool has_backlog() const override { return inner_.has_backlog(); }
    net::Readiness wait(bool read, bool write, int wake_fd, net::Deadline deadline) override {
        return inner_.wait(read, write, wake_fd, deadline);
    }
    void shutdown_write() override { inner_.shutdown_write(); }
    bool shutdown_write_now() override { return inner_.shutdown_write_now(); }
    void abort() noexcept override { inner_.abort(); }
    bool wait_readable(net::Deadline deadline) override { return inner_.wait_readable(deadline); }
    std::string local_address() const override { return inner_.local_address(); }
    std::string remote_address() const override { return inner_.remote_address(); }

private:
    net::Stream& inner_;
};

// Copies `from` into `to` until the end, then half-closes `to`; on an error, aborts both so
// that the other direction ends too.
void relay(net::Stream& from, net::Stream& to) {
    try {
        char buf[16384];
        while (std::size_t n = from.read_some(buf, sizeof buf))
            to.write_all(buf, n);
        to.shutdown_write();
    } catch (const std::exception&) {
        from.abort();
        to.abort();
    }
}

} // namespace

struct TestProxy::Connection {
    std::unique_ptr<net::SocketStream> socket; // the client's; lives as long as the proxy
    std::unique_ptr<net::SocketStream> target; // set under mutex_
    net::Stream* client = nullptr;             // `socket`, or TLS over it; the serving thread's
    std::thread thread;
};

TestProxy::TestProxy(TestProxyOptions options) : options_(std::move(options)) {
    if (options_.tls) {
#if SYNCWS_TEST_HAVE_TLS
        TlsOptions tls;
        tls.cert_pem = test_pki().server.cert_pem;
        tls.key_pem = test_pki().server.key_pem;
        tls_context_ = net::TlsContext::server(tls);
#else
        throw std::logic_error("TestProxy: TLS asked for in a build without TLS");
#endif
    }
    listener_ = net::Listener::tcp("127.0.0.1", 0);
    port_ = listener_->port();
    accept_thread_ = std::thread([this] { accept_loop(); });
}

TestProxy::~TestProxy() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    listener_->close();
    accept_thread_.join();
    {
        std::lock_guard lock(mutex_);
        for (auto& c : connections_) {
            c->socket->abort();
            if (c->target) c->target->abort();
        }
    }
    // The accept thread is gone: nobody adds to connections_ any more.
    for (auto& c : connections_)
        c->thread.join();
}

std::string TestProxy::url(std::string_view userinfo, std::string_view scheme,
                           std::string_view host) const {
    std::string out(scheme.empty() ? (options_.kind == TestProxyOptions::Kind::socks5 ? "socks5"
                                      : options_.tls                                  ? "https"
                                                                                      : "http")
                                   : scheme);
    out += "://";
    if (!userinfo.empty()) out.append(userinfo).append("@");
    return out.append(host).append(":").append(std::to_string(port_));
}

std::vector<ProxySeen> TestProxy::seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
}

std::size_t TestProxy::connections() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
}

void TestProxy::record(const ProxySeen& seen) {
    std::lock_guard lock(mutex_);
    seen_.push_back(seen);
}

void TestProxy::accept_loop() {
    for (;;) {
        std::unique_ptr<net::SocketStream> socket;
        try {
            socket = listener_->accept();
        } catch (const std::exception&) {
            continue; // out of descriptors: the test will fail on its own
        }
        if (!socket) return;
        std::lock_guard lock(mutex_);
        auto connection = std::make_unique<Connection>();
        connection->socket = std::move(socket);
        if (stopping_) connection->socket->abort();
        Connection& c = *connection;
        connections_.push_back(std::move(connection));
        c.thread = std::thread([this, &c] { serve(c); });
    }
}

net::SocketStream* TestProxy::connect_target(Connection& connection, const std::string& host,
                                             std::uint16_t port) {
    const auto mapped = options_.hosts.find(host);
    std::unique_ptr<net::SocketStream> target;
    try {
        target =
            net::connect_tcp(mapped == options_.hosts.end() ? host : mapped->second, port, soon());
    } catch (const std::exception&) {
        return nullptr;
    }
    std::lock_guard lock(mutex_);
    if (stopping_) target->abort();
    connection.target = std::move(target);
    return connection.target.get();
}

void TestProxy::serve(Connection& connection) {
    std::unique_ptr<net::Stream> tls;
    try {
        connection.client = connection.socket.get();
#if SYNCWS_TEST_HAVE_TLS
        if (tls_context_) {
            tls = net::TlsStream::server(std::make_unique<BorrowedStream>(*connection.socket),
                                         tls_context_, soon());
            connection.client = tls.get();
        }
#endif
        net::SocketStream* target = nullptr;
        std::string early;
        const bool tunnel = options_.kind == TestProxyOptions::Kind::http
                                ? handle_http(connection, target, early)
                                : handle_socks(connection, target);
        if (!tunnel) {
            finish(*connection.client);
            return;
        }
        if (!early.empty()) target->write_all(early.data(), early.size());
        net::Stream& client = *connection.client;
        std::thread back([&] { relay(*target, client); });
        relay(client, *target);
        back.join();
    } catch (const std::exception&) {
        // A client that hung up or failed its TLS handshake: nothing to relay.
    }
}

bool TestProxy::handle_http(Connection& connection, net::SocketStream*& target,
                            std::string& early) {
    net::Stream& client = *connection.client;
    std::string buffer;
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (buffer.size() > 65536) throw Hangup("head too large");
        char buf[4096];
        if (!client.wait_readable(soon())) throw Hangup("client too slow");
        const std::size_t n = client.read_some(buf, sizeof buf);
        if (n == 0) throw Hangup("client hung up");
        buffer.append(buf, n);
    }
    ProxySeen seen;
    seen.head = buffer.substr(0, end + 4);
    early = buffer.substr(end + 4);
    seen.request_line = seen.head.substr(0, seen.head.find("\r\n"));
    for (std::size_t i = seen.head.find("\r\n") + 2; i < end;) {
        const std::size_t eol = seen.head.find("\r\n", i);
        const std::string line = seen.head.substr(i, eol - i);
        i = eol + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        if (lower(line.substr(0, colon)) != "proxy-authorization") continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        seen.proxy_authorization = value;
        if (lower(value.substr(0, 6)) == "basic ") {
            if (auto decoded = base64_decode(value.substr(6))) {
                const std::size_t sep = decoded->find(':');
                seen.user = decoded->substr(0, sep);
                if (sep != std::string::npos) seen.password = decoded->substr(sep + 1);
            }
        }
    }
    if (seen.request_line.compare(0, 8, "CONNECT ") != 0) {
        record(seen);
        write(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return false;
    }
    // "CONNECT host:port HTTP/1.1", IPv6 in brackets.
    const std::size_t sp1 = seen.request_line.find(' ');
    const std::size_t sp2 = seen.request_line.rfind(' ');
    const std::string authority = seen.request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::size_t colon = authority.rfind(':');
    seen.target_host = authority.substr(0, colon);
    if (seen.target_host.size() >= 2 && seen.target_host.front() == '[')
        seen.target_host = seen.target_host.substr(1, seen.target_host.size() - 2);
    seen.target_port = static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1)));
    if (options_.user && (seen.user != options_.user || seen.password != options_.password)) {
        record(seen);
        write(client, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                      "Proxy-Authenticate: Basic realm=\"syncws test\"\r\n"
                      "Content-Length: 0\r\n\r\n");
        return false;
    }
    if (!options_.refuse_status.empty()) {
        record(seen);
        write(client, "HTTP/1.1 " + options_.refuse_status + "\r\n" + options_.refuse_headers +
                          "Content-Length: 0\r\n\r\n");
        return false;
    }
    target = connect_target(connection, seen.target_host, seen.target_port);
    if (target == nullptr) {
        record(seen);
        write(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return false;
    }
    seen.tunneled = true;
    record(seen);
    write(client, "HTTP/1.1 200 Connection established\r\n\r\n");
    return true;
}

bool TestProxy::handle_socks(Connection& connection, net::SocketStream*& target) {
    net::Stream& client = *connection.client;
    ProxySeen seen;
    // RFC 1928 §3: VER, NMETHODS, METHODS.
    const std::string hello = read_exactly(client, 2);
    if (hello[0] != '\x05') throw Hangup("not SOCKS5");
    seen.socks_methods = read_exactly(client, byte_at(hello, 1));
    const bool wants_auth = options_.user.has_value();
    const char method = wants_auth ? '\x02' : '\x00';
    if (seen.socks_methods.find(method) == std::string::npos) {
        record(seen);
        write(client, std::string("\x05\xff", 2));
        return false;
    }
    write(client, std::string("\x05") + method);
    if (wants_auth) {
        // RFC 1929 §2: VER 1, ULEN, UNAME, PLEN, PASSWD.
        const std::string head = read_exactly(client, 2);
        seen.user = read_exactly(client, byte_at(head, 1));
        seen.password = read_exactly(client, byte_at(read_exactly(client, 1), 0));
        if (seen.user != options_.user || seen.password != options_.password) {
            record(seen);
            write(client, std::string("\x01\x01", 2));
            return false;
        }
        write(client, std::string("\x01\x00", 2));
    }
    // RFC 1928 §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
    const std::string request = read_exactly(client, 4);
    seen.socks_address_type = byte_at(request, 3);
    char text[INET6_ADDRSTRLEN] = {};
    switch (seen.socks_address_type) {
    case 1:
        ::inet_ntop(AF_INET, read_exactly(client, 4).data(), text, sizeof text);
        seen.target_host = text;
        break;
    case 4:
        ::inet_ntop(AF_INET6, read_exactly(client, 16).data(), text, sizeof text);
        seen.target_host = text;
        break;
    case 3:
        seen.target_host = read_exactly(client, byte_at(read_exactly(client, 1), 0));
        break;
    default:
        record(seen);
        write(client, std::string("\x05\x08\x00\x01\0\0\0\0\0\0", 10));
        return false;
    }
    const std::string port = read_exactly(client, 2);
    seen.target_port = static_cast<std::uint16_t>(byte_at(port, 0) << 8 | byte_at(port, 1));
    if (request[1] != '\x01') {
        record(seen);
        write(client, std::string("\x05\x07\x00\x01\0\0\0\0\0\0", 10));
        return false;
    }
    if (options_.refuse_reply != 0) {
        record(seen);
        write(client, std::string("\x05") + static_cast<char>(options_.refuse_reply) +
                          std::string("\x00\x01\0\0\0\0\0\0", 8));
        return false;
    }
    target = connect_target(connection, seen.target_host, seen.target_port);
    if (target == nullptr) {
        record(seen);
        write(client, std::string("\x05\x05\x00\x01\0\0\0\0\0\0", 10));
        return false;
    }
    seen.tunneled = true;
    record(seen);
    // BND.ADDR and BND.PORT: 127.0.0.1 and a made-up port; clients ignore them.
    write(client, std::string("\x05\x00\x00\x01\x7f\x00\x00\x01\x04\xd2", 10));
    return true;
}

} // namespace syncws::test
