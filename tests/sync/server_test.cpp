// Server: request hooks (health check, 401), Origin, subprotocols, failing handlers, the
// connection limit (503), the opening deadline, graceful shutdown, Unix sockets.
#include "handshake_io.hpp"
#include "proto_support.hpp"
#include "raw_peer.hpp"
#include "sync_test_util.hpp"
#include "tcp.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#if SYNCWS_TEST_HAVE_TLS
#include "tls_certs.hpp"
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace syncws::test {
namespace {

using ServerTest = SyncTest;

/// The response `connect` refused, or a failure.
Response refused_response(const std::string& uri, const ClientOptions& options = {}) {
    try {
        connect(uri, options);
    } catch (const InvalidStatus& e) {
        return e.response();
    }
    ADD_FAILURE() << "connect to " << uri << " did not throw InvalidStatus";
    return {};
}

// The close frame the next recv() on `client` ends with, cleanly. A message, a dropped
// connection or a close without a frame fails the test (and gives nullopt).
std::optional<Close> clean_close_received(ClientConnection& client) {
    try {
        client.recv();
        ADD_FAILURE() << "recv returned a message";
    } catch (const ConnectionClosedOK& e) {
        if (!e.received()) ADD_FAILURE() << "closed without a close frame";
        return e.received();
    } catch (const ConnectionClosedError& e) {
        ADD_FAILURE() << "the connection was dropped: " << e.what();
    }
    return std::nullopt;
}

std::optional<Response> health_and_auth(const Request& request) {
    if (request.target == "/health") {
        Response response;
        response.status = 200;
        response.headers.add("Content-Type", "text/plain");
        response.body = "OK\n";
        return response;
    }
    if (!request.headers.contains("Authorization")) {
        Response response;
        response.status = 401;
        response.headers.add("WWW-Authenticate", "Basic realm=\"syncws\"");
        response.body = "who are you?\n";
        return response;
    }
    return std::nullopt;
}

TEST_F(ServerTest, ProcessRequestAnswersAHealthCheck) {
    ServerOptions so = local_options();
    so.process_request = health_and_auth;
    auto server = start_server(echo_handler(), so);

    const Response response = refused_response(uri_of(*server, "/health"));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "OK\n");
    EXPECT_EQ(response.headers.get("Content-Type"), "text/plain");
    EXPECT_EQ(response.headers.get("Server"), "syncws");

    // A plain HTTP GET, as a load balancer sends it, gets the same answer.
    auto stream = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    const std::string get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream->write_all(get.data(), get.size());
    stream->shutdown_write();
    std::string answer;
    char buf[4096];
    while (std::size_t n = stream->read_some(buf, sizeof buf))
        answer.append(buf, n);
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_TRUE(contains(answer, "\r\n\r\nOK\n")) << answer;
}

TEST_F(ServerTest, ProcessRequestRefusesWith401) {
    ServerOptions so = local_options();
    so.process_request = health_and_auth;
    std::promise<std::string> authorization;
    auto server = start_server(
        [&](ServerConnection& c) {
            authorization.set_value(std::string(*c.request().headers.get("Authorization")));
            for (auto& m : c)
                c.send(m);
        },
        so);

    const Response response = refused_response(uri_of(*server));
    EXPECT_EQ(response.status, 401);
    EXPECT_EQ(response.headers.get("WWW-Authenticate"), "Basic realm=\"syncws\"");
    EXPECT_EQ(response.body, "who are you?\n");

    // Credentials in the URI become Basic authorization.
    auto client = connect("ws://user:pass@127.0.0.1:" + std::to_string(server->port()) + "/");
    auto f = authorization.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), "Basic dXNlcjpwYXNz");
    client.send_text("authorized");
    EXPECT_EQ(client.recv().data, "authorized");
}

TEST_F(ServerTest, BasicAuthHelperChecksCredentials) {
    ServerOptions so = local_options();
    so.process_request = basic_auth("chat room", [](std::string_view user, std::string_view pw) {
        return user == "alice" && pw == "s3:cret";
    });
    auto server = start_server(echo_handler(), so);
    const std::string port = std::to_string(server->port());

    for (const std::string userinfo : {"", "alice:wrong@", "bob:s3%3Acret@"}) {
        const Response response = refused_response("ws://" + userinfo + "127.0.0.1:" + port + "/");
        EXPECT_EQ(response.status, 401) << userinfo;
        EXPECT_EQ(response.headers.get("WWW-Authenticate"),
                  "Basic realm=\"chat room\", charset=\"UTF-8\"")
            << userinfo;
    }
    // The password may contain a colon: only the first one separates the user name.
    auto client = connect("ws://alice:s3%3Acret@127.0.0.1:" + port + "/");
    client.send_text("let in");
    EXPECT_EQ(client.recv().data, "let in");
}

TEST_F(ServerTest, DeflateOptionsReachTheHandshake) {
    ServerOptions so = local_options();
    so.deflate.server_max_window_bits = 10;
    auto server = start_server(echo_handler(), so);

    ClientOptions co;
    co.deflate.client_no_context_takeover = true;
    auto client = connect(uri_of(*server), co);
    const std::string negotiated = client.extensions();
    EXPECT_TRUE(contains(negotiated, "permessage-deflate")) << negotiated;
    EXPECT_TRUE(contains(negotiated, "server_max_window_bits=10")) << negotiated;
    EXPECT_TRUE(contains(negotiated, "client_no_context_takeover")) << negotiated;
    const std::string text(100000, 'x');
    client.send_text(text);
    EXPECT_EQ(client.recv().data, text);

    ClientOptions off;
    off.compression = false;
    auto plain = connect(uri_of(*server), off);
    EXPECT_EQ(plain.extensions(), "");
}

TEST_F(ServerTest, ProcessResponseEditsTheHandshake) {
    ServerOptions so = local_options();
    so.process_response = [](const Request&, Response& response) {
        response.headers.add("X-Extra", "yes");
    };
    auto server = start_server(echo_handler(), so);
    auto client = connect(uri_of(*server));
    EXPECT_EQ(client.response().headers.get("X-Extra"), "yes");
}

TEST_F(ServerTest, RefusedOriginGets403) {
    ServerOptions so = local_options();
    so.origins = {"https://good.example"};
    auto server = start_server(echo_handler(), so);

    ClientOptions evil;
    evil.origin = "https://evil.example";
    try {
        connect(uri_of(*server), evil);
        FAIL() << "connected with a refused origin";
    } catch (const InvalidStatus& e) {
        EXPECT_EQ(e.response().status, 403);
        EXPECT_TRUE(contains(e.what(), "403"));
    }
    EXPECT_EQ(refused_response(uri_of(*server)).status, 403) << "no Origin isn't allowed either";

    ClientOptions good;
    good.origin = "https://good.example";
    auto client = connect(uri_of(*server), good);
    client.send_text("welcome");
    EXPECT_EQ(client.recv().data, "welcome");
}

TEST_F(ServerTest, SubprotocolSelection) {
    ServerOptions so = local_options();
    so.subprotocols = {"chat.v2", "chat.v1"};
    std::promise<std::string> seen;
    auto server = start_server(
        [&](ServerConnection& c) {
            seen.set_value(c.subprotocol());
            for (auto& m : c)
                c.send(m);
        },
        so);
    ClientOptions co;
    co.subprotocols = {"chat.v1", "chat.v2"};
    auto client = connect(uri_of(*server), co);
    EXPECT_EQ(client.subprotocol(), "chat.v2") << "the server's preference wins";
    auto f = seen.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), "chat.v2");

    // Nothing in common: no subprotocol, the connection still opens (RFC 6455 §4.2.2).
    ClientOptions other;
    other.subprotocols = {"other"};
    auto plain = connect(uri_of(*server), other);
    EXPECT_EQ(plain.subprotocol(), "");
}

TEST_F(ServerTest, SubprotocolSelectorHook) {
    ServerOptions so = local_options();
    so.select_subprotocol =
        [](const Request&, const std::vector<std::string>& offered) -> std::optional<std::string> {
        if (offered.size() > 1) return offered[1];
        return std::nullopt;
    };
    auto server = start_server(echo_handler(), so);
    ClientOptions co;
    co.subprotocols = {"a", "b", "c"};
    EXPECT_EQ(connect(uri_of(*server), co).subprotocol(), "b");
}

TEST_F(ServerTest, ThrowingHandlerClosesWith1011AndTheServerGoesOn) {
    ServerOptions so = local_options();
    LogCapture log;
    so.logger = log.logger();
    std::atomic<int> calls{0};
    auto server = start_server(
        [&](ServerConnection& c) {
            if (calls++ == 0) throw std::runtime_error("handler exploded");
            for (auto& m : c)
                c.send(m);
        },
        so);

    auto first = connect(uri_of(*server));
    try {
        first.recv();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.received());
        EXPECT_EQ(e.received()->code, 1011);
    }
    EXPECT_EQ(first.close_code(), 1011);
    EXPECT_TRUE(log.wait_for("handler exploded")) << log.all();

    auto second = connect(uri_of(*server));
    second.send_text("next client");
    EXPECT_EQ(second.recv().data, "next client");
}

TEST_F(ServerTest, MaxConnectionsRefusesTheThirdWith503) {
    ServerOptions so = local_options();
    so.max_connections = 2;
    auto server = start_server(echo_handler(), so);
    auto a = connect(uri_of(*server));
    auto b = connect(uri_of(*server));

    const Response refused = refused_response(uri_of(*server));
    EXPECT_EQ(refused.status, 503);
    EXPECT_TRUE(refused.headers.contains("Retry-After"));

    a.send_text("a");
    EXPECT_EQ(a.recv().data, "a");
    b.send_text("b");
    EXPECT_EQ(b.recv().data, "b");

    // Once a connection ends, its slot is free again (as soon as its task finishes, which
    // the client cannot observe: try until it works).
    a.close();
    const auto start = Clock::now();
    std::optional<ClientConnection> c;
    while (!c && ms_since(start) < 20000) {
        try {
            c.emplace(connect(uri_of(*server)));
        } catch (const InvalidStatus& e) {
            ASSERT_EQ(e.response().status, 503);
        }
    }
    ASSERT_TRUE(c) << "the freed slot was never reused";
    c->send_text("c");
    EXPECT_EQ(c->recv().data, "c");
}

#if SYNCWS_TEST_HAVE_TLS
TEST_F(ServerTest, TlsServerRefusesOverTls) {
    // The 503 must come inside TLS: in plaintext a wss:// client sees only a TLS error.
    ServerOptions so = tls_server_options();
    so.max_connections = 1;
    auto server = start_server(echo_handler(), so);
    const ClientOptions co = trusting_client();
    const std::string uri = "wss://localhost:" + std::to_string(server->port()) + "/";
    auto first = connect(uri, co);

    const Response refused = refused_response(uri, co);
    EXPECT_EQ(refused.status, 503);
    EXPECT_TRUE(refused.headers.contains("Retry-After"));
    first.send_text("still served");
    EXPECT_EQ(first.recv().data, "still served");
}
#endif

TEST_F(ServerTest, OpenTimeoutDropsASilentClient) {
    ServerOptions so = local_options();
    so.open_timeout = 200ms;
    LogCapture log;
    so.logger = log.logger();
    auto server = start_server(echo_handler(), so);
    // Slowloris: connect and send nothing. The server hangs up after open_timeout.
    auto stream = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    const auto start = Clock::now();
    ASSERT_TRUE(stream->wait_readable(Clock::now() + generous));
    char c = 0;
    std::size_t n = 1;
    try {
        n = stream->read_some(&c, 1);
    } catch (const NetworkError&) {
        n = 0; // a reset is a hang-up too
    }
    EXPECT_EQ(n, 0u);
    EXPECT_LT(ms_since(start), 10000);
    EXPECT_TRUE(log.wait_for("timed out")) << log.all();

    // A slow client that sent half a request is dropped as well.
    auto half = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    const std::string partial = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    half->write_all(partial.data(), partial.size());
    ASSERT_TRUE(half->wait_readable(Clock::now() + generous));
    try {
        n = half->read_some(&c, 1);
    } catch (const NetworkError&) {
        n = 0;
    }
    EXPECT_EQ(n, 0u);

    // The server still serves.
    auto client = connect(uri_of(*server));
    client.send_text("fine");
    EXPECT_EQ(client.recv().data, "fine");
}

TEST_F(ServerTest, ShutdownClosesEveryConnectionWith1001) {
    constexpr int count = 100;
    Latch handlers(count);
    ServerOptions so = local_options();
    so.connection.thread_stack_size = 64 * 1024;
    auto server = std::make_unique<Server>(
        [&](ServerConnection& c) {
            handlers.count_down();
            for (auto& m : c)
                c.send(m);
        },
        so);
    server->start();

    std::vector<std::unique_ptr<ClientConnection>> clients;
    ClientOptions co;
    co.connection.thread_stack_size = 64 * 1024;
    for (int i = 0; i < count; ++i)
        clients.push_back(std::make_unique<ClientConnection>(connect(uri_of(*server), co)));
    ASSERT_TRUE(handlers.wait()) << "not every handler started";
    EXPECT_EQ(server->connections().size(), static_cast<std::size_t>(count));

    // Every client blocks in recv.
    Latch receiving(count);
    std::vector<std::future<std::optional<Close>>> receivers;
    for (auto& client : clients) {
        receivers.push_back(run_async([&receiving, c = client.get()]() -> std::optional<Close> {
            receiving.count_down();
            try {
                c->recv();
            } catch (const ConnectionClosedOK& e) {
                return e.received();
            }
            return std::nullopt;
        }));
    }
    ASSERT_TRUE(receiving.wait());

    const auto start = Clock::now();
    server->shutdown();
    EXPECT_LT(ms_since(start), 20000);
    for (auto& r : receivers) {
        ASSERT_TRUE(finishes(r));
        const auto received = r.get();
        ASSERT_TRUE(received) << "recv did not end with ConnectionClosedOK";
        EXPECT_EQ(received->code, 1001);
    }
    EXPECT_TRUE(server->connections().empty());
    server.reset(); // joins everything; the watchdog catches a hang
    for (auto& client : clients)
        EXPECT_EQ(client->close_code(), 1001);
}

TEST_F(ServerTest, ShutdownWithACustomCodeAndTwice) {
    Latch started;
    auto server = start_server([&](ServerConnection& c) {
        started.count_down();
        for (auto& m : c)
            c.send(m);
    });
    auto client = connect(uri_of(*server));
    ASSERT_TRUE(started.wait());
    server->shutdown(1012, "restarting");
    server->shutdown();
    try {
        client.recv();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.received());
        EXPECT_EQ(*e.received(), (Close{1012, "restarting"}));
    }
    // The port is free again once shutdown() returns, though the Server object lives on: a
    // late client is refused at once instead of waiting in the backlog for open_timeout.
    try {
        connect(uri_of(*server));
        FAIL() << "connected after shutdown";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
}

TEST_F(ServerTest, ShutdownDoesNotWaitForClientsStillInTheirHandshake) {
    ServerOptions so = local_options();
    so.open_timeout = 2 * generous; // what a broken shutdown would wait for
    LogCapture log;
    so.logger = log.logger();
    auto server = start_server(echo_handler(), so);
    // A client that connects and never sends its request, like a slowloris.
    auto silent = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    ASSERT_TRUE(log.wait_for("opening handshake with")) << log.all();

    auto stopping = run_async([&] { server->shutdown(); });
    ASSERT_TRUE(finishes(stopping)) << "shutdown() waited for the silent client";
    stopping.get();
    // The silent client sees its connection end.
    ASSERT_TRUE(silent->wait_readable(Clock::now() + generous));
    char c = 0;
    std::size_t n = 1;
    try {
        n = silent->read_some(&c, 1);
    } catch (const NetworkError&) {
        n = 0; // a reset is an end too
    }
    EXPECT_EQ(n, 0u);
}

TEST_F(ServerTest, ShutdownIsBoundedWhenClientsNeverAnswer) {
    // Each connection's close waits for the client; the waits must overlap, not add up.
    constexpr int count = 8;
    ServerOptions so = local_options();
    so.connection.close_timeout = 500ms;
    Latch handlers(count);
    auto server = start_server(
        [&](ServerConnection& c) {
            handlers.count_down();
            for (auto& m : c)
                c.send(m);
        },
        so);
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int i = 0; i < count; ++i) {
        peers.push_back(RawPeer::connect(server->port()));
        peers.back()->set_auto_reply(false); // never answers the close
    }
    ASSERT_TRUE(handlers.wait());
    const auto start = Clock::now();
    server->shutdown();
    const auto took = ms_since(start);
    EXPECT_LT(took, count * 500 / 2) << "the close timeouts added up: " << took << " ms";
    for (auto& peer : peers) {
        auto frame = peer->read_frame();
        ASSERT_TRUE(frame);
        EXPECT_EQ(frame->opcode, Opcode::close);
        EXPECT_EQ(Close::parse(frame->payload), (Close{1001, ""}));
    }
}

TEST_F(ServerTest, ShutdownRacingAHandshakeStillClosesWith1001) {
    // The client gets its 101 after shutdown() began: it must see a closing handshake, not a
    // dropped connection. The Unix socket's file, removed when shutdown starts, shows when.
    static std::atomic<int> counter{0};
    const std::string path = "/tmp/syncws-sync-race-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".sock";
    std::unique_ptr<Server> server;
    std::future<void> shutting;
    ServerOptions so;
    so.unix_socket = path;
    so.process_response = [&](const Request&, Response&) {
        shutting = run_async([&] { server->shutdown(); });
        EXPECT_TRUE(eventually([&] { return ::access(path.c_str(), F_OK) != 0; }));
    };
    bool handler_ran = false;
    server = std::make_unique<Server>([&](ServerConnection&) { handler_ran = true; }, so);
    server->start();
    ClientOptions co;
    co.unix_socket = path;
    auto client = connect("ws://localhost/", co);
    const auto close = clean_close_received(client);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 1001);
    ASSERT_TRUE(finishes(shutting));
    shutting.get();
    server.reset();
    EXPECT_FALSE(handler_ran);
}

TEST_F(ServerTest, AHandlerCanShutDownItsServer) {
    Server* self = nullptr;
    auto server = start_server([&](ServerConnection& c) {
        if (c.recv().data == "stop") self->shutdown(1001, "asked to stop");
    });
    self = server.get();
    auto other = connect(uri_of(*server));
    auto client = connect(uri_of(*server));
    client.send_text("stop");
    for (auto* c : {&client, &other})
        EXPECT_EQ(clean_close_received(*c), (Close{1001, "asked to stop"}));
    server.reset(); // joins the handler that called shutdown()
}

TEST_F(ServerTest, AHandlerStoppingTheServerDuringAnotherShutdownReturnsAtOnce) {
    // The first handler's shutdown() closes the second's connection, whose handler then
    // calls shutdown() too, while the first waits for that handler to end.
    Server* self = nullptr;
    std::promise<void> second_returned;
    auto server = start_server([&](ServerConnection& c) {
        try {
            for (;;) {
                auto message = c.recv();
                if (message.data == "stop") return self->shutdown(1001, "asked to stop");
                c.send_text(message.data);
            }
        } catch (const ConnectionClosed&) {
            self->shutdown(1001, "stopping too");
            second_returned.set_value();
        }
    });
    self = server.get();
    auto waiting = connect(uri_of(*server));
    // Its handler is running (and back in recv) once it echoes.
    waiting.send_text("ready?");
    ASSERT_EQ(waiting.recv().data, "ready?");
    auto stopping = connect(uri_of(*server));
    stopping.send_text("stop");
    auto returned = second_returned.get_future();
    ASSERT_TRUE(finishes(returned)) << "the second handler's shutdown() did not return";
    EXPECT_THROW(waiting.recv(), ConnectionClosedOK);
    auto destroyed = run_async([&] { server.reset(); });
    ASSERT_TRUE(finishes(destroyed));
}

TEST_F(ServerTest, ShutdownWithAnUnsendableCodeThrowsBeforeStoppingAnything) {
    auto server = start_server(echo_handler());
    auto client = connect(uri_of(*server));
    EXPECT_THROW(server->shutdown(1004), std::invalid_argument);
    EXPECT_THROW(server->shutdown(1000, std::string(124, 'x')), std::invalid_argument);
    // Still accepting and serving.
    auto later = connect(uri_of(*server));
    later.send_text("still here");
    EXPECT_EQ(later.recv().data, "still here");
    server->shutdown();
    const auto close = clean_close_received(client);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 1001);
}

TEST_F(ServerTest, ThrowingRequestHookGets500) {
    ServerOptions so = local_options();
    LogCapture log;
    so.logger = log.logger();
    so.process_request = [](const Request& request) -> std::optional<Response> {
        if (request.target == "/bug") throw std::runtime_error("hook bug");
        return std::nullopt;
    };
    auto server = start_server(echo_handler(), so);
    EXPECT_EQ(refused_response(uri_of(*server, "/bug")).status, 500);
    EXPECT_TRUE(log.wait_for("hook bug")) << log.all();
    auto client = connect(uri_of(*server, "/fine"));
    client.send_text("fine");
    EXPECT_EQ(client.recv().data, "fine");
}

TEST_F(ServerTest, ANonStandardExceptionFromAHookGets500Too) {
    ServerOptions so = local_options();
    LogCapture log;
    so.logger = log.logger();
    so.process_request = [](const Request& request) -> std::optional<Response> {
        if (request.target == "/request-bug") throw 7;
        return std::nullopt;
    };
    so.process_response = [](const Request& request, Response&) {
        if (request.target == "/response-bug") throw 42;
    };
    auto server = start_server(echo_handler(), so);
    for (const char* target : {"/request-bug", "/response-bug"})
        EXPECT_EQ(refused_response(uri_of(*server, target)).status, 500) << target;
    // Logged before the answer is sent: both lines are in.
    const std::string lines = log.all();
    std::size_t failures = 0;
    for (auto at = lines.find("with a non-standard exception"); at != std::string::npos;
         at = lines.find("with a non-standard exception", at + 1))
        ++failures;
    EXPECT_EQ(failures, 2u) << lines;
    auto client = connect(uri_of(*server, "/fine"));
    client.send_text("fine");
    EXPECT_EQ(client.recv().data, "fine");
}

TEST_F(ServerTest, ServeForeverReturnsAfterShutdown) {
    auto server = std::make_unique<Server>(echo_handler(), local_options());
    auto serving = run_async([&] { server->serve_forever(); });
    auto client = connect(uri_of(*server));
    client.send_text("served");
    EXPECT_EQ(client.recv().data, "served");
    server->shutdown();
    ASSERT_TRUE(finishes(serving));
    serving.get();
    EXPECT_THROW(client.recv(), ConnectionClosedOK);
}

TEST_F(ServerTest, UnixSocketServerAndClient) {
    static std::atomic<int> counter{0};
    const std::string path = "/tmp/syncws-sync-test-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".sock";
    ServerOptions so;
    so.unix_socket = path;
    auto server = start_server(echo_handler(), so);
    EXPECT_EQ(server->port(), 0);
    EXPECT_EQ(server->address(), path);

    ClientOptions co;
    co.unix_socket = path;
    auto client = connect("ws://localhost/over-unix", co);
    EXPECT_EQ(client.request().headers.get("Host"), "localhost");
    EXPECT_EQ(client.remote_address(), path);
    client.send_text("over a unix socket");
    EXPECT_EQ(client.recv().data, "over a unix socket");
    client.close();
    server.reset();
    EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket file was left behind";
}

TEST_F(ServerTest, BroadcastReachesEveryConnection) {
    Latch handlers(3);
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        handlers.count_down();
        for (auto& m : c)
            c.send(m);
    });
    std::vector<ClientConnection> clients;
    for (int i = 0; i < 3; ++i)
        clients.push_back(connect(uri_of(*server)));
    ASSERT_TRUE(handlers.wait());
    EXPECT_EQ(broadcast(server->connections(), "to everyone"), 3u);
    for (auto& c : clients)
        EXPECT_EQ(c.recv().data, "to everyone");
}

TEST_F(ServerTest, FramesInTheSameWriteAsTheRequest) {
    // A client may send its first message right behind the request, before the 101.
    auto server = start_server(echo_handler());
    auto stream = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    ClientProtocol engine(parse_uri(uri_of(*server)), {}, test_options());
    engine.send_request(engine.connect());
    Bytes out;
    engine.take_output(out);
    out += frame_bytes(Side::client, Opcode::text, "early bird");
    stream->write_all(out.data(), out.size());
    auto result = detail::run_handshake(engine, *stream, Clock::now() + generous, "test",
                                        detail::PeerBytes::awaited);
    ASSERT_TRUE(result.response);
    EXPECT_EQ(result.response->status, 101);
    std::vector<Frame> frames;
    for (auto& event : result.early)
        if (auto* frame = std::get_if<Frame>(&event)) frames.push_back(*frame);
    char buf[4096];
    while (frames.empty()) {
        ASSERT_TRUE(stream->wait_readable(Clock::now() + generous));
        const std::size_t n = stream->read_some(buf, sizeof buf);
        ASSERT_GT(n, 0u);
        engine.receive_data(BytesView(buf, n));
        for (auto& event : drain(engine))
            if (auto* frame = std::get_if<Frame>(&event)) frames.push_back(*frame);
    }
    EXPECT_EQ(frames[0].payload, "early bird");
}

TEST_F(ServerTest, ServerNeverStartedIsDestroyedCleanly) {
    auto server = std::make_unique<Server>(echo_handler(), local_options());
    EXPECT_NE(server->port(), 0);
    server.reset();
}

TEST_F(ServerTest, MalformedRequestGets400AndTheServerGoesOn) {
    auto server = start_server(echo_handler());
    auto stream = net::connect_tcp("127.0.0.1", server->port(), Clock::now() + generous);
    const std::string bad = "GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n";
    stream->write_all(bad.data(), bad.size());
    const std::string head = read_http_head(*stream);
    EXPECT_EQ(head.rfind("HTTP/1.1 400", 0), 0u) << head;

    auto client = connect(uri_of(*server));
    client.send_text("ok");
    EXPECT_EQ(client.recv().data, "ok");
}

} // namespace
} // namespace syncws::test
