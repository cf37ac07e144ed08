// Deadlines from user-supplied timeouts.
#pragma once

#include <chrono>

namespace syncws::detail {

using Clock = std::chrono::steady_clock;

/// `from + timeout`, saturated at the end of time: users write milliseconds::max() for "no
/// timeout", and adding that to a time point would overflow (undefined behaviour).
inline Clock::time_point deadline_after(std::chrono::milliseconds timeout,
                                        Clock::time_point from = Clock::now()) {
    // A negative timeout has passed already (milliseconds::min() would overflow too).
    if (timeout.count() <= 0) return from;
    if (timeout >=
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - from))
        return Clock::time_point::max();
    return from + timeout;
}

} // namespace syncws::detail
