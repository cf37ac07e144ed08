#include "connection_core.hpp"

#include <syncws/errors.hpp>

#include <algorithm>
#include <cstring>

namespace syncws::detail {

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
// Write buffers above this are released once unused for `large_buffer_keep`: kept between
// messages (freeing and touching a megabyte again per message doubled the time of a 1 MiB
// echo: the heap trims it each time), not for an idle connection.
constexpr std::size_t large_buffer = 4 * read_buffer_size;
constexpr std::chrono::milliseconds large_buffer_keep{1000};
// A client's large payload is masked into the output this much at a time: in the cache
// still when the socket (or TLS) reads it, and a multiple of 4, so that every piece starts
// at key offset 0.
constexpr std::size_t masked_piece = large_buffer;
static_assert(masked_piece % 4 == 0);

bool is_ok_close_code(std::uint16_t code) {
    return code == 1000 || code == 1001 || code == 1005;
}

std::string negotiated_extensions(const Protocol& engine) {
    std::vector<ExtensionOffer> offers;
    for (const auto& ext : engine.extensions())
        offers.push_back(ext->negotiated());
    return offers.empty() ? std::string{} : serialize_extension_header(offers);
}

std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
}

} // namespace

ConnectionCore::ConnectionCore(std::unique_ptr<Protocol> engine,
                               std::unique_ptr<net::Stream> stream,
                               std::unique_ptr<Doorbell> doorbell,
                               ConnectionOptions options, Request request, Response response,
                               std::vector<Event> early)
    : options_(std::move(options)), side_(engine->side()), request_(std::move(request)),
      response_(std::move(response)), subprotocol_(engine->subprotocol()),
      extensions_(negotiated_extensions(*engine)), local_address_(stream->local_address()),
      remote_address_(stream->remote_address()), stream_(std::move(stream)),
      doorbell_(std::move(doorbell)), bell_(doorbell_.get()),
      assembler_(
          options_.max_queue, options_.max_queue / 4,
          [this] {
              // Without a doorbell nobody can be woken: a loop without one looks again
              // every owner_away_limit while the queue is full (run_io).
              if (auto* bell = bell_.load(std::memory_order_acquire)) bell->ring();
          },
          [this](Assembler::Deadline deadline) {
              std::unique_lock lock(engine_mutex_);
              // Another thread waiting for messages: only an I/O thread serves it whatever
              // the owner does.
              if (!owns_io_locked()) promote_locked();
              return pump_locked(
                  lock, [this] { return assembler_.ready(); },
                  deadline ? *deadline : Clock::time_point::max());
          },
          [this](Bytes&& buffer) {
              // A large message's buffer, for the next one: no fresh memory to fault in
              // (a 16 MiB message cost over a thousand page faults). Kept like a large
              // write buffer, and released with it.
              std::lock_guard lock(engine_mutex_);
              if (done_) return; // nothing will be received: freed here
              engine_->recycle(std::move(buffer));
              const bool wake = !release_buffers_at_;
              release_buffers_at_ = deadline_after(large_buffer_keep);
              if (!wake) return; // a deadline is set already: the loop meets this one too
              if (io_polling_ && poll_has_bell_)
                  wake_io_locked();
              else if (io_polling_)
                  deaf_loop_missed_ = true; // the keeper releases it
          }),
      engine_(std::move(engine)), early_(std::move(early)) {}

ConnectionCore::~ConnectionCore() {
    shutdown();
}

void ConnectionCore::start(Keeper keeper) {
    // Not a std::vector: value-initialising 64 KiB would make every page of it resident
    // for every idle connection. Pages the kernel never writes into stay unbacked.
    read_buffer_.reset(new char[read_buffer_size]);
    std::lock_guard lock(engine_mutex_);
    if (options_.ping_interval.count() > 0) next_ping_ = deadline_after(options_.ping_interval);
    owner_away_since_ = now_ns();
    if (keeper == Keeper::standby_thread) {
        // The owner is whoever calls first (a client is often connected on one thread and
        // used on another).
        standby_ = true;
        io_thread_.start(options_.thread_stack_size, [this] { standby_loop(); });
    } else {
        owner_ = std::this_thread::get_id();
    }
    // Only now: if the thread could not start, shutdown() must not wait for it.
    started_ = true;
}

bool ConnectionCore::owns_io_locked() {
    const auto self = std::this_thread::get_id();
    if (owner_ == std::thread::id()) owner_ = self;
    return owner_ == self;
}

void ConnectionCore::standby_loop() {
    std::unique_lock lock(engine_mutex_);
    while (!threaded_ && !done_) {
        standby_cv_.wait_for(lock, owner_away_limit);
        if (!threaded_ && !done_ && owner_away_with_work_locked(owner_away_limit))
            promote_locked();
    }
    if (done_) return;
    io_loop_locked(lock);
}

void ConnectionCore::promote_if_away(std::chrono::nanoseconds limit) {
    const auto since = owner_away_since_.load();
    if (since == 0 || now_ns() - since < limit.count()) return;
    std::lock_guard lock(engine_mutex_);
    if (owner_away_with_work_locked(limit)) promote_locked();
}

void ConnectionCore::help_deaf_loop() {
    if (!deaf_loop_missed_.load(std::memory_order_relaxed)) return;
    std::unique_lock lock(engine_mutex_);
    // Only while the loop still waits where it cannot hear (poll() or read): once out, it
    // sees to everything itself.
    const auto deaf = [this] { return io_polling_ && !poll_has_bell_ && !aborted_; };
    if (deaf() && !poll_for_write_) write_locked(lock, Write::now);
    if (deaf() && close_deadline_ && Clock::now() >= *close_deadline_)
        drop_after_close_timeout(lock);
    if (deaf() && !writing_ && release_buffers_at_ && Clock::now() >= *release_buffers_at_)
        release_large_buffers_locked();
    deaf_loop_missed_ =
        deaf() && (output_waiting_locked() || close_deadline_ || release_buffers_at_);
}

bool ConnectionCore::owner_away_with_work_locked(std::chrono::nanoseconds limit) {
    // An owner writing what it sent is away all the same: it does not read.
    const auto since = owner_away_since_.load();
    if (owner_in_loop_ || threaded_ || done_ || since == 0 || now_ns() - since < limit.count())
        return false;
    // Housekeeping needs no thread: done here, unless the owner is writing (outbox_).
    if (!io_running_ && !writing_ && release_buffers_at_ && Clock::now() >= *release_buffers_at_)
        release_large_buffers_locked();
    // Nothing to do while it is away: no output, no deadline before the next look, nothing
    // to read. A handler busy for a while with a quiet peer keeps its single thread.
    const auto wake = next_protocol_deadline_locked();
    const bool due = wake && *wake <= Clock::now() + limit;
    if (due || output_waiting_locked()) return true;
    try {
        return stream_->wait(true, false, -1, Clock::now()).readable;
    } catch (...) {
        return true; // poll() failed: the I/O thread will meet the error and end the connection
    }
}

void ConnectionCore::release_large_buffers_locked() {
    release_buffers_at_.reset();
    engine_->release_recycled();
    if (writing_ || unwritten_locked() > 0) return;
    Bytes().swap(outbox_);
    outbox_sent_ = 0;
    Bytes spare; // the engine's (empty) output buffer, with its capacity
    engine_->take_output(spare);
}

void ConnectionCore::promote_locked() {
    if (threaded_ || done_) return;
    if (io_running_) {
        // The owner is in the loop: it leaves it and starts the thread (pump_locked).
        if (!promote_asked_) {
            promote_asked_ = true;
            wake_io_locked();
        }
        return;
    }
    promote_asked_ = false;
    // An I/O thread is there for other threads: they ring.
    try {
        make_doorbell_locked();
    } catch (...) {
        promotion_failed_ = true;
        fail_io_locked(std::current_exception());
        state_cv_.notify_all();
        return;
    }
    if (standby_) {
        threaded_ = true;
        owner_away_since_ = 0;
        standby_cv_.notify_one();
        return;
    }
    try {
        io_thread_.start(options_.thread_stack_size, [this] { io_loop(); });
        threaded_ = true;
        owner_away_since_ = 0;
    } catch (...) {
        // No thread to be had: the connection ends, and whoever waits runs its loop to
        // the end (pump_locked), the owner or not.
        promotion_failed_ = true;
        fail_io_locked(std::current_exception());
        state_cv_.notify_all();
    }
}

bool ConnectionCore::pump_locked(std::unique_lock<std::mutex>& lock, const Predicate& until,
                                 Clock::time_point deadline) {
    if (threaded_ || done_ || io_running_) return false;
    if (!owns_io_locked() && !promotion_failed_) return false;
    io_running_ = true;
    owner_in_loop_ = true;
    owner_away_since_ = 0;
    LoopEnd end = LoopEnd::over;
    try {
        end = run_io(lock, until, deadline);
    } catch (...) {
        if (!lock.owns_lock()) lock.lock();
        fail_io_locked(std::current_exception());
    }
    io_running_ = false;
    owner_in_loop_ = false;
    if (end == LoopEnd::over) {
        finish_io_locked(lock);
        return true;
    }
    owner_away_since_ = now_ns();
    // Threads waiting for what the owner's loop would have done next need one that stays.
    if (promote_asked_ || foreign_waiters_ > 0) promote_locked();
    return true;
}

bool ConnectionCore::wait_locked(std::unique_lock<std::mutex>& lock, const Predicate& done,
                                 Clock::time_point deadline) {
    for (;;) {
        if (done()) return true;
        if (deadline != Clock::time_point::max() && Clock::now() >= deadline) return false;
        if (pump_locked(lock, done, deadline)) continue;
        // Not the owner (or an I/O thread runs): the runner notifies. While the owner runs
        // the loop it serves this thread too, and promotes when it leaves (pump_locked);
        // while it is away, only a thread of the connection's own can.
        const bool foreign = !threaded_ && !done_;
        if (foreign && !io_running_) {
            promote_locked();
            if (promotion_failed_) continue; // nobody else will: this thread runs the loop
        }
        if (foreign) ++foreign_waiters_;
        if (deadline == Clock::time_point::max())
            state_cv_.wait(lock);
        else
            state_cv_.wait_until(lock, deadline);
        if (foreign) --foreign_waiters_;
    }
}

void ConnectionCore::log(LogLevel level, const std::string& message) const {
    if (!options_.logger) return;
    try {
        options_.logger(level, message);
    } catch (...) {
        // A logger that throws must not take the connection down with it.
    }
}

// ----- the I/O thread -------------------------------------------------------------------

void ConnectionCore::io_loop() {
    std::unique_lock lock(engine_mutex_);
    io_loop_locked(lock);
}

void ConnectionCore::io_loop_locked(std::unique_lock<std::mutex>& lock) {
    try {
        run_io(lock, Predicate{}, Clock::time_point::max());
    } catch (...) {
        // Out of memory and the like: this connection ends, the process goes on.
        if (!lock.owns_lock()) lock.lock();
        fail_io_locked(std::current_exception());
    }
    if (!lock.owns_lock()) lock.lock();
    finish_io_locked(lock);
}

void ConnectionCore::finish_io_locked(std::unique_lock<std::mutex>& lock) {
    done_ = true;
    owner_away_since_ = 0;
    state_cv_.notify_all();
    standby_cv_.notify_one();
    lock.unlock();
    assembler_.close();
    fail_pings();
    log(LogLevel::debug, "connection with " + remote_address_ + " closed");
    lock.lock();
}

ConnectionCore::LoopEnd ConnectionCore::run_io(std::unique_lock<std::mutex>& lock,
                                               const Predicate& until,
                                               Clock::time_point deadline) {
    char* const buffer = read_buffer_.get();
    std::vector<Event>& events = events_;
    if (!early_.empty()) {
        events.swap(early_);
        const std::size_t count = events.size();
        lock.unlock();
        deliver(events, count);
        lock.lock();
    }
    bool polled = false;
    for (;;) {
        if (!write_blocked_ && !aborted_ && output_waiting_locked()) write_locked(lock);
        // The half-close is a write: not while another thread holds the token (it does it).
        if (engine_->eof_to_send() && !eof_sent_ && !writing_ &&
            (aborted_ || !output_waiting_locked())) {
            bool done = true;
            if (!aborted_) {
                lock.unlock();
                try {
                    done = stream_->shutdown_write_now();
                } catch (...) {
                    // The peer is gone already; reading will see EOF or the error.
                }
                lock.lock();
            }
            // TLS: close_notify waits in the stream's backlog for the socket to take it.
            if (done)
                eof_sent_ = true;
            else
                write_blocked_ = true;
            continue;
        }
        // The end: the peer's EOF is in and our last bytes are out (or can't go anywhere).
        if (eof_received_ && (aborted_ || !output_waiting_locked())) return LoopEnd::over;
        if (server_may_close_locked()) return LoopEnd::over;
        if (keep_time_locked(lock)) continue;
        // Flow control: with the receive queue full, stop reading (TCP pushes back on the
        // peer) and let the assembler ring when there is room again. Before the
        // owner's condition: a sender waiting for its borrowed payload stops waiting here.
        const bool want_read = !eof_received_ && assembler_.may_read();
        reading_paused_ = !want_read && !eof_received_;
        if (reading_paused_ && borrowed_) state_cv_.notify_all(); // see send_borrowed_locked
        // The owner's turn ends as soon as what it waits for is there, but not before it
        // looked at the socket once: a handler that only sends must still read (pings, the
        // peer's close).
        bool met = false;
        if (until) {
            if (promote_asked_) return LoopEnd::promoted;
            // Output other threads queued while this one wrote rang nobody: it goes now,
            // or it would wait for the owner's next call.
            const bool leftover =
                !write_blocked_ && !aborted_ && !writing_ && engine_->output_size() > 0;
            met = until();
            if (met && polled && !leftover) return LoopEnd::until;
            if (!met && polled && !leftover && deadline != Clock::time_point::max() &&
                Clock::now() >= deadline)
                return LoopEnd::deadline;
            if (leftover && polled) continue;
        }

        // Output still queued (write_locked takes the engine's once per call) means: write
        // again as soon as poll() has let reads in. Not while another thread holds the
        // write token: it writes everything before it lets go.
        const bool want_write =
            (write_blocked_ || output_waiting_locked()) && !aborted_ && !writing_;
        auto wake = next_deadline_locked();
        if (deadline != Clock::time_point::max() && (!wake || deadline < *wake)) wake = deadline;
        if (met) wake = Clock::now();
        // Deaf to other threads, the loop would not hear the write token come back (with
        // output, a half-close or an end to see to) nor room made in the receive queue by
        // another consumer: while either is pending it looks again now and then.
        if (!doorbell_ && (writing_ || (!want_read && !eof_received_))) {
            const auto soon = Clock::now() + owner_away_limit;
            if (!wake || soon < *wake) wake = soon;
        }
        polled = true;
        const bool no_deadline_of_callers = deadline == Clock::time_point::max();
        if (!doorbell_ && want_read && !want_write && !met && no_deadline_of_callers &&
            !stream_->has_backlog()) {
            // Nobody can wake this loop and it waits only to read: the read itself waits,
            // one system call instead of poll() then read. Not for the caller's deadline
            // (recv_for): SO_RCVTIMEO runs on a coarser timer than poll().
            const auto got =
                read_once(lock, buffer, events, wake ? *wake : Clock::time_point::max());
            if (got == Read::end) end_of_input_locked();
            continue;
        }
        Doorbell* const bell = doorbell_.get();
        io_polling_ = true;
        poll_has_bell_ = bell != nullptr;
        poll_for_write_ = want_write;
        bell_rung_ = false;
        lock.unlock();
        net::Readiness ready;
        std::exception_ptr error;
        try {
            ready = stream_->wait(want_read, want_write, bell ? bell->fd() : -1,
                                  wake ? *wake : net::Deadline::max());
        } catch (...) {
            error = std::current_exception(); // poll() itself failed (ENOMEM)
        }
        if (ready.woken) bell->drain();
        lock.lock();
        io_polling_ = false;
        deaf_loop_missed_ = false; // whatever it missed, the loop sees now
        if (error) {
            fail_io_locked(error);
            return LoopEnd::over;
        }
        if (ready.writable) write_blocked_ = false;
        // Readable also when not asked: a dead connection (POLLHUP, POLLERR) or an abort.
        if (ready.readable && !eof_received_ && read_once(lock, buffer, events) == Read::end)
            end_of_input_locked();
    }
}

bool ConnectionCore::server_may_close_locked() const {
    // RFC 6455 §7.1.1: once the close frames crossed, "the server MUST close the underlying
    // TCP connection immediately". Its FIN is out, and the client sends nothing after its
    // close frame: waiting for the client's FIN cost a sleep and a wake-up per connection
    // (handshakes/s, README). Not after a protocol error (the client may still be sending:
    // closing could reset the connection under our close frame), nor when the client
    // answers the half-close (TLS close_notify).
    return eof_sent_ && !aborted_ && engine_->side() == Side::server &&
           engine_->close_received() && engine_->close_sent() && !engine_->protocol_error() &&
           !output_waiting_locked() && !stream_->half_close_is_answered();
}

void ConnectionCore::end_of_input_locked() {
    eof_received_ = true;
    // Our own last bytes get at most the close timeout to leave.
    if (!close_deadline_) close_deadline_ = deadline_after(options_.close_timeout);
}

ConnectionCore::Read ConnectionCore::read_once(std::unique_lock<std::mutex>& lock, char* buffer,
                                               std::vector<Event>& events,
                                               std::optional<Clock::time_point> wait_until) {
    if (wait_until) {
        // Waiting in the read, the loop is as deaf to other threads as in a poll() without
        // the doorbell: they write for themselves meanwhile.
        io_polling_ = true;
        poll_has_bell_ = false;
        poll_for_write_ = false;
    }
    lock.unlock();
    std::optional<std::size_t> got{0};
    std::exception_ptr error;
    try {
        if (wait_until)
            got = stream_->read_some_until(buffer, read_buffer_size, *wait_until);
        else
            got = stream_->read_some(buffer, read_buffer_size);
    } catch (...) {
        error = std::current_exception();
    }
    lock.lock();
    if (wait_until) {
        io_polling_ = false;
        deaf_loop_missed_ = false; // whatever it missed, the loop sees now
        if (!got) return Read::nothing;
    }
    const std::size_t n = got.value_or(0);
    if (error && !cause_ && !aborted_) cause_ = error;
    if (n > 0)
        engine_->receive_data(BytesView(buffer, n));
    else
        engine_->receive_eof();
    // Into slots that keep their place: what a slot held (a spare payload buffer, see
    // deliver) stays with the engine for a later frame.
    std::size_t count = 0;
    for (;; ++count) {
        if (count == events.size()) events.emplace_back();
        if (!engine_->next_event(events[count])) break;
    }
    after_engine_call_locked();
    if (count > 0) {
        lock.unlock();
        deliver(events, count);
        lock.lock();
    }
    return n > 0 ? Read::data : Read::end;
}

void ConnectionCore::deliver(std::vector<Event>& events, std::size_t count) {
    // All the data frames of one read go to the assembler at once: one lock and one
    // wake-up for a batch, instead of a consumer contending with the reader frame by frame.
    data_frames_.clear();
    for (std::size_t i = 0; i < count; ++i) {
        auto* frame = std::get_if<Frame>(&events[i]);
        if (frame && !is_control(frame->opcode)) data_frames_.push_back(std::move(*frame));
    }
    assembler_.put(data_frames_, spare_payloads_);
    for (std::size_t i = 0; i < count; ++i) {
        auto* frame = std::get_if<Frame>(&events[i]);
        if (!frame) continue;
        switch (frame->opcode) {
        case Opcode::text:
        case Opcode::binary:
        case Opcode::continuation:
            break;
        case Opcode::pong:
            acknowledge_pings(frame->payload);
            break;
        case Opcode::close:
            // Nobody will read the rest: let the reader go on to the TCP close.
            assembler_.disable_flow_control();
            break;
        case Opcode::ping:
            break; // the engine answered it
        }
    }
    // The buffers of messages the consumer is done with go back to the engine through the
    // slots (Protocol::next_event keeps what a slot held): small messages then cost no
    // allocation each.
    for (std::size_t i = 0; i < count && !spare_payloads_.empty(); ++i) {
        auto* frame = std::get_if<Frame>(&events[i]);
        if (!frame) frame = &events[i].emplace<Frame>();
        if (frame->payload.capacity() > Bytes().capacity()) continue;
        frame->payload = std::move(spare_payloads_.back());
        spare_payloads_.pop_back();
    }
}

bool ConnectionCore::keep_time_locked(std::unique_lock<std::mutex>& lock) {
    if (!close_deadline_ && !next_ping_ && !pong_deadline_ && !release_buffers_at_) return false;
    const auto now = Clock::now();
    if (release_buffers_at_ && now >= *release_buffers_at_) release_large_buffers_locked();
    if (close_deadline_ && now >= *close_deadline_) {
        drop_after_close_timeout(lock);
        return true;
    }
    if (engine_->state() != State::open) return false;
    if (pong_deadline_ && now >= *pong_deadline_) {
        pong_deadline_.reset();
        const std::string why =
            "keepalive ping timeout: no pong within " + ms_text(options_.ping_timeout);
        if (!cause_) cause_ = std::make_exception_ptr(Timeout(why));
        engine_->fail(static_cast<std::uint16_t>(CloseCode::internal_error),
                      "keepalive ping timeout");
        after_engine_call_locked();
        lock.unlock(); // as above: not under the engine lock
        log(LogLevel::warning, why + " from " + remote_address_);
        lock.lock();
        return true;
    }
    if (next_ping_ && now >= *next_ping_ && !pong_deadline_) {
        PendingPing ping;
        ping.payload = ping_payload();
        ping.sent = now;
        ping.keepalive = true;
        engine_->send_ping(BytesView(ping.payload));
        pings_.push_back(std::move(ping));
        next_ping_ = deadline_after(options_.ping_interval, now);
        if (options_.ping_timeout.count() > 0)
            pong_deadline_ = deadline_after(options_.ping_timeout, now);
        return true;
    }
    return false;
}

void ConnectionCore::drop_after_close_timeout(std::unique_lock<std::mutex>& lock) {
    // RFC 6455 §7.1.1: after a timeout, drop the TCP connection.
    close_deadline_.reset();
    aborted_ = true;
    stream_->abort();
    // The logger is user code: never called under the engine lock.
    lock.unlock();
    log(LogLevel::debug, "close timeout: dropping the connection to " + remote_address_);
    lock.lock();
}

std::optional<Clock::time_point> ConnectionCore::next_deadline_locked() const {
    auto wake = next_protocol_deadline_locked();
    if (release_buffers_at_ && (!wake || *release_buffers_at_ < *wake)) wake = release_buffers_at_;
    return wake;
}

std::optional<Clock::time_point> ConnectionCore::next_protocol_deadline_locked() const {
    std::optional<Clock::time_point> wake = close_deadline_;
    if (engine_->state() == State::open) {
        // While a keepalive pong is awaited the next ping waits too (keep_time_locked): its
        // time passing is no reason to wake.
        const auto& keepalive = pong_deadline_ ? pong_deadline_ : next_ping_;
        if (keepalive && (!wake || *keepalive < *wake)) wake = keepalive;
    }
    return wake;
}

void ConnectionCore::wake_io_locked() {
    // Once is enough: it looks at everything when it wakes.
    if (!io_polling_ || bell_rung_) return;
    if (poll_has_bell_) {
        bell_rung_ = true;
        doorbell_->ring();
        return;
    }
    // This poll() cannot hear anyone; its next one will. Meanwhile the callers and the
    // keeper make up for it (see the class comment). Out of descriptors, the loop stays
    // deaf: slower to hear of a promotion or a close, never wrong.
    deaf_loop_missed_ = true;
    try {
        make_doorbell_locked();
    } catch (const NetworkError&) {
    }
}

void ConnectionCore::make_doorbell_locked() {
    if (doorbell_) return;
    doorbell_ = std::make_unique<Doorbell>();
    bell_.store(doorbell_.get(), std::memory_order_release);
}

void ConnectionCore::write_for_deaf_loop_locked(std::unique_lock<std::mutex>& lock,
                                                bool may_block) {
    // No doorbell made for this: a thread that broadcasts to every connection must not
    // double the descriptors of a server. Waiting for writable, the loop writes this with
    // the rest. What a non-blocking write leaves, the keeper writes (write_locked says so).
    if (poll_for_write_ || aborted_) return;
    write_locked(lock, may_block ? Write::all : Write::now);
}

void ConnectionCore::output_queued_locked(std::unique_lock<std::mutex>& lock, bool may_block) {
    if (threaded_ || io_running_) {
        if (io_polling_ && !poll_has_bell_) {
            write_for_deaf_loop_locked(lock, may_block);
            return;
        }
        // A blocked socket is what the runner waits for: new output changes nothing.
        if (!write_blocked_) wake_io_locked();
        return;
    }
    if (done_) return;
    if (!owns_io_locked()) {
        // Sent from elsewhere while the owner is away, for who knows how long.
        promote_locked();
        return;
    }
    // The owner, between calls. A received message waiting for it means it is coming back
    // for it at once: this goes out with the answers to those, in one write, as the I/O
    // thread would batch it. (If it does not come back, the keeper promotes.)
    if (assembler_.ready()) return;
    io_running_ = true;
    // Again while other threads queued output meanwhile: they rang nobody.
    // (Not if another thread holds the write token: it writes this too.)
    do
        write_locked(lock);
    while (!write_blocked_ && !aborted_ && !writing_ && engine_->output_size() > 0 &&
           !promote_asked_);
    io_running_ = false;
    if (promote_asked_ || foreign_waiters_ > 0) promote_locked();
}

void ConnectionCore::after_engine_call_locked() {
    if (engine_->close_expected() && !close_deadline_) {
        close_deadline_ = deadline_after(options_.close_timeout);
        wake_io_locked();
    }
    if (engine_->eof_to_send()) wake_io_locked();
    if (engine_->state() != State::open) {
        state_cv_.notify_all();
        wake_io_locked(); // the owner may be pumping for room: that wait is over
    }
}

// ----- writing --------------------------------------------------------------------------

void ConnectionCore::fail_io_locked(std::exception_ptr error) {
    if (!cause_ && !aborted_) cause_ = std::move(error);
    aborted_ = true;
    stream_->abort(); // wakes the I/O thread, which ends the connection
}

void ConnectionCore::write_locked(std::unique_lock<std::mutex>& lock, Write how) {
    if (writing_) return;
    writing_ = true;
    bool taken_from_engine = false;
    for (;;) {
        if (outbox_sent_ == outbox_.size() && borrowed_left_ == 0 &&
            (!taken_from_engine || how == Write::all)) {
            outbox_sent_ = 0;
            engine_->take_output(outbox_); // swaps buffers: no copy
            taken_from_engine = true;
        }
        // A masked payload goes through outbox_ a piece at a time, small enough to stay in
        // the cache between masking it and writing it. Sized here, under the lock (others
        // count outbox_.size()); filled below without it, as only this writer reads it.
        const char* mask_from = nullptr;
        MaskKey mask_key{};
        if (outbox_sent_ == outbox_.size() && borrowed_left_ > 0 && borrowed_mask_) {
            const std::size_t piece = std::min(borrowed_left_, masked_piece);
            outbox_.resize(piece); // within the capacity reserved by send_borrowed_locked
            outbox_sent_ = 0;
            mask_from = borrowed_;
            mask_key = *borrowed_mask_;
            borrowed_ += piece;
            borrowed_left_ -= piece;
            borrowed_piece_pending_ = true;
        }
        const bool from_outbox = outbox_sent_ < outbox_.size();
        const char* data = from_outbox ? outbox_.data() + outbox_sent_ : borrowed_;
        const std::size_t offered = from_outbox ? outbox_.size() - outbox_sent_ : borrowed_left_;
        if (offered == 0 && !stream_->has_backlog()) break;
        lock.unlock();
        if (mask_from) copy_masked(outbox_.data(), mask_from, offered, mask_key);
        std::size_t taken = 0;
        std::exception_ptr error;
        try {
            if (how == Write::all) {
                stream_->write_all(data, offered); // the backlog too
                taken = offered;
            } else {
                taken = stream_->write_some_now(data, offered);
            }
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        if (error) {
            fail_io_locked(error);
            break;
        }
        if (from_outbox) {
            outbox_sent_ += taken;
            if (outbox_sent_ == outbox_.size()) borrowed_piece_pending_ = false;
        } else {
            borrowed_ += taken;
            borrowed_left_ -= taken;
        }
        // A partial write is not yet "blocked": TLS takes one chunk per call, and the kernel
        // may have made room meanwhile. Nothing taken (or only the backlog tried, and it
        // stayed) is.
        if (taken == 0 && (offered > 0 || stream_->has_backlog())) {
            write_blocked_ = true;
            break;
        }
    }
    if (how == Write::all && !aborted_) {
        write_blocked_ = false;
        // The loop that cannot hear this thread would not half-close after it either.
        if (engine_->eof_to_send() && !eof_sent_) {
            lock.unlock();
            try {
                stream_->shutdown_write();
            } catch (...) {
                // The peer is gone already; the loop's reading will see EOF or the error.
            }
            lock.lock();
            eof_sent_ = true;
        }
    }
    writing_ = false;
    // A loop in poll() that left the writing to this thread must hear of what is left.
    if (io_polling_ && !poll_for_write_ && !aborted_ && output_waiting_locked()) {
        if (poll_has_bell_)
            wake_io_locked();
        else
            deaf_loop_missed_ = true; // the keeper writes it (no doorbell made for output)
    }
    if (outbox_.capacity() > large_buffer) {
        release_buffers_at_ = deadline_after(large_buffer_keep);
        // A loop that cannot hear would keep it until its next deadline: the keeper frees it.
        if (io_polling_ && !poll_has_bell_) deaf_loop_missed_ = true;
    }
    state_cv_.notify_all(); // room for senders waiting on the high mark
}

std::string ConnectionCore::ping_payload() {
    // Random, so that a pong cannot be mistaken for the answer to another ping.
    std::string payload(4, '\0');
    default_random_source()(reinterpret_cast<unsigned char*>(payload.data()), payload.size());
    return payload;
}

void ConnectionCore::acknowledge_pings(const std::string& payload) {
    std::vector<PendingPing> done;
    {
        std::lock_guard lock(engine_mutex_);
        bool found = false;
        for (const auto& p : pings_)
            found = found || p.payload == payload;
        if (!found) return; // unsolicited pong
        // A pong answers its ping and every earlier one (RFC 6455 §5.5.3 allows answering
        // only the most recent).
        while (!pings_.empty()) {
            PendingPing p = std::move(pings_.front());
            pings_.pop_front();
            const bool last = p.payload == payload;
            if (p.keepalive) pong_deadline_.reset();
            done.push_back(std::move(p));
            if (last) break;
        }
    }
    const auto now = Clock::now();
    for (auto& p : done) {
        const auto rtt = std::chrono::duration_cast<std::chrono::nanoseconds>(now - p.sent);
        latency_ns_ = rtt.count();
        p.done.set_value(rtt);
    }
}

void ConnectionCore::fail_pings() {
    std::deque<PendingPing> pending;
    {
        std::lock_guard lock(engine_mutex_);
        pending.swap(pings_);
    }
    if (pending.empty()) return;
    const auto error = closed_error();
    for (auto& p : pending)
        p.done.set_exception(error);
}

// ----- sending --------------------------------------------------------------------------

void ConnectionCore::wait_for_room_locked(std::unique_lock<std::mutex>& lock, bool new_message) {
    if (unwritten_locked() <= options_.write_high) return;
    // Above the high mark: wait until the I/O brings it down to the low mark.
    wait_locked(
        lock,
        [&] {
            return unwritten_locked() <= options_.write_low || engine_->state() != State::open ||
                   done_ || aborted_ || (new_message && closing_);
        },
        Clock::time_point::max());
}

void ConnectionCore::send_data(Opcode opcode, BytesView data, bool compress) {
    std::unique_lock send_lock(send_mutex_);
    std::unique_lock lock(engine_mutex_);
    wait_for_room_locked(lock, true);
    if (engine_->state() != State::open || aborted_ || closing_) {
        // Waiting for the end of the connection, let close() have the send lock: it may
        // still have to queue its close frame.
        send_lock.unlock();
        throw_closed(lock);
    }
    // A payload that alone would take the queue over the high mark makes the next send wait
    // for it anyway: rather than copy it into the output (a tenth of a server's CPU in a
    // bulk echo over TLS), this send writes it from the caller's buffer and returns once it
    // is handed to the socket. A client's is masked on its way, a cache-sized piece at a
    // time. Only with nothing queued before it, and where no extension transforms it.
    if (data.size() >= options_.write_high && data.size() > 0 && !writing_ &&
        unwritten_locked() == 0) {
        if (const auto frame = engine_->send_unbuffered_header(opcode, data.size())) {
            send_borrowed_locked(lock, send_lock, data, *frame);
            return;
        }
    }
    if (opcode == Opcode::text)
        engine_->send_text(data.as_string_view(), true, compress);
    else
        engine_->send_binary(data, true, compress);
    output_queued_locked(lock);
}

void ConnectionCore::send_borrowed_locked(std::unique_lock<std::mutex>& lock,
                                          std::unique_lock<TimedMutex>& send_lock,
                                          BytesView data,
                                          const Protocol::UnbufferedFrame& frame) {
    outbox_sent_ = 0;
    engine_->take_output(outbox_); // the header
    borrowed_ = data.data();
    borrowed_left_ = data.size();
    if (frame.masked) borrowed_mask_ = frame.mask_key;
    // Perhaps stale: the loop says again when it looks (the output below wakes it).
    reading_paused_ = false;
    // Until it is written, or the loop stopped reading: then the caller may be the one who
    // must drain the receive queue before the peer reads again (a handler that sends, then
    // receives, from a peer that sends all its requests before it reads).
    const auto written_or_stuck = [&] {
        return ((borrowed_left_ == 0 && !borrowed_piece_pending_) || aborted_ || done_ ||
                reading_paused_) &&
               !writing_;
    };
    try {
        // The writer masks into outbox_ without allocating (it may not throw). Over
        // large_buffer, as the piece and the header are: released once unused.
        if (borrowed_mask_)
            outbox_.reserve(outbox_.size() + std::min(data.size(), masked_piece));
        output_queued_locked(lock);
        wait_locked(lock, written_or_stuck, Clock::time_point::max());
    } catch (...) {
        // Half a frame cannot be taken back: the connection ends, and once no writer holds
        // the caller's buffer, it is the caller's again.
        if (!lock.owns_lock()) lock.lock();
        fail_io_locked(std::current_exception());
        state_cv_.wait(lock, [&] { return !writing_; });
        let_go_of_borrowed_locked();
        throw;
    }
    // (A masked piece still in outbox_ is part of this message: it has not gone either.)
    const bool cut_short = (borrowed_left_ > 0 || borrowed_piece_pending_) && (aborted_ || done_);
    if (borrowed_left_ > 0 && !cut_short) {
        // Stuck: the rest waits in the output after what was written, like any message.
        // (A masked payload is taken a whole piece at a time: the rest starts at a key
        // offset of 0.)
        try {
            const std::size_t start = outbox_.size();
            if (borrowed_mask_) {
                outbox_.resize(start + borrowed_left_);
                copy_masked(outbox_.data() + start, borrowed_, borrowed_left_, *borrowed_mask_);
            } else {
                outbox_.append(borrowed_, borrowed_left_);
            }
        } catch (...) {
            let_go_of_borrowed_locked();
            fail_io_locked(std::current_exception()); // half a frame is out
            throw;
        }
    }
    let_go_of_borrowed_locked();
    if (cut_short) {
        // The frame broke off: the connection is over, and this message did not go.
        send_lock.unlock(); // as above: close() may want it
        throw_closed(lock);
    }
}

void ConnectionCore::let_go_of_borrowed_locked() {
    borrowed_ = nullptr;
    borrowed_left_ = 0;
    borrowed_mask_.reset();
    borrowed_piece_pending_ = false;
}

void ConnectionCore::send_fragments(bool binary,
                                    const std::function<std::optional<std::string>()>& next) {
    std::unique_lock send_lock(send_mutex_);
    std::optional<std::string> current = next();
    bool first = true;
    for (;;) {
        // One fragment ahead, so the last one goes out with FIN set.
        std::optional<std::string> following;
        try {
            if (current) following = next();
        } catch (...) {
            if (!first) {
                // Part of the message is out and the rest will never come: no other message
                // can follow it, so the connection fails (as websockets does).
                std::unique_lock lock(engine_mutex_);
                engine_->fail(static_cast<std::uint16_t>(CloseCode::internal_error),
                              "error in fragmented message");
                after_engine_call_locked();
                output_queued_locked(lock);
            }
            throw;
        }
        const bool fin = !following;
        std::unique_lock lock(engine_mutex_);
        wait_for_room_locked(lock, first);
        if (engine_->state() != State::open || aborted_ || (first && closing_)) {
            send_lock.unlock(); // as in send_data
            throw_closed(lock);
        }
        const BytesView payload = current ? BytesView(*current) : BytesView();
        if (first && binary)
            engine_->send_binary(payload, fin);
        else if (first)
            engine_->send_text(payload.as_string_view(), fin);
        else
            engine_->send_continuation(payload, fin);
        output_queued_locked(lock);
        if (fin) return;
        first = false;
        current = std::move(following);
    }
}

std::future<std::chrono::nanoseconds> ConnectionCore::ping(std::optional<std::string> data) {
    std::unique_lock lock(engine_mutex_);
    if (engine_->state() != State::open || aborted_) throw_closed(lock);
    // Whoever waits on the future is not reading: the pong needs a thread that does, or
    // the round trip would include the time until the owner's next call.
    promote_locked();
    // No thread to be had: nobody would read the pong, and a future's waiter runs no loop.
    if (promotion_failed_) throw_closed(lock);
    PendingPing ping;
    ping.payload = data ? std::move(*data) : ping_payload();
    for (const auto& p : pings_)
        if (p.payload == ping.payload)
            throw InvalidState("a ping with the same payload is already waiting for its pong");
    ping.sent = Clock::now();
    auto future = ping.done.get_future();
    engine_->send_ping(BytesView(ping.payload));
    pings_.push_back(std::move(ping));
    output_queued_locked(lock, false); // returns at once: a control frame
    return future;
}

void ConnectionCore::pong(BytesView data) {
    std::unique_lock lock(engine_mutex_);
    if (engine_->state() != State::open || aborted_) throw_closed(lock);
    engine_->send_pong(data);
    output_queued_locked(lock, false); // returns at once: a control frame
}

// ----- receiving ------------------------------------------------------------------------

Message ConnectionCore::recv() {
    Message message;
    recv_into(message);
    return message;
}

void ConnectionCore::recv_into(Message& into) {
    if (assembler_.get(into, std::nullopt) == Assembler::Result::message) return;
    std::rethrow_exception(closed_error());
}

bool ConnectionCore::recv_unless_closed_ok(Message& into) {
    if (assembler_.get(into, std::nullopt) == Assembler::Result::message) return true;
    std::unique_lock lock(engine_mutex_);
    wait_closed_locked(lock, deadline_after(options_.close_timeout));
    if (closed_ok_locked()) return false;
    std::rethrow_exception(closed_error_locked());
}

std::optional<Message> ConnectionCore::recv_for(std::chrono::milliseconds timeout) {
    Message message;
    // A timeout that doesn't fit in a time point (milliseconds::max() for "forever") means
    // no deadline.
    Assembler::Deadline deadline;
    if (const auto end = deadline_after(timeout); end != Clock::time_point::max()) deadline = end;
    switch (assembler_.get(message, deadline)) {
    case Assembler::Result::message:
        return message;
    case Assembler::Result::timeout:
        return std::nullopt;
    case Assembler::Result::closed:
        break;
    }
    std::rethrow_exception(closed_error());
}

bool ConnectionCore::recv_streaming(
    const std::function<void(std::string_view, bool)>& on_fragment) {
    bool binary = false;
    if (assembler_.get_streaming(on_fragment, binary) == Assembler::Result::message) return binary;
    std::rethrow_exception(closed_error());
}

// ----- closing --------------------------------------------------------------------------

bool ConnectionCore::wait_closed_locked(std::unique_lock<std::mutex>& lock,
                                        Clock::time_point deadline) {
    return wait_locked(lock, [&] { return done_; }, deadline);
}

void ConnectionCore::close(std::uint16_t code, std::string_view reason) {
    if (!started_) return;
    // A code or reason that cannot be sent throws std::invalid_argument here, before the
    // connection starts refusing new messages.
    static_cast<void>(Close{code, std::string(reason)}.serialize());
    auto deadline = deadline_after(options_.close_timeout);
    // Not blocking on a peer that does not read: the deadline below must hold.
    const auto queue_close_frame = [&](std::unique_lock<std::mutex>& lock) {
        engine_->send_close(code, reason);
        after_engine_call_locked();
        output_queued_locked(lock, false);
    };
    bool close_queued = false;
    {
        // Senders waiting for room before their message starts give up now, instead of
        // holding the send lock (and the close frame) until the deadline.
        std::unique_lock lock(engine_mutex_);
        // A closing handshake already under way keeps its deadline (the loop may not have
        // heard of it, see the class comment): a server closing all its connections waits
        // for them together, not for one timeout after another.
        if (close_deadline_ && *close_deadline_ < deadline) deadline = *close_deadline_;
        closing_ = true;
        state_cv_.notify_all();
        wake_io_locked(); // an owner waiting for room pumps: it looks at closing_ too
        // A message written from its sender's buffer is whole in the engine already: the
        // close frame is queued behind it now (it goes once the payload is out), rather than
        // after the send lock, which its sender holds until then — against a peer that may
        // read only once it sees the close.
        if (borrowed_ && engine_->state() == State::open && !aborted_) {
            queue_close_frame(lock);
            close_queued = true;
        }
    }
    // The message being sent finishes first (its fragments must not be cut by the close
    // frame), unless its sender is stuck on a peer that doesn't read.
    std::unique_lock send_lock(send_mutex_, std::defer_lock);
    const bool have_send_lock = !close_queued && send_lock.try_lock_until(deadline);
    {
        std::unique_lock lock(engine_mutex_);
        if (have_send_lock && engine_->state() == State::open && !aborted_)
            queue_close_frame(lock);
    }
    if (have_send_lock) send_lock.unlock();
    assembler_.disable_flow_control();
    std::unique_lock lock(engine_mutex_);
    if (!wait_closed_locked(lock, deadline)) {
        drop_after_close_timeout(lock);
        wait_locked(lock, [&] { return done_; }, Clock::time_point::max());
    }
}

void ConnectionCore::begin_close(std::uint16_t code, std::string_view reason) {
    std::unique_lock lock(engine_mutex_);
    if (!started_ || engine_->state() != State::open || aborted_) return;
    closing_ = true;
    engine_->send_close(code, reason);
    after_engine_call_locked();
    output_queued_locked(lock, false);
}

bool ConnectionCore::try_send(Opcode opcode, BytesView data) {
    std::unique_lock send_lock(send_mutex_, std::try_to_lock);
    if (!send_lock) return false;
    std::unique_lock lock(engine_mutex_);
    if (engine_->state() != State::open || aborted_ || closing_) return false;
    if (unwritten_locked() > options_.write_high) return false;
    if (opcode == Opcode::text)
        engine_->send_text(data.as_string_view());
    else
        engine_->send_binary(data);
    output_queued_locked(lock, false);
    return true;
}

void ConnectionCore::shutdown() noexcept {
    if (!started_ || shut_down_.exchange(true)) return;
    try {
        close(side_ == Side::server ? 1001 : 1000, {});
    } catch (...) {
        // Destruction never throws; the connection is being dropped either way.
    }
    bool over = false;
    {
        std::lock_guard lock(engine_mutex_);
        aborted_ = true;
        state_cv_.notify_all();
        over = done_;
    }
    // Wakes the I/O runner's poll(). Once it is over (the usual case after close()), a
    // shutdown(2) would only fail with ENOTCONN: one system call per connection saved.
    if (!over) stream_->abort();
    assembler_.close();
    {
        // The owner runs the loop to its end; another thread has it promoted.
        std::unique_lock lock(engine_mutex_);
        wait_locked(lock, [&] { return done_; }, Clock::time_point::max());
    }
    io_thread_.join();
}

// ----- state ----------------------------------------------------------------------------

State ConnectionCore::state() const {
    std::lock_guard lock(engine_mutex_);
    // A server that closed after the closing handshake never hears the client's FIN: the
    // engine stays `closing`, the connection is over.
    return done_ ? State::closed : engine_->state();
}
std::optional<Close> ConnectionCore::close_received() const {
    std::lock_guard lock(engine_mutex_);
    return engine_->close_received();
}
std::optional<Close> ConnectionCore::close_sent() const {
    std::lock_guard lock(engine_mutex_);
    return engine_->close_sent();
}
bool ConnectionCore::close_received_then_sent() const {
    std::lock_guard lock(engine_mutex_);
    return engine_->close_received_then_sent();
}
std::uint16_t ConnectionCore::close_code() const {
    std::lock_guard lock(engine_mutex_);
    return engine_->close_code();
}

std::exception_ptr ConnectionCore::closed_error() {
    std::unique_lock lock(engine_mutex_);
    // The I/O thread ends the connection promptly once it is closing (close timeout at most).
    wait_closed_locked(lock, deadline_after(options_.close_timeout));
    return closed_error_locked();
}

void ConnectionCore::throw_closed(std::unique_lock<std::mutex>& lock) {
    wait_closed_locked(lock, deadline_after(options_.close_timeout));
    std::rethrow_exception(closed_error_locked());
}

bool ConnectionCore::closed_ok_locked() const {
    const auto& received = engine_->close_received();
    const auto& sent = engine_->close_sent();
    return received && sent && is_ok_close_code(received->code) && is_ok_close_code(sent->code);
}

std::exception_ptr ConnectionCore::closed_error_locked() {
    const auto& received = engine_->close_received();
    const auto& sent = engine_->close_sent();
    const bool received_then_sent = engine_->close_received_then_sent();
    if (closed_ok_locked())
        return std::make_exception_ptr(ConnectionClosedOK(received, sent, received_then_sent));
    std::exception_ptr cause = cause_ ? cause_ : engine_->protocol_error();
    ConnectionClosedError error(received, sent, received_then_sent);
    if (!cause) return std::make_exception_ptr(error);
    try {
        std::rethrow_exception(cause);
    } catch (...) {
        try {
            std::throw_with_nested(error);
        } catch (...) {
            return std::current_exception();
        }
    }
}

} // namespace syncws::detail
