// connect() choosing its proxy from the process environment (http_proxy, https_proxy,
// all_proxy, no_proxy), end to end.
//
// Why a binary of its own: these tests must change the environment with setenv(), which
// POSIX does not make safe against a getenv() on another thread, and which every other test
// would otherwise inherit. Here each test changes the variables on the main thread, between
// connections, while no other thread of the test reads them (the proxy and the server never
// do), and restores them at the end. The selection rules themselves are tested with a fake
// environment in tests/net/proxy_test.cpp.
#include "listener.hpp"
#include "sync_test_util.hpp"
#include "test_proxy.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#if SYNCWS_TEST_HAVE_TLS
#include "tls_certs.hpp"
#endif

namespace syncws::test {
namespace {

const char* const proxy_variables[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                       "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
                                       "no_proxy",    "NO_PROXY",   "REQUEST_METHOD"};

// Clears every proxy variable for the test and puts the process's own values back after.
class ProxyEnvTest : public SyncTest {
protected:
    void SetUp() override {
        for (const char* name : proxy_variables) {
            if (const char* value = std::getenv(name)) saved_[name] = value;
            ::unsetenv(name);
        }
    }
    void TearDown() override {
        for (const char* name : proxy_variables) {
            const auto it = saved_.find(name);
            if (it == saved_.end()) {
                ::unsetenv(name);
            } else {
                ::setenv(name, it->second.c_str(), 1);
            }
        }
    }
    static void set(const char* name, const std::string& value) {
        ::setenv(name, value.c_str(), 1);
    }

private:
    std::map<std::string, std::string> saved_;
};

// A proxy URL where nobody listens: choosing it makes connect fail.
std::string dead_proxy() {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    return "http://127.0.0.1:" + std::to_string(listener->port());
}

void echo(ClientConnection& client, const std::string& text) {
    client.send_text(text);
    EXPECT_EQ(client.recv().data, text);
}

TEST_F(ProxyEnvTest, HttpProxyForWs) {
    auto server = start_server(echo_handler());
    TestProxy proxy;
    set("http_proxy", proxy.url());
    set("https_proxy", dead_proxy()); // for wss:// only
    auto client = connect(uri_of(*server));
    echo(client, "via http_proxy");
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].target_port, server->port());
}

TEST_F(ProxyEnvTest, UpperCaseAndAllProxy) {
    auto server = start_server(echo_handler());
    TestProxy http;
    TestProxyOptions socks_options;
    socks_options.kind = TestProxyOptions::Kind::socks5;
    TestProxy socks(socks_options);
    set("HTTP_PROXY", http.url());
    set("all_proxy", socks.url());
    {
        auto client = connect(uri_of(*server));
        echo(client, "via HTTP_PROXY");
    }
    EXPECT_EQ(http.seen().size(), 1u);
    ::unsetenv("HTTP_PROXY");
    {
        auto client = connect(uri_of(*server));
        echo(client, "via all_proxy");
    }
    EXPECT_EQ(http.seen().size(), 1u);
    EXPECT_EQ(socks.seen().size(), 1u);
}

TEST_F(ProxyEnvTest, NoProxyBypasses) {
    auto server = start_server(echo_handler());
    TestProxy proxy;
    set("http_proxy", proxy.url());
    set("no_proxy", "internal.example, 127.0.0.1:" + std::to_string(server->port()));
    {
        auto client = connect(uri_of(*server));
        echo(client, "direct");
    }
    EXPECT_EQ(proxy.connections(), 0u);
    // Another port of the same host is not listed.
    set("NO_PROXY", "*");
    set("no_proxy", "127.0.0.1:1");
    {
        auto client = connect(uri_of(*server));
        echo(client, "proxied");
    }
    EXPECT_EQ(proxy.connections(), 1u);
}

TEST_F(ProxyEnvTest, ProxyFromEnvironmentOff) {
    auto server = start_server(echo_handler());
    set("http_proxy", dead_proxy());
    ClientOptions co;
    co.proxy_from_environment = false;
    auto client = connect(uri_of(*server), co);
    echo(client, "environment ignored");
    // And on, the default: the dead proxy is used.
    EXPECT_THROW(connect(uri_of(*server)), NetworkError);
}

TEST_F(ProxyEnvTest, ExplicitProxyWins) {
    auto server = start_server(echo_handler());
    TestProxy proxy;
    set("http_proxy", dead_proxy());
    set("no_proxy", "*"); // applies to the environment's proxy only
    ClientOptions co;
    co.proxy = proxy.url();
    auto client = connect(uri_of(*server), co);
    echo(client, "explicit");
    EXPECT_EQ(proxy.seen().size(), 1u);
}

TEST_F(ProxyEnvTest, BadUrlInTheEnvironmentNeverShowsThePassword) {
    // A "#" left unencoded in the password of a variable: the error names the variable's URL
    // with the password hidden.
    auto server = start_server(echo_handler());
    set("http_proxy", "http://alice:s3c#ret@proxy.example:3128");
    try {
        connect(uri_of(*server));
        FAIL() << "connected with an unusable proxy URL";
    } catch (const InvalidProxyURL& e) {
        const std::string what = e.what();
        EXPECT_TRUE(contains(what, "bad proxy URL \"http://alice:***@proxy.example:3128\""));
        EXPECT_TRUE(contains(what, "percent-encoded"));
        EXPECT_EQ(what.find("s3c"), std::string::npos) << what;
    }
}

TEST_F(ProxyEnvTest, UnixSocketIgnoresTheEnvironment) {
    static std::atomic<int> counter{0};
    const std::string path = "/tmp/syncws-proxy-env-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".sock";
    ServerOptions so;
    so.unix_socket = path;
    auto server = start_server(echo_handler(), so);
    set("http_proxy", dead_proxy());
    ClientOptions co;
    co.unix_socket = path;
    auto client = connect("ws://localhost/", co);
    echo(client, "Unix socket");
}

TEST_F(ProxyEnvTest, RedirectChoosesTheProxyAgain) {
    // The first hop is listed in no_proxy, the second is not.
    auto server = start_server(echo_handler());
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto redirecting = run_async([&] {
        auto stream = listener->accept();
        read_http_head(*stream);
        const std::string reply =
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://proxied.test:" +
            std::to_string(server->port()) + "/\r\nContent-Length: 0\r\n\r\n";
        stream->write_all(reply.data(), reply.size());
        stream->shutdown_write();
        char c = 0;
        while (stream->wait_readable(Clock::now() + generous) && stream->read_some(&c, 1) > 0) {
        }
    });
    TestProxyOptions o;
    o.hosts["proxied.test"] = "127.0.0.1";
    TestProxy proxy(o);
    set("http_proxy", proxy.url());
    set("no_proxy", "127.0.0.1");
    auto client = connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/");
    echo(client, "second hop proxied");
    ASSERT_TRUE(finishes(redirecting));
    redirecting.get();
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].target_host, "proxied.test");
}

#if SYNCWS_TEST_HAVE_TLS

TEST_F(ProxyEnvTest, HttpsProxyForWss) {
    auto server = start_server(echo_handler(), tls_server_options());
    TestProxyOptions o;
    o.kind = TestProxyOptions::Kind::socks5;
    TestProxy proxy(o);
    set("http_proxy", dead_proxy()); // for ws:// only
    set("https_proxy", proxy.url("", "socks5h"));
    auto client =
        connect("wss://localhost:" + std::to_string(server->port()) + "/", trusting_client());
    echo(client, "via https_proxy");
    ASSERT_EQ(proxy.seen().size(), 1u);
    EXPECT_EQ(proxy.seen()[0].target_host, "localhost");
}

#endif // SYNCWS_TEST_HAVE_TLS

} // namespace
} // namespace syncws::test
