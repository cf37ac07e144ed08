// A joinable thread with a chosen stack size: std::thread cannot set one, and thousands of
// connections with two threads each need small stacks to fit in memory.
#pragma once

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

/// A timed mutex (TimedLockable, for `std::unique_lock`) made of a mutex and a condition
/// variable. libstdc++'s `std::timed_mutex::try_lock_until` calls
/// `pthread_mutex_clocklock`, which ThreadSanitizer (GCC 12) does not intercept: it then
/// misses the lock, reports every unlock as "unlock of an unlocked mutex" and loses the
/// ordering the lock provides. Condition variable waits it does see.
class TimedMutex {
public:
    void lock() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !locked_; });
        locked_ = true;
    }
    bool try_lock() {
        std::lock_guard lock(mutex_);
        if (locked_) return false;
        locked_ = true;
        return true;
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_until(lock, deadline, [&] { return !locked_; })) return false;
        locked_ = true;
        return true;
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
        return try_lock_until(std::chrono::steady_clock::now() + timeout);
    }
    void unlock() {
        {
            std::lock_guard lock(mutex_);
            locked_ = false;
        }
        // All: a waiter whose deadline passed as it woke must not swallow the wake-up.
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool locked_ = false;
};

} // namespace syncws::detail
