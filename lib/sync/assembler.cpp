#include "assembler.hpp"

namespace syncws::detail {

void Assembler::put(std::vector<Frame>& frames, std::vector<Bytes>& spares) {
    {
        std::lock_guard lock(mutex_);
        for (auto& spare : returned_)
            if (spares.size() < max_spares) spares.push_back(std::move(spare));
        returned_.clear();
        // Nothing to add must not pause: a pause needs frames for the consumer to pop.
        if (frames.empty()) return;
        if (!closed_) {
            for (auto& frame : frames)
                frames_.push_back(std::move(frame));
            if (frames_.size() + taken_size_.load() > high_) paused_ = true;
        }
    }
    frames.clear();
    // One consumer at a time takes frames (consumer_mutex_), so waking one is enough.
    frames_cv_.notify_one();
}

bool Assembler::may_read() {
    std::lock_guard lock(mutex_);
    if (!paused_ || !flow_control_ || closed_) return true;
    reader_waiting_ = true;
    return false;
}

void Assembler::announce_room_locked() {
    if (!reader_waiting_) return;
    reader_waiting_ = false;
    on_room_();
}

void Assembler::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    frames_cv_.notify_all();
    announce_room_locked();
}

bool Assembler::ready() {
    if (taken_size_.load() > 0) return true; // the common answer while a batch lasts
    std::lock_guard lock(mutex_);
    return !frames_.empty() || closed_;
}

bool Assembler::wait_locked(std::unique_lock<std::mutex>& lock, Deadline deadline) {
    if (pump_) {
        lock.unlock();
        const bool pumped = pump_(deadline);
        lock.lock();
        if (!frames_.empty() || closed_) return true;
        if (pumped) return !deadline || std::chrono::steady_clock::now() < *deadline;
        // Not pumped: the I/O runs on another thread, which notifies. Anything it put while
        // the lock was released was seen just above.
    }
    if (!deadline) {
        frames_cv_.wait(lock);
        return true;
    }
    return frames_cv_.wait_until(lock, *deadline) == std::cv_status::no_timeout ||
           !frames_.empty() || closed_;
}

void Assembler::disable_flow_control() {
    std::lock_guard lock(mutex_);
    flow_control_ = false;
    announce_room_locked();
}

bool Assembler::refill_locked() {
    for (auto& spare : spares_)
        if (returned_.size() < max_spares) returned_.push_back(std::move(spare));
    spares_.clear();
    if (frames_.empty()) return false;
    taken_.swap(frames_); // taken_ was empty: O(1), and the two deques trade their blocks
    taken_size_.store(taken_.size());
    return true;
}

void Assembler::reuse(Bytes& buffer) {
    const std::size_t capacity = buffer.capacity();
    if (capacity > Bytes().capacity() && capacity <= max_spare_capacity) {
        if (spares_.size() < max_spares) spares_.push_back(std::move(buffer));
    } else if (capacity >= large_capacity && recycle_large_) {
        recycle_large_(std::move(buffer));
    }
    buffer.clear();
}

Frame Assembler::pop_taken() {
    Frame frame = std::move(taken_.front());
    taken_.pop_front();
    taken_size_.fetch_sub(1);
    if (paused_.load()) {
        std::lock_guard lock(mutex_);
        if (paused_ && frames_.size() + taken_.size() <= low_) {
            paused_ = false;
            announce_room_locked();
        }
    }
    return frame;
}

Assembler::Result Assembler::get(Message& out, Deadline deadline) {
    std::unique_lock consumer(consumer_mutex_, std::defer_lock);
    if (!deadline)
        consumer.lock();
    else if (!consumer.try_lock_until(*deadline))
        return Result::timeout;
    reuse(out.data);
    for (;;) {
        if (taken_.empty()) {
            std::unique_lock lock(mutex_);
            while (!refill_locked()) {
                if (closed_) return Result::closed;
                if (!wait_locked(lock, deadline)) return Result::timeout;
            }
        }
        Frame frame = pop_taken();
        if (discarding_) {
            discarding_ = !frame.fin;
            continue;
        }
        if (!partial_active_) {
            partial_active_ = true;
            partial_.binary = frame.opcode == Opcode::binary;
            // The common single-frame message is moved, not copied.
            partial_.data = std::move(frame.payload);
        } else {
            partial_.data += frame.payload;
        }
        if (frame.fin) {
            partial_active_ = false;
            out = std::move(partial_);
            partial_ = Message{};
            return Result::message;
        }
    }
}

Assembler::Result
Assembler::get_streaming(const std::function<void(std::string_view, bool)>& on_fragment,
                         bool& binary) {
    std::lock_guard consumer(consumer_mutex_);
    bool first = true;
    if (partial_active_) {
        // A get() that timed out left a partial message: hand over what it took.
        first = false;
        binary = partial_.binary;
        Message taken = std::move(partial_);
        partial_ = Message{};
        partial_active_ = false;
        deliver_fragment(on_fragment, taken.data, false);
    }
    for (;;) {
        if (taken_.empty()) {
            std::unique_lock lock(mutex_);
            while (!refill_locked()) {
                if (closed_) return Result::closed;
                wait_locked(lock, std::nullopt);
            }
        }
        Frame frame = pop_taken();
        if (discarding_) {
            discarding_ = !frame.fin;
            continue;
        }
        if (first) {
            binary = frame.opcode == Opcode::binary;
            first = false;
        }
        deliver_fragment(on_fragment, frame.payload, frame.fin);
        if (frame.fin) return Result::message;
    }
}

void Assembler::deliver_fragment(const std::function<void(std::string_view, bool)>& on_fragment,
                                 std::string_view data, bool last) {
    try {
        on_fragment(data, last);
    } catch (...) {
        // The consumer gave up on this message: its remaining fragments must not be taken
        // for the start of the next one.
        if (!last) {
            std::lock_guard lock(mutex_);
            discarding_ = true;
        }
        throw;
    }
}

} // namespace syncws::detail
