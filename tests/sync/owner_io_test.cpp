// A connection's I/O on the thread that uses it (a server's handler, a client's caller):
// what runs where, and that nothing waits on an owner that is away (pings, answers held for
// a batch, other threads, deadlines).
#include "raw_peer.hpp"
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace syncws::test {
namespace {

using OwnerIoTest = SyncTest;

TEST_F(OwnerIoTest, AnEchoConnectionRunsOnItsHandlerThreadAlone) {
    auto server = start_server(echo_handler());
    const int before = thread_count();
    auto client = connect(uri_of(*server));
    client.send_text("hello");
    EXPECT_EQ(client.recv().data, "hello");
    // The client's I/O thread and the handler's: no I/O thread on the server side.
    EXPECT_EQ(thread_count(), before + 2);
}

// A handler takes one message and goes away (busy elsewhere, not in recv): the peer's ping
// must still be answered, by the I/O thread the keeper gives the connection.
void expect_pings_answered_while_the_handler_is_away(
    const std::function<void()>& before_connecting = {}) {
    Latch received;
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        c.recv();
        received.count_down();
        release.wait();
        c.send_text("back");
    });
    if (before_connecting) before_connecting();
    auto peer = RawPeer::connect(server->port());
    peer->send_text("work");
    ASSERT_TRUE(received.wait());
    const int before = thread_count();
    peer->send_ping("still there?");
    const auto pong = peer->read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, Opcode::pong);
    EXPECT_EQ(pong->payload, "still there?");
    // The keeper gave the connection an I/O thread of its own.
    EXPECT_EQ(thread_count(), before + 1);
    release.count_down();
    const auto back = peer->read_message();
    ASSERT_TRUE(back);
    EXPECT_EQ(back->data, "back");
}

TEST_F(OwnerIoTest, AHandlerAwayFromTheConnectionStillHasPingsAnswered) {
    expect_pings_answered_while_the_handler_is_away();
}

TEST_F(OwnerIoTest, TheKeeperAsleepOnAnIdleServerWakesForANewConnection) {
    // The server's keeper stops ticking after a second without connections (20 periods of
    // 50 ms) and sleeps until one comes. A precondition, not a wait for an event: if the
    // machine is so slow that it still ticks, the test passes without covering the wake.
    expect_pings_answered_while_the_handler_is_away([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    });
}

TEST_F(OwnerIoTest, AnAnswerHeldForABatchLeavesWhenTheHandlerStaysAway) {
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        // Two messages came in one read: this answer waits to go with the second's...
        c.send_text("answer to " + c.recv().data);
        // ...but the handler does not come back for it.
        release.wait();
        c.send_text("answer to " + c.recv().data);
    });
    auto peer = RawPeer::connect(server->port());
    peer->send_texts_at_once({"one", "two"});
    const auto first = peer->read_message();
    release.count_down();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->data, "answer to one");
    const auto second = peer->read_message();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->data, "answer to two");
}

TEST_F(OwnerIoTest, AnswersToMessagesOfOneReadAllArrive) {
    auto server = start_server(echo_handler());
    auto peer = RawPeer::connect(server->port());
    std::vector<std::string> batch;
    for (int i = 0; i < 50; ++i)
        batch.push_back("message " + std::to_string(i));
    peer->send_texts_at_once(batch);
    for (const auto& sent : batch) {
        const auto echoed = peer->read_message();
        ASSERT_TRUE(echoed);
        EXPECT_EQ(echoed->data, sent);
    }
}

TEST_F(OwnerIoTest, AnotherThreadSendsWhileTheHandlerWaitsInRecv) {
    auto server = start_server([&](ServerConnection& c) {
        std::thread other([&] { c.send_text("from another thread"); });
        const auto message = c.recv(); // waits, running the I/O, while the other one sends
        other.join();
        c.send_text("handler got " + message.data);
    });
    auto client = connect(uri_of(*server));
    EXPECT_EQ(client.recv().data, "from another thread");
    client.send_text("bye");
    EXPECT_EQ(client.recv().data, "handler got bye");
}

// While the handler waits in recv, a server connection has no wake-up descriptor (it gets
// one only once another thread needs to wake its loop): nobody can interrupt that wait.
// Other threads write their messages themselves, what a non-blocking call leaves is written
// by the server's keeper, and the loop, reading, answers what comes back. Keepalive is off
// in these tests, so that no ping wakes the loop in their stead.
class DeafLoopTest : public OwnerIoTest {
protected:
    void SetUp() override {
        OwnerIoTest::SetUp();
        ServerOptions options = local_options();
        options.connection.ping_interval = std::chrono::milliseconds(0);
        options.connection.max_size = large.size();
        server = start_server(
            [this](ServerConnection& c) {
                handler_thread = static_cast<pid_t>(::syscall(SYS_gettid));
                for (auto& m : c)
                    c.send(m);
            },
            options);
        ClientOptions client_options;
        client_options.connection.ping_interval = std::chrono::milliseconds(0);
        client_options.connection.max_size = large.size();
        client.emplace(connect(uri_of(*server), client_options));
        client->send_text("first");
        ASSERT_EQ(client->recv().data, "first");
        auto connections = server->connections();
        ASSERT_EQ(connections.size(), 1u);
        connection.emplace(std::move(connections[0]));
        // The handler is back in recv, blocked in the kernel's recv(): from here on only
        // the socket can wake it.
        if (!std::filesystem::exists("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) +
                                     "/syscall"))
            GTEST_SKIP() << "no /proc/<pid>/task/<tid>/syscall to see where a thread waits";
        ASSERT_TRUE(eventually([this] { return blocked_reading(handler_thread.load()); }))
            << "the handler's loop does not wait in recv()";
        eventfds_before = open_eventfds();
    }

    // In recvfrom, not poll(): a loop with nothing to write and no deadline (keepalive is
    // off) waits in the read itself.
    static bool blocked_reading(pid_t thread) {
        if (thread == 0) return false;
        std::ifstream file("/proc/self/task/" + std::to_string(thread) + "/syscall");
        long number = -1;
        file >> number;
        return number == SYS_recvfrom;
    }

    static int open_eventfds() {
        int count = 0;
        for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code error;
            const auto target = std::filesystem::read_symlink(entry.path(), error);
            if (!error && target.string() == "anon_inode:[eventfd]") ++count;
        }
        return count;
    }

    const std::string large = pattern(8 << 20, 7); // more than the socket buffers take
    std::unique_ptr<Server> server;
    std::atomic<pid_t> handler_thread{0};
    std::optional<ClientConnection> client;
    std::optional<Connection> connection;
    int eventfds_before = 0;
};

TEST_F(DeafLoopTest, AnotherThreadsLargeMessageIsWrittenByThatThread) {
    auto sending = run_async([&] { connection->send_binary(large); });
    auto got = client->recv_for(std::chrono::seconds(10));
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->data == large);
    ASSERT_TRUE(finishes(sending));
    sending.get();
    EXPECT_EQ(open_eventfds(), eventfds_before) << "a send made a wake-up descriptor";
    client->send_text("echo");
    EXPECT_EQ(client->recv().data, "echo");
}

TEST_F(DeafLoopTest, WhatATrySendLeavesIsWrittenByTheKeeper) {
    EXPECT_TRUE(connection->try_send(large, true));
    auto got = client->recv_for(std::chrono::seconds(10));
    ASSERT_TRUE(got) << "the rest of a try_send was never written";
    EXPECT_TRUE(got->data == large);
    EXPECT_EQ(open_eventfds(), eventfds_before) << "a try_send made a wake-up descriptor";
    client->send_text("echo");
    EXPECT_EQ(client->recv().data, "echo");
}

TEST_F(DeafLoopTest, APingFromAnotherThreadIsAnsweredByTheLoopThatReads) {
    auto pong = connection->ping();
    EXPECT_EQ(pong.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    client->send_text("echo");
    EXPECT_EQ(client->recv().data, "echo");
}

TEST_F(DeafLoopTest, ACloseFromAnotherThreadIsAnsweredByTheLoopThatReads) {
    auto closing = run_async([&] { connection->close(4000, "from another thread"); });
    try {
        client->recv();
        ADD_FAILURE() << "a message instead of the close";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.received());
        EXPECT_EQ(e.received()->code, 4000);
    }
    ASSERT_TRUE(finishes(closing));
    closing.get();
    // The closing handshake was done, not cut short at the close timeout.
    const auto reply = connection->close_received();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->code, 4000);
}

TEST_F(OwnerIoTest, AnotherThreadReceivesWhileTheHandlerIsBusy) {
    Latch release;
    auto server = start_server([&](ServerConnection& c) {
        auto other = run_async([&] { return c.recv().data; });
        const auto got = other.get();
        c.send_text("other thread got " + got);
        release.wait();
    });
    auto client = connect(uri_of(*server));
    client.send_text("for whoever listens");
    EXPECT_EQ(client.recv().data, "other thread got for whoever listens");
    release.count_down();
}

TEST_F(OwnerIoTest, KeepalivePingsGoOutWhileTheHandlerWaitsInRecv) {
    auto options = local_options();
    options.connection.ping_interval = std::chrono::milliseconds(20);
    auto server = start_server(echo_handler(), options);
    auto peer = RawPeer::connect(server->port());
    const int before = thread_count();
    const auto frame = peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::ping);
    // Sent by the handler's thread from inside recv(): no thread was added for it.
    EXPECT_EQ(thread_count(), before);
}

TEST_F(OwnerIoTest, RecvForTimesOutOnTheHandlerThread) {
    auto server = start_server([](ServerConnection& c) {
        const auto nothing = c.recv_for(std::chrono::milliseconds(10));
        c.send_text(nothing ? "unexpected " + nothing->data : "timed out");
        c.send_text("then " + c.recv().data);
    });
    auto client = connect(uri_of(*server));
    EXPECT_EQ(client.recv().data, "timed out");
    client.send_text("a message");
    EXPECT_EQ(client.recv().data, "then a message");
}

TEST_F(OwnerIoTest, RecvForZeroStillReads) {
    // A handler that only polls with recv_for(0) must still see messages: each call looks
    // at the socket once.
    auto server = start_server([](ServerConnection& c) {
        for (;;) {
            if (auto message = c.recv_for(std::chrono::milliseconds(0))) {
                c.send_text("polled " + message->data);
                break;
            }
        }
        c.recv();
    });
    auto client = connect(uri_of(*server));
    client.send_text("x");
    EXPECT_EQ(client.recv().data, "polled x");
}

TEST_F(OwnerIoTest, StreamingFragmentsThatArriveOneByOne) {
    auto server = start_server([](ServerConnection& c) {
        std::string whole;
        c.recv_streaming([&](std::string_view fragment, bool last) {
            whole += fragment;
            // Asks for the next fragment from inside the callback: the handler's thread
            // must write this and read on between fragments.
            if (!last) c.send_text("got " + std::string(fragment));
        });
        c.send_text("whole: " + whole);
    });
    auto peer = RawPeer::connect(server->port());
    peer->send_text("first ", false);
    auto ack = peer->read_message();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->data, "got first ");
    peer->send_continuation("second", true);
    const auto whole = peer->read_message();
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->data, "whole: first second");
}

TEST_F(OwnerIoTest, AHandlerThatOnlySendsStillHasPingsAnswered) {
    // It never calls recv(): the peer's ping is read while its sends wait for room, or by
    // the I/O thread the keeper gives it.
    auto options = local_options();
    options.connection.write_high = 64 * 1024;
    options.connection.write_low = 16 * 1024;
    const std::string chunk = pattern(64 * 1024, 7);
    std::atomic<bool> stop{false};
    auto server = start_server(
        [&](ServerConnection& c) {
            while (!stop)
                c.send_binary(BytesView(chunk));
            c.send_text("stopped");
            c.recv();
        },
        options);
    auto peer = RawPeer::connect(server->port());
    peer->send_ping("p");
    for (;;) {
        const auto frame = peer->read_frame();
        ASSERT_TRUE(frame);
        if (frame->opcode == Opcode::pong) {
            EXPECT_EQ(frame->payload, "p");
            break;
        }
        ASSERT_TRUE(frame->payload == chunk);
    }
    stop = true;
    for (;;) {
        const auto message = peer->read_message();
        ASSERT_TRUE(message);
        if (!message->binary) {
            EXPECT_EQ(message->data, "stopped");
            break;
        }
        ASSERT_TRUE(message->data == chunk);
    }
    peer->send_text("done");
}

TEST_F(OwnerIoTest, ShutdownClosesConnectionsWhoseHandlersWaitInRecv) {
    auto server = start_server(echo_handler());
    std::vector<ClientConnection> clients;
    for (int i = 0; i < 5; ++i)
        clients.push_back(connect(uri_of(*server)));
    for (auto& client : clients) {
        client.send_text("up");
        EXPECT_EQ(client.recv().data, "up");
    }
    server->shutdown();
    for (auto& client : clients) {
        EXPECT_THROW(client.recv(), ConnectionClosedOK);
        EXPECT_EQ(client.close_code(), 1001);
    }
}

// ----- clients ----------------------------------------------------------------------------

TEST_F(OwnerIoTest, AClientAwayFromItsConnectionStillAnswersPings) {
    RawPair pair;
    pair.client->send_text("hello"); // this thread owns the connection from now on
    const auto hello = pair.peer->read_message();
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->data, "hello");
    // The owner does not come back: the standby thread takes the I/O over.
    pair.peer->send_ping("anyone?");
    const auto pong = pair.peer->read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, Opcode::pong);
    EXPECT_EQ(pong->payload, "anyone?");
    pair.peer->send_text("after");
    EXPECT_EQ(pair.client->recv().data, "after");
}

TEST_F(OwnerIoTest, AClientAnswerHeldForABatchLeavesWhenItsThreadStaysAway) {
    RawPair pair;
    pair.peer->send_texts_at_once({"one", "two"});
    auto& client = *pair.client;
    client.send_text("answer to " + client.recv().data); // held: "two" is waiting
    const auto answer = pair.peer->read_message();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->data, "answer to one");
    EXPECT_EQ(client.recv().data, "two");
}

TEST_F(OwnerIoTest, AClientConnectedOnOneThreadIsUsedOnAnother) {
    auto server = start_server(echo_handler());
    auto client = connect(uri_of(*server));
    auto worker = run_async([&] {
        std::vector<std::string> echoes;
        for (int i = 0; i < 20; ++i) {
            client.send_text("message " + std::to_string(i));
            echoes.push_back(client.recv().data);
        }
        return echoes;
    });
    ASSERT_TRUE(finishes(worker));
    const auto echoes = worker.get();
    ASSERT_EQ(echoes.size(), 20u);
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(echoes[static_cast<std::size_t>(i)], "message " + std::to_string(i));
    // And closed from the first thread, which is not the one that ran its I/O.
    client.close();
    EXPECT_EQ(client.close_code(), 1000);
}

} // namespace
} // namespace syncws::test
