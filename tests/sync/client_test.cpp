// connect(): wss:// with certificates made at run time, redirects, and the exceptions of a
// failed connection attempt.
#include "listener.hpp"
#include "raw_peer.hpp"
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#if SYNCWS_TEST_HAVE_TLS
#include "tls.hpp"
#include "tls_certs.hpp"
#endif

namespace syncws::test {
namespace {

using ClientTest = SyncTest;

/// Accepts `count` connections on `listener`, reads each request head and answers `reply`.
/// Returns the request heads.
std::vector<std::string> answer_http(net::Listener& listener, const std::string& reply,
                                     int count = 1) {
    std::vector<std::string> heads;
    for (int i = 0; i < count; ++i) {
        auto stream = listener.accept();
        if (!stream) break;
        heads.push_back(read_http_head(*stream));
        stream->write_all(reply.data(), reply.size());
        stream->shutdown_write();
        char c = 0;
        // Wait for the client to hang up, so that closing doesn't reset the answer.
        while (stream->wait_readable(Clock::now() + generous) && stream->read_some(&c, 1) > 0) {
        }
    }
    return heads;
}

// ----- TLS --------------------------------------------------------------------------------

#if SYNCWS_TEST_HAVE_TLS

std::string wss_uri(const Server& server, const std::string& host = "localhost") {
    return "wss://" + host + ":" + std::to_string(server.port()) + "/";
}

TEST_F(ClientTest, SecureEcho) {
    auto server = start_server(echo_handler(), tls_server_options());
    for (const std::string host : {"localhost", "127.0.0.1"}) {
        auto client = connect(wss_uri(*server, host), trusting_client());
        client.send_text("over TLS to " + host);
        EXPECT_EQ(client.recv().data, "over TLS to " + host);
        const std::string big = pattern(900 * 1024, 3); // many TLS records
        client.send_binary(BytesView(big));
        EXPECT_TRUE(client.recv().data == big);
        auto rtt = client.ping();
        ASSERT_TRUE(finishes(rtt));
        client.close();
        EXPECT_EQ(client.close_code(), 1000);
    }
}

TEST_F(ClientTest, SecureConcurrentSendAndReceive) {
    // Reader and writer work the one TLS session at the same time.
    auto server = start_server(echo_handler(), tls_server_options());
    auto client = connect(wss_uri(*server), trusting_client());
    constexpr int count = 2000;
    auto receiver = run_async([&] {
        for (int i = 0; i < count; ++i)
            if (client.recv().data != std::to_string(i)) return i;
        return count;
    });
    for (int i = 0; i < count; ++i)
        client.send_text(std::to_string(i));
    ASSERT_TRUE(finishes(receiver));
    EXPECT_EQ(receiver.get(), count);
}

TEST_F(ClientTest, SecureKeepaliveAndServerShutdown) {
    // Keepalive pings (writer), pongs and messages (reader) share the TLS session; then a
    // graceful shutdown closes every wss:// connection with 1001.
    ServerOptions so = tls_server_options();
    so.connection.ping_interval = 20ms;
    so.connection.ping_timeout = generous;
    Latch handlers(3);
    auto server = start_server(
        [&](ServerConnection& c) {
            handlers.count_down();
            for (auto& m : c)
                c.send(m);
        },
        so);
    ClientOptions co = trusting_client();
    co.connection.ping_interval = 20ms;
    co.connection.ping_timeout = generous;
    std::vector<ClientConnection> clients;
    for (int i = 0; i < 3; ++i)
        clients.push_back(connect(wss_uri(*server), co));
    ASSERT_TRUE(handlers.wait());
    const auto start = Clock::now();
    while (clients[0].latency().count() == 0 && ms_since(start) < 20000) {
        clients[0].send_text("busy");
        ASSERT_EQ(clients[0].recv().data, "busy");
    }
    EXPECT_GT(clients[0].latency().count(), 0);
    server->shutdown();
    for (auto& c : clients) {
        try {
            c.recv();
            FAIL() << "recv returned a message";
        } catch (const ConnectionClosedOK& e) {
            ASSERT_TRUE(e.received());
            EXPECT_EQ(e.received()->code, 1001);
        }
    }
}

TEST_F(ClientTest, HostnameMismatchIsATlsError) {
    auto server = start_server(echo_handler(), tls_server_options(test_pki().other_host));
    try {
        connect(wss_uri(*server), trusting_client());
        FAIL() << "connected to a server whose certificate names another host";
    } catch (const TlsError& e) {
        EXPECT_TRUE(contains(e.what(), "hostname mismatch")) << e.what();
        EXPECT_TRUE(contains(e.what(), "other.example")) << e.what();
    }
}

TEST_F(ClientTest, UntrustedCertificateIsATlsError) {
    auto server = start_server(echo_handler(), tls_server_options());
    ClientOptions co;
    co.tls.use_system_trust_store = false;
    co.tls.ca_pem = test_pki().other_ca.cert_pem;
    EXPECT_THROW(connect(wss_uri(*server), co), TlsError);
}

TEST_F(ClientTest, InsecureSkipVerifyConnectsAnyway) {
    auto server = start_server(echo_handler(), tls_server_options(test_pki().other_host));
    ClientOptions co;
    co.tls.insecure_skip_verify = true;
    auto client = connect(wss_uri(*server), co);
    client.send_text("unverified but encrypted");
    EXPECT_EQ(client.recv().data, "unverified but encrypted");
}

TEST_F(ClientTest, RedirectFromWssToWsIsRefused) {
    auto plain = start_server(echo_handler());
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto context = net::TlsContext::server(serving_tls());
    auto redirecting = run_async([&] {
        auto tcp = listener->accept();
        auto stream = net::TlsStream::server(std::move(tcp), context, Clock::now() + generous);
        read_http_head(*stream);
        const std::string reply =
            "HTTP/1.1 302 Found\r\nLocation: " + uri_of(*plain) + "\r\nContent-Length: 0\r\n\r\n";
        stream->write_all(reply.data(), reply.size());
        char c = 0;
        while (stream->wait_readable(Clock::now() + generous) && stream->read_some(&c, 1) > 0) {
        }
    });
    try {
        connect("wss://localhost:" + std::to_string(listener->port()) + "/", trusting_client());
        FAIL() << "followed a redirect from wss:// to ws://";
    } catch (const InvalidHandshake& e) {
        EXPECT_TRUE(contains(e.what(), "wss:// to ws://")) << e.what();
    }
    ASSERT_TRUE(finishes(redirecting));
    redirecting.get();
}

#endif // SYNCWS_TEST_HAVE_TLS

// ----- redirects --------------------------------------------------------------------------

TEST_F(ClientTest, FollowsARedirect) {
    std::promise<std::string> target;
    auto server = start_server([&](ServerConnection& c) {
        target.set_value(c.request().target);
        for (auto& m : c)
            c.send(m);
    });
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    const std::string reply = "HTTP/1.1 302 Found\r\nLocation: " + uri_of(*server, "/moved?x=1") +
                              "\r\nContent-Length: 0\r\n\r\n";
    auto redirecting = run_async([&] { return answer_http(*listener, reply); });
    auto client = connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/old");
    auto f = target.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), "/moved?x=1");
    client.send_text("redirected");
    EXPECT_EQ(client.recv().data, "redirected");
    ASSERT_TRUE(finishes(redirecting));
    const auto heads = redirecting.get();
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].rfind("GET /old HTTP/1.1\r\n", 0), 0u) << heads[0];
}

TEST_F(ClientTest, RedirectLoopStopsAtMaxRedirects) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    const std::string self = "ws://127.0.0.1:" + std::to_string(listener->port()) + "/";
    const std::string reply =
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n";
    auto redirecting = run_async([&] { return answer_http(*listener, reply, 3); });
    ClientOptions co;
    co.max_redirects = 2;
    try {
        connect(self, co);
        FAIL() << "a redirect loop connected";
    } catch (const InvalidStatus& e) {
        EXPECT_EQ(e.response().status, 307);
    }
    ASSERT_TRUE(finishes(redirecting));
    const auto heads = redirecting.get();
    ASSERT_EQ(heads.size(), 3u);
    EXPECT_EQ(heads[1].rfind("GET /again HTTP/1.1\r\n", 0), 0u) << heads[1];
}

// ----- errors -----------------------------------------------------------------------------

TEST_F(ClientTest, BadUriIsInvalidURI) {
    EXPECT_THROW(connect("http://127.0.0.1/"), InvalidURI);
    EXPECT_THROW(connect("not a uri"), InvalidURI);
    EXPECT_THROW(connect("ws://"), InvalidURI);
}

TEST_F(ClientTest, RefusedPortIsNetworkError) {
    std::uint16_t port = 0;
    {
        auto listener = net::Listener::tcp("127.0.0.1", 0);
        port = listener->port();
    } // nobody listens there any more
    try {
        connect("ws://127.0.0.1:" + std::to_string(port) + "/");
        FAIL() << "connected to a closed port";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
}

TEST_F(ClientTest, SilentServerIsTimeout) {
    // The kernel completes TCP handshakes into the backlog; nobody ever answers.
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    ClientOptions co;
    co.open_timeout = 200ms;
    const auto start = Clock::now();
    try {
        connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/", co);
        FAIL() << "connected to a server that never answered";
    } catch (const Timeout& e) {
        EXPECT_TRUE(contains(e.what(), "opening handshake")) << e.what();
    }
    EXPECT_LT(ms_since(start), 10000);
}

TEST_F(ClientTest, NonWebSocketAnswerIsInvalidStatus) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    const std::string reply =
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nnope\n";
    auto answering = run_async([&] { return answer_http(*listener, reply); });
    try {
        connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/");
        FAIL() << "connected";
    } catch (const InvalidStatus& e) {
        EXPECT_EQ(e.response().status, 404);
        EXPECT_EQ(e.response().body, "nope\n");
    }
    ASSERT_TRUE(finishes(answering));
}

TEST_F(ClientTest, ServerMaxSizeViolationFromTheClientSide) {
    // The client's own max_size protects it against a server's big message.
    ClientOptions co;
    co.connection.max_size = 100;
    RawServer raw;
    auto accepted = run_async([&] { return raw.accept(); });
    auto client = connect(raw.uri(), co);
    auto peer = accepted.get();
    peer->send_binary(std::string(101, 'x'));
    // The peer answers the client's close while the client waits for the end.
    auto peer_reading = run_async([&] {
        std::vector<Frame> frames;
        while (auto frame = peer->read_frame())
            frames.push_back(*frame);
        return frames;
    });
    try {
        client.recv();
        FAIL() << "received a message over max_size";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.sent());
        EXPECT_EQ(e.sent()->code, 1009);
        const auto cause = nested_cause(e);
        ASSERT_TRUE(cause);
        EXPECT_THROW(std::rethrow_exception(cause), PayloadTooBig);
    }
    ASSERT_TRUE(finishes(peer_reading));
    const auto frames = peer_reading.get();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].opcode, Opcode::close);
    EXPECT_EQ(Close::parse(frames[0].payload)->code, 1009);
}

} // namespace
} // namespace syncws::test
