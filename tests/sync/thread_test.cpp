// TimedMutex: mutual exclusion, timeouts, and no lost wake-up between its lock-free fast
// path and the threads that sleep on its condition variable.
#include "thread.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace syncws::detail {
namespace {

using namespace std::chrono_literals;

TEST(TimedMutex, ExcludesEveryOtherThread) {
    TimedMutex mutex;
    long long counter = 0; // unsynchronised but for the mutex: a race shows as a lost count
    constexpr int threads = 4;
    constexpr int rounds = 5000;
    // Holding the lock across a yield now and then sends the others to sleep on the slow
    // path, so that the lock-free release has sleepers to wake.
    auto critical_section = [&](int i) {
        ++counter;
        if (i % 16 == 0) std::this_thread::yield();
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < rounds; ++i) {
                // Every kind of acquisition, so that fast and slow paths meet.
                if (i % 3 == 0) {
                    std::lock_guard lock(mutex);
                    critical_section(i);
                } else if (i % 3 == 1) {
                    std::unique_lock lock(mutex, std::defer_lock);
                    ASSERT_TRUE(lock.try_lock_for(10s));
                    critical_section(i);
                } else {
                    while (!mutex.try_lock())
                        std::this_thread::yield();
                    critical_section(i);
                    mutex.unlock();
                }
            }
        });
    for (auto& w : workers)
        w.join();
    EXPECT_EQ(counter, static_cast<long long>(threads) * rounds);
}

TEST(TimedMutex, TryLockForTimesOutWhileHeldAndSucceedsOnceFree) {
    TimedMutex mutex;
    mutex.lock();
    auto other = std::async(std::launch::async, [&] {
        const auto start = std::chrono::steady_clock::now();
        const bool got = mutex.try_lock_for(50ms);
        return std::make_pair(got, std::chrono::steady_clock::now() - start);
    });
    const auto [got, waited] = other.get();
    EXPECT_FALSE(got);
    EXPECT_GE(waited, 50ms);
    EXPECT_FALSE(mutex.try_lock());
    mutex.unlock();
    EXPECT_TRUE(mutex.try_lock());
    mutex.unlock();
}

TEST(TimedMutex, ASleepingWaiterIsWokenByTheUnlock) {
    // Many rounds of "hold, let a waiter go to sleep, release": a wake-up lost between the
    // waiter's registration and the lock-free release would leave it asleep until its
    // 10 s deadline, and the round would fail.
    TimedMutex mutex;
    for (int round = 0; round < 200; ++round) {
        mutex.lock();
        auto waiter = std::async(std::launch::async, [&] {
            std::unique_lock lock(mutex, std::defer_lock);
            return lock.try_lock_for(10s);
        });
        // It registered as a waiter: released just before it sleeps, or while it sleeps.
        while (mutex.waiters() == 0)
            std::this_thread::yield();
        for (int i = 0; i < round % 8; ++i)
            std::this_thread::yield();
        mutex.unlock();
        ASSERT_EQ(waiter.wait_for(5s), std::future_status::ready) << "round " << round;
        EXPECT_TRUE(waiter.get()) << "round " << round;
    }
}

} // namespace
} // namespace syncws::detail
