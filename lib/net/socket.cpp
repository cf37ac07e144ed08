#include "socket.hpp"

#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

namespace syncws::net {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
}

int FileDescriptor::release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

void FileDescriptor::reset(int fd) noexcept {
    if (fd_ >= 0) {
        // POSIX leaves the descriptor state unspecified after EINTR; Linux always closes
        // it, so retrying could close someone else's descriptor.
        ::close(fd_);
    }
    fd_ = fd;
}

namespace detail {

int poll_timeout_ms(Deadline deadline) {
    if (deadline == Deadline::max()) return -1;
    auto now = std::chrono::steady_clock::now();
    if (deadline <= now) return 0;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

long long elapsed_ms(Deadline start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

short poll_one(int fd, short events, Deadline deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int timeout = poll_timeout_ms(deadline);
        int r = ::poll(&p, 1, timeout);
        if (r > 0) return p.revents;
        if (r == 0) {
            // poll() may wake a little early with a rounded timeout; only the clock decides.
            if (poll_timeout_ms(deadline) == 0) return 0;
            continue;
        }
        if (errno != EINTR) throw_errno(errno, "poll failed");
    }
}

void set_nonblocking(int fd, bool nonblocking) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) throw_errno(errno, "fcntl(F_GETFL) failed");
    int wanted = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) {
        throw_errno(errno, "fcntl(F_SETFL) failed");
    }
}

void throw_errno(int errno_value, const std::string& what) {
    throw NetworkError(std::error_code(errno_value, std::system_category()), what);
}

} // namespace detail

namespace {

std::string socket_name(int fd, bool peer) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    auto* sa = reinterpret_cast<sockaddr*>(&address);
    int r = peer ? ::getpeername(fd, sa, &length) : ::getsockname(fd, sa, &length);
    if (r < 0) return {};
    return format_address(sa, length);
}

} // namespace

SocketStream::SocketStream(FileDescriptor fd)
    : fd_(std::move(fd)), local_address_(socket_name(fd_.get(), false)),
      remote_address_(socket_name(fd_.get(), true)) {}

std::size_t SocketStream::read_some(char* buf, std::size_t n) {
    if (n == 0) return 0;
    for (;;) {
        if (aborted_.load(std::memory_order_acquire)) return 0;
        ssize_t r = ::recv(fd_.get(), buf, n, 0);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        if (aborted_.load(std::memory_order_acquire)) return 0;
        detail::throw_errno(errno, "read from " + remote_address_ + " failed");
    }
}

void SocketStream::write_all(const char* data, std::size_t n) {
    while (n > 0) {
        if (aborted_.load(std::memory_order_acquire)) {
            detail::throw_errno(ECANCELED, "write to " + remote_address_ + " aborted");
        }
        ssize_t r = ::send(fd_.get(), data, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = aborted_.load(std::memory_order_acquire) ? ECANCELED : errno;
            detail::throw_errno(e, "write to " + remote_address_ + " failed");
        }
        data += r;
        n -= static_cast<std::size_t>(r);
    }
}

void SocketStream::shutdown_write() {
    if (::shutdown(fd_.get(), SHUT_WR) < 0 && errno != ENOTCONN) {
        detail::throw_errno(errno, "shutdown of " + remote_address_ + " failed");
    }
}

void SocketStream::abort() noexcept {
    aborted_.store(true, std::memory_order_release);
    // Wakes the reader (recv returns 0) and the writer (EPIPE); the descriptor stays valid.
    ::shutdown(fd_.get(), SHUT_RDWR);
}

bool SocketStream::wait_readable(Deadline deadline) {
    if (aborted_.load(std::memory_order_acquire)) return true;
    return detail::poll_one(fd_.get(), POLLIN, deadline) != 0;
}

} // namespace syncws::net
