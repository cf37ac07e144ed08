// File descriptors and the socket-backed Stream shared by TCP and Unix sockets.
#pragma once

#include "stream.hpp"

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>

struct pollfd;

namespace syncws::net {

/// Owns a file descriptor and closes it on destruction. Move-only.
class FileDescriptor {
public:
    FileDescriptor() noexcept = default;
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    /// Gives up ownership and returns the descriptor.
    int release() noexcept;
    /// Closes the descriptor (if any) and takes `fd`.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

/// A connected stream socket (TCP or Unix domain): the plain `Stream`.
///
/// The socket is in blocking mode; `write_some_now` passes `MSG_DONTWAIT` per call instead,
/// so the blocking calls stay blocking. `abort()` uses `shutdown(SHUT_RDWR)`, which wakes a
/// blocked `recv`/`send`/`poll` on Linux, and the descriptor is closed only by the destructor.
/// Sends use `MSG_NOSIGNAL`, so a closed peer gives `EPIPE`, never `SIGPIPE`.
///
/// `wait` reports a dead connection (POLLHUP, POLLERR) as readable when reading was asked and
/// as writable when writing was, so that `read_some` or `write_some_now` reports the error. An
/// aborted stream, or a dead one when neither side was asked, is reported readable even if
/// reading was not asked: the end is news the owner must not miss.
///
/// Thread safety: as `Stream` (one reader, one writer, `abort` from anywhere).
class SocketStream final : public Stream {
public:
    /// Takes ownership of a connected socket `fd` (blocking mode, close-on-exec already set)
    /// and records its addresses.
    explicit SocketStream(FileDescriptor fd);
    /// The same, with the peer's address known already (accept(2) tells it), and perhaps
    /// the local one (a listener bound to one address knows it): no system call for those.
    SocketStream(FileDescriptor fd, std::string remote_address,
                 std::optional<std::string> local_address);
    ~SocketStream() override = default;

    std::size_t read_some(char* buf, std::size_t n) override;
    /// A blocking `recv` bounded by `SO_RCVTIMEO`, which is relative to each call: it is set
    /// again only when the deadline moved, or when reusing it would end later past the
    /// deadline than 1/32 of the time to it (a keepalive 20 s away: 0.6 s). A busy
    /// connection pays a `setsockopt` now and then, not a `poll` per read. The kernel runs
    /// the timeout on its coarse timer wheel: seconds away, it may fire an eighth late.
    std::optional<std::size_t> read_some_until(char* buf, std::size_t n,
                                               Deadline deadline) override;
    void write_all(const char* data, std::size_t n) override;
    std::size_t write_some_now(const char* data, std::size_t n) override;
    Readiness wait(bool read, bool write, int wake_fd, Deadline deadline) override;
    void shutdown_write() override;
    void abort() noexcept override;
    bool wait_readable(Deadline deadline) override;
    std::string local_address() const override { return local_address_; }
    std::string remote_address() const override { return remote_address_; }

    /// The socket's descriptor, still owned by this object.
    int native_handle() const noexcept { return fd_.get(); }

private:
    FileDescriptor fd_;
    std::string local_address_;
    std::string remote_address_;
    std::atomic<bool> aborted_{false};
    // The reader's: SO_RCVTIMEO as last set (zero: none, recv blocks).
    std::chrono::microseconds read_timeout_{0};

    // Sets SO_RCVTIMEO so that a recv starting now ends at `deadline`, or at most the slack
    // described at read_some_until later; false if it passed.
    bool arm_read_timeout(Deadline deadline);
};

namespace detail {

/// Milliseconds left until `deadline`, rounded up, for `poll()`: -1 (forever) for
/// `Deadline::max()`, 0 once passed, capped at INT_MAX.
int poll_timeout_ms(Deadline deadline);

/// Milliseconds elapsed since `start`, for error messages.
long long elapsed_ms(Deadline start);

/// Waits until one of the `count` descriptors of `fds` has an event or `deadline` passes;
/// retries on EINTR. Returns false on timeout (every revents 0). Entries with a negative `fd`
/// are ignored, as poll() does. Throws `NetworkError` if poll() fails.
bool poll_until(pollfd* fds, std::size_t count, Deadline deadline);

/// Waits for `events` on `fd` until `deadline`; retries on EINTR. Returns the revents, or 0
/// on timeout. Throws `NetworkError` if poll() fails.
short poll_one(int fd, short events, Deadline deadline);

/// Sets or clears O_NONBLOCK. Throws `NetworkError`.
void set_nonblocking(int fd, bool nonblocking);

/// Throws `NetworkError` for `errno_value` with message `what`.
[[noreturn]] void throw_errno(int errno_value, const std::string& what);

} // namespace detail
} // namespace syncws::net
