// Backpressure both ways: send() blocks (with bounded memory) on a peer that doesn't read,
// and a receiver that doesn't recv() stops reading the socket so TCP pushes back on the
// peer, without losing or reordering anything.
#include "raw_peer.hpp"
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <future>
#include <string>
#include <utility>
#include <vector>

namespace syncws::test {
namespace {

using BackpressureTest = SyncTest;

constexpr std::size_t message_size = 64 * 1024;

/// A 64 KiB message that starts with its index.
std::string numbered(int index) {
    // Seven bodies, made once: generating them is slow under the sanitizers.
    static const std::vector<std::string> bodies = [] {
        std::vector<std::string> out;
        for (unsigned seed = 0; seed < 7; ++seed)
            out.push_back(pattern(message_size, seed));
        return out;
    }();
    std::string out = bodies[static_cast<std::size_t>(index % 7)];
    const std::string label = std::to_string(index) + ";";
    std::memcpy(out.data(), label.data(), label.size());
    return out;
}

bool is_numbered(const std::string& data, int index) {
    return data.size() == message_size && data == numbered(index);
}

ClientOptions small_write_buffer() {
    ClientOptions options;
    options.compression = false; // the bytes queued are the bytes sent
    options.connection.write_high = 64 * 1024;
    options.connection.write_low = 16 * 1024;
    return options;
}

TEST_F(BackpressureTest, SendBlocksOnAPeerThatDoesNotReadWithBoundedMemory) {
    constexpr int total = 512; // 32 MiB: far beyond what the kernel buffers hold
    RawPair pair(small_write_buffer());
    pair.peer->set_socket_buffers(64 * 1024);
    std::vector<std::string> messages;
    for (int i = 0; i < total; ++i)
        messages.push_back(numbered(i));

    const long long memory_before = resident_bytes();
    std::atomic<int> sent{0};
    auto sender = run_async([&] {
        for (const auto& m : messages) {
            pair.client->send_binary(BytesView(m));
            ++sent;
        }
    });
    ASSERT_TRUE(still_blocked(sender, 500ms))
        << "all " << total << " messages were queued for a peer that doesn't read";
    const int sent_while_blocked = sent.load();
    const long long growth = resident_bytes() - memory_before;
    // What may be queued: the write buffer's high mark plus one message, and the kernel's
    // socket buffers (the sender's grows to a few MiB by autotuning).
    EXPECT_LT(sent_while_blocked, 160) << "messages queued before send() blocked";
    EXPECT_LT(growth, 16 * 1024 * 1024) << "resident memory grew by " << growth << " bytes";

    // Once the peer reads, the blocked send completes and everything arrives in order.
    for (int i = 0; i < total; ++i) {
        auto m = pair.peer->read_message();
        ASSERT_TRUE(m) << "the connection ended after " << i << " messages";
        ASSERT_TRUE(is_numbered(m->data, i)) << "message " << i << " is wrong";
    }
    ASSERT_TRUE(finishes(sender));
    sender.get();
    EXPECT_EQ(sent.load(), total);

    pair.client->send_text("and the connection still works");
    auto last = pair.peer->read_message();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->data, "and the connection still works");
}

// ----- a server's sends over the high mark, written from the sender's own buffer ----------

constexpr std::size_t large_size = 512 * 1024;

/// A message of 512 KiB + `extra` bytes that starts with its index.
std::string large_numbered(int index, std::size_t extra = 0) {
    std::string out = pattern(large_size + extra, static_cast<unsigned>(index));
    const std::string label = std::to_string(index) + ";";
    std::memcpy(out.data(), label.data(), label.size());
    return out;
}

/// 512 KiB messages are over write_high: each goes from the sender's buffer, not copied
/// into the write queue (unless the receive queue fills, which these tests avoid).
void set_large_send_marks(ConnectionOptions& connection) {
    connection.write_high = 256 * 1024;
    connection.write_low = 64 * 1024;
}

ServerOptions large_sends() {
    ServerOptions options = local_options();
    options.compression = false;
    set_large_send_marks(options.connection);
    return options;
}

TEST_F(BackpressureTest, AServerSendingLargeMessagesToASlowPeerDeliversThemAllInOrder) {
    constexpr int total = 24; // 12 MiB: more than the kernel buffers hold
    std::promise<void> all_sent;
    auto sent = all_sent.get_future();
    auto server = start_server(
        [&](ServerConnection& connection) {
            for (int i = 0; i < total; ++i)
                connection.send_binary(BytesView(large_numbered(i))); // a temporary each
            all_sent.set_value();
            connection.send_text("after them");
            for (auto& message : connection)
                static_cast<void>(message);
        },
        large_sends());
    auto peer = RawPeer::connect(server->port());
    peer->set_socket_buffers(64 * 1024);
    ASSERT_TRUE(still_blocked(sent, 300ms)) << "12 MiB sent to a peer that does not read";
    // Their pongs are queued while a message is half written: they must wait for its end.
    for (int i = 0; i < 8; ++i)
        peer->send_ping("ping " + std::to_string(i));

    for (int i = 0; i < total; ++i) {
        auto m = peer->read_message();
        ASSERT_TRUE(m) << "the connection ended after " << i << " messages";
        ASSERT_EQ(m->data.size(), large_size);
        ASSERT_TRUE(m->data == large_numbered(i)) << "message " << i << " is wrong";
    }
    ASSERT_TRUE(finishes(sent));
    auto last = peer->read_message();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->data, "after them");
    peer->send_close(1000);
    EXPECT_TRUE(peer->read_to_eof());
}

TEST_F(BackpressureTest, CloseCutsShortALargeSendToAPeerThatDoesNotRead) {
    // The sender blocks inside send() while the writer still reads from its buffer: close()
    // ends that send with ConnectionClosed at its deadline (each buffer is freed as its send
    // returns).
    ServerOptions options = large_sends();
    options.connection.close_timeout = 200ms;
    std::promise<std::string> outcome;
    auto result = outcome.get_future();
    std::atomic<bool> first{true};
    auto server = start_server(
        [&](ServerConnection& connection) {
            if (!first.exchange(false)) {
                connection.send_text("next");
                for (auto& message : connection)
                    static_cast<void>(message);
                return;
            }
            auto sender = run_async([&] {
                for (int i = 0; i < 1000; ++i)
                    connection.send_binary(BytesView(large_numbered(i)));
            });
            if (!still_blocked(sender, 300ms)) {
                outcome.set_value("the sends never blocked");
                return;
            }
            connection.close();
            if (!finishes(sender)) {
                outcome.set_value("the send still blocks after close()");
                return;
            }
            try {
                sender.get();
                outcome.set_value("the send returned normally");
            } catch (const ConnectionClosed&) {
                outcome.set_value("ConnectionClosed");
            }
        },
        options);
    auto peer = RawPeer::connect(server->port());
    peer->set_socket_buffers(64 * 1024);
    ASSERT_TRUE(finishes(result));
    EXPECT_EQ(result.get(), "ConnectionClosed");

    // The server goes on serving.
    auto next = RawPeer::connect(server->port());
    auto m = next->read_message();
    ASSERT_TRUE(m) << "a new connection gets no message";
    EXPECT_EQ(m->data, "next");
}

TEST_F(BackpressureTest, AHandlerThatSendsALargeMessageThenReceivesServesAPeerThatPipelines) {
    // The peer sends all its requests before it reads anything. The handler's send cannot
    // wait for the peer to read its message: the peer is blocked writing, the server's
    // receive queue is full, and only the handler's recv() drains it.
    constexpr std::size_t snapshot_size = 8 * 1024 * 1024; // more than the kernel buffers
    constexpr int requests = 160;                          // 10 MiB: so is this
    ServerOptions options = local_options();
    options.compression = false;
    options.connection.max_queue = 2;
    const std::string snapshot = pattern(snapshot_size, 5);
    auto server = start_server(
        [&](ServerConnection& connection) {
            connection.send_binary(BytesView(snapshot));
            int received = 0;
            for (int i = 0; i < requests; ++i)
                received += connection.recv().data == numbered(i) ? 1 : 0;
            connection.send_text("got " + std::to_string(received));
            for (auto& message : connection)
                static_cast<void>(message);
        },
        options);
    ProtocolOptions peer_options;
    peer_options.max_size = snapshot_size;
    auto peer = RawPeer::connect(server->port(), "/", {}, peer_options);
    peer->set_socket_buffers(64 * 1024);
    auto sender = run_async([&] {
        for (int i = 0; i < requests; ++i)
            peer->send_binary(numbered(i));
    });
    ASSERT_TRUE(finishes(sender)) << "the peer and the handler wait for each other";
    sender.get();
    auto m = peer->read_message();
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->data == snapshot) << "the snapshot came back altered";
    m = peer->read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data, "got " + std::to_string(requests));
    peer->send_close(1000);
    EXPECT_TRUE(peer->read_to_eof());
}

/// Messages of sender `t`, number `i`: every other one 40 KiB (over the high mark that
/// `expect_mixed_sends_arrive_intact` sets), the others small; each names its sender and
/// number.
std::string mixed(int t, int i) {
    const std::size_t size = i % 2 == 0 ? 40 * 1024 : static_cast<std::size_t>(i % 50);
    return std::to_string(t) + ":" + std::to_string(i) + ":" +
           pattern(size, static_cast<unsigned>(t * 1000 + i));
}

/// Four threads of a server's handler send `mixed` messages at once; the client checks each
/// message and each sender's order. The handler's own thread waits for them, so that the
/// connection gets an I/O thread, or sits in recv() (a server connection's loop there does
/// not hear other threads: they write for themselves).
void expect_mixed_sends_arrive_intact(ServerOptions server_options, const std::string& uri,
                                      ClientOptions client_options, bool handler_receives) {
    constexpr int senders = 4;
    constexpr int per_sender = 60;
    server_options.connection.write_high = 32 * 1024;
    server_options.connection.write_low = 8 * 1024;
    auto server = start_server(
        [&](ServerConnection& connection) {
            std::vector<std::future<void>> threads;
            for (int t = 0; t < senders; ++t) {
                threads.push_back(run_async([&connection, t] {
                    for (int i = 0; i < per_sender; ++i)
                        connection.send_binary(BytesView(mixed(t, i)));
                }));
            }
            if (!handler_receives) {
                for (auto& thread : threads)
                    thread.get();
            }
            for (auto& message : connection) // until the client closes
                static_cast<void>(message);
            for (auto& thread : threads)
                if (thread.valid()) thread.get();
        },
        server_options);
    client_options.compression = false;
    auto client = connect(uri + std::to_string(server->port()) + "/", client_options);
    std::array<int, senders> next{};
    for (int n = 0; n < senders * per_sender; ++n) {
        const Message m = client.recv();
        const int t = std::stoi(m.data.substr(0, m.data.find(':')));
        ASSERT_TRUE(t >= 0 && t < senders) << "message " << n << " is torn";
        const int i = next[static_cast<std::size_t>(t)]++;
        ASSERT_TRUE(m.data == mixed(t, i)) << "sender " << t << ", message " << i << " is wrong";
    }
    client.close();
}

TEST_F(BackpressureTest, LargeAndSmallSendsFromManyThreadsNeverInterleave) {
    ServerOptions options = local_options();
    options.compression = false;
    expect_mixed_sends_arrive_intact(options, "ws://127.0.0.1:", {}, false);
    expect_mixed_sends_arrive_intact(options, "ws://127.0.0.1:", {}, true);
}

// ----- a client's sends over the high mark, masked from the sender's own buffer ----------

/// Over the high mark, and of every length modulo 4: a client masks them into the output a
/// piece at a time, and the last piece is short.
std::string large_odd(int index) {
    return large_numbered(index, static_cast<std::size_t>(index));
}

ClientOptions client_large_sends() {
    ClientOptions options;
    options.compression = false;
    set_large_send_marks(options.connection);
    return options;
}

TEST_F(BackpressureTest, AClientSendingLargeMessagesToASlowPeerDeliversThemAllMasked) {
    constexpr int total = 24; // 12 MiB: more than the kernel buffers hold
    RawPair pair(client_large_sends());
    pair.peer->set_socket_buffers(64 * 1024);
    std::promise<void> all_sent;
    auto sent = all_sent.get_future();
    auto sender = run_async([&] {
        for (int i = 0; i < total; ++i)
            pair.client->send_binary(BytesView(large_odd(i))); // a temporary each
        all_sent.set_value();
        pair.client->send_text("after them");
    });
    ASSERT_TRUE(still_blocked(sent, 300ms)) << "12 MiB sent to a peer that does not read";
    // Their pongs are queued while a message is half written: they must wait for its end.
    for (int i = 0; i < 8; ++i)
        pair.peer->send_ping("ping " + std::to_string(i));

    // The raw peer's engine unmasks with the key of each frame's header.
    for (int i = 0; i < total; ++i) {
        auto m = pair.peer->read_message();
        ASSERT_TRUE(m) << "the connection ended after " << i << " messages";
        ASSERT_EQ(m->data.size(), large_size + static_cast<std::size_t>(i));
        ASSERT_TRUE(m->data == large_odd(i)) << "message " << i << " is wrong";
    }
    auto last = pair.peer->read_message();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->data, "after them");
    ASSERT_TRUE(finishes(sender));
    sender.get();
}

TEST_F(BackpressureTest, CloseCutsShortAClientsLargeSendToAPeerThatDoesNotRead) {
    ClientOptions options = client_large_sends();
    options.connection.close_timeout = 200ms;
    RawPair pair(options);
    pair.peer->set_socket_buffers(64 * 1024);
    // One message, more than the kernel buffers hold: this very send must say it did not go.
    const std::string message = pattern(24 * 1024 * 1024 + 1, 9);
    auto sender = run_async([&] { pair.client->send_binary(BytesView(message)); });
    ASSERT_TRUE(still_blocked(sender, 300ms)) << "24 MiB went to a peer that does not read";
    pair.client->close();
    ASSERT_TRUE(finishes(sender)) << "the send still blocks after close()";
    EXPECT_THROW(sender.get(), ConnectionClosed);
}

TEST_F(BackpressureTest, AClientThatSendsALargeMessageThenReceivesServesAPeerThatPipelines) {
    // The client's mirror of the handler above: the rest of its masked payload is masked
    // into the output when its reading stops, and its send returns so that it can recv().
    constexpr std::size_t snapshot_size = 8 * 1024 * 1024 + 3; // more than the kernel buffers
    constexpr int requests = 160;                              // 10 MiB: so is this
    RawServer raw_server;
    ProtocolOptions peer_options;
    peer_options.max_size = snapshot_size;
    auto accepted = run_async([&] { return raw_server.accept({}, peer_options); });
    ClientOptions options;
    options.compression = false;
    options.connection.max_queue = 2;
    options.connection.ping_interval = 0ms; // its deadline would end the wait (20 s) too
    auto client = connect(raw_server.uri(), options);
    auto peer = accepted.get();
    peer->set_socket_buffers(64 * 1024);
    auto peer_sender = run_async([&] {
        for (int i = 0; i < requests; ++i)
            peer->send_binary(numbered(i));
    });
    const std::string snapshot = pattern(snapshot_size, 5);
    auto sending = run_async([&] { client.send_binary(BytesView(snapshot)); });
    if (!finishes(sending)) {
        peer->abort(); // ends the send and the peer's writes: the test fails, not hangs
        FAIL() << "the client's send waits for a peer that waits for the client";
    }
    sending.get();
    for (int i = 0; i < requests; ++i)
        ASSERT_TRUE(is_numbered(client.recv().data, i)) << "message " << i << " is wrong";
    ASSERT_TRUE(finishes(peer_sender)) << "the peer and the client wait for each other";
    peer_sender.get();
    auto m = peer->read_message();
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->data == snapshot) << "the snapshot came back altered";
    auto peer_reading = run_async([&] { return peer->read_to_eof(); });
    client.close();
    ASSERT_TRUE(finishes(peer_reading));
    EXPECT_TRUE(peer_reading.get());
}

/// The client's side of `expect_mixed_sends_arrive_intact`: four of its threads send, the
/// server's handler checks every message and each sender's order, then answers.
void expect_mixed_client_sends_arrive_intact(ServerOptions server_options,
                                             const std::string& uri,
                                             ClientOptions client_options) {
    constexpr int senders = 4;
    constexpr int per_sender = 60;
    auto server = start_server(
        [&](ServerConnection& connection) {
            std::array<int, senders> next{};
            std::string verdict = "ok";
            for (int n = 0; n < senders * per_sender && verdict == "ok"; ++n) {
                const Message m = connection.recv();
                const int t = std::stoi(m.data.substr(0, m.data.find(':')));
                if (t < 0 || t >= senders) {
                    verdict = "message " + std::to_string(n) + " is torn";
                    break;
                }
                const int i = next[static_cast<std::size_t>(t)]++;
                if (m.data != mixed(t, i))
                    verdict = "sender " + std::to_string(t) + ", message " + std::to_string(i) +
                              " is wrong";
            }
            connection.send_text(verdict);
            for (auto& message : connection)
                static_cast<void>(message);
        },
        server_options);
    client_options.compression = false;
    client_options.connection.write_high = 32 * 1024;
    client_options.connection.write_low = 8 * 1024;
    auto client = connect(uri + std::to_string(server->port()) + "/", client_options);
    std::vector<std::future<void>> threads;
    for (int t = 0; t < senders; ++t) {
        threads.push_back(run_async([&client, t] {
            for (int i = 0; i < per_sender; ++i)
                client.send_binary(BytesView(mixed(t, i)));
        }));
    }
    for (auto& thread : threads)
        thread.get();
    EXPECT_EQ(client.recv().data, "ok");
    client.close();
}

TEST_F(BackpressureTest, AClientsLargeAndSmallSendsFromManyThreadsNeverInterleave) {
    ServerOptions options = local_options();
    options.compression = false;
    expect_mixed_client_sends_arrive_intact(options, "ws://127.0.0.1:", {});
}

TEST_F(BackpressureTest, TrySendRefusesInsteadOfBlocking) {
    RawPair pair(small_write_buffer());
    pair.peer->set_socket_buffers(64 * 1024);
    const std::string chunk = numbered(0);
    int queued = 0;
    while (pair.client->try_send(chunk, true)) {
        ++queued;
        ASSERT_LT(queued, 4096) << "try_send never refused";
    }
    EXPECT_GT(queued, 0);
    for (int i = 0; i < queued; ++i) {
        auto m = pair.peer->read_message();
        ASSERT_TRUE(m);
        EXPECT_TRUE(m->data == chunk);
    }
    // try_send never throws, even once closed.
    auto peer_reading = run_async([&] { return pair.peer->read_to_eof(); });
    pair.client->close();
    ASSERT_TRUE(finishes(peer_reading));
    EXPECT_TRUE(peer_reading.get());
    EXPECT_FALSE(pair.client->try_send("closed"));
}

TEST_F(BackpressureTest, SlowConsumerPausesTheReaderSoThePeerBlocks) {
    constexpr int total = 768; // 48 MiB
    ClientOptions options;
    options.compression = false;
    options.connection.max_queue = 4;
    RawPair pair(options);
    pair.peer->set_socket_buffers(64 * 1024);

    std::atomic<int> sent{0};
    auto peer_sender = run_async([&] {
        for (int i = 0; i < total; ++i) {
            pair.peer->send_binary(numbered(i));
            ++sent;
        }
    });
    // Nobody calls recv: the client's reader stops at max_queue frames, TCP fills up and
    // the peer's writes block.
    ASSERT_TRUE(still_blocked(peer_sender, 500ms))
        << "the client read all " << total << " messages into memory";
    EXPECT_LT(sent.load(), total);

    // Nothing is lost or reordered once the consumer catches up.
    for (int i = 0; i < total; ++i) {
        Message m = pair.client->recv();
        ASSERT_TRUE(m.is_binary());
        ASSERT_TRUE(is_numbered(m.data, i)) << "message " << i << " is wrong";
    }
    ASSERT_TRUE(finishes(peer_sender));
    peer_sender.get();
    EXPECT_EQ(pair.client->recv_for(0ms), std::nullopt);
}

TEST_F(BackpressureTest, SlowConsumerStillClosesPromptly) {
    // A connection paused by a full receive queue must still see the peer's close frame
    // when the application closes (websockets#1336).
    ClientOptions options;
    options.compression = false;
    options.connection.max_queue = 2;
    RawPair pair(options);
    // More than the kernel buffers while the client's reader is paused: the peer's writes
    // block until the client closes, which lifts the pause.
    auto peer_sender = run_async([&] {
        for (int i = 0; i < 20; ++i)
            pair.peer->send_binary(numbered(i));
    });
    auto closing = run_async([&] { pair.client->close(1000, "enough"); });
    ASSERT_TRUE(finishes(peer_sender));
    peer_sender.get();
    // The peer reads the client's close and answers it; the client reads past the queued
    // messages to find the answer.
    std::optional<Frame> frame;
    while ((frame = pair.peer->read_frame()) && frame->opcode != Opcode::close) {
    }
    ASSERT_TRUE(frame);
    EXPECT_TRUE(pair.peer->read_to_eof());
    ASSERT_TRUE(finishes(closing));
    closing.get();
    EXPECT_EQ(pair.client->close_code(), 1000);
    // The messages received before the close are still delivered, then the end.
    int received = 0;
    try {
        for (;;) {
            Message m = pair.client->recv();
            ASSERT_TRUE(is_numbered(m.data, received));
            ++received;
        }
    } catch (const ConnectionClosedOK&) {
    }
    EXPECT_EQ(received, 20);
}

#if SYNCWS_TEST_HAVE_TLS
TEST_F(BackpressureTest, OverTlsASenderBlocksThenEverythingArrivesInOrder) {
    // The TLS stream keeps the records the socket did not take; the I/O thread sends them
    // when poll() says writable, and send() waits at write_high meanwhile.
    constexpr int total = 256; // 16 MiB
    Latch release;
    std::atomic<int> received{0};
    std::atomic<int> first_wrong{-1};
    ServerOptions server_options = tls_server_options();
    server_options.compression = false;
    server_options.connection.max_queue = 4;
    auto server = start_server(
        [&](ServerConnection& connection) {
            release.wait();
            for (int i = 0; i < total; ++i) {
                const Message m = connection.recv();
                if (!is_numbered(m.data, i) && first_wrong < 0) first_wrong = i;
                ++received;
            }
            connection.send_text("got them");
        },
        server_options);
    ClientOptions options = trusting_client();
    options.compression = false;
    options.connection.write_high = 64 * 1024;
    options.connection.write_low = 16 * 1024;
    auto client = connect("wss://localhost:" + std::to_string(server->port()) + "/", options);

    auto sender = run_async([&] {
        for (int i = 0; i < total; ++i)
            client.send_binary(BytesView(numbered(i)));
    });
    ASSERT_TRUE(still_blocked(sender, 500ms)) << "16 MiB queued for a server that doesn't read";
    release.count_down();
    ASSERT_TRUE(finishes(sender));
    sender.get();
    EXPECT_EQ(client.recv().data, "got them");
    EXPECT_EQ(received.load(), total);
    EXPECT_EQ(first_wrong.load(), -1) << "message " << first_wrong.load() << " is wrong";
}

TEST_F(BackpressureTest, OverTlsLargeAndSmallSendsFromManyThreadsNeverInterleave) {
    ServerOptions options = tls_server_options();
    options.compression = false;
    expect_mixed_sends_arrive_intact(options, "wss://localhost:", trusting_client(), false);
    expect_mixed_sends_arrive_intact(options, "wss://localhost:", trusting_client(), true);
}

TEST_F(BackpressureTest, OverTlsAClientsLargeAndSmallSendsFromManyThreadsNeverInterleave) {
    ServerOptions options = tls_server_options();
    options.compression = false;
    expect_mixed_client_sends_arrive_intact(options, "wss://localhost:", trusting_client());
}
#endif

} // namespace
} // namespace syncws::test
