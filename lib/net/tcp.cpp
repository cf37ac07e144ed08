#include "tcp.hpp"

#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>

namespace syncws::net {

namespace {

// The outcome of one connection attempt: a socket, or the errno that ended it
// (ETIMEDOUT when the deadline passed).
struct Attempt {
    FileDescriptor fd;
    int error = 0;
};

Attempt try_connect(const Endpoint& endpoint, Deadline deadline) {
    Attempt attempt;
    attempt.fd.reset(::socket(endpoint.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!attempt.fd.valid()) {
        attempt.error = errno;
        return attempt;
    }
    int fd = attempt.fd.get();
    if (detail::poll_timeout_ms(deadline) == 0) {
        attempt.error = ETIMEDOUT;
        return attempt;
    }
    int r = ::connect(fd, endpoint.data(), endpoint.length);
    if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
        attempt.error = errno;
        return attempt;
    }
    if (r < 0) {
        // A non-blocking connect finishes in the background; POLLOUT says it ended and
        // SO_ERROR says how (an interrupted connect also goes on asynchronously).
        if (detail::poll_one(fd, POLLOUT, deadline) == 0) {
            attempt.error = ETIMEDOUT;
            return attempt;
        }
        int so_error = 0;
        socklen_t length = sizeof so_error;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) < 0) so_error = errno;
        if (so_error != 0) {
            attempt.error = so_error;
            return attempt;
        }
    }
    int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        attempt.error = errno;
        return attempt;
    }
    detail::set_nonblocking(fd, false);
    return attempt;
}

} // namespace

std::unique_ptr<SocketStream> connect_tcp(std::string_view host, std::uint16_t port,
                                          Deadline deadline, const Resolver& resolver) {
    auto start = std::chrono::steady_clock::now();
    std::string target = host_port(host, port);
    std::vector<Endpoint> endpoints = resolve(resolver, host, port, deadline);

    int last_error = 0;
    std::string tried;
    for (const Endpoint& endpoint : endpoints) {
        Attempt attempt = try_connect(endpoint, deadline);
        if (attempt.error == 0) return std::make_unique<SocketStream>(std::move(attempt.fd));
        if (attempt.error == ETIMEDOUT && detail::poll_timeout_ms(deadline) == 0) {
            throw Timeout("timed out connecting to " + target + " after " +
                          std::to_string(detail::elapsed_ms(start)) + " ms");
        }
        // Every address's failure goes in the message: with "localhost" the IPv6 and IPv4
        // attempts often fail differently.
        if (!tried.empty()) tried += ", ";
        tried += endpoint.to_string() + ": " + std::system_category().message(attempt.error);
        last_error = attempt.error;
    }
    std::string what = "cannot connect to " + target;
    if (endpoints.size() > 1) what += " (tried " + tried + ")";
    detail::throw_errno(last_error, what);
}

} // namespace syncws::net
