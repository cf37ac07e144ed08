// The byte-stream abstraction the runtime reads and writes: TCP, Unix sockets and TLS all
// implement it. It knows nothing of WebSocket.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace syncws::net {

/// A point in time after which an operation gives up with `syncws::Timeout`.
/// `Deadline::max()` means "no deadline".
using Deadline = std::chrono::steady_clock::time_point;

/// What `Stream::wait` saw. All false: the deadline passed (or, for TLS, reading produced
/// bytes to send: see `has_backlog`).
struct Readiness {
    bool readable = false; ///< `read_some` returns without blocking (data, end, error, abort)
    bool writable = false; ///< `write_some_now` can take bytes
    bool woken = false;    ///< the wake-up descriptor is readable (the caller drains it)
};

/// A connected, bidirectional byte stream with blocking calls, and the non-blocking calls an
/// event loop of one thread needs (`wait`, `write_some_now`).
///
/// Thread safety: one thread at a time reads (`read_some`, `wait`, `wait_readable`: the
/// reader) and one at a time writes (`write_all`, `write_some_now`, `shutdown_write*`); the
/// caller serializes each side, and the writing side may move between threads. `abort`,
/// `has_backlog`, `local_address` and `remote_address` may be called from any thread at any
/// time. The object must outlive every call in progress: the owner joins its threads before
/// destroying it.
class Stream {
public:
    Stream() = default;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    virtual ~Stream() = default;

    /// Reads at least one byte into `buf` (at most `n`), blocking until some arrive.
    /// Returns 0 at the end of the stream (the peer half-closed, or `abort()` was called).
    /// Throws: `NetworkError` (reset, …), `TlsError` for TLS streams.
    virtual std::size_t read_some(char* buf, std::size_t n) = 0;

    /// Writes all `n` bytes, blocking while the peer does not read.
    /// Throws: `NetworkError` (including after `abort()`), `TlsError` for TLS streams.
    virtual void write_all(const char* data, std::size_t n) = 0;

    /// Writes what the operating system takes now, never blocking, and returns how many of
    /// the `n` bytes were taken (0 when its buffer is full). Bytes the stream holds back
    /// (`has_backlog`) go out first; while some remain, nothing new is taken. With `n` = 0
    /// it only tries the backlog. A TLS stream takes plaintext only when it could encrypt it,
    /// and keeps the records that did not fit as backlog.
    /// Throws like `write_all`.
    virtual std::size_t write_some_now(const char* data, std::size_t n) = 0;

    /// True while the stream holds bytes that must still reach the operating system: records
    /// that did not fit (TLS), or output TLS produced while reading (alerts, such as refusals
    /// of renegotiation; OpenSSL sends a KeyUpdate's answer with the next application data
    /// instead). The owner sends them with `write_some_now(nullptr, 0)` when `wait` says
    /// writable. Always false for plain sockets.
    virtual bool has_backlog() const { return false; }
    /// True if the peer answers our half-close with bytes of its own (TLS: its
    /// close_notify). Closing the socket before they arrive would make the kernel answer
    /// them with a reset; a plain TCP peer sends only its FIN, which a closed socket takes.
    virtual bool half_close_is_answered() const { return false; }

    /// `read_some` that gives up at `deadline`: nothing, when it passed (or, for TLS, when
    /// reading produced bytes to send: see `has_backlog`). Past the deadline already, it
    /// still takes what is there without blocking. For a loop that only waits to
    /// read: a plain socket does it in one system call instead of `wait` then `read_some`.
    /// The reader's side. Throws like `read_some`.
    virtual std::optional<std::size_t> read_some_until(char* buf, std::size_t n,
                                                       Deadline deadline) {
        if (!wait(true, false, -1, deadline).readable) return std::nullopt;
        return read_some(buf, n);
    }

    /// Blocks until one of the asked conditions holds or `deadline` passes: readable (if
    /// `read`), writable (if `write`), or `wake_fd` readable (if >= 0; the caller's
    /// eventfd or pipe, which it drains itself). An aborted stream is readable. A TLS stream
    /// is readable only when plaintext, the end or an error is there, not a partial record;
    /// it also returns (all false) as soon as reading produced output to send. The reader's
    /// side. Never throws for the connection's own errors: those surface in `read_some`.
    virtual Readiness wait(bool read, bool write, int wake_fd, Deadline deadline) = 0;

    /// Half-closes: the peer's `read_some` returns 0 once it has read everything written
    /// before. Reading goes on. For TLS, sends close_notify first (a blocking write of a few
    /// bytes: call it once the backlog is out).
    /// Throws: `NetworkError`, `TlsError`.
    virtual void shutdown_write() = 0;

    /// `shutdown_write` for an event loop: never blocks. True once the half-close is done;
    /// false while bytes it queued (TLS: close_notify) wait in the backlog: wait for
    /// writable, send them with `write_some_now(nullptr, 0)`, and call it again. The default
    /// calls `shutdown_write`, which for a plain socket never blocks.
    /// Throws: `NetworkError`, `TlsError`.
    virtual bool shutdown_write_now() {
        shutdown_write();
        return true;
    }

    /// Wakes a `read_some`, `wait`, `wait_readable` or `write_all` blocked in another thread
    /// and makes every later call end at once: reads return 0, writes throw `NetworkError`
    /// (`std::errc::operation_canceled`). Idempotent; never throws. The file descriptor stays
    /// open until the destructor (closing it under a blocked thread would be a race: the
    /// number could be reused by another open).
    virtual void abort() noexcept = 0;

    /// Blocks until `read_some` would return without blocking (data, end of stream, error or
    /// abort): true; or until `deadline` passes: false. The reader's side, like `read_some`.
    /// This bounds the opening handshakes (TLS, HTTP); once open, the runtime uses `wait`.
    virtual bool wait_readable(Deadline deadline) = 0;

    /// This end's address: "127.0.0.1:8080", "[::1]:8080", a Unix socket path, or "" for an
    /// unnamed Unix socket.
    virtual std::string local_address() const = 0;

    /// The peer's address, in the same format.
    virtual std::string remote_address() const = 0;
};

} // namespace syncws::net
