// The state shared by a Connection handle, its I/O thread and the threads that use it.
#pragma once

#include "assembler.hpp"
#include "deadline.hpp"
#include "doorbell.hpp"
#include "stream.hpp"
#include "thread.hpp"

#include <syncws/connection.hpp>
#include <syncws/protocol.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace syncws::detail {

/// Runs an open engine over a stream (README, "Threading contract").
///
/// One I/O thread per connection reads, writes and keeps the clock, in a poll() loop over
/// the socket and a doorbell; senders queue into the engine and ring. Messages queued while
/// the thread was busy leave together in its next write.
///
/// Locks: `send_mutex_` (whole messages) → `engine_mutex_` (engine calls, buffer swaps,
/// the fields marked "guarded"). The assembler's and the stream's locks are leaves.
/// `engine_mutex_` is never held across socket I/O or user code.
class ConnectionCore {
public:
    /// Takes an engine that finished its opening handshake (OPEN) and the stream it ran
    /// on. `early` are events the engine produced right after the handshake (frames that
    /// arrived in the same read), delivered before anything else.
    ConnectionCore(std::unique_ptr<Protocol> engine, std::unique_ptr<net::Stream> stream,
                   ConnectionOptions options, Request request, Response response,
                   std::vector<Event> early);
    ConnectionCore(const ConnectionCore&) = delete;
    ConnectionCore& operator=(const ConnectionCore&) = delete;
    ~ConnectionCore();

    /// Starts the I/O thread.
    void start();

    void send_data(Opcode opcode, BytesView data, bool compress);
    void send_fragments(bool binary, const std::function<std::optional<std::string>()>& next);
    Message recv();
    std::optional<Message> recv_for(std::chrono::milliseconds timeout);
    bool recv_streaming(const std::function<void(std::string_view, bool)>& on_fragment);
    std::future<std::chrono::nanoseconds> ping(std::optional<std::string> data);
    void pong(BytesView data);
    std::chrono::nanoseconds latency() const {
        return std::chrono::nanoseconds(latency_ns_.load());
    }
    void close(std::uint16_t code, std::string_view reason);
    /// Queues a close frame without waiting (server shutdown closes many at once).
    void begin_close(std::uint16_t code, std::string_view reason);
    /// Sends a whole message only if that needs no waiting: no other message in progress
    /// and the write buffer below its high mark. For broadcasting.
    bool try_send(Opcode opcode, BytesView data);
    /// Closes if needed, swallowing errors, and joins the I/O thread.
    void shutdown() noexcept;

    State state() const;
    std::optional<Close> close_received() const;
    std::optional<Close> close_sent() const;
    bool close_received_then_sent() const;
    std::uint16_t close_code() const;

    const std::string& subprotocol() const { return subprotocol_; }
    const std::string& extensions() const { return extensions_; }
    const Request& request() const { return request_; }
    const Response& response() const { return response_; }
    const std::string& local_address() const { return local_address_; }
    const std::string& remote_address() const { return remote_address_; }
    Side side() const { return side_; }

    /// The exception `recv` and `send` raise once the connection is closed.
    std::exception_ptr closed_error();

private:
    struct PendingPing {
        std::string payload;
        Clock::time_point sent;
        std::promise<std::chrono::nanoseconds> done;
        bool keepalive = false;
    };

    void io_loop();
    // The loop itself; returns (with `lock` held) once the connection is over.
    void run_io(std::unique_lock<std::mutex>& lock);
    // The I/O thread's turn at the clock: keepalive pings, the pong and close deadlines.
    // Returns true if it did something (the loop goes round again).
    bool keep_time_locked(std::unique_lock<std::mutex>& lock);
    // When the I/O thread must wake next, if ever.
    std::optional<Clock::time_point> next_deadline_locked() const;
    // Reads once (the stream said readable), feeds the engine and delivers the events.
    // Returns false at the end of the stream.
    bool read_once(std::unique_lock<std::mutex>& lock, char* buffer, std::vector<Event>& events);
    // The I/O thread writes the queued output, as far as the socket takes it without
    // blocking (the rest once poll() says writable).
    void write_locked(std::unique_lock<std::mutex>& lock);
    // Bytes queued and not yet handed to the stream.
    std::size_t unwritten_locked() const {
        return engine_->output_size() + (outbox_.size() - outbox_sent_);
    }
    bool output_waiting_locked() const { return unwritten_locked() > 0 || stream_->has_backlog(); }
    // Tells the I/O thread, if it sits in poll(), that it must look again: output to write,
    // an earlier deadline, the end.
    void wake_io_locked();
    // After a sender queued output: wakes the I/O thread unless it waits for writable anyway.
    void output_queued_locked();
    void deliver(std::vector<Event>& events);
    void acknowledge_pings(const std::string& payload);
    void fail_pings();
    // Called with engine_mutex_ held after any engine call.
    void after_engine_call_locked();
    // Waits (engine_mutex_ held) until the connection is fully closed or `deadline`.
    bool wait_closed_locked(std::unique_lock<std::mutex>& lock, Clock::time_point deadline);
    // `new_message`: the caller hasn't sent a fragment yet, so it gives up once close()
    // began; a message in progress goes on to its end.
    void wait_for_room_locked(std::unique_lock<std::mutex>& lock, bool new_message);
    [[noreturn]] void throw_closed(std::unique_lock<std::mutex>& lock);
    std::exception_ptr closed_error_locked();
    void fail_io_locked(std::exception_ptr error);
    void log(LogLevel level, const std::string& message) const;
    std::string ping_payload();

    const ConnectionOptions options_;
    const Side side_;
    const Request request_;
    const Response response_;
    std::string subprotocol_;
    std::string extensions_;
    std::string local_address_;
    std::string remote_address_;
    std::unique_ptr<net::Stream> stream_;
    Doorbell doorbell_;
    Assembler assembler_;
    std::vector<Frame> data_frames_; // the I/O thread's: frames on their way to the assembler

    TimedMutex send_mutex_;
    mutable std::mutex engine_mutex_;
    std::condition_variable state_cv_; // write room, the end of the connection
    // ----- guarded by engine_mutex_ -----
    std::unique_ptr<Protocol> engine_;
    std::vector<Event> early_;
    // Output taken from the engine; [outbox_sent_, size) is still to be written. Only the
    // I/O thread changes it, and it reads it unlocked while it writes.
    Bytes outbox_;
    std::size_t outbox_sent_ = 0;
    bool write_blocked_ = false; // the socket took nothing: the I/O thread waits for writable
    std::optional<Clock::time_point> close_deadline_;
    std::optional<Clock::time_point> next_ping_;
    std::optional<Clock::time_point> pong_deadline_;
    std::deque<PendingPing> pings_;
    std::exception_ptr cause_; // the first I/O or keepalive error
    bool io_waiting_ = false;  // the I/O thread is in poll(), deaf to anything but the doorbell
    bool eof_received_ = false;
    bool eof_sent_ = false;
    bool done_ = false; // the I/O thread is finished: the connection is over
    bool aborted_ = false;
    bool closing_ = false; // close() began: no new message may start
    // ------------------------------------
    std::atomic<std::int64_t> latency_ns_{0};
    std::atomic<bool> started_{false};
    std::atomic<bool> shut_down_{false};
    Thread io_thread_;
};

} // namespace syncws::detail
