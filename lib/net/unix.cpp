#include "unix.hpp"

#include <syncws/errors.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

namespace syncws::net {

namespace detail {

socklen_t make_unix_address(const std::string& path, sockaddr_storage& out) {
    sockaddr_un address{};
    // sun_path must hold the path and its terminating NUL.
    if (path.empty() || path.size() >= sizeof address.sun_path) {
        throw_errno(path.empty() ? EINVAL : ENAMETOOLONG,
                    "invalid Unix socket path \"" + path + "\"");
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    std::memcpy(&out, &address, sizeof address);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

} // namespace detail

std::unique_ptr<SocketStream> connect_unix(const std::string& path, Deadline deadline) {
    auto start = std::chrono::steady_clock::now();
    sockaddr_storage address{};
    socklen_t length = detail::make_unix_address(path, address);
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) detail::throw_errno(errno, "cannot create a Unix socket");

    // A Unix connect completes at once unless the listener's backlog is full. A non-blocking
    // connect would then fail with EAGAIN (no EINPROGRESS to poll on), so the socket stays
    // blocking and SO_SNDTIMEO, which Linux applies to connect(), bounds the wait.
    int timeout_ms = detail::poll_timeout_ms(deadline);
    if (timeout_ms == 0) {
        throw Timeout("timed out connecting to " + path + " after " +
                      std::to_string(detail::elapsed_ms(start)) + " ms");
    }
    if (timeout_ms > 0) {
        timeval tv{timeout_ms / 1000, static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    int r;
    do {
        r = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length);
    } while (r < 0 && errno == EINTR && detail::poll_timeout_ms(deadline) != 0);
    if (r < 0) {
        int e = errno;
        if (e == EAGAIN || e == EINPROGRESS || e == EINTR) {
            throw Timeout("timed out connecting to " + path + " after " +
                          std::to_string(detail::elapsed_ms(start)) + " ms");
        }
        detail::throw_errno(e, "cannot connect to " + path);
    }
    timeval zero{0, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
    return std::make_unique<SocketStream>(std::move(fd));
}

} // namespace syncws::net
