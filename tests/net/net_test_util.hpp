// Helpers shared by the lib/net tests: loopback pairs, deadlines, bounded waits.
#pragma once

#include "listener.hpp"
#include "stream.hpp"
#include "tcp.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace syncws::test {

using namespace std::chrono_literals;

/// Passes if `text` contains `needle`; the failure message shows both.
inline ::testing::AssertionResult contains(std::string_view text, std::string_view needle) {
    if (text.find(needle) != std::string_view::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "\"" << text << "\" does not contain \"" << needle << "\"";
}

/// How long a test waits for something that should happen at once: long enough for a slow,
/// loaded CI machine, reached only when the test fails.
inline constexpr std::chrono::seconds generous = std::chrono::seconds(20);

inline net::Deadline in(std::chrono::milliseconds d) {
    return std::chrono::steady_clock::now() + d;
}

/// Runs `f` on a new thread; the future carries its result or exception.
template <class F> auto run_async(F&& f) {
    return std::async(std::launch::async, std::forward<F>(f));
}

/// True if `future` is ready within `generous`.
template <class T> bool finishes(std::future<T>& future) {
    return future.wait_for(generous) == std::future_status::ready;
}

/// A connected TCP pair over `host` (a loopback literal) and an ephemeral port.
struct StreamPair {
    std::unique_ptr<net::SocketStream> client;
    std::unique_ptr<net::SocketStream> server;
};

inline StreamPair tcp_pair(const std::string& host = "127.0.0.1") {
    auto listener = net::Listener::tcp(host, 0);
    StreamPair pair;
    pair.client = net::connect_tcp(host, listener->port(), in(generous));
    pair.server = listener->accept();
    return pair;
}

/// True if this machine can listen on ::1.
inline bool have_ipv6_loopback() {
    try {
        net::Listener::tcp("::1", 0);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

/// Reads exactly `n` bytes (fewer if the stream ends first).
inline std::string read_exactly(net::Stream& stream, std::size_t n) {
    std::string out(n, '\0');
    std::size_t have = 0;
    while (have < n) {
        std::size_t r = stream.read_some(out.data() + have, n - have);
        if (r == 0) break;
        have += r;
    }
    out.resize(have);
    return out;
}

/// Reads until the end of the stream.
inline std::string read_to_end(net::Stream& stream) {
    std::string out;
    char buf[16384];
    while (std::size_t r = stream.read_some(buf, sizeof buf))
        out.append(buf, r);
    return out;
}

/// `n` bytes of a pattern that catches reordering, loss and duplication.
inline std::string pattern(std::size_t n, unsigned seed) {
    std::string out(n, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

inline void write_string(net::Stream& stream, const std::string& s) {
    stream.write_all(s.data(), s.size());
}

/// Sends `out` (in chunks of varied sizes) while reading as many bytes back, both at once on
/// two threads, as the runtime does; returns what was read.
/// `between_chunks`, if set, runs on the writer thread after each chunk.
inline std::string exchange_concurrently(net::Stream& stream, const std::string& out,
                                         std::size_t expect,
                                         const std::function<void()>& between_chunks = {}) {
    auto writer = run_async([&] {
        std::size_t sent = 0;
        std::size_t chunk = 1;
        while (sent < out.size()) {
            std::size_t n = std::min(chunk, out.size() - sent);
            stream.write_all(out.data() + sent, n);
            sent += n;
            chunk = chunk * 3 % 70001 + 1; // 1 byte to ~70 KiB, crossing record sizes
            if (between_chunks) between_chunks();
        }
    });
    std::string in_bytes = read_exactly(stream, expect);
    EXPECT_TRUE(finishes(writer));
    writer.get();
    return in_bytes;
}

/// Sends 1 MiB each way between `a` and `b`, each side reading and writing on two threads
/// at once, and checks every byte.
inline void exchange_both_ways(net::Stream& a, net::Stream& b,
                               const std::function<void()>& a_between = {},
                               const std::function<void()>& b_between = {}) {
    const std::string a_out = pattern(1 << 20, 1);
    const std::string b_out = pattern(1 << 20, 2);
    auto b_side =
        run_async([&] { return exchange_concurrently(b, b_out, a_out.size(), b_between); });
    std::string a_in = exchange_concurrently(a, a_out, b_out.size(), a_between);
    ASSERT_TRUE(finishes(b_side));
    std::string b_in = b_side.get();
    EXPECT_TRUE(a_in == b_out) << "a received " << a_in.size() << " bytes, not the expected";
    EXPECT_TRUE(b_in == a_out) << "b received " << b_in.size() << " bytes, not the expected";
}

} // namespace syncws::test
