// TCP and Unix stream sockets over loopback: connect, addresses, errors, concurrent reading
// and writing, half-close, and abort() waking blocked threads.
#include "listener.hpp"
#include "net_test_util.hpp"
#include "resolve.hpp"
#include "socket.hpp"
#include "tcp.hpp"
#include "unix.hpp"

#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <net/if.h>
#include <filesystem>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace syncws::test {
namespace {

std::string temp_socket_path(const std::string& name) {
    // sun_path is short (108 bytes): keep the directory short too.
    return "/tmp/syncws_net_" + std::to_string(::getpid()) + "_" + name + ".sock";
}

// A port nobody listens on: bind one, then close it. Another process could take it in
// between, which would make the test fail, not pass wrongly.
std::uint16_t closed_port() {
    return net::Listener::tcp("127.0.0.1", 0)->port();
}

TEST(TcpStream, Ipv4LoopbackEchoAndAddresses) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    ASSERT_NE(listener->port(), 0);
    auto client = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    auto server = listener->accept();
    ASSERT_TRUE(server);

    std::string port = std::to_string(listener->port());
    EXPECT_EQ(client->remote_address(), "127.0.0.1:" + port);
    EXPECT_EQ(server->local_address(), "127.0.0.1:" + port);
    EXPECT_EQ(server->remote_address(), client->local_address());
    EXPECT_EQ(client->local_address().rfind("127.0.0.1:", 0), 0u) << client->local_address();

    write_string(*client, "ping");
    EXPECT_EQ(read_exactly(*server, 4), "ping");
    write_string(*server, "pong!");
    EXPECT_EQ(read_exactly(*client, 5), "pong!");
}

TEST(TcpStream, Ipv6LoopbackEchoAndAddresses) {
    if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 is not available here";
    auto listener = net::Listener::tcp("::1", 0);
    auto client = net::connect_tcp("::1", listener->port(), in(generous));
    auto server = listener->accept();
    ASSERT_TRUE(server);
    EXPECT_EQ(client->remote_address(), "[::1]:" + std::to_string(listener->port()));
    EXPECT_EQ(server->remote_address(), client->local_address());
    write_string(*client, "six");
    EXPECT_EQ(read_exactly(*server, 3), "six");

    // A bracketed literal, as it appears in URIs, works too.
    auto again = net::connect_tcp("[::1]", listener->port(), in(generous));
    EXPECT_TRUE(listener->accept());
}

TEST(TcpStream, SocketsAreNodelayAndCloseOnExec) {
    auto pair = tcp_pair();
    for (int fd : {pair.client->native_handle(), pair.server->native_handle()}) {
        int value = 0;
        socklen_t length = sizeof value;
        ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
        EXPECT_NE(value, 0);
        EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
        // Back in blocking mode after the non-blocking connect.
        EXPECT_EQ(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    }
}

TEST(TcpConnect, ResolvesLocalhost) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    // "localhost" may resolve to ::1 first, where nobody listens: the next address is tried.
    auto client = net::connect_tcp("localhost", listener->port(), in(generous));
    auto server = listener->accept();
    ASSERT_TRUE(server);
    EXPECT_EQ(client->remote_address(), "127.0.0.1:" + std::to_string(listener->port()));
}

TEST(TcpConnect, RefusedNamesHostPortAndErrno) {
    std::uint16_t port = closed_port();
    try {
        net::connect_tcp("127.0.0.1", port, in(generous));
        FAIL() << "connected to a closed port";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused);
        EXPECT_TRUE(contains(e.what(), "cannot connect to 127.0.0.1:" + std::to_string(port)));
        EXPECT_TRUE(contains(e.what(), "Connection refused"));
    }
}

TEST(TcpConnect, RefusedOnEveryAddressListsThemAll) {
    std::uint16_t port = closed_port();
    auto endpoints = net::resolve("localhost", port);
    try {
        net::connect_tcp("localhost", port, in(generous));
        FAIL() << "connected to a closed port";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused);
        EXPECT_TRUE(contains(e.what(), "cannot connect to localhost:" + std::to_string(port)));
        if (endpoints.size() > 1) {
            EXPECT_TRUE(contains(e.what(), "tried "));
        }
    }
}

TEST(TcpConnect, ExpiredDeadlineIsTimeout) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto past = std::chrono::steady_clock::now() - 1ms;
    try {
        net::connect_tcp("127.0.0.1", listener->port(), past);
        FAIL() << "connected after the deadline";
    } catch (const Timeout& e) {
        EXPECT_TRUE(contains(e.what(), "timed out connecting to 127.0.0.1:" +
                                           std::to_string(listener->port()) + " after "));
        EXPECT_TRUE(contains(e.what(), " ms"));
    }
}

TEST(TcpConnect, TimesOutWhenTheBacklogIsFull) {
    // A listener that never accepts, with the smallest backlog: once its queue is full the
    // kernel drops further SYNs, so a connect hangs until the deadline. Only loopback is
    // used; the number of connections the queue holds depends on the kernel.
    auto listener = net::Listener::tcp("127.0.0.1", 0, 0);
    std::vector<std::unique_ptr<net::SocketStream>> queued;
    for (int i = 0; i < 64; ++i) {
        auto start = std::chrono::steady_clock::now();
        try {
            queued.push_back(net::connect_tcp("127.0.0.1", listener->port(), in(300ms)));
        } catch (const Timeout& e) {
            EXPECT_GE(std::chrono::steady_clock::now() - start, 290ms);
            EXPECT_TRUE(contains(e.what(), "timed out connecting to 127.0.0.1:"));
            return;
        }
    }
    GTEST_SKIP() << "this kernel completed 64 connections to a full backlog";
}

TEST(TcpConnect, DnsFailureSaysSo) {
    // An empty label: the resolver rejects the name without sending a query.
    try {
        net::connect_tcp("bad..name", 80, in(generous));
        FAIL() << "resolved an invalid name";
    } catch (const NetworkError& e) {
        EXPECT_TRUE(contains(e.what(), "DNS lookup failed for bad..name: "));
    }
}

TEST(Resolve, LiteralsAndFormatting) {
    EXPECT_TRUE(net::is_ip_literal("127.0.0.1"));
    EXPECT_TRUE(net::is_ip_literal("::1"));
    EXPECT_TRUE(net::is_ip_literal("[::1]"));
    EXPECT_FALSE(net::is_ip_literal("localhost"));
    EXPECT_FALSE(net::is_ip_literal("1.2.3"));
    EXPECT_EQ(net::host_port("::1", 80), "[::1]:80");
    EXPECT_EQ(net::host_port("[::1]", 80), "[::1]:80");
    EXPECT_EQ(net::host_port("example.com", 443), "example.com:443");
    auto v4 = net::resolve("127.0.0.1", 8080);
    ASSERT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4[0].to_string(), "127.0.0.1:8080");
    auto v6 = net::resolve("[::1]", 8080);
    ASSERT_EQ(v6.size(), 1u);
    EXPECT_EQ(v6[0].to_string(), "[::1]:8080");
}

TEST(Resolve, FormatsEachKindOfSocketAddress) {
    const auto format = [](const auto& address, socklen_t length) {
        return net::format_address(reinterpret_cast<const sockaddr*>(&address), length);
    };
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(65535);
    ASSERT_EQ(::inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr), 1);
    EXPECT_EQ(format(v4, sizeof v4), "10.1.2.3:65535");
    EXPECT_EQ(format(v4, sizeof v4 - 1), "") << "truncated";

    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(443);
    ASSERT_EQ(::inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr), 1);
    EXPECT_EQ(format(v6, sizeof v6), "[2001:db8::1]:443");
    ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr), 1);
    EXPECT_EQ(format(v6, sizeof v6), "[::ffff:127.0.0.1]:443");
    // A link-local address names its interface (loopback's index is 1 on Linux).
    ASSERT_EQ(::inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr), 1);
    v6.sin6_scope_id = ::if_nametoindex("lo");
    ASSERT_NE(v6.sin6_scope_id, 0u);
    EXPECT_EQ(format(v6, sizeof v6), "[fe80::1%lo]:443");

    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strcpy(un.sun_path, "/tmp/app.sock");
    EXPECT_EQ(format(un, sizeof un), "/tmp/app.sock");
    const auto unnamed = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    EXPECT_EQ(format(un, unnamed), "") << "an unnamed client socket";
}

TEST(TcpStream, OneMiBEachWayWhileReadingAndWritingOnTwoThreads) {
    auto pair = tcp_pair();
    exchange_both_ways(*pair.client, *pair.server);
}

TEST(TcpStream, ShutdownWriteGivesPeerEofAndKeepsReading) {
    auto pair = tcp_pair();
    write_string(*pair.client, "last words");
    pair.client->shutdown_write();
    EXPECT_EQ(read_to_end(*pair.server), "last words");
    // Half-closed: the other direction still works.
    write_string(*pair.server, "reply");
    pair.server->shutdown_write();
    EXPECT_EQ(read_to_end(*pair.client), "reply");
}

TEST(TcpStream, AbortWakesABlockedRead) {
    auto pair = tcp_pair();
    auto reader = run_async([&] {
        char buf[16];
        return pair.server->read_some(buf, sizeof buf);
    });
    // Whether the reader is already blocked or not yet, it must end with 0.
    pair.server->abort();
    ASSERT_TRUE(finishes(reader));
    EXPECT_EQ(reader.get(), 0u);
    char buf[1];
    EXPECT_EQ(pair.server->read_some(buf, 1), 0u) << "reads after abort() return 0";
    pair.server->abort(); // idempotent
}

TEST(TcpStream, AbortWakesABlockedWrite) {
    auto pair = tcp_pair();
    // The peer never reads: after a few megabytes of socket buffers the write blocks.
    auto writer = run_async([&] {
        std::string chunk(1 << 20, 'x');
        for (;;)
            pair.server->write_all(chunk.data(), chunk.size());
    });
    pair.server->abort();
    ASSERT_TRUE(finishes(writer));
    try {
        writer.get();
        FAIL() << "the write loop ended without an error";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::operation_canceled) << e.what();
    }
}

TEST(TcpStream, AbortWakesWaitReadable) {
    auto pair = tcp_pair();
    auto waiter = run_async([&] { return pair.server->wait_readable(net::Deadline::max()); });
    pair.server->abort();
    ASSERT_TRUE(finishes(waiter));
    EXPECT_TRUE(waiter.get());
}

TEST(TcpStream, WaitReadableHonoursTheDeadline) {
    auto pair = tcp_pair();
    EXPECT_FALSE(pair.server->wait_readable(in(20ms)));
    write_string(*pair.client, "x");
    EXPECT_TRUE(pair.server->wait_readable(in(generous)));
}

TEST(TcpStream, ResetByPeerIsNetworkError) {
    auto pair = tcp_pair();
    // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    linger reset{1, 0};
    ASSERT_EQ(
        ::setsockopt(pair.server->native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    pair.server.reset();
    try {
        char buf[8];
        std::size_t n = pair.client->read_some(buf, sizeof buf);
        // gVisor and some kernels report the reset as EOF on the first read; a write then
        // fails.
        EXPECT_EQ(n, 0u);
        for (int i = 0; i < 100; ++i)
            write_string(*pair.client, "are you there?");
        FAIL() << "writes to a reset connection succeeded";
    } catch (const NetworkError& e) {
        EXPECT_TRUE(contains(e.what(), "127.0.0.1:"));
    }
}

// ---------------------------------------------------------------------------------------------
// The event loop's calls: write_some_now and wait

// An eventfd for wait()'s wake_fd, closed at the end of the test.
struct WakeFd {
    net::FileDescriptor fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    void ring() const {
        std::uint64_t one = 1;
        ASSERT_EQ(::write(fd.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
    }
};

bool all_false(const net::Readiness& r) {
    return !r.readable && !r.writable && !r.woken;
}

// Writes `source` from `sent` on with write_some_now until the stream takes nothing, stays
// unwritable for a while, and still takes nothing: acknowledgements of bytes in flight free
// some room after the first 0, and poll() reports writable only once a good part is free.
void fill_until_full(net::Stream& stream, const std::string& source, std::size_t& sent) {
    bool quiet = false;
    for (;;) {
        ASSERT_LT(sent, source.size()) << "the peer's buffers took everything";
        std::size_t want = std::min<std::size_t>(16384, source.size() - sent);
        std::size_t n = stream.write_some_now(source.data() + sent, want);
        ASSERT_LE(n, want);
        sent += n;
        if (n > 0) {
            quiet = false;
            continue;
        }
        if (quiet) return;
        net::Readiness r = stream.wait(false, true, -1, in(100ms));
        EXPECT_FALSE(r.readable || r.woken);
        quiet = !r.writable;
    }
}

TEST(TcpStream, WriteSomeNowStopsWhenFullAndEverythingArrivesInOrder) {
    auto pair = tcp_pair();
    // The peer's receive window grows only as it reads, and our send buffer is at most
    // net.ipv4.tcp_wmem's maximum (4 MiB by default): both fill before 16 MiB run out.
    const std::string source = pattern(16 << 20, 11);
    std::size_t sent = 0;
    fill_until_full(*pair.client, source, sent);
    if (HasFatalFailure()) return;
    EXPECT_GT(sent, 0u);
    // Full: nothing taken, nothing blocks.
    const std::size_t extra =
        pair.client->write_some_now(source.data() + sent, source.size() - sent);
    sent += extra;
    EXPECT_EQ(extra, 0u);
    EXPECT_EQ(pair.client->write_some_now(nullptr, 0), 0u);
    EXPECT_FALSE(pair.client->has_backlog());

    auto reader = run_async([&] { return read_exactly(*pair.server, source.size()); });
    while (sent < source.size()) {
        net::Readiness r = pair.client->wait(false, true, -1, in(generous));
        ASSERT_TRUE(r.writable) << "not writable again while the peer reads";
        EXPECT_FALSE(r.readable || r.woken);
        sent += pair.client->write_some_now(source.data() + sent,
                                            std::min<std::size_t>(65536, source.size() - sent));
    }
    ASSERT_TRUE(finishes(reader));
    const std::string received = reader.get();
    EXPECT_EQ(received.size(), source.size());
    EXPECT_TRUE(received == source) << "bytes lost, duplicated or reordered";
}

TEST(TcpStream, WaitReadableWhenDataArrives) {
    auto pair = tcp_pair();
    net::Readiness r = pair.server->wait(true, false, -1, in(20ms));
    EXPECT_TRUE(all_false(r)) << "readable with nothing sent";
    // Reading and writing asked at once: an idle connection is writable only.
    r = pair.server->wait(true, true, -1, in(generous));
    EXPECT_TRUE(r.writable);
    EXPECT_FALSE(r.readable || r.woken);
    write_string(*pair.client, "x");
    r = pair.server->wait(true, false, -1, in(generous));
    EXPECT_TRUE(r.readable);
    EXPECT_FALSE(r.writable || r.woken);
    EXPECT_EQ(read_exactly(*pair.server, 1), "x");
    // The end of the stream is readable too: read_some returns 0.
    pair.client->shutdown_write();
    EXPECT_TRUE(pair.server->wait(true, false, -1, in(generous)).readable);
    EXPECT_EQ(read_to_end(*pair.server), "");
}

TEST(TcpStream, WaitTimesOutWithAllFalse) {
    auto pair = tcp_pair();
    WakeFd wake;
    auto start = std::chrono::steady_clock::now();
    net::Readiness r = pair.server->wait(true, false, wake.fd.get(), in(30ms));
    EXPECT_TRUE(all_false(r));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
    // A deadline already passed polls once.
    EXPECT_TRUE(all_false(pair.server->wait(true, false, -1, in(-1ms))));
    EXPECT_TRUE(pair.server->wait(false, true, -1, in(-1ms)).writable);
}

TEST(TcpStream, WaitIsWokenByTheWakeFd) {
    auto pair = tcp_pair();
    WakeFd wake;
    wake.ring();
    net::Readiness r = pair.server->wait(true, false, wake.fd.get(), net::Deadline::max());
    EXPECT_TRUE(r.woken);
    EXPECT_FALSE(r.readable || r.writable);
    std::uint64_t count = 0;
    ASSERT_EQ(::read(wake.fd.get(), &count, sizeof count), static_cast<ssize_t>(sizeof count));

    // From another thread, while the wait blocks (or before it starts: either way it ends).
    auto waiter = run_async(
        [&] { return pair.server->wait(true, false, wake.fd.get(), net::Deadline::max()); });
    wake.ring();
    ASSERT_TRUE(finishes(waiter));
    r = waiter.get();
    EXPECT_TRUE(r.woken);
    EXPECT_FALSE(r.readable || r.writable);
}

TEST(TcpStream, AbortedStreamIsReadableAtOnce) {
    auto pair = tcp_pair();
    auto waiter =
        run_async([&] { return pair.server->wait(true, false, -1, net::Deadline::max()); });
    pair.server->abort();
    ASSERT_TRUE(finishes(waiter));
    EXPECT_TRUE(waiter.get().readable);
    // Later waits end at once, even when reading was not asked; writing throws.
    EXPECT_TRUE(pair.server->wait(true, false, -1, net::Deadline::max()).readable);
    EXPECT_TRUE(pair.server->wait(false, false, -1, net::Deadline::max()).readable);
    net::Readiness r = pair.server->wait(false, true, -1, net::Deadline::max());
    EXPECT_TRUE(r.writable);
    try {
        pair.server->write_some_now("x", 1);
        FAIL() << "write_some_now after abort()";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::operation_canceled) << e.what();
        EXPECT_TRUE(contains(e.what(), "write to 127.0.0.1:"));
    }
    char buf[1];
    EXPECT_EQ(pair.server->read_some(buf, 1), 0u);
}

TEST(TcpStream, ResetPeerMakesWaitReturnAndWriteSomeNowThrow) {
    auto pair = tcp_pair();
    linger reset{1, 0};
    ASSERT_EQ(
        ::setsockopt(pair.server->native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    pair.server.reset();
    // The reset ends a wait for reading, and one for writing.
    EXPECT_TRUE(pair.client->wait(true, false, -1, in(generous)).readable);
    EXPECT_TRUE(pair.client->wait(false, true, -1, in(generous)).writable);
    try {
        for (int i = 0; i < 100; ++i)
            pair.client->write_some_now("are you there?", 14);
        FAIL() << "write_some_now to a reset connection succeeded";
    } catch (const NetworkError& e) {
        EXPECT_TRUE(contains(e.what(), "write to 127.0.0.1:"));
        EXPECT_NE(e.code(), std::errc::operation_canceled);
    }
}

TEST(UnixStream, EchoBothWaysAndAddresses) {
    std::string path = temp_socket_path("echo");
    auto listener = net::Listener::unix_socket(path);
    EXPECT_EQ(listener->local_address(), path);
    EXPECT_EQ(listener->port(), 0);
    auto client = net::connect_unix(path, in(generous));
    auto server = listener->accept();
    ASSERT_TRUE(server);
    EXPECT_EQ(client->remote_address(), path);
    EXPECT_EQ(server->local_address(), path);
    EXPECT_EQ(client->local_address(), ""); // an unnamed client socket

    write_string(*client, "over unix");
    EXPECT_EQ(read_exactly(*server, 9), "over unix");
    exchange_both_ways(*client, *server);
    server->shutdown_write();
    EXPECT_EQ(read_to_end(*client), "");
}

TEST(UnixStream, AbortWakesABlockedRead) {
    std::string path = temp_socket_path("abort");
    auto listener = net::Listener::unix_socket(path);
    auto client = net::connect_unix(path, in(generous));
    auto server = listener->accept();
    auto reader = run_async([&] {
        char buf[16];
        return client->read_some(buf, sizeof buf);
    });
    client->abort();
    ASSERT_TRUE(finishes(reader));
    EXPECT_EQ(reader.get(), 0u);
}

TEST(UnixConnect, MissingPathIsNetworkError) {
    std::string path = temp_socket_path("missing");
    try {
        net::connect_unix(path, in(generous));
        FAIL() << "connected to nothing";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        EXPECT_TRUE(contains(e.what(), "cannot connect to " + path));
    }
}

TEST(UnixConnect, TooLongPathIsNetworkError) {
    std::string path = "/tmp/" + std::string(200, 'x');
    try {
        net::connect_unix(path, in(generous));
        FAIL() << "accepted a path longer than sun_path";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::filename_too_long);
    }
}

TEST(UnixConnect, ExpiredDeadlineIsTimeout) {
    std::string path = temp_socket_path("deadline");
    auto listener = net::Listener::unix_socket(path);
    EXPECT_THROW(net::connect_unix(path, std::chrono::steady_clock::now() - 1ms), Timeout);
}

} // namespace
} // namespace syncws::test
