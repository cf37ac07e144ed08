// Frames in, messages out: the receive side of a connection, between the I/O thread
// and the threads calling recv().
#pragma once

#include "thread.hpp"

#include <syncws/connection.hpp>
#include <syncws/frame.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace syncws::detail {

/// A bounded queue of data frames with message assembly.
///
/// Flow control (websockets' design): when more than `high` frames wait, the reader stops
/// reading the socket (`may_read` says no) until consumers bring the queue down to `low`;
/// TCP then pushes back on the peer and memory stays bounded. Consumers take frames one at
/// a time, so a message longer than `high` frames still gets through.
///
/// A consumer takes everything queued at once into a batch of its own (`taken_`) and pops
/// from it without the lock: a handler that reads 17 messages from one read locks once, not
/// 17 times. Frames in the batch still count as queued for flow control.
///
/// Thread safety: `put`, `may_read` and `close` from the reader; `get` and `get_streaming`
/// from consumers (one at a time: a second one waits); the rest from any thread. Its mutex
/// is a leaf: nothing else is locked while holding it, and `on_room` must take no lock.
class Assembler {
public:
    using Deadline = std::optional<std::chrono::steady_clock::time_point>;
    /// Runs the connection's I/O on the consumer's own thread until frames come, the
    /// assembler closes or the deadline passes (README, "The handler's thread does the
    /// I/O"). Returns false when the I/O runs elsewhere: the consumer then waits to be woken.
    using Pump = std::function<bool(Deadline)>;

    /// Takes the buffer of a large message the consumer is done with, for the engine to
    /// receive a later one into (Protocol::recycle).
    using RecycleLarge = std::function<void(Bytes&&)>;
    /// Buffers from this capacity on go to `recycle_large`.
    static constexpr std::size_t large_capacity = 64 * 1024;

    /// `on_room` is called (under the assembler's lock) when the reader, told to stop by
    /// `may_read`, may read again: it wakes the reader out of its poll(). `pump` is called
    /// instead of waiting, whenever a consumer would wait; `recycle_large` when a consumer
    /// is done with a large buffer. Both (either may be null) run on the consumer's thread
    /// with its consumer lock held but not the queue's, so they may take locks ordered
    /// after the consumer lock (the connection's engine lock), and must not call `get`.
    Assembler(std::size_t high, std::size_t low, std::function<void()> on_room, Pump pump,
              RecycleLarge recycle_large = nullptr)
        : high_(high), low_(low), on_room_(std::move(on_room)), pump_(std::move(pump)),
          recycle_large_(std::move(recycle_large)) {}

    /// Queues data frames in order, and leaves `frames` empty. Hands back in `spares`
    /// (appended) the payload buffers of messages consumers are done with, for the reader
    /// to fill again. Never blocks.
    void put(std::vector<Frame>& frames, std::vector<Bytes>& spares);
    /// False while the queue is above its high mark (until it falls to the low mark), unless
    /// flow control is off or the assembler is closed; after a false, `on_room` announces
    /// the change.
    bool may_read();
    /// No more frames will come: consumers get what is queued, then `closed`.
    void close();
    /// True if a consumer would not wait: frames are queued, or the assembler is closed.
    bool ready();
    /// Stops pausing the reader (used once closing: the peer's close frame must be read
    /// even if nobody consumes messages any more).
    void disable_flow_control();

    enum class Result { message, timeout, closed };

    /// Waits for a whole message. On timeout, fragments already taken are kept for the
    /// next call. What `out` held is dropped, and its buffer used again: a small one goes
    /// back to the reader (`put`), a large one to `recycle_large`.
    Result get(Message& out, Deadline deadline);
    /// Hands over one message fragment by fragment, calling `on_fragment` without any lock
    /// held. Returns `message` (and sets `binary`) or `closed`.
    Result get_streaming(const std::function<void(std::string_view, bool)>& on_fragment,
                         bool& binary);

private:
    // Moves what the reader queued into the consumer's empty batch; false if nothing was.
    bool refill_locked();
    // The consumer is done with `buffer`: keeps it for the reader, or recycles it.
    void reuse(Bytes& buffer);
    // Pops the batch's front frame (the batch is not empty); resumes a paused reader when
    // the queue falls to the low mark.
    Frame pop_taken();
    void announce_room_locked();
    // Calls `on_fragment` (no lock held); if it throws mid-message, the rest of the message
    // is dropped.
    // Waits for a frame or the end (`lock` held on entry and return): pumps if it can,
    // else sleeps. False once `deadline` passed with neither.
    bool wait_locked(std::unique_lock<std::mutex>& lock, Deadline deadline);
    void deliver_fragment(const std::function<void(std::string_view, bool)>& on_fragment,
                          std::string_view data, bool last);

    const std::size_t high_;
    const std::size_t low_;
    TimedMutex consumer_mutex_; // one consumer at a time
    std::mutex mutex_;
    std::condition_variable frames_cv_;
    std::deque<Frame> frames_;
    // The consumer's batch, guarded by consumer_mutex_; its size is read by the reader.
    std::deque<Frame> taken_;
    std::atomic<std::size_t> taken_size_{0};
    // Payload buffers on their way back to the reader: the consumer's (consumer_mutex_),
    // then, at each refill, the reader's to take (mutex_). Few and small, so that a burst of
    // small messages leaves little memory behind.
    static constexpr std::size_t max_spares = 16;
    static constexpr std::size_t max_spare_capacity = 512;
    std::vector<Bytes> spares_;
    std::vector<Bytes> returned_;
    const std::function<void()> on_room_;
    const Pump pump_;
    const RecycleLarge recycle_large_;
    // Written under mutex_; the consumer reads it without, after each pop: a reader that
    // paused on a stale batch size is resumed at the next pop, and a pause always leaves
    // frames for a next pop.
    std::atomic<bool> paused_{false};
    bool reader_waiting_ = false; // may_read() said no and on_room_ has not been called since
    bool flow_control_ = true;
    bool closed_ = false;
    // A message partly taken by a `get` that timed out.
    bool partial_active_ = false;
    Message partial_;
    // A streaming consumer threw mid-message: drop frames up to the message's last one.
    bool discarding_ = false;
};

} // namespace syncws::detail
