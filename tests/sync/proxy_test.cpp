// connect() through proxies, end to end: a real CONNECT or SOCKS5 proxy (tests/support/
// test_proxy) in front of a syncws server, for ws:// and wss://, including wss:// through an
// https:// proxy (TLS inside TLS). The proxy is always given explicitly here: the process
// environment is left alone (see proxy_env_test.cpp for the variables).
#include "listener.hpp"
#include "sync_test_util.hpp"
#include "test_proxy.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>
#if SYNCWS_TEST_HAVE_TLS
#include "tls_certs.hpp"
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
    } catch (const InvalidHandshake& e) {
        return std::string("InvalidHandshake: ") + e.what();
    } catch (const NetworkError& e) {
        return std::string("NetworkError: ") + e.what();
    } catch (const Timeout& e) {
        return std::string("Timeout: ") + e.what();
    } catch (const TlsError& e) {
        return std::string("TlsError: ") + e.what();
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
    const std::string prefix = "InvalidHandshake: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
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
              "InvalidHandshake: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
                  " refused CONNECT to 127.0.0.1:" + port_of(*server) + ": 403 Forbidden");
}

TEST_F(ProxyTest, HttpProxyCannotReachTheServer) {
    TestProxy proxy;
    const std::uint16_t port = closed_port();
    EXPECT_EQ(connect_error("ws://127.0.0.1:" + std::to_string(port) + "/", via(proxy.url())),
              "InvalidHandshake: proxy 127.0.0.1:" + std::to_string(proxy.port()) +
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

TEST_F(ProxyTest, BadProxyUrlIsInvalidURI) {
    auto server = start_server(echo_handler());
    EXPECT_EQ(connect_error(uri_of(*server), via("socks4://u:secret@127.0.0.1:1080")),
              "InvalidURI: socks4://u:***@127.0.0.1:1080 isn't a valid WebSocket URI: bad proxy "
              "URL: unknown scheme \"socks4\" (syncws supports http://, https://, socks5:// and "
              "socks5h://)");
    EXPECT_TRUE(contains(connect_error(uri_of(*server), via("http://127.0.0.1:0")), "bad port"));
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

ServerOptions tls_server_options(const TestCert& cert = test_pki().server) {
    ServerOptions so = local_options();
    TlsOptions tls;
    tls.cert_pem = cert.cert_pem;
    tls.key_pem = cert.key_pem;
    so.tls = tls;
    return so;
}

TlsOptions trusting() {
    TlsOptions tls;
    tls.ca_pem = test_pki().ca.cert_pem;
    tls.use_system_trust_store = false;
    return tls;
}

// Trusts the test CA for the server and, for an https:// proxy, for the proxy too.
ClientOptions secure_via(const std::string& proxy) {
    ClientOptions co = via(proxy);
    co.tls = trusting();
    co.proxy_tls = trusting();
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
    co.tls = trusting();
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

#endif // SYNCWS_TEST_HAVE_TLS

} // namespace
} // namespace syncws::test
