#include "thread_pool.hpp"

#include "deadline.hpp"

namespace syncws::detail {

namespace {

// The pool whose task runs on this thread, if any: a task may shut its own pool down.
thread_local const ThreadPool* current_pool = nullptr;

} // namespace

ThreadPool::ThreadPool(std::size_t max_threads, std::size_t min_threads,
                       std::chrono::milliseconds idle_timeout, std::size_t stack_size)
    : max_threads_(max_threads == 0 ? 1 : max_threads),
      min_threads_(min_threads < max_threads ? min_threads : max_threads),
      idle_timeout_(idle_timeout), stack_size_(stack_size) {}

ThreadPool::~ThreadPool() {
    shutdown();
}

bool ThreadPool::try_submit(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    if (stopping_ || busy_ >= max_threads_) return false;
    reap_locked(lock);
    tasks_.push_back(std::move(task));
    ++busy_;
    if (idle_ > tasks_.size() - 1) {
        // Unlocked first: the worker it wakes needs the lock at once.
        lock.unlock();
        work_cv_.notify_one();
        return true;
    }
    auto& worker = workers_.emplace_back();
    ++threads_;
    try {
        worker.thread.start(stack_size_, [this, w = &worker] { run(w); });
    } catch (...) {
        --threads_;
        --busy_;
        tasks_.pop_back();
        workers_.pop_back();
        return false;
    }
    return true;
}

void ThreadPool::run(Worker* self) {
    current_pool = this;
    std::unique_lock lock(mutex_);
    for (;;) {
        ++idle_;
        const bool woke = work_cv_.wait_until(lock, deadline_after(idle_timeout_),
                                              [&] { return !tasks_.empty() || stopping_; });
        --idle_;
        if (tasks_.empty()) {
            if (stopping_ || (!woke && threads_ > min_threads_)) break;
            continue;
        }
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        try {
            task();
        } catch (...) {
            // Tasks handle their own errors; one that escapes must not kill the pool.
        }
        task = nullptr;
        lock.lock();
        --busy_;
        idle_cv_.notify_all();
    }
    --threads_;
    self->finished = true;
    idle_cv_.notify_all();
}

void ThreadPool::reap_locked(std::unique_lock<std::mutex>& lock) {
    // Join retired threads. They have left run() (finished is its last write under the
    // lock), so join returns at once; it runs unlocked all the same.
    std::list<Worker> done;
    for (auto it = workers_.begin(); it != workers_.end();) {
        auto next = std::next(it);
        if (it->finished) done.splice(done.end(), workers_, it);
        it = next;
    }
    if (done.empty()) return;
    lock.unlock();
    done.clear();
    lock.lock();
}

void ThreadPool::shutdown() {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    work_cv_.notify_all();
    if (current_pool == this) {
        // Called by one of our tasks (a handler stopping its server): wait for the other
        // tasks and join their threads; this one cannot join itself and is joined by a
        // later shutdown() from outside (the destructor's).
        idle_cv_.wait(lock, [&] { return busy_ == 1 && threads_ == 1; });
        reap_locked(lock);
        return;
    }
    idle_cv_.wait(lock, [&] { return busy_ == 0 && threads_ == 0; });
    std::list<Worker> all;
    all.swap(workers_);
    lock.unlock();
    all.clear(); // joins
}

bool ThreadPool::runs_this_thread() const noexcept {
    return current_pool == this;
}

std::size_t ThreadPool::busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
}

} // namespace syncws::detail
