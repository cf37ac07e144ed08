// The state shared by a Connection handle, its I/O thread and the threads that use it.
#pragma once

#include "assembler.hpp"
#include "deadline.hpp"
#include "doorbell.hpp"
#include "mask.hpp"
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
#include <thread>
#include <vector>

namespace syncws::detail {

/// Runs an open engine over a stream (README, "Threading contract").
///
/// One thread at a time runs the I/O loop: it reads, writes and keeps the clock in a
/// poll() over the socket and a doorbell; senders queue into the engine and ring. Messages
/// queued while it was busy leave together in its next write. Who runs it: the owner (a
/// server handler's thread, or the first thread to use a client connection), inside the
/// calls that wait (`recv`, a `send` above the high mark, `close`), until the connection
/// is *promoted* to an I/O thread of its own, for good: when another thread must wait on
/// it or queues output while the owner is away, when `ping` wants its pong, or when a
/// keeper sees the owner away with work pending (the server's keeper thread through
/// `promote_if_away`, a client's standby thread, which then becomes the I/O thread). Away,
/// the owner's own sends are written at once, or, while a received message waits for it,
/// left to go with its answers when it comes back.
///
/// One descriptor: the doorbell (an eventfd) is made only when another thread first needs
/// to wake the loop, or at promotion; a server connection used by its owner alone never
/// has one (README, "One descriptor"). Until then the owner's wait (a poll(), or a blocking
/// read when it only reads) cannot hear other threads, so what they would ring for is done
/// otherwise: their data they write themselves (`writing_` is the token: whoever holds it
/// writes everything queued before letting go), blocking like a blocking socket; calls that
/// must not block (`try_send`, `begin_close`, `close`, `ping`, `pong`) write what the socket
/// takes and leave the rest to the server's keeper (`help_deaf_loop`); a promotion asked
/// waits for the owner's loop to come round (it still reads, so pongs and closes are
/// answered); a closer enforces its own deadline by aborting the stream; and the loop
/// bounds its wait while what it cannot hear is pending (the token held elsewhere, a full
/// receive queue).
///
/// Locks: `send_mutex_` (whole messages) → `engine_mutex_` (engine calls, buffer swaps,
/// the fields marked "guarded"); the assembler's consumer lock → `engine_mutex_` (its pump
/// and recycle callbacks). The assembler's queue lock and the stream's locks are leaves.
/// `engine_mutex_` is never held across blocking socket I/O or user code (the keepers
/// hold it for a zero-timeout poll of an away owner's socket).
class ConnectionCore {
public:
    /// Takes an engine that finished its opening handshake (OPEN) and the stream it ran
    /// on. `early` are events the engine produced right after the handshake (frames that
    /// arrived in the same read), delivered before anything else. `doorbell` may be null:
    /// it is made when first needed (see the class comment).
    ConnectionCore(std::unique_ptr<Protocol> engine, std::unique_ptr<net::Stream> stream,
                   std::unique_ptr<Doorbell> doorbell, ConnectionOptions options,
                   Request request, Response response, std::vector<Event> early);
    ConnectionCore(const ConnectionCore&) = delete;
    ConnectionCore& operator=(const ConnectionCore&) = delete;
    ~ConnectionCore();

    /// Who gives the connection an I/O thread when its owner is away too long.
    enum class Keeper {
        /// The server's keeper thread calls `promote_if_away`; the owner is the caller of
        /// `start` (the handler's thread).
        server,
        /// A thread of the connection's own, asleep until then, becomes its I/O thread; the
        /// owner is the first thread to use the connection.
        standby_thread,
    };
    /// How long an owner may stay away from a connection with work pending (a deadline,
    /// output, input) before it gets an I/O thread. It bounds how late a keepalive ping or
    /// an answer held for a batch can be, and it is the keepers' period.
    static constexpr std::chrono::milliseconds owner_away_limit{50};

    void start(Keeper keeper);
    /// Gives the connection its own I/O thread if its owner has been away from it (not
    /// running its I/O) for `limit` or longer: deadlines, pings and deferred output must
    /// not wait for a handler busy elsewhere. For the server's keeper; any thread.
    void promote_if_away(std::chrono::nanoseconds limit);
    /// True while the owner's loop sits in a poll() that missed something the keeper can do
    /// (`help_deaf_loop`).
    bool deaf_loop_needs_help() const { return deaf_loop_missed_.load(std::memory_order_relaxed); }
    /// The keeper's part for a loop deaf to other threads: writes what non-blocking calls
    /// left, releases a large buffer another thread's write left, and drops the connection
    /// at a close deadline another thread set. It may call the logger: not under a lock of
    /// the caller's that the logger could want.
    void help_deaf_loop();

    void send_data(Opcode opcode, BytesView data, bool compress);
    void send_fragments(bool binary, const std::function<std::optional<std::string>()>& next);
    Message recv();
    /// `recv` into the caller's message, whose buffer is recycled.
    void recv_into(Message& into);
    /// `recv` for iterating, into the iterator's message (whose buffer is recycled): false,
    /// instead of `ConnectionClosedOK`, at a normal closure. Every connection ends that way,
    /// and a throw costs microseconds of unwinding.
    bool recv_unless_closed_ok(Message& into);
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

    enum class LoopEnd { over, until, deadline, promoted };
    using Predicate = std::function<bool()>;

    void io_loop();
    void io_loop_locked(std::unique_lock<std::mutex>& lock);
    // The standby thread: wakes every owner_away_limit until the connection is promoted
    // (then runs the loop) or over.
    void standby_loop();
    bool owner_away_with_work_locked(std::chrono::nanoseconds limit);
    void release_large_buffers_locked();
    // The loop itself (`lock` held on entry and return). On the I/O thread it returns once
    // the connection is over; on the owner's, also once `until` holds (checked with the
    // lock held), `deadline` passed, or promotion was asked for.
    LoopEnd run_io(std::unique_lock<std::mutex>& lock, const Predicate& until,
                   Clock::time_point deadline);
    // Runs the loop on the calling thread if it is the owner of a connection without an
    // I/O thread (or anyone, once promotion failed); false when it cannot: the caller
    // then waits to be notified.
    bool pump_locked(std::unique_lock<std::mutex>& lock, const Predicate& until,
                     Clock::time_point deadline);
    // Waits until `done` holds or `deadline` passes, pumping when it can. Returns `done()`.
    bool wait_locked(std::unique_lock<std::mutex>& lock, const Predicate& done,
                     Clock::time_point deadline);
    // Starts the I/O thread (engine_mutex_ held), or, while the owner runs the loop, asks it
    // to stop and start it.
    void promote_locked();
    // The connection is over: wakes everyone and fails what still waits.
    void finish_io_locked(std::unique_lock<std::mutex>& lock);
    // True on the owner's thread; the first thread to ask becomes the owner if there is none.
    bool owns_io_locked();
    // The I/O thread's turn at the clock: keepalive pings, the pong and close deadlines.
    // Returns true if it did something (the loop goes round again).
    bool keep_time_locked(std::unique_lock<std::mutex>& lock);
    // RFC 6455 §7.1.1: the close timeout passed, the TCP connection goes.
    void drop_after_close_timeout(std::unique_lock<std::mutex>& lock);
    // When the I/O thread must wake next, if ever.
    std::optional<Clock::time_point> next_deadline_locked() const;
    // The same, for the peer's sake only: close and keepalive, not housekeeping.
    std::optional<Clock::time_point> next_protocol_deadline_locked() const;
    // Reads once, feeds the engine and delivers the events. Without `wait_until` the stream
    // said readable; with it, the read waits until then (nothing: it passed).
    enum class Read { data, end, nothing };
    Read read_once(std::unique_lock<std::mutex>& lock, char* buffer, std::vector<Event>& events,
                   std::optional<Clock::time_point> wait_until = std::nullopt);
    // The peer's end of the stream came (or the read failed).
    void end_of_input_locked();
    bool server_may_close_locked() const;
    // Writes the queued output, holding the write token (`writing_`; returns at once if
    // another thread holds it: that one writes this too). `Write::now`: the loop's way, as
    // far as the socket takes it without blocking (the rest once poll() says writable),
    // taking the engine's output once per call, so that senders that keep queueing do not
    // keep the loop from reading. `Write::all`: for a thread whose output the loop cannot
    // hear of: everything, the engine's too, and the end of the stream if it is due,
    // blocking while the peer does not read.
    enum class Write { now, all };
    void write_locked(std::unique_lock<std::mutex>& lock, Write how = Write::now);
    // Makes the doorbell if there is none yet. Throws NetworkError when no descriptor is left.
    void make_doorbell_locked();
    // Another thread queued output while the loop sits in a poll() that cannot hear it.
    void write_for_deaf_loop_locked(std::unique_lock<std::mutex>& lock, bool may_block);
    // Bytes queued and not yet handed to the stream.
    std::size_t unwritten_locked() const {
        return engine_->output_size() + (outbox_.size() - outbox_sent_) + borrowed_left_;
    }
    bool output_waiting_locked() const { return unwritten_locked() > 0 || stream_->has_backlog(); }
    // Tells the I/O thread, if it sits in poll(), that it must look again: output to write,
    // an earlier deadline, the end.
    void wake_io_locked();
    // After a sender queued output: wakes the I/O thread unless it waits for writable
    // anyway; with no I/O thread and the owner away, writes it or promotes. `may_block`
    // false for calls that must return at once (try_send, begin_close).
    void output_queued_locked(std::unique_lock<std::mutex>& lock, bool may_block = true);
    // Hands the first `count` events to the assembler and the pings' waiters, and leaves
    // spare payload buffers in their slots.
    void deliver(std::vector<Event>& events, std::size_t count);
    void acknowledge_pings(const std::string& payload);
    void fail_pings();
    // Called with engine_mutex_ held after any engine call.
    void after_engine_call_locked();
    // Waits (engine_mutex_ held) until the connection is fully closed or `deadline`.
    bool wait_closed_locked(std::unique_lock<std::mutex>& lock, Clock::time_point deadline);
    // `new_message`: the caller hasn't sent a fragment yet, so it gives up once close()
    // began; a message in progress goes on to its end.
    void wait_for_room_locked(std::unique_lock<std::mutex>& lock, bool new_message);
    // After the engine queued the header of `data` (send_unbuffered_header): has the
    // writer write `data` from the caller's buffer (a client's masked a piece at a time
    // on its way), and returns once it is written, or
    // copies what is left into the output when the loop stops reading. Throws
    // ConnectionClosed if the connection ends first.
    void send_borrowed_locked(std::unique_lock<std::mutex>& lock,
                              std::unique_lock<TimedMutex>& send_lock, BytesView data,
                              const Protocol::UnbufferedFrame& frame);
    void let_go_of_borrowed_locked();
    [[noreturn]] void throw_closed(std::unique_lock<std::mutex>& lock);
    std::exception_ptr closed_error_locked();
    // Both closing frames went, with codes of a normal closure (ConnectionClosedOK).
    bool closed_ok_locked() const;
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
    std::unique_ptr<Doorbell> doorbell_; // guarded by engine_mutex_; never replaced once made
    std::atomic<Doorbell*> bell_{nullptr}; // the same, for the assembler's ring (no lock there)
    Assembler assembler_;
    std::vector<Frame> data_frames_; // the I/O runner's: frames on their way to the assembler
    std::unique_ptr<char[]> read_buffer_; // the I/O runner's
    std::vector<Event> events_;           // the I/O runner's: slots, kept between reads
    std::vector<Bytes> spare_payloads_;   // the I/O runner's: from the assembler to the engine
    bool standby_ = false;                // set by start(), before any other call

    TimedMutex send_mutex_;
    mutable std::mutex engine_mutex_;
    std::condition_variable state_cv_; // write room, the end of the connection
    // ----- guarded by engine_mutex_ -----
    std::unique_ptr<Protocol> engine_;
    std::vector<Event> early_;
    // Output taken from the engine (or a masked piece of a borrowed payload); [outbox_sent_,
    // size) is still to be written. Only the holder of the write token changes it; it sizes
    // it under the lock, and fills and reads its bytes unlocked while it writes.
    Bytes outbox_;
    std::size_t outbox_sent_ = 0;
    // A large payload written from the sender's own buffer right after outbox_ (see
    // send_data): [borrowed_, borrowed_ + borrowed_left_). The same rules as outbox_; the
    // sender waits until no one writes and it is written, the connection is over, or the
    // loop stopped reading (then the rest is copied into outbox_).
    const char* borrowed_ = nullptr;
    std::size_t borrowed_left_ = 0;
    // A client's payload is masked into outbox_ a piece at a time: the key, and whether
    // the piece taken last is still in outbox_ (the message has not gone until it is out).
    std::optional<MaskKey> borrowed_mask_;
    bool borrowed_piece_pending_ = false;
    // The loop stopped reading because the receive queue is full (flow control): a sender
    // waiting for its borrowed payload to go must not wait for a peer that may itself be
    // blocked writing to us.
    bool reading_paused_ = false;
    bool write_blocked_ = false; // the socket took nothing: the I/O thread waits for writable
    std::optional<Clock::time_point> close_deadline_;
    std::optional<Clock::time_point> next_ping_;
    std::optional<Clock::time_point> pong_deadline_;
    std::optional<Clock::time_point> release_buffers_at_; // large write buffers, unused since
    std::deque<PendingPing> pings_;
    std::exception_ptr cause_; // the first I/O or keepalive error
    // The I/O runner waits in poll() (deaf to anything but the doorbell) or, with none, in
    // a blocking read (read_once).
    bool io_polling_ = false;
    bool poll_has_bell_ = false;  // ...and polls the doorbell too (else it hears nobody)
    bool poll_for_write_ = false; // ...and waits for writable: it writes what is queued next
    bool bell_rung_ = false;      // ...and has been rung: once is enough
    bool writing_ = false;     // the write token: a thread is writing (write_locked)
    bool io_running_ = false;  // the owner runs the I/O (loop or write): nobody else may
    bool owner_in_loop_ = false; // ...and it is the loop, which reads
    bool threaded_ = false;    // the I/O thread runs (or ran) the I/O, for good
    bool promote_asked_ = false; // the owner is to leave the loop and start the I/O thread
    bool promotion_failed_ = false; // no thread could be started: any waiter runs the loop
    std::thread::id owner_;      // none until start() or the first call (Keeper)
    std::condition_variable standby_cv_;
    int foreign_waiters_ = 0;    // other threads in wait_locked while the owner runs the I/O
    bool eof_received_ = false;
    bool eof_sent_ = false;
    bool done_ = false; // the I/O thread is finished: the connection is over
    bool aborted_ = false;
    bool closing_ = false; // close() began: no new message may start
    // ------------------------------------
    std::atomic<std::int64_t> latency_ns_{0};
    std::atomic<bool> started_{false};
    std::atomic<bool> shut_down_{false};
    // The owner's loop waits where it did not hear something: output a non-blocking call
    // left, a large buffer or a close deadline another thread set. The keeper sees to those
    // (help_deaf_loop); the loop clears it when it wakes.
    std::atomic<bool> deaf_loop_missed_{false};
    // When the owner last left the loop (steady clock, ns): since then nothing read. 0
    // while it runs it or once there is an I/O thread. Read by the keeper without the lock.
    std::atomic<std::int64_t> owner_away_since_{0};
    Thread io_thread_;
};

} // namespace syncws::detail
