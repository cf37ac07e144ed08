#include "resolve_until.hpp"

#include "deadline.hpp"
#include "socket.hpp"

#include <syncws/errors.hpp>

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace syncws::detail {

namespace {

// Shared by the caller and the lookup's thread: whichever leaves last frees it.
struct PendingLookup {
    std::mutex mutex;
    std::condition_variable finished_cv;
    bool finished = false; // guarded by mutex, as are the two below
    std::vector<net::Endpoint> endpoints;
    std::exception_ptr error;
};

} // namespace

std::vector<net::Endpoint> resolve_until(std::string_view host, std::uint16_t port,
                                         net::Deadline deadline, Lookup lookup) {
    if (!lookup)
        lookup = [](const std::string& name, std::uint16_t p) { return net::resolve(name, p); };
    std::string name(host);
    // Nothing to bound without a deadline, and a literal is parsed, not looked up: a thread
    // would only cost time.
    if (deadline == net::Deadline::max() || net::is_ip_literal(host)) return lookup(name, port);
    const auto start = Clock::now();
    // No thread for a lookup nobody would wait for (the proxy took the whole deadline).
    if (start >= deadline) throw Timeout("DNS lookup for " + name + " timed out after 0 ms");
    auto pending = std::make_shared<PendingLookup>();
    try {
        // Detached, unlike every other thread of ours: after the deadline nobody waits for
        // it, and it ends by itself once getaddrinfo() returns.
        std::thread([pending, lookup, name, port] {
            std::vector<net::Endpoint> endpoints;
            std::exception_ptr error;
            try {
                endpoints = lookup(name, port);
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard lock(pending->mutex);
            pending->endpoints = std::move(endpoints);
            pending->error = error;
            pending->finished = true;
            pending->finished_cv.notify_all();
        }).detach();
    } catch (const std::system_error&) {
        return lookup(name, port); // no thread to spare: unbounded, but not a failure
    }
    std::unique_lock lock(pending->mutex);
    if (!pending->finished_cv.wait_until(lock, deadline, [&] { return pending->finished; })) {
        throw Timeout("DNS lookup for " + name + " timed out after " +
                      std::to_string(net::detail::elapsed_ms(start)) + " ms");
    }
    if (pending->error) std::rethrow_exception(pending->error);
    return std::move(pending->endpoints);
}

} // namespace syncws::detail
