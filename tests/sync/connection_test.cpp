// Connection over real sockets: messages of every kind and size, receive timeouts,
// streaming, fragments, iteration, concurrent senders, ping and keepalive.
#include "handshake_io.hpp"
#include "listener.hpp"
#include "raw_peer.hpp"
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <ctime>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace syncws::test {
namespace {

using ConnectionTest = SyncTest;

/// A client connected to an echo server (compression negotiated unless turned off).
struct EchoPair {
    explicit EchoPair(std::size_t max_size = 1024 * 1024, bool compression = true) {
        ServerOptions so = local_options();
        so.compression = compression;
        so.connection.max_size = max_size;
        server = start_server(echo_handler(), so);
        ClientOptions co;
        co.connection.max_size = max_size;
        co.compression = compression;
        client = std::make_unique<ClientConnection>(connect(uri_of(*server), co));
    }
    std::unique_ptr<Server> server;
    std::unique_ptr<ClientConnection> client;
};


// ----- messages ---------------------------------------------------------------------------

TEST_F(ConnectionTest, TextAndBinaryRoundTrip) {
    EchoPair pair;
    auto& c = *pair.client;
    EXPECT_EQ(c.state(), State::open);
    EXPECT_EQ(c.side(), Side::client);
    EXPECT_EQ(c.response().status, 101);
    EXPECT_TRUE(contains(c.extensions(), "permessage-deflate"))
        << "default compression is negotiated between two syncws ends";

    c.send_text("héllo");
    Message m = c.recv();
    EXPECT_TRUE(m.is_text());
    EXPECT_EQ(m.data, "héllo");

    const std::string bytes = std::string("\0\x01\xff\x80 binary", 11);
    c.send_binary(BytesView(bytes));
    m = c.recv();
    EXPECT_TRUE(m.is_binary());
    EXPECT_EQ(m.data, bytes);

    c.send(Message{true, "as message"});
    m = c.recv();
    EXPECT_TRUE(m.binary);
    EXPECT_EQ(m.data, "as message");

    c.send_text("not compressed", false);
    EXPECT_EQ(c.recv().data, "not compressed");
}

TEST_F(ConnectionTest, EmptyMessages) {
    EchoPair pair;
    auto& c = *pair.client;
    c.send_text("");
    c.send_binary(BytesView());
    Message m = c.recv();
    EXPECT_TRUE(m.is_text());
    EXPECT_EQ(m.data, "");
    m = c.recv();
    EXPECT_TRUE(m.is_binary());
    EXPECT_EQ(m.data, "");
}

TEST_F(ConnectionTest, SixteenMebibyteMessages) {
    constexpr std::size_t size = 16 * 1024 * 1024;
    EchoPair pair(size, /*compression=*/false);
    auto& c = *pair.client;
    const std::string binary = pattern(size, 7);
    c.send_binary(BytesView(binary));
    Message m = c.recv();
    EXPECT_TRUE(m.is_binary());
    EXPECT_EQ(m.data.size(), size);
    EXPECT_TRUE(m.data == binary) << "the 16 MiB binary message came back altered";

    const std::string text(size, 'x');
    c.send_text(text);
    m = c.recv();
    EXPECT_TRUE(m.is_text());
    EXPECT_TRUE(m.data == text) << "the 16 MiB text message came back altered";
}

TEST_F(ConnectionTest, ReceivingIntoOneMessageNeverShowsTheBytesOfAnEarlierOne) {
    // Both ends recycle buffers (the client through recv(Message&), the echo handler through
    // range-for): each message must come out whole, whatever size came before it, sent one
    // at a time or queued ahead.
    const std::vector<std::size_t> sizes = {1 << 20, 300 * 1024, 2 << 20, 70 * 1024, 5,
                                            100 * 1024, 0, 1 << 20};
    for (const bool compression : {false, true}) {
        EchoPair pair(4 << 20, compression);
        auto& c = *pair.client;
        Message m;
        int seed = 0;
        for (const std::size_t size : sizes) {
            const std::string data = pattern(size, ++seed);
            c.send_binary(BytesView(data));
            c.recv(m);
            EXPECT_TRUE(m.is_binary());
            EXPECT_TRUE(m.data == data) << size << " bytes, one at a time, compression "
                                        << compression;
        }
        std::vector<std::string> sent;
        for (const std::size_t size : sizes) {
            sent.push_back(pattern(size, ++seed));
            c.send_binary(BytesView(sent.back()));
        }
        for (const std::string& data : sent) {
            c.recv(m);
            EXPECT_TRUE(m.is_binary());
            EXPECT_TRUE(m.data == data) << data.size() << " bytes, queued, compression "
                                        << compression;
        }
    }
}

TEST_F(ConnectionTest, SixteenMebibyteCompressedMessage) {
    constexpr std::size_t size = 16 * 1024 * 1024;
    EchoPair pair(size, /*compression=*/true);
    std::string text;
    text.reserve(size);
    while (text.size() < size)
        text += "the quick brown fox " + std::to_string(text.size());
    text.resize(size);
    pair.client->send_text(text);
    EXPECT_TRUE(pair.client->recv().data == text);
}

TEST_F(ConnectionTest, MessageOverMaxSizeFailsWith1009) {
    ServerOptions so = local_options();
    so.connection.max_size = 1000;
    std::promise<std::uint16_t> server_close;
    auto server = start_server(
        [&](ServerConnection& c) {
            try {
                c.recv();
            } catch (const ConnectionClosedError&) {
                server_close.set_value(c.close_sent() ? c.close_sent()->code : 0);
            }
        },
        so);
    auto client = connect(uri_of(*server));
    client.send_binary(BytesView(std::string(1001, 'a')));
    try {
        client.recv();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError&) {
        EXPECT_EQ(client.close_code(), 1009);
    }
    auto f = server_close.get_future();
    ASSERT_TRUE(finishes(f));
    EXPECT_EQ(f.get(), 1009);
}

// ----- receive timeouts -------------------------------------------------------------------

TEST_F(ConnectionTest, RecvForTimesOutAndTheConnectionStaysUsable) {
    EchoPair pair;
    auto& c = *pair.client;
    const auto start = Clock::now();
    EXPECT_EQ(c.recv_for(50ms), std::nullopt);
    EXPECT_GE(ms_since(start), 45);
    EXPECT_EQ(c.state(), State::open);
    // A message that arrives afterwards is received.
    c.send_text("after the timeout");
    auto m = c.recv_for(generous);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, "after the timeout");
    // And a zero timeout with a message already there returns it.
    c.send_text("second");
    auto m2 = c.recv_for(generous);
    ASSERT_TRUE(m2.has_value());
    EXPECT_EQ(m2->data, "second");
    EXPECT_EQ(c.recv_for(0ms), std::nullopt);
}

TEST_F(ConnectionTest, RecvForTimingOutMidMessageKeepsTheFragments) {
    RawPair pair;
    auto& c = *pair.client;
    auto& peer = *pair.peer;
    peer.send_text("frag-1|", /*fin=*/false);
    // The client has certainly handed the first fragment to its receive queue once it
    // answered a ping sent *after another* ping that followed the fragment: the reader
    // delivers a read's frames before its next read.
    peer.send_ping("p1");
    auto pong = peer.read_frame();
    ASSERT_TRUE(pong && pong->opcode == Opcode::pong);
    peer.send_ping("p2");
    pong = peer.read_frame();
    ASSERT_TRUE(pong && pong->opcode == Opcode::pong && pong->payload == "p2");

    EXPECT_EQ(c.recv_for(20ms), std::nullopt);
    peer.send_continuation("frag-2|", false);
    EXPECT_EQ(c.recv_for(20ms), std::nullopt);
    peer.send_continuation("frag-3", true);
    auto m = c.recv_for(generous);
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->is_text());
    EXPECT_EQ(m->data, "frag-1|frag-2|frag-3");

    // The next message is separate.
    peer.send_binary("next");
    Message next = c.recv();
    EXPECT_TRUE(next.is_binary());
    EXPECT_EQ(next.data, "next");
}

TEST_F(ConnectionTest, RecvStreamingHandsOverEachFragment) {
    RawPair pair;
    auto& peer = *pair.peer;
    peer.send_binary("ab", false);
    peer.send_continuation("cd", false);
    peer.send_ping("between"); // control frames may come between fragments (RFC 6455 §5.4)
    peer.send_continuation("ef", true);
    std::vector<std::pair<std::string, bool>> fragments;
    const bool binary = pair.client->recv_streaming(
        [&](std::string_view data, bool last) { fragments.emplace_back(data, last); });
    EXPECT_TRUE(binary);
    const std::vector<std::pair<std::string, bool>> expected{
        {"ab", false}, {"cd", false}, {"ef", true}};
    EXPECT_EQ(fragments, expected);

    // A single-frame message streams as one last fragment.
    peer.send_text("whole");
    fragments.clear();
    EXPECT_FALSE(pair.client->recv_streaming(
        [&](std::string_view data, bool last) { fragments.emplace_back(data, last); }));
    EXPECT_EQ(fragments, (std::vector<std::pair<std::string, bool>>{{"whole", true}}));
}

TEST_F(ConnectionTest, RecvStreamingAfterATimedOutRecvForGetsTheWholeMessage) {
    RawPair pair;
    auto& peer = *pair.peer;
    peer.send_text("12", false);
    peer.send_ping("p1");
    ASSERT_TRUE(peer.read_frame());
    peer.send_ping("p2");
    ASSERT_TRUE(peer.read_frame());
    EXPECT_EQ(pair.client->recv_for(10ms), std::nullopt);
    peer.send_continuation("34", true);
    std::string all;
    bool ended = false;
    EXPECT_FALSE(pair.client->recv_streaming([&](std::string_view data, bool last) {
        all += data;
        ended = last;
    }));
    EXPECT_EQ(all, "1234");
    EXPECT_TRUE(ended);
}

TEST_F(ConnectionTest, SendFragmentsSendsOneFramePerPiece) {
    RawPair pair;
    std::vector<std::string> pieces{"one ", "two ", "three"};
    std::size_t i = 0;
    pair.client->send_fragments(false, [&]() -> std::optional<std::string> {
        if (i == pieces.size()) return std::nullopt;
        return pieces[i++];
    });
    auto f1 = pair.peer->read_frame();
    auto f2 = pair.peer->read_frame();
    auto f3 = pair.peer->read_frame();
    ASSERT_TRUE(f1 && f2 && f3);
    EXPECT_EQ(f1->opcode, Opcode::text);
    EXPECT_FALSE(f1->fin);
    EXPECT_EQ(f1->payload, "one ");
    EXPECT_EQ(f2->opcode, Opcode::continuation);
    EXPECT_FALSE(f2->fin);
    EXPECT_EQ(f2->payload, "two ");
    EXPECT_EQ(f3->opcode, Opcode::continuation);
    EXPECT_TRUE(f3->fin);
    EXPECT_EQ(f3->payload, "three");

    // A generator that yields nothing sends one empty final frame.
    pair.client->send_fragments(true, [] { return std::optional<std::string>(); });
    auto empty = pair.peer->read_frame();
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->opcode, Opcode::binary);
    EXPECT_TRUE(empty->fin);
    EXPECT_EQ(empty->payload, "");
}

TEST_F(ConnectionTest, SendFragmentsThroughAServerIsReassembled) {
    EchoPair pair;
    int n = 0;
    pair.client->send_fragments(true, [&]() -> std::optional<std::string> {
        if (n == 100) return std::nullopt;
        return std::to_string(n++) + ",";
    });
    std::string expected;
    for (int k = 0; k < 100; ++k)
        expected += std::to_string(k) + ",";
    Message m = pair.client->recv();
    EXPECT_TRUE(m.is_binary());
    EXPECT_EQ(m.data, expected);
}

TEST_F(ConnectionTest, SendFragmentsWhoseSourceThrowsFailsTheConnection) {
    RawPair pair;
    auto peer_reading = run_async([&] {
        std::vector<Frame> frames;
        while (auto frame = pair.peer->read_frame())
            frames.push_back(*frame);
        return frames;
    });
    int n = 0;
    EXPECT_THROW(pair.client->send_fragments(false,
                                             [&]() -> std::optional<std::string> {
                                                 if (n == 2) throw std::runtime_error("source");
                                                 return "part" + std::to_string(n++);
                                             }),
                 std::runtime_error);
    // Half a message is out and can never be finished: the connection fails (1011) rather
    // than refusing every later message.
    EXPECT_THROW(pair.client->send_text("next"), ConnectionClosedError);
    ASSERT_TRUE(finishes(peer_reading));
    const auto frames = peer_reading.get();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].payload, "part0");
    EXPECT_FALSE(frames[0].fin);
    EXPECT_EQ(frames[1].opcode, Opcode::close);
    EXPECT_EQ(Close::parse(frames[1].payload)->code, 1011);

    // A source that throws before anything was sent leaves the connection alone.
    RawPair other;
    EXPECT_THROW(other.client->send_fragments(
                     true, []() -> std::optional<std::string> { throw std::runtime_error("x"); }),
                 std::runtime_error);
    other.client->send_text("fine");
    auto m = other.peer->read_message();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data, "fine");
}

TEST_F(ConnectionTest, RecvStreamingConsumerThatThrowsSkipsTheRestOfTheMessage) {
    RawPair pair;
    auto& peer = *pair.peer;
    peer.send_binary("1", false);
    peer.send_continuation("2", false);
    peer.send_continuation("3", true);
    peer.send_text("next message");
    EXPECT_THROW(pair.client->recv_streaming([](std::string_view data, bool) {
        if (data == "2") throw std::runtime_error("consumer gave up");
    }),
                 std::runtime_error);
    Message m = pair.client->recv();
    EXPECT_TRUE(m.is_text());
    EXPECT_EQ(m.data, "next message");
}

TEST_F(ConnectionTest, CloseWithAnUnsendableCodeThrowsAndChangesNothing) {
    EchoPair pair;
    EXPECT_THROW(pair.client->close(999), std::invalid_argument);
    EXPECT_THROW(pair.client->close(1006), std::invalid_argument);
    EXPECT_THROW(pair.client->close(1000, std::string(124, 'r')), std::invalid_argument);
    EXPECT_EQ(pair.client->state(), State::open);
    pair.client->send_text("still open");
    EXPECT_EQ(pair.client->recv().data, "still open");
    pair.client->close(4000, "valid");
    EXPECT_EQ(pair.client->close_sent(), (Close{4000, "valid"}));
}

TEST_F(ConnectionTest, InvalidUtf8FromThePeerFailsWith1007) {
    RawPair pair;
    auto peer_reading = run_async([&] {
        std::vector<Frame> frames;
        while (auto frame = pair.peer->read_frame())
            frames.push_back(*frame);
        return frames;
    });
    pair.peer->send_text("\xc3\x28 invalid");
    try {
        pair.client->recv();
        FAIL() << "received invalid UTF-8";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.sent());
        EXPECT_EQ(e.sent()->code, 1007);
        const auto cause = nested_cause(e);
        ASSERT_TRUE(cause);
        EXPECT_THROW(std::rethrow_exception(cause), ProtocolError);
    }
    ASSERT_TRUE(finishes(peer_reading));
    const auto frames = peer_reading.get();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(Close::parse(frames[0].payload)->code, 1007);
}

TEST_F(ConnectionTest, FramesInTheSameReadAsTheHandshakeResponse) {
    // A server may send its first message right behind the 101, in one TCP segment.
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto serving = run_async([&] {
        auto stream = listener->accept();
        ServerProtocol engine;
        auto result = detail::run_handshake(engine, *stream, Clock::now() + generous, "test",
                                            detail::PeerBytes::likely_in);
        engine.send_response(engine.accept(*result.request));
        engine.send_text("first");
        engine.send_binary(BytesView(std::string("second")));
        Bytes out;
        engine.take_output(out);
        stream->write_all(out.data(), out.size()); // one write: response and frames
        std::string rest;
        char buf[4096];
        while (std::size_t n = stream->read_some(buf, sizeof buf))
            rest.append(buf, n);
    });
    ClientOptions co;
    co.connection.close_timeout = 200ms;
    auto client = connect("ws://127.0.0.1:" + std::to_string(listener->port()) + "/", co);
    Message a = client.recv();
    EXPECT_EQ(a.data, "first");
    EXPECT_TRUE(a.is_text());
    Message b = client.recv();
    EXPECT_EQ(b.data, "second");
    EXPECT_TRUE(b.is_binary());
    client.close();
    ASSERT_TRUE(finishes(serving));
}

TEST_F(ConnectionTest, OverIPv6Loopback) {
    ServerOptions so;
    so.host = "::1";
    std::unique_ptr<Server> server;
    try {
        server = start_server(echo_handler(), so);
    } catch (const NetworkError& e) {
        GTEST_SKIP() << "no IPv6 loopback: " << e.what();
    }
    auto client = connect("ws://[::1]:" + std::to_string(server->port()) + "/");
    EXPECT_EQ(client.remote_address(), "[::1]:" + std::to_string(server->port()));
    client.send_text("v6");
    EXPECT_EQ(client.recv().data, "v6");
}

// ----- iteration --------------------------------------------------------------------------

TEST_F(ConnectionTest, RangeForEndsQuietlyOnNormalClose) {
    auto server = start_server([](ServerConnection& c) {
        c.send_text("a");
        c.send_text("b");
        c.send_text("c");
    }); // returning closes with 1000
    auto client = connect(uri_of(*server));
    std::vector<std::string> got;
    for (auto& message : client)
        got.push_back(message.data);
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(client.close_code(), 1000);
    EXPECT_EQ(client.state(), State::closed);
}

TEST_F(ConnectionTest, RangeForThrowsOnAbnormalClose) {
    auto server = start_server([](ServerConnection& c) {
        c.send_text("a");
        c.send_text("b");
        throw std::runtime_error("handler gave up");
    });
    auto client = connect(uri_of(*server));
    std::vector<std::string> got;
    try {
        for (auto& message : client)
            got.push_back(message.data);
        FAIL() << "the loop ended quietly";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.received());
        EXPECT_EQ(e.received()->code, 1011);
    }
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(client.close_code(), 1011);
}

// ----- concurrency ------------------------------------------------------------------------

TEST_F(ConnectionTest, ConcurrentSendersNeverInterleave) {
    constexpr int threads = 8;
    constexpr int per_thread = 10000;
    EchoPair pair;
    auto& c = *pair.client;

    // Each message names its sender and sequence number and carries a body that depends on
    // both, with lengths from 0 to ~300 bytes, so a torn or mixed message is caught.
    auto make = [](int t, int i) {
        std::string body(static_cast<std::size_t>((i * 37 + t * 11) % 300),
                         static_cast<char>('a' + (i + t) % 26));
        return std::to_string(t) + ":" + std::to_string(i) + ":" + body;
    };

    auto receiver = run_async([&] {
        std::array<int, threads> next{};
        std::string error;
        for (int n = 0; n < threads * per_thread; ++n) {
            Message m = c.recv();
            const auto colon1 = m.data.find(':');
            const auto colon2 = m.data.find(':', colon1 + 1);
            if (colon1 == std::string::npos || colon2 == std::string::npos) {
                error = "malformed message " + m.data.substr(0, 40);
                break;
            }
            const int t = std::stoi(m.data.substr(0, colon1));
            const int i = std::stoi(m.data.substr(colon1 + 1, colon2 - colon1 - 1));
            if (t < 0 || t >= threads || m.data != make(t, i)) {
                error = "torn message " + m.data.substr(0, 40);
                break;
            }
            if (i != next[static_cast<std::size_t>(t)]) {
                error = "thread " + std::to_string(t) + ": got " + std::to_string(i) +
                        ", expected " + std::to_string(next[static_cast<std::size_t>(t)]);
                break;
            }
            ++next[static_cast<std::size_t>(t)];
        }
        return error;
    });

    std::vector<std::future<void>> senders;
    for (int t = 0; t < threads; ++t) {
        senders.push_back(run_async([&, t] {
            for (int i = 0; i < per_thread; ++i)
                c.send_text(make(t, i));
        }));
    }
    for (auto& s : senders) {
        ASSERT_TRUE(finishes(s));
        s.get();
    }
    ASSERT_TRUE(finishes(receiver));
    EXPECT_EQ(receiver.get(), "");
}

// ----- ping and keepalive -----------------------------------------------------------------

TEST_F(ConnectionTest, PingResolvesWithTheRoundTripTime) {
    EchoPair pair;
    auto& c = *pair.client;
    EXPECT_EQ(c.latency().count(), 0);
    auto rtt = c.ping();
    ASSERT_TRUE(finishes(rtt));
    const auto value = rtt.get();
    EXPECT_GT(value.count(), 0);
    EXPECT_GT(c.latency().count(), 0);

    // With a payload; a second ping with the same payload while the first waits is refused.
    auto a = c.ping(std::string("same"));
    try {
        auto b = c.ping(std::string("same"));
        // The first pong may already have come back, which makes the payload free again.
        ASSERT_TRUE(finishes(b));
    } catch (const InvalidState&) {
    }
    ASSERT_TRUE(finishes(a));
    EXPECT_GT(a.get().count(), 0);
}

TEST_F(ConnectionTest, PingsAreAnsweredWhileNobodyReceives) {
    // The server's handler never calls recv: its reader answers pings all the same.
    Latch done;
    auto server = start_server([&](ServerConnection&) { done.wait(); });
    auto client = connect(uri_of(*server));
    for (int i = 0; i < 3; ++i) {
        auto rtt = client.ping();
        ASSERT_TRUE(finishes(rtt));
        EXPECT_GT(rtt.get().count(), 0);
    }
    done.count_down();
}

TEST_F(ConnectionTest, PendingPingFailsWhenTheConnectionCloses) {
    RawPair pair;
    pair.peer->set_auto_reply(false);
    auto rtt = pair.client->ping(std::string("never answered"));
    auto ping = pair.peer->read_frame();
    ASSERT_TRUE(ping && ping->opcode == Opcode::ping);
    pair.peer->drop();
    ASSERT_TRUE(finishes(rtt));
    EXPECT_THROW(rtt.get(), ConnectionClosed);
}

TEST_F(ConnectionTest, KeepaliveWithAnAnsweringPeerKeepsTheConnection) {
    ClientOptions options;
    options.connection.ping_interval = 50ms;
    options.connection.ping_timeout = generous;
    RawPair pair(options);
    // The raw peer answers pings (auto_reply): wait for five keepalive pings.
    int pings = 0;
    while (pings < 5) {
        auto frame = pair.peer->read_frame();
        ASSERT_TRUE(frame);
        if (frame->opcode == Opcode::ping) ++pings;
    }
    // The pong for the last ping is read before this message: latency is known by then.
    pair.peer->send_text("still here");
    EXPECT_EQ(pair.client->recv().data, "still here");
    EXPECT_EQ(pair.client->state(), State::open);
    EXPECT_GT(pair.client->latency().count(), 0);
}

TEST_F(ConnectionTest, KeepaliveBetweenTwoSyncwsEnds) {
    ServerOptions so = local_options();
    so.connection.ping_interval = 20ms;
    so.connection.ping_timeout = generous;
    auto server = start_server(
        [](ServerConnection& c) {
            for (auto& m : c) {
                if (m.data == "latency?")
                    c.send_text(std::to_string(c.latency().count()));
                else
                    c.send(m);
            }
        },
        so);
    ClientOptions co;
    co.connection.ping_interval = 20ms;
    co.connection.ping_timeout = generous;
    auto client = connect(uri_of(*server), co);
    // Keep the connection busy until both sides measured a keepalive round trip.
    const std::string text(1000, 'k');
    const auto start = Clock::now();
    bool server_measured = false;
    while (!(server_measured && client.latency().count() > 0) && ms_since(start) < 20000) {
        client.send_text(text);
        ASSERT_EQ(client.recv().data, text);
        client.send_text("latency?");
        server_measured = client.recv().data != "0";
    }
    EXPECT_TRUE(server_measured) << "the server's keepalive never measured a round trip";
    EXPECT_GT(client.latency().count(), 0) << "the client's keepalive never measured one";
    EXPECT_EQ(client.state(), State::open);
}

TEST_F(ConnectionTest, KeepaliveFailsWith1011WhenPongsDontCome) {
    ClientOptions options;
    options.connection.ping_interval = 50ms;
    options.connection.ping_timeout = 100ms;
    RawPair pair(options);
    pair.peer->set_auto_reply(false); // never answers pings
    auto receiving = run_async([&] { return pair.client->recv(); });

    // The peer sees a ping, then the close frame of the failing connection.
    std::optional<Frame> close;
    for (;;) {
        auto frame = pair.peer->read_frame();
        ASSERT_TRUE(frame) << "the connection ended without a close frame";
        if (frame->opcode == Opcode::close) {
            close = frame;
            break;
        }
        EXPECT_EQ(frame->opcode, Opcode::ping);
    }
    const auto parsed = Close::parse(close->payload);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->code, 1011);
    EXPECT_EQ(parsed->reason, "keepalive ping timeout");
    pair.peer->drop(); // and never answers the close either: the TCP connection ends

    ASSERT_TRUE(finishes(receiving));
    try {
        receiving.get();
        FAIL() << "recv returned a message";
    } catch (const ConnectionClosedError& e) {
        ASSERT_TRUE(e.sent());
        EXPECT_EQ(e.sent()->code, 1011);
        const auto cause = nested_cause(e);
        ASSERT_TRUE(cause) << "no nested cause";
        try {
            std::rethrow_exception(cause);
        } catch (const Timeout& timeout) {
            EXPECT_TRUE(contains(timeout.what(), "keepalive ping timeout"));
        } catch (const std::exception& other) {
            ADD_FAILURE() << "nested cause is not a Timeout: " << other.what();
        }
    }
    EXPECT_EQ(pair.client->close_sent()->code, 1011);
    EXPECT_EQ(pair.client->state(), State::closed);
    // Sending now fails the same way.
    EXPECT_THROW(pair.client->send_text("late"), ConnectionClosedError);
}

TEST_F(ConnectionTest, WaitingForALatePongBurnsNoCpu) {
    // The next ping falls due long before the pong timeout; while the pong is awaited the
    // I/O thread must sleep in poll(), not wake at once again and again for that ping.
    ClientOptions options;
    options.connection.ping_interval = 20ms;
    options.connection.ping_timeout = 1000ms;
    RawPair pair(options);
    pair.peer->set_auto_reply(false); // never answers pings
    auto first = pair.peer->read_frame();
    ASSERT_TRUE(first);
    ASSERT_EQ(first->opcode, Opcode::ping);
    const auto cpu = [] {
        timespec t{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
    };
    const auto cpu_start = cpu();
    const auto start = Clock::now();
    // Until the keepalive fails: the close frame (nothing else, no second ping meanwhile).
    auto next = pair.peer->read_frame();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->opcode, Opcode::close);
    const auto used = cpu() - cpu_start;
    const auto elapsed = Clock::now() - start;
    // A spinning thread uses about as much CPU as time passes; a sleeping one next to none.
    EXPECT_LT(used, elapsed / 4)
        << std::chrono::duration_cast<std::chrono::milliseconds>(used).count() << " ms of CPU in "
        << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
}

TEST_F(ConnectionTest, LoggerMayCallIntoTheConnection) {
    // The logger is user code: syncws never calls it under its locks (log.hpp), so it may
    // use the connection. Keepalive failure and close timeout both log from the I/O thread.
    std::atomic<ClientConnection*> self{nullptr};
    LogCapture log;
    auto capture = log.logger();
    ClientOptions options;
    options.connection.ping_interval = 50ms;
    options.connection.ping_timeout = 100ms;
    options.connection.close_timeout = 200ms;
    options.connection.logger = [&](LogLevel level, std::string_view message) {
        if (auto* c = self.load()) static_cast<void>(c->state());
        capture(level, message);
    };
    RawPair pair(options);
    self = pair.client.get();
    pair.peer->set_auto_reply(false); // answers neither pings nor the close
    EXPECT_TRUE(log.wait_for("keepalive ping timeout")) << log.all();
    EXPECT_TRUE(log.wait_for("close timeout")) << log.all();
    EXPECT_THROW(pair.client->recv(), ConnectionClosedError);
    self = nullptr;
}

TEST_F(ConnectionTest, RecvForWithAnEndlessTimeout) {
    EchoPair pair;
    pair.client->send_text("forever is fine");
    auto m = pair.client->recv_for(std::chrono::milliseconds::max());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data, "forever is fine");
}

TEST_F(ConnectionTest, EveryTimeoutMayBeEndless) {
    // milliseconds::max() is how users say "no timeout"; added to a clock reading it would
    // overflow (UBSan reports it), and a wrapped deadline would fire at once.
    constexpr auto forever = std::chrono::milliseconds::max();
    ServerOptions so = local_options();
    so.open_timeout = forever;
    so.idle_thread_timeout = forever;
    so.connection.close_timeout = forever;
    so.connection.ping_interval = forever;
    so.connection.ping_timeout = forever;
    auto server = start_server(echo_handler(), so);
    ClientOptions co;
    co.open_timeout = forever;
    co.connection = so.connection;
    auto client = connect(uri_of(*server), co);
    client.send_text("no deadline");
    EXPECT_EQ(client.recv().data, "no deadline");
    client.close();
    EXPECT_EQ(client.state(), State::closed);
    EXPECT_EQ(client.close_code(), 1000);
}

TEST_F(ConnectionTest, UnsolicitedPongIsSent) {
    RawPair pair;
    pair.client->pong(BytesView(std::string("heartbeat")));
    auto frame = pair.peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::pong);
    EXPECT_EQ(frame->payload, "heartbeat");
}

TEST_F(ConnectionTest, AddressesAndRequest) {
    EchoPair pair;
    EXPECT_TRUE(contains(pair.client->local_address(), "127.0.0.1:"));
    EXPECT_EQ(pair.client->remote_address(), "127.0.0.1:" + std::to_string(pair.server->port()));
    EXPECT_EQ(pair.client->request().target, "/");
    EXPECT_EQ(pair.client->subprotocol(), "");
}

TEST_F(ConnectionTest, MovedFromConnectionThrowsInvalidState) {
    EchoPair pair;
    ClientConnection moved = std::move(*pair.client);
    EXPECT_THROW(pair.client->send_text("x"), InvalidState);
    moved.send_text("still works");
    EXPECT_EQ(moved.recv().data, "still works");
}

} // namespace
} // namespace syncws::test
