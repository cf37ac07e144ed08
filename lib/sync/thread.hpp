// A joinable thread with a chosen stack size: std::thread cannot set one, and thousands of
// connections with two threads each need small stacks to fit in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <pthread.h>

namespace syncws::detail {

class Thread {
public:
    Thread() = default;
    Thread(const Thread&) = delete;
    Thread& operator=(const Thread&) = delete;
    /// A thread still running at destruction is joined: nothing is ever detached.
    ~Thread() { join(); }

    /// Starts `body` on a new thread with `stack_size` bytes of stack (raised to the
    /// system minimum). Throws `std::system_error` if the thread cannot be created.
    void start(std::size_t stack_size, std::function<void()> body);
    /// Waits for the thread to end. Idempotent. Must not be called from the thread itself.
    void join() noexcept;
    bool joinable() const noexcept { return started_; }
    /// True when called on this thread.
    bool is_current() const noexcept;

private:
    pthread_t handle_{};
    bool started_ = false;
};

/// A timed mutex (TimedLockable, for `std::unique_lock`): an atomic flag, with a mutex and a
/// condition variable for the threads that must wait. libstdc++'s
/// `std::timed_mutex::try_lock_until` calls `pthread_mutex_clocklock`, which
/// ThreadSanitizer (GCC 12) does not intercept: it then misses the lock, reports every
/// unlock as "unlock of an unlocked mutex" and loses the ordering the lock provides.
/// Condition variable waits and atomics it does see.
class TimedMutex {
public:
    void lock() {
        if (try_lock()) return;
        std::unique_lock lock(mutex_);
        ++waiters_;
        cv_.wait(lock, [&] { return try_lock(); });
        --waiters_;
    }
    // Uncontended, taking is one atomic exchange and releasing a store and a load: a message
    // send takes this lock, and two more mutex round trips per message cost measurable
    // throughput.
    bool try_lock() { return !locked_.exchange(true, std::memory_order_seq_cst); }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        if (try_lock()) return true;
        std::unique_lock lock(mutex_);
        ++waiters_;
        const bool locked = cv_.wait_until(lock, deadline, [&] { return try_lock(); });
        --waiters_;
        return locked;
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
        return try_lock_until(std::chrono::steady_clock::now() + timeout);
    }
    /// Threads asleep in `lock` or `try_lock_until`, or about to be (for tests).
    int waiters() const { return waiters_.load(); }
    void unlock() {
        locked_.store(false, std::memory_order_seq_cst);
        // Sequentially consistent with the waiter's increment-then-try: either it sees the
        // lock free, or this sees it waiting. The mutex orders the notify after its wait.
        if (waiters_.load(std::memory_order_seq_cst) == 0) return;
        { std::lock_guard lock(mutex_); }
        // All: a waiter whose deadline passed as it woke must not swallow the wake-up.
        cv_.notify_all();
    }

private:
    std::atomic<bool> locked_{false};
    std::atomic<int> waiters_{0};
    std::mutex mutex_; // for the sleepers only
    std::condition_variable cv_;
};

} // namespace syncws::detail
