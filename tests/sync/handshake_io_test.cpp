// run_handshake: the opening handshake driven over a stream, before a connection exists.
// A scripted stream shows which calls it makes; loopback sockets show the same on a real
// socket, including the first read when nothing has arrived yet.
#include "handshake_io.hpp"
#include "listener.hpp"
#include "sync_test_util.hpp"
#include "tcp.hpp"

#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>

namespace syncws::test {
namespace {

using detail::HandshakeResult;
using detail::PeerBytes;
using detail::run_handshake;

const std::string request_bytes = "GET /chat HTTP/1.1\r\n"
                                  "Host: example.test\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

// Bytes in `arrived` are readable now; those in `later` arrive when the reader waits.
class ScriptedStream final : public net::Stream {
public:
    std::string arrived;
    std::string later;
    std::string written;
    int waits = 0;
    int reads_without_waiting = 0;

    std::size_t read_some(char* buf, std::size_t n) override {
        const std::size_t taken = std::min(n, arrived.size());
        std::memcpy(buf, arrived.data(), taken);
        arrived.erase(0, taken);
        return taken; // nothing left: the end of the stream
    }
    std::optional<std::size_t> read_some_until(char* buf, std::size_t n,
                                               net::Deadline deadline) override {
        EXPECT_LE(deadline, Clock::now()) << "only ever asked for what is there now";
        ++reads_without_waiting;
        if (arrived.empty()) return std::nullopt;
        return read_some(buf, n);
    }
    bool wait_readable(net::Deadline) override {
        ++waits;
        arrived += std::exchange(later, {});
        return true;
    }
    void write_all(const char* data, std::size_t n) override { written.append(data, n); }
    std::size_t write_some_now(const char* data, std::size_t n) override {
        written.append(data, n);
        return n;
    }
    net::Readiness wait(bool, bool, int, net::Deadline) override { return {}; }
    void shutdown_write() override {}
    void abort() noexcept override {}
    std::string local_address() const override { return "local"; }
    std::string remote_address() const override { return "remote"; }
};

// A server handshake over a scripted stream: what it got, and the calls it made.
struct Scripted {
    HandshakeResult result;
    int reads_without_waiting = 0;
    int waits = 0;
};

Scripted run_scripted(std::string arrived, std::string later, PeerBytes peer_bytes) {
    ScriptedStream stream;
    stream.arrived = std::move(arrived);
    stream.later = std::move(later);
    ServerProtocol engine;
    Scripted out;
    out.result = run_handshake(engine, stream, Clock::now() + generous, "test", peer_bytes);
    out.reads_without_waiting = stream.reads_without_waiting;
    out.waits = stream.waits;
    return out;
}

TEST(RunHandshake, AServerThatExpectsTheRequestReadsItWithoutWaitingFirst) {
    const auto run = run_scripted(request_bytes, "", PeerBytes::likely_in);
    ASSERT_TRUE(run.result.request);
    EXPECT_EQ(run.result.request->target, "/chat");
    EXPECT_EQ(run.reads_without_waiting, 1);
    EXPECT_EQ(run.waits, 0);
}

TEST(RunHandshake, ARequestNotInYetIsWaitedFor) {
    const auto run = run_scripted("", request_bytes, PeerBytes::likely_in);
    ASSERT_TRUE(run.result.request);
    EXPECT_EQ(run.result.request->target, "/chat");
    EXPECT_EQ(run.reads_without_waiting, 1);
    EXPECT_EQ(run.waits, 1);
}

TEST(RunHandshake, OnlyTheFirstReadLooksBeforeWaiting) {
    const auto half = request_bytes.size() / 2;
    const auto run = run_scripted(request_bytes.substr(0, half), request_bytes.substr(half),
                                  PeerBytes::likely_in);
    ASSERT_TRUE(run.result.request);
    EXPECT_EQ(run.reads_without_waiting, 1);
    EXPECT_EQ(run.waits, 1);
}

TEST(RunHandshake, AnAwaitedAnswerIsWaitedForBeforeEachRead) {
    const auto run = run_scripted(request_bytes, "", PeerBytes::awaited);
    ASSERT_TRUE(run.result.request);
    EXPECT_EQ(run.reads_without_waiting, 0);
    EXPECT_EQ(run.waits, 1);
}

struct LoopbackPair {
    std::unique_ptr<net::Stream> client;
    std::unique_ptr<net::Stream> server;
};

LoopbackPair connect_pair() {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    LoopbackPair pair;
    pair.client = net::connect_tcp("127.0.0.1", listener->port(), Clock::now() + generous);
    pair.server = listener->accept();
    return pair;
}

TEST(RunHandshake, OnASocketTheRequestAlreadyInIsRead) {
    auto pair = connect_pair();
    pair.client->write_all(request_bytes.data(), request_bytes.size());
    ServerProtocol engine;
    const auto result =
        run_handshake(engine, *pair.server, Clock::now() + generous, "test", PeerBytes::likely_in);
    ASSERT_TRUE(result.request);
    EXPECT_EQ(result.request->target, "/chat");
}

TEST(RunHandshake, OnASocketASilentClientStillTimesOut) {
    auto pair = connect_pair();
    ServerProtocol engine;
    try {
        run_handshake(engine, *pair.server, Clock::now() + 100ms, "the test handshake",
                      PeerBytes::likely_in);
        FAIL() << "returned without a request";
    } catch (const Timeout& e) {
        EXPECT_STREQ(e.what(), "timed out during the test handshake");
    }
}

TEST(RunHandshake, OnASocketAClientThatLeftEndsTheHandshakeWithoutARequest) {
    auto pair = connect_pair();
    pair.client.reset();
    ServerProtocol engine;
    const auto result =
        run_handshake(engine, *pair.server, Clock::now() + generous, "test", PeerBytes::likely_in);
    EXPECT_FALSE(result.request);
}

} // namespace
} // namespace syncws::test
