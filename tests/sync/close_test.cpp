// Closing: from any thread, waking every waiter, in bounded time, after everything sent
// before; the close frames of both sides; the destructor; a peer that vanishes.
#include "handshake_io.hpp"
#include "raw_peer.hpp"
#include "sync_test_util.hpp"
#include "tcp.hpp"
#if SYNCWS_TEST_HAVE_TLS
#include "tls.hpp"
#endif

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace syncws::test {
namespace {

using CloseTest = SyncTest;

/// What a server handler saw of the end of its connection.
struct ServerView {
    std::optional<Close> received;
    std::optional<Close> sent;
    bool received_then_sent = false;
    std::string error; // what the handler's loop ended with
    int messages = 0;
};

/// A handler that receives until the connection ends, then reports what it saw.
Handler reporting_handler(std::promise<ServerView>& report) {
    return [&report](ServerConnection& c) {
        ServerView view;
        try {
            for (auto& message : c) {
                static_cast<void>(message);
                ++view.messages;
            }
            view.error = "ok";
        } catch (const ConnectionClosedError& e) {
            view.error = std::string("error: ") + e.what();
        }
        view.received = c.close_received();
        view.sent = c.close_sent();
        view.received_then_sent = c.close_received_then_sent();
        report.set_value(view);
    };
}

TEST_F(CloseTest, CloseFromAnotherThreadWakesABlockedRecv) {
    std::promise<ServerView> report;
    auto server = start_server(reporting_handler(report));
    auto client = connect(uri_of(*server));
    Latch receiving;
    auto blocked = run_async([&] {
        receiving.count_down();
        return client.recv();
    });
    ASSERT_TRUE(receiving.wait());
    client.close(1000, "bye");
    ASSERT_TRUE(finishes(blocked));
    EXPECT_THROW(blocked.get(), ConnectionClosedOK);

    // Both close frames, on both sides.
    EXPECT_EQ(client.state(), State::closed);
    EXPECT_EQ(client.close_sent(), (Close{1000, "bye"}));
    EXPECT_EQ(client.close_received(), (Close{1000, "bye"})) << "the server echoes the close";
    EXPECT_FALSE(client.close_received_then_sent());
    EXPECT_EQ(client.close_code(), 1000);
    EXPECT_EQ(client.close_reason(), "bye");

    auto f = report.get_future();
    ASSERT_TRUE(finishes(f));
    const ServerView view = f.get();
    EXPECT_EQ(view.error, "ok");
    EXPECT_EQ(view.received, (Close{1000, "bye"}));
    EXPECT_EQ(view.sent, (Close{1000, "bye"}));
    EXPECT_TRUE(view.received_then_sent);

    // Later calls raise the same end; close again is harmless.
    EXPECT_THROW(client.recv(), ConnectionClosedOK);
    EXPECT_THROW(client.send_text("late"), ConnectionClosedOK);
    client.close();
}

TEST_F(CloseTest, ServerInitiatedCloseWithAnApplicationCode) {
    std::promise<ServerView> report;
    auto server = start_server([&](ServerConnection& c) {
        c.close(4001, "app reason");
        ServerView view;
        view.received = c.close_received();
        view.sent = c.close_sent();
        view.received_then_sent = c.close_received_then_sent();
        report.set_value(view);
    });
    auto client = connect(uri_of(*server));
    try {
        client.recv();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.received());
        EXPECT_EQ(*e.received(), (Close{4001, "app reason"}));
        EXPECT_TRUE(e.received_then_sent());
    }
    EXPECT_EQ(client.close_code(), 4001);
    EXPECT_EQ(client.close_reason(), "app reason");
    EXPECT_TRUE(client.close_received_then_sent());
    EXPECT_EQ(client.close_sent(), (Close{4001, "app reason"}));

    auto f = report.get_future();
    ASSERT_TRUE(finishes(f));
    const ServerView view = f.get();
    EXPECT_EQ(view.sent, (Close{4001, "app reason"}));
    EXPECT_EQ(view.received, (Close{4001, "app reason"}));
    EXPECT_FALSE(view.received_then_sent);
}

TEST_F(CloseTest, PeerInitiatedCloseIsEchoed) {
    RawPair pair;
    auto receiving = run_async([&] { return pair.client->recv(); });
    pair.peer->send_close(1001, "going");
    auto echo = pair.peer->read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, Opcode::close);
    EXPECT_EQ(Close::parse(echo->payload), (Close{1001, "going"}));
    // The raw server half-closes after the handshake; the client then closes TCP.
    EXPECT_TRUE(pair.peer->read_to_eof());
    ASSERT_TRUE(finishes(receiving));
    EXPECT_THROW(receiving.get(), ConnectionClosedOK);
    EXPECT_TRUE(pair.client->close_received_then_sent());
    EXPECT_EQ(pair.client->close_code(), 1001);
}

TEST_F(CloseTest, EverythingSentBeforeCloseArrivesFirst) {
    std::promise<ServerView> report;
    auto server = start_server(reporting_handler(report));
    auto client = connect(uri_of(*server));
    for (int i = 0; i < 1000; ++i)
        client.send_text("message " + std::to_string(i));
    client.close();
    auto f = report.get_future();
    ASSERT_TRUE(finishes(f));
    const ServerView view = f.get();
    EXPECT_EQ(view.messages, 1000);
    EXPECT_EQ(view.error, "ok");
    EXPECT_EQ(view.received, (Close{1000, ""}));
}

TEST_F(CloseTest, CloseWhileManyThreadsSend) {
    // Every send that returned reaches the peer before the close frame; every send after it
    // raises ConnectionClosedOK; nothing hangs.
    std::promise<ServerView> report;
    auto server = start_server(reporting_handler(report));
    auto client = connect(uri_of(*server));
    constexpr int threads = 4;
    std::atomic<int> delivered{0};
    Latch some_sent(threads);
    std::vector<std::future<std::string>> senders;
    for (int t = 0; t < threads; ++t) {
        senders.push_back(run_async([&, t]() -> std::string {
            for (int i = 0;; ++i) {
                try {
                    client.send_text(std::to_string(t) + ":" + std::to_string(i));
                } catch (const ConnectionClosedOK&) {
                    return "closed";
                } catch (const std::exception& e) {
                    return e.what();
                }
                ++delivered;
                if (i == 100) some_sent.count_down();
            }
        }));
    }
    ASSERT_TRUE(some_sent.wait());
    client.close();
    for (auto& f : senders) {
        ASSERT_TRUE(finishes(f));
        EXPECT_EQ(f.get(), "closed");
    }
    auto f = report.get_future();
    ASSERT_TRUE(finishes(f));
    const ServerView view = f.get();
    EXPECT_EQ(view.error, "ok");
    EXPECT_EQ(view.messages, delivered.load());
}

TEST_F(CloseTest, CloseIsBoundedByCloseTimeout) {
    ClientOptions options;
    options.connection.close_timeout = 200ms;
    RawPair pair(options);
    pair.peer->set_auto_reply(false); // reads nothing, answers nothing
    const auto start = Clock::now();
    pair.client->close(1000, "are you there");
    EXPECT_LT(ms_since(start), 10000);
    EXPECT_EQ(pair.client->state(), State::closed);
    EXPECT_EQ(pair.client->close_sent(), (Close{1000, "are you there"}));
    EXPECT_EQ(pair.client->close_received(), std::nullopt);
    EXPECT_EQ(pair.client->close_code(), 1006);
    EXPECT_THROW(pair.client->recv(), ConnectionClosedError);
    // The close frame did go out before the connection was dropped.
    auto frame = pair.peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::close);
}

TEST_F(CloseTest, CloseFromManyThreadsAtOnce) {
    auto server = start_server(echo_handler());
    auto client = connect(uri_of(*server));
    std::vector<std::future<void>> closers;
    for (int i = 0; i < 4; ++i)
        closers.push_back(run_async([&] { client.close(); }));
    for (auto& f : closers) {
        ASSERT_TRUE(finishes(f));
        f.get();
    }
    EXPECT_EQ(client.state(), State::closed);
    EXPECT_EQ(client.close_code(), 1000);
}

TEST_F(CloseTest, CloseWakesASendBlockedOnBackpressure) {
    ClientOptions options;
    options.compression = false;
    options.connection.write_high = 64 * 1024;
    options.connection.write_low = 16 * 1024;
    options.connection.close_timeout = generous; // only a failing test waits for it
    RawPair pair(options);
    pair.peer->set_socket_buffers(16 * 1024);
    std::atomic<int> sent{0};
    auto sender = run_async([&] {
        const std::string chunk(64 * 1024, 'b');
        for (int i = 0; i < 4096; ++i) {
            pair.client->send_binary(BytesView(chunk));
            ++sent;
        }
    });
    ASSERT_TRUE(still_blocked(sender, 300ms)) << "256 MiB sent to a peer that doesn't read";
    const int sent_before_close = sent.load();

    auto closing = run_async([&] { pair.client->close(1000, "enough"); });
    // close() doesn't wait behind the blocked sender: its close frame is queued at once
    // (after what was sent before), and the sender gives up.
    EXPECT_TRUE(eventually([&] { return pair.client->close_sent().has_value(); }))
        << "close() is stuck behind a sender blocked on backpressure";

    // Now the peer reads: every message sent before the close, then the close frame, which
    // it answers; the connection then closes cleanly.
    int received = 0;
    std::optional<Frame> frame;
    while ((frame = pair.peer->read_frame()) && frame->opcode != Opcode::close)
        ++received;
    ASSERT_TRUE(frame) << "no close frame";
    EXPECT_EQ(Close::parse(frame->payload), (Close{1000, "enough"}));
    EXPECT_TRUE(pair.peer->read_to_eof());

    ASSERT_TRUE(finishes(closing));
    closing.get();
    ASSERT_TRUE(finishes(sender));
    EXPECT_THROW(sender.get(), ConnectionClosedOK);
    // The message whose frame had started when close() came (64 KiB is write_high: it is
    // written from the sender's buffer) is finished; none starts after close().
    EXPECT_LE(sent.load(), sent_before_close + 1) << "a message started after close()";
    EXPECT_EQ(received, sent.load());
    EXPECT_EQ(pair.client->close_code(), 1000);
}

TEST_F(CloseTest, CloseOnAPeerThatNeverReadsIsBoundedToo) {
    ClientOptions options;
    options.compression = false;
    options.connection.write_high = 64 * 1024;
    options.connection.write_low = 16 * 1024;
    options.connection.close_timeout = 300ms;
    RawPair pair(options);
    pair.peer->set_socket_buffers(16 * 1024);
    auto sender = run_async([&] {
        const std::string chunk(64 * 1024, 'b');
        for (int i = 0; i < 4096; ++i)
            pair.client->send_binary(BytesView(chunk));
    });
    ASSERT_TRUE(still_blocked(sender, 300ms));
    const auto start = Clock::now();
    pair.client->close();
    EXPECT_LT(ms_since(start), 10000);
    ASSERT_TRUE(finishes(sender));
    EXPECT_THROW(sender.get(), ConnectionClosedError);
    EXPECT_EQ(pair.client->state(), State::closed);
    EXPECT_EQ(pair.client->close_code(), 1006);
}

TEST_F(CloseTest, MoveAssigningOverASharedHandleDoesNotEndTheConnection) {
    Latch in_handler;
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        in_handler.count_down();
        release.wait();
        c.send_text("still open");
    });
    auto client = connect(uri_of(*server));
    ASSERT_TRUE(in_handler.wait());
    auto handles = server->connections();
    ASSERT_EQ(handles.size(), 1u);
    handles[0] = Connection(nullptr);
    release.count_down();
    EXPECT_EQ(client.recv().data, "still open");
}

TEST_F(CloseTest, DestructorClosesAndJoins) {
    RawServer raw_server;
    const int before = thread_count();
    std::unique_ptr<RawPeer> peer;
    {
        auto accepted = run_async([&] { return raw_server.accept(); });
        auto client = connect(raw_server.uri());
        peer = accepted.get();
        // Its I/O thread only: it reads, writes and keeps the clock.
        EXPECT_TRUE(eventually([&] { return thread_count() == before + 1; }))
            << "one I/O thread: " << thread_count() << " threads, " << before << " before";
        client.send_text("before the end");
        // The raw peer answers the close (echo, then TCP FIN) while the destructor waits.
        auto reading = run_async([&] {
            std::vector<Frame> frames;
            while (auto frame = peer->read_frame())
                frames.push_back(*frame);
            return frames;
        });
        { ClientConnection gone = std::move(client); }
        ASSERT_TRUE(finishes(reading));
        const auto frames = reading.get();
        ASSERT_EQ(frames.size(), 2u);
        EXPECT_EQ(frames[0].payload, "before the end");
        EXPECT_EQ(frames[1].opcode, Opcode::close);
        EXPECT_EQ(Close::parse(frames[1].payload), (Close{1000, ""}));
    }
    // Joined threads leave /proc/self/task with a small lag after pthread_join.
    EXPECT_TRUE(eventually([&] { return thread_count() == before; }))
        << thread_count() << " threads, " << before << " before";
}

TEST_F(CloseTest, DestructorOfAnUnclosedServerConnectionHandleDoesNotEndIt) {
    // Handles from connections() are shared: only the handler's end closes the connection.
    Latch in_handler;
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        in_handler.count_down();
        release.wait();
        c.send_text("still open");
    });
    auto client = connect(uri_of(*server));
    ASSERT_TRUE(in_handler.wait());
    {
        auto handles = server->connections();
        ASSERT_EQ(handles.size(), 1u);
    }
    release.count_down();
    EXPECT_EQ(client.recv().data, "still open");
}

TEST_F(CloseTest, AbruptDisconnectFailsRecvWith1006) {
    RawPair pair;
    auto receiving = run_async([&] { return pair.client->recv(); });
    pair.peer->drop();
    ASSERT_TRUE(finishes(receiving));
    try {
        receiving.get();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError& e) {
        EXPECT_FALSE(e.received());
        EXPECT_FALSE(e.sent());
    }
    EXPECT_EQ(pair.client->close_code(), 1006);
    EXPECT_EQ(pair.client->state(), State::closed);
    EXPECT_THROW(pair.client->send_text("x"), ConnectionClosedError);
}

TEST_F(CloseTest, AbruptDisconnectFailsSendWith1006) {
    RawPair pair;
    pair.peer->drop();
    // Sends succeed until the runtime notices (the kernel accepts a few bytes); then they
    // fail, and promptly.
    const auto start = Clock::now();
    bool failed = false;
    while (ms_since(start) < 20000) {
        try {
            pair.client->send_text("into the void");
        } catch (const ConnectionClosedError&) {
            failed = true;
            break;
        }
        // Nothing to wait for: the next send either queues or throws.
    }
    ASSERT_TRUE(failed);
    EXPECT_EQ(pair.client->close_code(), 1006);
}

TEST_F(CloseTest, AbruptDisconnectOfAServerConnection) {
    std::promise<std::uint16_t> code;
    auto server = start_server([&](ServerConnection& c) {
        try {
            c.recv();
        } catch (const ConnectionClosedError&) {
            code.set_value(c.close_code());
        }
    });
    auto peer = RawPeer::connect(server->port());
    peer->drop();
    auto f = code.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), 1006);
}

TEST_F(CloseTest, ServerCloseIsBoundedAgainstAClientThatNeverAnswers) {
    ServerOptions so = local_options();
    so.connection.close_timeout = 200ms;
    std::promise<long long> took;
    std::promise<void> peer_silenced;
    auto silenced = peer_silenced.get_future().share();
    auto server = start_server(
        [&, silenced](ServerConnection& c) {
            // Not before the peer stopped answering: a close frame in the same read as the
            // 101 would be answered by its handshake.
            if (silenced.wait_for(generous) != std::future_status::ready) return;
            const auto start = Clock::now();
            c.close(1000, "bye");
            took.set_value(ms_since(start));
        },
        so);
    auto peer = RawPeer::connect(server->port());
    peer->set_auto_reply(false);
    peer_silenced.set_value();
    auto f = took.get_future();
    ASSERT_TRUE(finishes(f));
    const long long ms = f.get();
    EXPECT_GE(ms, 200) << "closed without the client's close frame";
    EXPECT_LT(ms, 10000);
    // The client saw the close frame; then the server dropped the connection.
    auto frame = peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::close);
    EXPECT_TRUE(peer->read_to_eof());
}

// RFC 6455 §7.1.1: once the close frames crossed, "the server MUST close the underlying TCP
// connection immediately". The client here never sends its FIN: a server waiting for it
// would wait the whole close_timeout.
/// A handler that receives until the client closes, closes, and reports the state after.
Handler receive_close_report_state(std::promise<State>& state_after) {
    return [&state_after](ServerConnection& c) {
        for (auto& message : c)
            static_cast<void>(message);
        c.close();
        state_after.set_value(c.state());
    };
}

ServerOptions patient_close_options() {
    ServerOptions so = local_options();
    so.connection.close_timeout = std::chrono::minutes(10);
    return so;
}

TEST_F(CloseTest, AServerClosesTcpOnceTheClientsCloseWasEchoed) {
    std::promise<State> state_after;
    auto server = start_server(
        receive_close_report_state(state_after),
        patient_close_options());
    auto peer = RawPeer::connect(server->port());
    peer->send_close(1000, "done");
    auto echo = peer->read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, Opcode::close);
    auto f = state_after.get_future();
    ASSERT_TRUE(finishes(f)) << "the server waited for the client's FIN";
    EXPECT_EQ(f.get(), State::closed);
    EXPECT_TRUE(peer->read_to_eof());
}

TEST_F(CloseTest, AServerThatClosesFirstEndsOnceTheClientAnswered) {
    std::promise<ServerView> report;
    auto server = start_server(
        [&](ServerConnection& c) {
            c.close(4002, "bye");
            ServerView view;
            view.received = c.close_received();
            view.sent = c.close_sent();
            report.set_value(view);
        },
        patient_close_options());
    auto peer = RawPeer::connect(server->port());
    auto frame = peer->read_frame(); // and the engine answers it
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::close);
    auto f = report.get_future();
    ASSERT_TRUE(finishes(f)) << "the server waited for the client's FIN";
    const ServerView view = f.get();
    EXPECT_EQ(view.sent, (Close{4002, "bye"}));
    EXPECT_EQ(view.received, (Close{4002, "bye"}));
    EXPECT_TRUE(peer->read_to_eof());
}

TEST_F(CloseTest, AFailingServerStillWaitsForTheClientToClose) {
    // After a protocol error the client may still be sending: closing at once could reset
    // the connection under the server's close frame (only the close frames crossing ends
    // the wait).
    ServerOptions so = local_options();
    so.connection.close_timeout = 300ms;
    std::promise<long long> took;
    auto server = start_server(
        [&](ServerConnection& c) {
            const auto start = Clock::now();
            try {
                c.recv();
            } catch (const ConnectionClosedError&) {
            }
            took.set_value(ms_since(start));
        },
        so);
    auto peer = RawPeer::connect(server->port());
    peer->set_auto_reply(false); // it answers by hand, and never sends its FIN
    peer->send_raw(std::string("\x83\x80\0\0\0\0", 6)); // reserved opcode 3: 1002
    auto frame = peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::close);
    EXPECT_EQ(Close::parse(frame->payload)->code, 1002);
    // The close frames cross: a masked close 1002 (mask key 0).
    peer->send_raw(std::string("\x88\x82\0\0\0\0\x03\xea", 8));
    auto f = took.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_GE(f.get(), 300) << "the server closed before its close timeout";
    EXPECT_TRUE(peer->read_to_eof());
}

#if SYNCWS_TEST_HAVE_TLS
TEST_F(CloseTest, OverTlsAServerWaitsForTheClientsCloseNotify) {
    // The client answers the server's close_notify with its own: closing before it comes
    // would make the kernel answer it with a reset.
    ServerOptions so = tls_server_options();
    so.connection.close_timeout = std::chrono::minutes(10);
    std::promise<State> state_after;
    auto server = start_server(
        receive_close_report_state(state_after),
        so);
    const auto deadline = Clock::now() + generous;
    auto tls = net::TlsStream::client(net::connect_tcp("127.0.0.1", server->port(), deadline),
                                      net::TlsContext::client(trusting_tls()), "localhost",
                                      deadline);
    auto engine = std::make_unique<ClientProtocol>(
        parse_uri("wss://localhost:" + std::to_string(server->port()) + "/"));
    engine->send_request(engine->connect());
    const auto result =
        detail::run_handshake(*engine, *tls, deadline, "test", detail::PeerBytes::awaited);
    ASSERT_TRUE(result.response);
    ASSERT_EQ(result.response->status, 101);
    RawPeer peer(std::move(tls), std::move(engine));
    peer.send_close(1000, "done");
    auto echo = peer.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->opcode, Opcode::close);
    auto f = state_after.get_future();
    EXPECT_TRUE(still_blocked(f, 300ms)) << "the server closed before the client's close_notify";
    peer.shutdown_write();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), State::closed);
    EXPECT_TRUE(peer.read_to_eof());
}
#endif

} // namespace
} // namespace syncws::test
