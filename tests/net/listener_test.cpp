// Listeners: ephemeral ports, dual stack, adopted descriptors, Unix socket files, and
// close() waking blocked accept() calls.
#include "listener.hpp"
#include "net_test_util.hpp"
#include "tcp.hpp"
#include "unix.hpp"

#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace syncws::test {
namespace {

std::string temp_socket_path(const std::string& name) {
    return "/tmp/syncws_listener_" + std::to_string(::getpid()) + "_" + name + ".sock";
}

bool path_exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

TEST(Listener, EphemeralPortIsReported) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    EXPECT_NE(listener->port(), 0);
    EXPECT_EQ(listener->local_address(), "127.0.0.1:" + std::to_string(listener->port()));
    EXPECT_NE(::fcntl(listener->native_handle(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(Listener, AddressInUseNamesTheAddress) {
    auto first = net::Listener::tcp("127.0.0.1", 0);
    try {
        net::Listener::tcp("127.0.0.1", first->port());
        FAIL() << "two listeners on one port";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_TRUE(
            contains(e.what(), "cannot listen on 127.0.0.1:" + std::to_string(first->port())));
    }
}

TEST(Listener, WildcardIsDualStack) {
    if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 is not available here";
    auto listener = net::Listener::tcp("", 0);
    EXPECT_EQ(listener->local_address(), "[::]:" + std::to_string(listener->port()));
    auto v4 = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    auto accepted_v4 = listener->accept();
    ASSERT_TRUE(accepted_v4);
    // IPv4 peers of a dual-stack socket appear as IPv4-mapped IPv6 addresses.
    EXPECT_EQ(accepted_v4->remote_address(),
              "[::ffff:" + v4->local_address().substr(0, 9) + "]" + v4->local_address().substr(9));
    // The local address is the one the client reached, not the wildcard.
    EXPECT_EQ(accepted_v4->local_address(), "[::ffff:127.0.0.1]:" + std::to_string(listener->port()));
    auto v6 = net::connect_tcp("::1", listener->port(), in(generous));
    auto accepted_v6 = listener->accept();
    ASSERT_TRUE(accepted_v6);
    EXPECT_EQ(accepted_v6->remote_address(), v6->local_address());
    EXPECT_EQ(accepted_v6->local_address(), v6->remote_address());
}

TEST(ConnectTcp, ResolvesWithTheResolverItIsGiven) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    std::string asked;
    const net::Resolver resolver = [&](std::string_view host, std::uint16_t port,
                                       net::Deadline) {
        asked = std::string(host) + ":" + std::to_string(port);
        return net::resolve("127.0.0.1", port);
    };
    auto client = net::connect_tcp("service.example", listener->port(), in(generous), resolver);
    EXPECT_EQ(asked, "service.example:" + std::to_string(listener->port()));
    auto accepted = listener->accept();
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->remote_address(), client->local_address());
    const net::Resolver timing_out = [](std::string_view, std::uint16_t, net::Deadline)
        -> std::vector<net::Endpoint> { throw Timeout("DNS lookup for slow.example timed out"); };
    EXPECT_THROW(net::connect_tcp("slow.example", listener->port(), in(generous), timing_out),
                 Timeout);
}

TEST(Listener, ExplicitIpv6HostIsIpv6Only) {
    if (!have_ipv6_loopback()) GTEST_SKIP() << "::1 is not available here";
    auto listener = net::Listener::tcp("::1", 0);
    EXPECT_EQ(listener->local_address(), "[::1]:" + std::to_string(listener->port()));
    EXPECT_THROW(net::connect_tcp("127.0.0.1", listener->port(), in(generous)), NetworkError);
}

TEST(Listener, CloseWakesABlockedAccept) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto acceptor = run_async([&] { return listener->accept(); });
    listener->close();
    ASSERT_TRUE(finishes(acceptor));
    EXPECT_EQ(acceptor.get(), nullptr);
    EXPECT_TRUE(listener->closed());
}

TEST(Listener, CloseWakesEveryAcceptorAndLaterAccepts) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto a = run_async([&] { return listener->accept(); });
    auto b = run_async([&] { return listener->accept(); });
    listener->close();
    listener->close(); // idempotent
    ASSERT_TRUE(finishes(a));
    ASSERT_TRUE(finishes(b));
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_EQ(b.get(), nullptr);
    // The wake-up is sticky: an accept() that starts after close() returns at once.
    auto late = run_async([&] { return listener->accept(); });
    ASSERT_TRUE(finishes(late));
    EXPECT_EQ(late.get(), nullptr);
}

TEST(Listener, TwoAcceptorsShareConnections) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto a = run_async([&] { return listener->accept(); });
    auto b = run_async([&] { return listener->accept(); });
    auto c1 = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    auto c2 = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    ASSERT_TRUE(finishes(a));
    ASSERT_TRUE(finishes(b));
    auto s1 = a.get();
    auto s2 = b.get();
    ASSERT_TRUE(s1);
    ASSERT_TRUE(s2);
    EXPECT_NE(s1->remote_address(), s2->remote_address());
}

TEST(Listener, AdoptsAListeningDescriptor) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    auto listener = net::Listener::adopt(fd);
    EXPECT_EQ(listener->native_handle(), fd);
    EXPECT_NE(listener->port(), 0);
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);

    auto client = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    auto server = listener->accept();
    ASSERT_TRUE(server);
    write_string(*client, "adopted");
    EXPECT_EQ(read_exactly(*server, 7), "adopted");

    // Closing wakes an adopted socket's acceptor without shutting the socket down: whoever
    // passed it (systemd) may still use it.
    auto acceptor = run_async([&] { return listener->accept(); });
    listener->close();
    ASSERT_TRUE(finishes(acceptor));
    EXPECT_EQ(acceptor.get(), nullptr);
    auto late = net::connect_tcp("127.0.0.1", listener->port(), in(generous));
    EXPECT_GE(::accept(fd, nullptr, nullptr), 0) << "the adopted socket still listens";
}

TEST(Listener, AdoptRefusesASocketThatDoesNotListen) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    try {
        net::Listener::adopt(fd);
        FAIL() << "adopted a socket that does not listen";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::invalid_argument);
        EXPECT_TRUE(contains(e.what(), "not a listening socket"));
    }
    // Ownership passed even on failure: the descriptor is closed.
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST(UnixListener, CreatesAndRemovesTheSocketFile) {
    std::string path = temp_socket_path("lifecycle");
    {
        auto listener = net::Listener::unix_socket(path);
        EXPECT_TRUE(path_exists(path));
        auto client = net::connect_unix(path, in(generous));
        auto server = listener->accept();
        ASSERT_TRUE(server);
        write_string(*server, "hi");
        EXPECT_EQ(read_exactly(*client, 2), "hi");
        listener->close();
        EXPECT_FALSE(path_exists(path)) << "close() removes the socket file";
    }
    {
        auto listener = net::Listener::unix_socket(path);
        EXPECT_TRUE(path_exists(path));
    }
    EXPECT_FALSE(path_exists(path)) << "the destructor removes the socket file";
}

TEST(UnixListener, RemovesAStaleSocketFile) {
    std::string path = temp_socket_path("stale");
    // A socket bound and closed without unlinking: what a crashed server leaves behind.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
    ASSERT_TRUE(path_exists(path));

    auto listener = net::Listener::unix_socket(path);
    auto client = net::connect_unix(path, in(generous));
    EXPECT_TRUE(listener->accept());
}

TEST(UnixListener, RefusesAPathInUse) {
    std::string path = temp_socket_path("live");
    auto first = net::Listener::unix_socket(path);
    try {
        net::Listener::unix_socket(path);
        FAIL() << "replaced a live socket";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_TRUE(contains(e.what(), "a server is listening there"));
    }
    // The first listener still works.
    auto client = net::connect_unix(path, in(generous));
    EXPECT_TRUE(first->accept());
}

TEST(UnixListener, RefusesToReplaceARegularFile) {
    std::string path = temp_socket_path("regular");
    std::ofstream(path) << "precious";
    try {
        net::Listener::unix_socket(path);
        FAIL() << "replaced a regular file";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_TRUE(contains(e.what(), "not a socket"));
    }
    EXPECT_TRUE(path_exists(path));
    ::unlink(path.c_str());
}

TEST(UnixListener, KeepsAFileThatReplacedItsSocket) {
    std::string path = temp_socket_path("replaced");
    auto listener = net::Listener::unix_socket(path);
    ::unlink(path.c_str());
    std::ofstream(path) << "someone else's";
    listener->close();
    EXPECT_TRUE(path_exists(path)) << "only our own socket file is removed";
    ::unlink(path.c_str());
}

TEST(UnixListener, CloseWakesABlockedAccept) {
    auto listener = net::Listener::unix_socket(temp_socket_path("wake"));
    auto acceptor = run_async([&] { return listener->accept(); });
    listener->close();
    ASSERT_TRUE(finishes(acceptor));
    EXPECT_EQ(acceptor.get(), nullptr);
}

} // namespace
} // namespace syncws::test
