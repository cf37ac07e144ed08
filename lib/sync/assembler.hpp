// Frames in, messages out: the receive side of a connection, between the I/O thread
// and the threads calling recv().
#pragma once

#include "thread.hpp"

#include <syncws/connection.hpp>
#include <syncws/frame.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

namespace syncws::detail {

/// A bounded queue of data frames with message assembly.
///
/// Flow control (websockets' design): when more than `high` frames wait, the reader stops
/// reading the socket (`may_read` says no) until consumers bring the queue down to `low`;
/// TCP then pushes back on the peer and memory stays bounded. Consumers take frames one at
/// a time, so a message longer than `high` frames still gets through.
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

    /// `on_room` is called (under the assembler's lock) when the reader, told to stop by
    /// `may_read`, may read again: it wakes the reader out of its poll(). `pump` is called
    /// with no lock of the assembler's held, instead of waiting, whenever a consumer would
    /// wait.
    Assembler(std::size_t high, std::size_t low, std::function<void()> on_room, Pump pump)
        : high_(high), low_(low), on_room_(std::move(on_room)), pump_(std::move(pump)) {}

    /// Queues a data frame. Never blocks.
    void put(Frame frame);
    /// Queues data frames in order, and leaves `frames` empty. Never blocks.
    void put(std::vector<Frame>& frames);
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
    /// next call.
    Result get(Message& out, Deadline deadline);
    /// Hands over one message fragment by fragment, calling `on_fragment` without any lock
    /// held. Returns `message` (and sets `binary`) or `closed`.
    Result get_streaming(const std::function<void(std::string_view, bool)>& on_fragment,
                         bool& binary);

private:
    // Pops the front frame; resumes the reader when the queue falls to the low mark.
    Frame pop_locked();
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
    const std::function<void()> on_room_;
    const Pump pump_;
    bool paused_ = false;
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
