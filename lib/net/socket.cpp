#include "socket.hpp"

#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
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

bool poll_until(pollfd* fds, std::size_t count, Deadline deadline) {
    for (;;) {
        int timeout = poll_timeout_ms(deadline);
        int r = ::poll(fds, static_cast<nfds_t>(count), timeout);
        if (r > 0) return true;
        if (r == 0) {
            // poll() may wake a little early with a rounded timeout; only the clock decides.
            if (poll_timeout_ms(deadline) == 0) return false;
            continue;
        }
        if (errno != EINTR) throw_errno(errno, "poll failed");
    }
}

short poll_one(int fd, short events, Deadline deadline) {
    pollfd p{fd, events, 0};
    return poll_until(&p, 1, deadline) ? p.revents : 0;
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

SocketStream::SocketStream(FileDescriptor fd, std::string remote_address,
                           std::optional<std::string> local_address)
    : fd_(std::move(fd)),
      local_address_(local_address ? std::move(*local_address) : socket_name(fd_.get(), false)),
      remote_address_(std::move(remote_address)) {}

std::size_t SocketStream::read_some(char* buf, std::size_t n) {
    if (n == 0) return 0;
    for (;;) {
        if (aborted_.load(std::memory_order_acquire)) return 0;
        ssize_t r = ::recv(fd_.get(), buf, n, 0);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        // A receive timeout read_some_until left set: read_some has none.
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && read_timeout_.count() > 0) continue;
        if (aborted_.load(std::memory_order_acquire)) return 0;
        detail::throw_errno(errno, "read from " + remote_address_ + " failed");
    }
}

bool SocketStream::arm_read_timeout(Deadline deadline) {
    using std::chrono::microseconds;
    microseconds wanted{0};
    if (deadline != Deadline::max()) {
        const auto now = std::chrono::steady_clock::now();
        if (deadline <= now) return false;
        wanted = std::chrono::ceil<microseconds>(deadline - now);
        // The one set still ends after the deadline (never early) and not too late.
        const auto slack = std::max<microseconds>(std::chrono::milliseconds(1), wanted / 32);
        if (read_timeout_ >= wanted && read_timeout_ - wanted <= slack) return true;
    } else if (read_timeout_.count() == 0) {
        return true;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(wanted.count() / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(wanted.count() % 1000000);
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        detail::throw_errno(errno, "setting the receive timeout of " + remote_address_);
    read_timeout_ = wanted;
    return true;
}

std::optional<std::size_t> SocketStream::read_some_until(char* buf, std::size_t n,
                                                         Deadline deadline) {
    if (n == 0) return 0;
    for (;;) {
        if (aborted_.load(std::memory_order_acquire)) return 0;
        // Past the deadline it still looks once, as a poll() with no time left would.
        const bool passed = !arm_read_timeout(deadline);
        ssize_t r = ::recv(fd_.get(), buf, n, passed ? MSG_DONTWAIT : 0);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (passed && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue; // re-armed
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

std::size_t SocketStream::write_some_now(const char* data, std::size_t n) {
    if (aborted_.load(std::memory_order_acquire)) {
        detail::throw_errno(ECANCELED, "write to " + remote_address_ + " aborted");
    }
    if (n == 0) return 0;
    for (;;) {
        ssize_t r = ::send(fd_.get(), data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        int e = aborted_.load(std::memory_order_acquire) ? ECANCELED : errno;
        detail::throw_errno(e, "write to " + remote_address_ + " failed");
    }
}

Readiness SocketStream::wait(bool read, bool write, int wake_fd, Deadline deadline) {
    Readiness ready;
    if (!aborted_.load(std::memory_order_acquire)) {
        auto events = static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0));
        // With no event asked, poll() still reports POLLHUP and POLLERR: a dead connection
        // (and abort(), whose shutdown() gives POLLHUP) ends the wait.
        pollfd fds[2] = {{fd_.get(), events, 0}, {wake_fd, POLLIN, 0}};
        if (!detail::poll_until(fds, wake_fd >= 0 ? 2 : 1, deadline)) return ready;
        const short revents = fds[0].revents;
        const bool dead = (revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
        ready.readable = (read && (dead || (revents & POLLIN) != 0)) || (!read && !write && dead);
        ready.writable = write && (dead || (revents & POLLOUT) != 0);
        ready.woken = wake_fd >= 0 && fds[1].revents != 0;
        if (!aborted_.load(std::memory_order_acquire)) return ready;
    }
    ready.readable = true;  // read_some returns 0 at once
    ready.writable = write; // write_some_now throws ECANCELED at once
    return ready;
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
