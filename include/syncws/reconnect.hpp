// Reconnecting with exponential backoff: Reconnector, connect_with_retry(), is_retryable().
#pragma once

#include <syncws/client.hpp>
#include <syncws/errors.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace syncws {

/// How `Reconnector` and `connect_with_retry` retry a failed connection attempt.
///
/// After the n-th failed attempt in a row the wait is
///
///     base(n)  = min(max_delay, initial_delay × factor^(n−1))
///     delay(n) = base(n) × (1 − jitter × u),   u uniform in [0, 1)
///
/// so it lies in [(1 − jitter)·base(n), base(n)] and never exceeds `max_delay`
/// (`backoff_delay` computes it). The defaults follow Python websockets' reconnection loop
/// (first wait up to 5 s, factor 1.618 (the golden ratio), at most 90 s) but randomize every
/// wait ("full jitter"), not only the first: after a server restart, its clients' retries
/// spread over the whole window instead of arriving together. A successful connection
/// resets the count, and the first attempt after a lost connection is made at once.
struct ReconnectOptions {
    /// Upper bound of the wait after the first failure.
    std::chrono::milliseconds initial_delay{5000};
    /// Upper bound of every wait.
    std::chrono::milliseconds max_delay{90000};
    /// Growth of the upper bound from one failure to the next; at least 1.
    double factor = 1.618;
    /// Fraction of each wait that is random, in [0, 1]: 1 draws it from [0, base] ("full
    /// jitter"), 0.5 from [base/2, base], 0 makes it exactly `base` (deterministic).
    double jitter = 1.0;
    /// Failed attempts in a row after which `connect` gives up with `RetriesExhausted`;
    /// 0 retries without end.
    int max_attempts = 0;
    /// Says whether a failed attempt is worth retrying; empty means `is_retryable`. If it
    /// throws, that exception propagates out of `connect`.
    std::function<bool(std::exception_ptr error)> should_retry;
    /// Called before each wait, with the error, the number of failed attempts in a row (1
    /// for the first) and the wait about to start: for logging or metrics. Runs on the
    /// connecting thread, outside any syncws lock; it may call `Reconnector::stop`. (Each
    /// retry is also logged at `info` to `ClientOptions::connection.logger`, if set.)
    std::function<void(const std::exception& error, int attempt, std::chrono::milliseconds delay)>
        on_retry;
    /// Source of the jitter: returns a number uniform in [0, 1). Empty means a
    /// `std::mt19937_64` seeded from `std::random_device`. Set it to make waits reproducible
    /// (tests). Called only from the connecting thread.
    std::function<double()> random;
};

/// The wait after the `attempt`-th failed attempt in a row (1 for the first) for a random
/// number `random` in [0, 1): see `ReconnectOptions`. Pure and overflow-free: any attempt
/// count gives at most `max_delay`; `attempt` below 1 counts as 1 and `random` outside
/// [0, 1] is clamped.
/// Throws `std::invalid_argument` if a delay is negative, `factor` is below 1 (or NaN) or
/// `jitter` is outside [0, 1].
std::chrono::milliseconds backoff_delay(const ReconnectOptions& options, int attempt,
                                        double random);

/// The default retry policy: true for an error that a later attempt with the same options
/// may not hit.
///
/// Retried: `NetworkError` (DNS failure, connection refused, reset, unreachable network or
/// host); `Timeout`; `InvalidStatus` 500, 502, 503 and 504 (a server or proxy error, as in
/// Python websockets) and 429 (Too Many Requests: RFC 6585 §4 asks the client to come back
/// later, which is what backing off does); a connection closed by the server before it
/// answered the opening handshake, in plain HTTP or during the TLS handshake (a server
/// restarting or overloaded).
///
/// Not retried: every other `InvalidStatus` (4xx such as 401, 403 and 404 need another
/// request, not the same one again; redirects beyond `max_redirects`); `TlsError` (an
/// untrusted certificate, a hostname mismatch, a handshake alert or a configuration error
/// repeat identically; Python websockets retries these as `OSError`, syncws does not);
/// `InvalidURI`; `InvalidHeader`, `NegotiationError`, `SecurityLimit` and other invalid
/// handshake responses (the server is misconfigured); anything syncws does not throw
/// (`std::bad_alloc`, exceptions of user hooks). A null `error` is not retried.
bool is_retryable(std::exception_ptr error) noexcept;

/// Thrown when `ReconnectOptions::max_attempts` attempts in a row failed with retryable
/// errors. `what()` says how many; the last attempt's error is nested
/// (`std::rethrow_if_nested`) and also available as `last_error()`.
class RetriesExhausted : public Error {
public:
    RetriesExhausted(const std::string& what, int attempts, std::exception_ptr last_error)
        : Error(what), attempts_(attempts), last_error_(std::move(last_error)) {}
    /// Failed attempts in a row (equal to `max_attempts`).
    int attempts() const noexcept { return attempts_; }
    /// The error of the last attempt.
    const std::exception_ptr& last_error() const noexcept { return last_error_; }

private:
    int attempts_;
    std::exception_ptr last_error_;
};

/// Keeps a client connected to one URI: opens connections with `syncws::connect`, retrying
/// failed attempts with exponential backoff and jitter (see `ReconnectOptions`), until
/// `stop()`.
///
/// Range-for yields a new open connection each time the previous one ends, as Python
/// websockets' `for websocket in connect(uri)` does:
///
///     syncws::Reconnector reconnector("wss://example.com/feed");
///     for (syncws::ClientConnection& ws : reconnector) {
///         try {
///             for (auto& message : ws) handle(message);
///         } catch (const syncws::ConnectionClosed&) {
///             // lost: the loop reconnects
///         }
///     }
///
/// Each connection is closed when its loop body ends. The loop ends when `stop()` is
/// called, and throws what `connect` throws (a non-retryable error, `RetriesExhausted`).
///
/// Thread safety: one thread calls `connect` or iterates; `stop()` and `stopped()` may be
/// called from any thread (including `on_retry`). Neither copyable nor movable, so other
/// threads may keep a reference.
class Reconnector {
public:
    Reconnector(std::string uri, ClientOptions client = {}, ReconnectOptions options = {});
    Reconnector(const Reconnector&) = delete;
    Reconnector& operator=(const Reconnector&) = delete;
    /// Closes the connection the iteration holds, if any. Must not run while another
    /// thread is inside `connect` or the loop.
    ~Reconnector();

    /// Opens a connection, retrying failed attempts that `should_retry` accepts: blocks
    /// until one succeeds. Returns nothing once `stop()` was called, before or during the
    /// call (a connection that opened meanwhile is closed), and never throws then.
    /// Throws: the first error `should_retry` rejects, unchanged; `RetriesExhausted` after
    /// `max_attempts` failures in a row; `std::invalid_argument` for invalid options.
    std::optional<ClientConnection> connect();

    /// Stops for good: wakes a `connect` waiting between attempts at once (no polling) and
    /// makes it return nothing; closes the connection the range-for loop holds (1001, going
    /// away), which wakes a `recv` blocked on it, so the loop ends after that iteration. An
    /// attempt in progress is not interrupted: it ends within `ClientOptions::open_timeout`.
    /// Idempotent; returns when the iteration's connection is closed.
    void stop();
    /// True once `stop()` was called.
    bool stopped() const;

    /// Input iterator over connections (see the class comment). Single pass.
    class iterator;
    /// Connects (see `connect`); the end iterator if stopped.
    iterator begin();
    iterator end();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// Input iterator of `Reconnector`: dereferences to the open connection; `++` closes it and
/// connects again.
class Reconnector::iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = ClientConnection;
    using difference_type = std::ptrdiff_t;
    using pointer = ClientConnection*;
    using reference = ClientConnection&;

    iterator() = default;
    explicit iterator(Reconnector* reconnector);
    ClientConnection& operator*() const;
    ClientConnection* operator->() const { return &**this; }
    iterator& operator++();
    friend bool operator==(const iterator& a, const iterator& b) {
        return a.reconnector_ == b.reconnector_;
    }
    friend bool operator!=(const iterator& a, const iterator& b) { return !(a == b); }

private:
    void advance();
    Reconnector* reconnector_ = nullptr;
};

/// Opens a connection to `uri`, retrying failed attempts as `Reconnector::connect` does,
/// for programs that only need to survive a server that isn't up yet. Blocks until
/// connected; with `max_attempts` 0 and an unreachable server, forever (use a
/// `Reconnector` to be able to stop).
/// Throws like `Reconnector::connect`.
ClientConnection connect_with_retry(std::string_view uri, const ClientOptions& client = {},
                                    const ReconnectOptions& options = {});

} // namespace syncws
