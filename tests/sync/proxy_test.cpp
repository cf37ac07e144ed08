// connect() through proxies, end to end: a real CONNECT or SOCKS5 proxy (tests/support/
// test_proxy) in front of a syncws server, for ws:// and wss://, including wss:// through an
// https:// proxy (TLS inside TLS). The proxy is always given explicitly here: the process
// environment is left alone (see proxy_env_test.cpp for the variables).
#include "listener.hpp"
#include "stream.hpp"
#include "sync_test_util.hpp"
#include "tcp.hpp"
#include "test_proxy.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>
#if SYNCWS_TEST_HAVE_TLS
#include "tls.hpp"
#include "tls_certs.hpp"

#include <openssl/ssl.h>
#endif

namespace syncws::test {
namespace {

using ProxyTest = SyncTest;
using Kind = TestProxyOptions::Kind;

ClientOptions via(const std::string& proxy) {
    ClientOptions co;
    co.proxy = proxy;
    co.proxy_from_environment = false;
    return co;
}

void echo(ClientConnection& client, const std::string& text) {
    client.send_text(text);
    EXPECT_EQ(client.recv().data, text);
}

TestProxyOptions proxy_options(Kind kind) {
    TestProxyOptions o;
    o.kind = kind;
    return o;
}

std::string port_of(const Server& server) {
    return std::to_string(server.port());
}

// A port nobody listens on (any more).
std::uint16_t closed_port() {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    return listener->port();
}

// What connect threw, as "Class: what()".
std::string connect_error(const std::string& uri, const ClientOptions& options) {
    try {
        connect(uri, options);
    } catch (const InvalidStatus& e) {
        return std::string("InvalidStatus: ") + e.what();
    } catch (const ProxyError& e) {
        return std::string("ProxyError: ") + e.what();
    } catch (const InvalidHandshake& e) {
        return std::string("InvalidHandshake: ") + e.what();
    } catch (const NetworkError& e) {
        return std::string("NetworkError: ") + e.what();
    } catch (const Timeout& e) {
        return std::string("Timeout: ") + e.what();
    } catch (const TlsError& e) {
        return std::string("TlsError: ") + e.what();
    } catch (const InvalidProxyURL& e) {
        return std::string("InvalidProxyURL: ") + e.what();
    } catch (const InvalidURI& e) {
        return std::string("InvalidURI: ") + e.what();
    } catch (const std::exception& e) {
        return std::string("other: ") + e.what();
    }
    return "(connected)";
}

// ----- HTTP CONNECT -------------------------------------------------------------------------

TEST_F(ProxyTest, HttpConnectEcho) {
    auto server = start_server(echo_handler());
    TestProxy proxy;
    auto client = connect(uri_of(*server), via(proxy.url()));
    echo(client, "through the proxy");
    const std::string big = pattern(300 * 1024, 1);
    client.send_binary(BytesView(big));
    EXPECT_TRUE(client.recv().data == big);
    client.close();
    EXPECT_EQ(client.close_code(), 1000);
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    const std::string target = "127.0.0.1:" + port_of(*server);
    EXPECT_EQ(seen[0].head, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    EXPECT_FALSE(seen[0].proxy_authorization);
    EXPECT_TRUE(seen[0].tunneled);
}

TEST_F(ProxyTest, HttpConnectWithCredentials) {
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.user = "alice";
    o.password = "p@ss w0rd";
    TestProxy proxy(o);
    auto client = connect(uri_of(*server), via(proxy.url("alice:p%40ss%20w0rd")));
    echo(client, "authenticated");
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    // RFC 7617: base64("alice:p@ss w0rd").
    EXPECT_EQ(seen[0].proxy_authorization, "Basic YWxpY2U6cEBzcyB3MHJk");
    EXPECT_EQ(seen[0].user, "alice");
    EXPECT_EQ(seen[0].password, "p@ss w0rd");
}

TEST_F(ProxyTest, HttpConnectWrongOrMissingCredentials) {
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.user = "alice";
    o.password = "right";
    TestProxy proxy(o);
    const std::string prefix = "ProxyError: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                               " refused CONNECT to 127.0.0.1:" + port_of(*server) +
                               ": 407 Proxy Authentication Required (the proxy ";
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url("alice:wrong"))),
              prefix + "rejected the credentials of the proxy URL)");
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url())),
              prefix + "URL has no credentials: http://user:password@host)");
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_FALSE(seen[0].tunneled);
    EXPECT_FALSE(seen[1].tunneled);
}

TEST_F(ProxyTest, HttpProxyRefusing) {
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.refuse_status = "403 Forbidden";
    TestProxy proxy(o);
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url())),
              "ProxyError: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                  " refused CONNECT to 127.0.0.1:" + port_of(*server) + ": 403 Forbidden");
}

TEST_F(ProxyTest, HttpProxyRefusalCarriesItsResponse) {
    // What a reconnecting client needs to decide: the status and Retry-After.
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.refuse_status = "503 Service Unavailable";
    o.refuse_headers = "Retry-After: 7\r\n";
    TestProxy proxy(o);
    try {
        connect(uri_of(*server), via(proxy.url()));
        FAIL() << "connected through a refusing proxy";
    } catch (const ProxyError& e) {
        ASSERT_TRUE(e.response());
        EXPECT_EQ(e.response()->status, 503);
        EXPECT_EQ(e.response()->reason, "Service Unavailable");
        EXPECT_EQ(e.response()->headers.get("Retry-After"), "7");
        EXPECT_EQ(e.response()->headers.get("Content-Length"), "0");
    }
}

TEST_F(ProxyTest, HttpProxyCannotReachTheServer) {
    TestProxy proxy;
    const std::uint16_t port = closed_port();
    EXPECT_EQ(connect_error("ws://127.0.0.1:" + std::to_string(port) + "/", via(proxy.url())),
              "ProxyError: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                  " refused CONNECT to 127.0.0.1:" + std::to_string(port) + ": 502 Bad Gateway");
}

TEST_F(ProxyTest, ServerNamesGoToTheProxyUnresolved) {
    // With CONNECT the proxy resolves the name: "ws.proxied.test" is known only to it.
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.hosts["ws.proxied.test"] = "127.0.0.1";
    TestProxy proxy(o);
    auto client = connect("ws://ws.proxied.test:" + port_of(*server) + "/", via(proxy.url()));
    echo(client, "by name");
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].request_line,
              "CONNECT ws.proxied.test:" + port_of(*server) + " HTTP/1.1");
}

// ----- SOCKS5 -------------------------------------------------------------------------------

TEST_F(ProxyTest, Socks5Echo) {
    auto server = start_server(echo_handler());
    TestProxy proxy(proxy_options(Kind::socks5));
    auto client = connect(uri_of(*server), via(proxy.url()));
    echo(client, "through SOCKS5");
    client.close();
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].socks_methods, std::string(1, '\0'));
    EXPECT_EQ(seen[0].socks_address_type, 1);
    EXPECT_EQ(seen[0].target_host, "127.0.0.1");
    EXPECT_EQ(seen[0].target_port, server->port());
}

TEST_F(ProxyTest, Socks5ResolvesTheNameLocally) {
    auto server = start_server(echo_handler()); // 127.0.0.1 only
    TestProxy proxy(proxy_options(Kind::socks5));
    // socks5:// sends the first address: it must be the one the server listens on.
    const std::string uri = "ws://localhost:" + port_of(*server) + "/";
    try {
        auto client = connect(uri, via(proxy.url("", "socks5")));
        echo(client, "resolved here");
    } catch (const NetworkError& e) {
        GTEST_SKIP() << "localhost resolves to ::1 first here: " << e.what();
    }
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].socks_address_type, 1);
    EXPECT_EQ(seen[0].target_host, "127.0.0.1");
}

TEST_F(ProxyTest, Socks5hSendsTheName) {
    auto server = start_server(echo_handler());
    TestProxyOptions o = proxy_options(Kind::socks5);
    o.hosts["ws.proxied.test"] = "127.0.0.1";
    TestProxy proxy(o);
    auto client =
        connect("ws://ws.proxied.test:" + port_of(*server) + "/", via(proxy.url("", "socks5h")));
    echo(client, "resolved by the proxy");
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].socks_address_type, 3);
    EXPECT_EQ(seen[0].target_host, "ws.proxied.test");
    EXPECT_EQ(seen[0].target_port, server->port());
}

TEST_F(ProxyTest, Socks5WithCredentials) {
    auto server = start_server(echo_handler());
    TestProxyOptions o = proxy_options(Kind::socks5);
    o.user = "bob";
    o.password = "s3:cret";
    TestProxy proxy(o);
    auto client = connect(uri_of(*server), via(proxy.url("bob:s3%3Acret")));
    echo(client, "RFC 1929");
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].socks_methods, std::string("\0\x02", 2));
    EXPECT_EQ(seen[0].user, "bob");
    EXPECT_EQ(seen[0].password, "s3:cret");

    const std::string who =
        "InvalidHandshake: SOCKS5 proxy 127.0.0.1:" + std::to_string(proxy.port());
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url("bob:wrong"))),
              who + " rejected the user name and password (status 0x01)");
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url())),
              who + " accepts none of the authentication methods offered (none; the proxy URL "
                    "has no credentials)");
}

TEST_F(ProxyTest, Socks5RefusingByRule) {
    auto server = start_server(echo_handler());
    TestProxyOptions o = proxy_options(Kind::socks5);
    o.refuse_reply = 0x02;
    TestProxy proxy(o);
    EXPECT_EQ(connect_error(uri_of(*server), via(proxy.url())),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                  " refused CONNECT to 127.0.0.1:" + port_of(*server) +
                  ": connection not allowed by ruleset (reply 0x02)");
}

TEST_F(ProxyTest, Socks5ServerRefusedIsTheNetworkErrorOfADirectConnection) {
    TestProxy proxy(proxy_options(Kind::socks5));
    const std::uint16_t port = closed_port();
    try {
        connect("ws://127.0.0.1:" + std::to_string(port) + "/", via(proxy.url()));
        FAIL() << "connected to a closed port";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
        EXPECT_TRUE(contains(e.what(), "SOCKS5 proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                                           " cannot connect to 127.0.0.1:" + std::to_string(port) +
                                           " (reply 0x05"));
    }
}

// ----- reaching the proxy -------------------------------------------------------------------

TEST_F(ProxyTest, UnreachableProxyIsNetworkError) {
    auto server = start_server(echo_handler());
    const std::uint16_t port = closed_port();
    for (const char* scheme : {"http", "socks5"}) {
        try {
            connect(uri_of(*server),
                    via(std::string(scheme) + "://127.0.0.1:" + std::to_string(port)));
            ADD_FAILURE() << "connected through a proxy that is not there";
        } catch (const NetworkError& e) {
            EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
            EXPECT_TRUE(contains(e.what(), "127.0.0.1:" + std::to_string(port)));
        }
    }
}

TEST_F(ProxyTest, SilentProxyIsTimeoutWithinOpenTimeout) {
    auto server = start_server(echo_handler());
    auto listener = net::Listener::tcp("127.0.0.1", 0); // accepts in the kernel, never answers
    const std::string proxy = "127.0.0.1:" + std::to_string(listener->port());
    for (const char* scheme : {"http", "socks5h"}) {
        ClientOptions co = via(std::string(scheme) + "://" + proxy);
        co.open_timeout = 200ms;
        const auto start = Clock::now();
        const std::string error = connect_error(uri_of(*server), co);
        EXPECT_TRUE(contains(error, "Timeout: timed out waiting for ")) << error;
        EXPECT_TRUE(contains(error, "proxy " + proxy + " to answer ")) << error;
        EXPECT_LT(ms_since(start), 10000);
    }
}

TEST_F(ProxyTest, BadProxyUrlIsInvalidProxyURL) {
    auto server = start_server(echo_handler());
    EXPECT_EQ(connect_error(uri_of(*server), via("socks4://u:secret@127.0.0.1:1080")),
              "InvalidProxyURL: bad proxy URL \"socks4://u:***@127.0.0.1:1080\": unknown scheme "
              "\"socks4\" (syncws supports http://, https://, socks5:// and socks5h://)");
    EXPECT_TRUE(contains(connect_error(uri_of(*server), via("http://127.0.0.1:0")), "bad port"));
    const std::string unencoded = connect_error(uri_of(*server), via("http://u:p#ss@127.0.0.1"));
    EXPECT_TRUE(contains(unencoded, "InvalidProxyURL: bad proxy URL \"http://u:***@127.0.0.1\""));
    EXPECT_EQ(unencoded.find("p#ss"), std::string::npos) << unencoded;
}

TEST_F(ProxyTest, UnixSocketNeverUsesTheProxy) {
    static std::atomic<int> counter{0};
    const std::string path = "/tmp/syncws-proxy-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".sock";
    ServerOptions so;
    so.unix_socket = path;
    auto server = start_server(echo_handler(), so);
    TestProxy proxy;
    ClientOptions co = via(proxy.url());
    co.unix_socket = path;
    auto client = connect("ws://localhost/", co);
    echo(client, "over the Unix socket");
    EXPECT_EQ(proxy.connections(), 0u);
}

TEST_F(ProxyTest, EveryRedirectHopGoesThroughTheProxy) {
    auto server = start_server(echo_handler());
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto redirecting = run_async([&] {
        auto stream = listener->accept();
        read_http_head(*stream);
        const std::string reply = "HTTP/1.1 302 Found\r\nLocation: " + uri_of(*server, "/moved") +
                                  "\r\nContent-Length: 0\r\n\r\n";
        stream->write_all(reply.data(), reply.size());
        stream->shutdown_write();
        char c = 0;
        while (stream->wait_readable(Clock::now() + generous) && stream->read_some(&c, 1) > 0) {
        }
    });
    TestProxy proxy;
    auto client =
        connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/", via(proxy.url()));
    echo(client, "redirected through the proxy");
    ASSERT_TRUE(finishes(redirecting));
    redirecting.get();
    const auto seen = proxy.seen();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].target_port, listener->port());
    EXPECT_EQ(seen[1].target_port, server->port());
}

// ----- TLS ----------------------------------------------------------------------------------

#if SYNCWS_TEST_HAVE_TLS

// Trusts the test CA for the server and, for an https:// proxy, for the proxy too.
ClientOptions secure_via(const std::string& proxy) {
    ClientOptions co = via(proxy);
    co.tls = trusting_tls();
    co.proxy_tls = trusting_tls();
    return co;
}

std::string wss_uri(const Server& server, const std::string& host = "localhost") {
    return "wss://" + host + ":" + std::to_string(server.port()) + "/";
}

void big_echo(ClientConnection& client) {
    const std::string big = pattern(900 * 1024, 7); // many TLS records on both layers
    client.send_binary(BytesView(big));
    EXPECT_TRUE(client.recv().data == big);
}

TEST_F(ProxyTest, WssThroughHttpConnect) {
    auto server = start_server(echo_handler(), tls_server_options());
    TestProxy proxy;
    auto client = connect(wss_uri(*server), secure_via(proxy.url()));
    echo(client, "TLS through CONNECT");
    big_echo(client);
    client.close();
    EXPECT_EQ(client.close_code(), 1000);
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].request_line, "CONNECT localhost:" + port_of(*server) + " HTTP/1.1");
}

TEST_F(ProxyTest, WssThroughSocks5h) {
    auto server = start_server(echo_handler(), tls_server_options());
    TestProxy proxy(proxy_options(Kind::socks5));
    auto client = connect(wss_uri(*server), secure_via(proxy.url("", "socks5h")));
    echo(client, "TLS through SOCKS5");
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].socks_address_type, 3);
    EXPECT_EQ(proxy.seen()[0].target_host, "localhost");
}

TEST_F(ProxyTest, WssChecksTheServersNameNotTheProxys) {
    // The server's certificate names only other.example, which only the proxy can resolve;
    // the proxy is 127.0.0.1. Verification is against the URI's host.
    auto server = start_server(echo_handler(), tls_server_options(test_pki().other_host));
    TestProxyOptions o;
    o.hosts["other.example"] = "127.0.0.1";
    TestProxy proxy(o);
    auto client = connect(wss_uri(*server, "other.example"), secure_via(proxy.url()));
    echo(client, "verified as other.example");
    // And a mismatch through the proxy is still a hostname mismatch.
    const std::string error = connect_error(wss_uri(*server), secure_via(proxy.url()));
    EXPECT_TRUE(contains(error, "TlsError: ")) << error;
    EXPECT_TRUE(contains(error, "hostname mismatch")) << error;
}

TEST_F(ProxyTest, WssThroughHttpsProxyIsTlsInTls) {
    auto server = start_server(echo_handler(), tls_server_options());
    TestProxyOptions o;
    o.tls = true;
    o.user = "carol";
    o.password = "pw";
    TestProxy proxy(o);
    auto client =
        connect(wss_uri(*server), secure_via(proxy.url("carol:pw", "https", "localhost")));
    echo(client, "TLS inside TLS");
    big_echo(client);
    // Reader and writer work both TLS sessions at the same time.
    constexpr int count = 500;
    auto receiver = run_async([&] {
        for (int i = 0; i < count; ++i)
            if (client.recv().data != std::to_string(i)) return i;
        return count;
    });
    for (int i = 0; i < count; ++i)
        client.send_text(std::to_string(i));
    ASSERT_TRUE(finishes(receiver));
    EXPECT_EQ(receiver.get(), count);
    client.close();
    EXPECT_EQ(client.close_code(), 1000);
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].user, "carol");
    EXPECT_TRUE(proxy.seen()[0].tunneled);
}

TEST_F(ProxyTest, WsThroughHttpsProxy) {
    auto server = start_server(echo_handler());
    TestProxyOptions o;
    o.tls = true;
    TestProxy proxy(o);
    auto client = connect(uri_of(*server), secure_via(proxy.url("", "https", "127.0.0.1")));
    echo(client, "plain WebSocket, TLS to the proxy");
    EXPECT_EQ(proxy.seen().size(), 1u);
}

TEST_F(ProxyTest, HttpsProxyCertificateIsCheckedWithProxyTls) {
    auto server = start_server(echo_handler(), tls_server_options());
    TestProxyOptions o;
    o.tls = true;
    TestProxy proxy(o);
    // Trusting the CA for the server (tls) does not make the proxy trusted (proxy_tls).
    ClientOptions co = via(proxy.url("", "https", "localhost"));
    co.tls = trusting_tls();
    co.proxy_tls.use_system_trust_store = false;
    co.proxy_tls.ca_pem = test_pki().other_ca.cert_pem;
    const std::string error = connect_error(wss_uri(*server), co);
    EXPECT_TRUE(contains(error, "TlsError: ")) << error;
    EXPECT_TRUE(proxy.seen().empty());
    // The proxy's name is checked against its certificate, like any TLS server's.
    TestProxyOptions other = o;
    TestProxy misnamed(other);
    ClientOptions co2 = secure_via(misnamed.url("", "https", "127.0.0.1"));
    co2.proxy_tls.server_name = "other.example";
    const std::string mismatch = connect_error(wss_uri(*server), co2);
    EXPECT_TRUE(contains(mismatch, "hostname mismatch")) << mismatch;
}

// Counts the bytes written through it: what left the client for the proxy.
class CountingStream final : public net::Stream {
public:
    explicit CountingStream(std::unique_ptr<net::Stream> inner) : inner_(std::move(inner)) {}
    std::size_t read_some(char* buf, std::size_t n) override { return inner_->read_some(buf, n); }
    void write_all(const char* data, std::size_t n) override {
        inner_->write_all(data, n);
        written += n;
    }
    std::size_t write_some_now(const char* data, std::size_t n) override {
        const std::size_t taken = inner_->write_some_now(data, n);
        written += taken;
        return taken;
    }
    bool has_backlog() const override { return inner_->has_backlog(); }
    net::Readiness wait(bool read, bool write, int wake_fd, net::Deadline deadline) override {
        return inner_->wait(read, write, wake_fd, deadline);
    }
    void shutdown_write() override { inner_->shutdown_write(); }
    bool shutdown_write_now() override { return inner_->shutdown_write_now(); }
    void abort() noexcept override { inner_->abort(); }
    bool wait_readable(net::Deadline deadline) override { return inner_->wait_readable(deadline); }
    std::string local_address() const override { return inner_->local_address(); }
    std::string remote_address() const override { return inner_->remote_address(); }

    std::atomic<std::size_t> written{0};

private:
    std::unique_ptr<net::Stream> inner_;
};

// Below the runtime, with the streams connect() builds for wss:// through an https:// proxy:
// TLS to the server inside TLS to the proxy. (Here rather than in tests/net: this binary has
// the test certificates.)
TEST_F(ProxyTest, TlsInTlsShowsAndSendsTheProxyLayersOwnOutput) {
    const auto deadline = Clock::now() + 20s;
    const auto server_context = net::TlsContext::server(serving_tls());
    // TLS 1.2 to the proxy: a renegotiation request is what makes a reader produce output
    // (TLS 1.3 answers a KeyUpdate only with the next write).
    const auto proxy_context = net::TlsContext::server(serving_tls());
    SSL_CTX_set_max_proto_version(proxy_context->native_handle(), TLS1_2_VERSION);
    const auto client_context = net::TlsContext::client(trusting_tls());

    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto accepted = run_async([&] { return listener->accept(); });
    auto counting =
        std::make_unique<CountingStream>(net::connect_tcp("127.0.0.1", listener->port(), deadline));
    CountingStream& to_proxy = *counting;
    ASSERT_TRUE(finishes(accepted));
    std::unique_ptr<net::Stream> proxy_socket = accepted.get();
    auto proxy_handshake = run_async(
        [&] { return net::TlsStream::server(std::move(proxy_socket), proxy_context, deadline); });
    std::unique_ptr<net::Stream> client_inner =
        net::TlsStream::client(std::move(counting), client_context, "localhost", deadline);
    ASSERT_TRUE(finishes(proxy_handshake));
    std::unique_ptr<net::TlsStream> proxy_tls = proxy_handshake.get();
    net::TlsStream& proxy_side = *proxy_tls;
    auto server_handshake = run_async(
        [&] { return net::TlsStream::server(std::move(proxy_tls), server_context, deadline); });
    auto client =
        net::TlsStream::client(std::move(client_inner), client_context, "localhost", deadline);
    ASSERT_TRUE(finishes(server_handshake));
    auto server = server_handshake.get();
    char c = 0;
    server->write_all("x", 1);
    ASSERT_EQ(client->read_some(&c, 1), 1u);
    EXPECT_EQ(c, 'x');
    ASSERT_FALSE(client->has_backlog());

    // The proxy's TLS layer asks to renegotiate, against our settings; then the server sends
    // a byte through it. The client's inner layer refuses with a no_renegotiation alert while
    // the reader reads: it stays in that layer's BIO, and the outer layer shows it.
    SSL* proxy_ssl = proxy_side.native_handle();
    SSL_clear_options(proxy_ssl, SSL_OP_NO_RENEGOTIATION);
    ASSERT_EQ(SSL_renegotiate(proxy_ssl), 1);
    SSL_do_handshake(proxy_ssl);
    proxy_side.write_all(nullptr, 0); // sends the HelloRequest
    server->write_all("y", 1);
    // With no deadline, wait() returns all false as soon as reading produced the alert, or
    // readable if the byte came in the same read; either way the alert shows in has_backlog().
    auto waiter = run_async([&] { return client->wait(true, false, -1, net::Deadline::max()); });
    if (!finishes(waiter)) {
        client->abort();
        FAIL() << "wait() did not return when the inner layer produced output";
    }
    const net::Readiness ready = waiter.get();
    EXPECT_FALSE(ready.writable || ready.woken);
    ASSERT_TRUE(client->has_backlog()) << "the inner layer's output is not shown";
    const std::size_t before = to_proxy.written.load();
    EXPECT_EQ(client->write_some_now(nullptr, 0), 0u);
    ASSERT_GT(to_proxy.written.load(), before)
        << "write_some_now(nullptr, 0) left the inner layer's output behind";
    EXPECT_FALSE(client->has_backlog());
    ASSERT_EQ(client->read_some(&c, 1), 1u);
    EXPECT_EQ(c, 'y');
    // The proxy's side got the alert.
    try {
        server->read_some(&c, 1);
        FAIL() << "the proxy's side read data instead of the alert";
    } catch (const TlsError& e) {
        EXPECT_TRUE(contains(e.what(), "no renegotiation")) << e.what();
    }
}

#endif // SYNCWS_TEST_HAVE_TLS

} // namespace
} // namespace syncws::test
