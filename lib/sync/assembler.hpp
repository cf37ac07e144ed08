// Frames in, messages out: the receive side of a connection, between the reader thread
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
/// reading the socket (`wait_for_room` blocks) until consumers bring the queue down to
/// `low`; TCP then pushes back on the peer and memory stays bounded. Consumers take frames
/// one at a time, so a message longer than `high` frames still gets through.
///
/// Thread safety: `put`, `wait_for_room` and `close` from the reader; `get` and
/// `get_streaming` from consumers (one at a time: a second one waits); the rest from any
/// thread. Its mutex is a leaf: nothing else is locked while holding it.
class Assembler {
public:
    Assembler(std::size_t high, std::size_t low) : high_(high), low_(low) {}

    /// Queues a data frame. Never blocks.
    void put(Frame frame);
    /// Queues data frames in order, and leaves `frames` empty. Never blocks.
    void put(std::vector<Frame>& frames);
    /// Blocks while the queue is above its high mark (until it reaches the low mark),
    /// unless flow control is off or the assembler is closed.
    void wait_for_room();
    /// No more frames will come: consumers get what is queued, then `closed`.
    void close();
    /// Stops pausing the reader (used once closing: the peer's close frame must be read
    /// even if nobody consumes messages any more).
    void disable_flow_control();

    enum class Result { message, timeout, closed };
    using Deadline = std::optional<std::chrono::steady_clock::time_point>;

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
    // Calls `on_fragment` (no lock held); if it throws mid-message, the rest of the message
    // is dropped.
    void deliver_fragment(const std::function<void(std::string_view, bool)>& on_fragment,
                          std::string_view data, bool last);

    const std::size_t high_;
    const std::size_t low_;
    TimedMutex consumer_mutex_; // one consumer at a time
    std::mutex mutex_;
    std::condition_variable frames_cv_;
    std::condition_variable room_cv_;
    std::deque<Frame> frames_;
    bool paused_ = false;
    bool flow_control_ = true;
    bool closed_ = false;
    // A message partly taken by a `get` that timed out.
    bool partial_active_ = false;
    Message partial_;
    // A streaming consumer threw mid-message: drop frames up to the message's last one.
    bool discarding_ = false;
};

} // namespace syncws::detail
