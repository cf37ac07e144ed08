// The server's pool: one task per connection, bounded, idle threads retire.
#pragma once

#include "thread.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>

namespace syncws::detail {

/// Runs tasks on at most `max_threads` threads, with no waiting line: a task that would
/// have to wait is refused, so the server can answer 503 at once instead of letting a
/// client hang. Threads beyond `min_threads` retire after `idle_timeout` without work.
///
/// Thread safety: `try_submit` and `shutdown` from any thread.
class ThreadPool {
public:
    ThreadPool(std::size_t max_threads, std::size_t min_threads,
               std::chrono::milliseconds idle_timeout, std::size_t stack_size);
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool();

    /// Runs `task` on a pool thread; false if every thread is busy (or shutting down).
    /// A task must not throw (exceptions are caught and dropped).
    bool try_submit(std::function<void()> task);
    /// Refuses new tasks, waits for running ones, joins every thread. Idempotent. Called
    /// from one of the pool's own tasks, it waits for the others and leaves the caller's
    /// thread to a later call from outside (the destructor must not run on a pool thread).
    void shutdown();
    /// Tasks running or about to run.
    std::size_t busy() const;
    /// True on a thread running one of this pool's tasks.
    bool runs_this_thread() const noexcept;

private:
    struct Worker {
        Thread thread;
        bool finished = false;
    };

    void run(Worker* self);
    void reap_locked(std::unique_lock<std::mutex>& lock);

    const std::size_t max_threads_;
    const std::size_t min_threads_;
    const std::chrono::milliseconds idle_timeout_;
    const std::size_t stack_size_;
    mutable std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable idle_cv_;
    std::deque<std::function<void()>> tasks_;
    std::list<Worker> workers_;
    std::size_t threads_ = 0; // alive
    std::size_t idle_ = 0;    // waiting for work
    std::size_t busy_ = 0;    // submitted and not finished
    bool stopping_ = false;
};

} // namespace syncws::detail
