// The byte-stream abstraction the runtime reads and writes: TCP, Unix sockets and TLS all
// implement it. It knows nothing of WebSocket.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace syncws::net {

/// A point in time after which an operation gives up with `syncws::Timeout`.
/// `Deadline::max()` means "no deadline".
using Deadline = std::chrono::steady_clock::time_point;

/// A connected, bidirectional byte stream with blocking calls.
///
/// Thread safety: one thread may call `read_some`/`wait_readable` (the reader) while another
/// calls `write_all`/`flush`/`shutdown_write` (the writer); `abort`, `local_address` and
/// `remote_address` may be called from any thread at any time. Two readers or two writers at
/// once are not allowed. The object must outlive every call in progress: the owner joins its
/// threads before destroying it.
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

    /// Half-closes: the peer's `read_some` returns 0 once it has read everything written
    /// before. Reading goes on. For TLS, sends close_notify first.
    /// Throws: `NetworkError`, `TlsError`.
    virtual void shutdown_write() = 0;

    /// Wakes a `read_some`, `wait_readable` or `write_all` blocked in another thread and makes
    /// every later call end at once: reads return 0, writes throw `NetworkError`
    /// (`std::errc::operation_canceled`). Idempotent; never throws. The file descriptor stays
    /// open until the destructor (closing it under a blocked thread would be a race: the
    /// number could be reused by another open).
    virtual void abort() noexcept = 0;

    /// Blocks until `read_some` would return without blocking (data, end of stream, error or
    /// abort): true; or until `deadline` passes: false. The reader's side, like `read_some`.
    /// This bounds the opening handshakes (TLS, HTTP); once open, the runtime keeps its own
    /// clock and calls `abort()`.
    virtual bool wait_readable(Deadline deadline) = 0;

    /// Sends output the stream produced on its own while reading (for TLS: alerts, a
    /// refusal to renegotiate): the writer's side, like `write_all`. A no-op for plain
    /// sockets. Throws like `write_all`.
    virtual void flush() {}

    /// Registers `handler`, called on the *reader's* thread (with no stream lock held) when
    /// reading produced bytes that must be sent: it should wake the writer, which then calls
    /// `flush()`. The reader never writes itself, so it never blocks on a peer that is not
    /// reading. Without a handler those bytes leave with the next `write_all` or `flush`.
    /// Call before the reader starts. Plain sockets never call it.
    virtual void set_pending_output_handler(std::function<void()> handler) {
        static_cast<void>(handler);
    }

    /// This end's address: "127.0.0.1:8080", "[::1]:8080", a Unix socket path, or "" for an
    /// unnamed Unix socket.
    virtual std::string local_address() const = 0;

    /// The peer's address, in the same format.
    virtual std::string remote_address() const = 0;
};

} // namespace syncws::net
