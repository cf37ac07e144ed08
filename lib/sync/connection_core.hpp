// The state shared by a Connection handle, its reader thread and its writer thread.
#pragma once

#include "assembler.hpp"
#include "deadline.hpp"
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

/// Runs an open engine over a stream (DESIGN.md, "Threading contract of Connection").
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

    /// Starts the reader and writer threads.
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
    /// Closes if needed, swallowing errors, and joins both threads.
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

    void reader_loop();
    void writer_loop();
    // Writes all the engine's output, with `lock` released meanwhile.
    void write_output_locked(std::unique_lock<std::mutex>& lock, Bytes& batch);
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
    Assembler assembler_;
    std::vector<Frame> data_frames_; // the reader's: frames on their way to the assembler

    TimedMutex send_mutex_;
    mutable std::mutex engine_mutex_;
    std::condition_variable writer_cv_; // output, EOF, deadlines, stream output, the end
    std::condition_variable state_cv_;  // write room, the end of the connection
    // ----- guarded by engine_mutex_ -----
    std::unique_ptr<Protocol> engine_;
    std::vector<Event> early_;
    std::size_t in_flight_ = 0; // bytes the writer is writing
    std::optional<Clock::time_point> close_deadline_;
    std::optional<Clock::time_point> next_ping_;
    std::optional<Clock::time_point> pong_deadline_;
    std::deque<PendingPing> pings_;
    std::exception_ptr cause_;           // the first I/O or keepalive error
    bool stream_output_pending_ = false; // TLS produced bytes while reading
    bool eof_sent_ = false;
    bool reader_done_ = false;
    bool writer_done_ = false;
    bool aborted_ = false;
    bool closing_ = false; // close() began: no new message may start
    // ------------------------------------
    std::atomic<std::int64_t> latency_ns_{0};
    std::atomic<bool> started_{false};
    std::atomic<bool> shut_down_{false};
    Thread reader_;
    Thread writer_;
};

} // namespace syncws::detail
