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
    /// Says whether a failed attempt is worth retrying; empty means `is_retryable`.
    std::function<bool(std::exception_ptr error)> should_retry;
    /// Called before each wait, with the error, the number of failed attempts in a row (1
    /// for the first) and the wait about to start: for logging or metrics. Runs on the
    /// connecting thread, outside any syncws lock; it may call `Reconnector::stop`. (Each
    /// retry is also logged at `info` to `ClientOptions::connection.logger`, if set; an
    /// exception from that logger is swallowed, as connections do.)
    std::function<void(const std::exception& error, int attempt, std::chrono::milliseconds delay)>
        on_retry;
    /// Source of the jitter: returns a number uniform in [0, 1). Empty means a
    /// `std::mt19937_64` seeded from `std::random_device`. Set it to make waits reproducible
    /// (tests). Called only from the connecting thread.
    ///
    /// An exception thrown by `should_retry`, `on_retry` or `random` propagates out of
    /// `connect` (and out of the range-for loop) unchanged: these are the caller's own
    /// code, and a failure there is not a failed attempt. The count of failures restarts.
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
/// host; also a server a SOCKS5 proxy could not reach); `Timeout`; `InvalidStatus` 500,
/// 502, 503 and 504 (a server or proxy error, as in Python websockets) and 429 (Too Many
/// Requests: RFC 6585 §4 asks the client to come back later, which is what backing off
/// does); `ProxyError` with the same statuses (an HTTP proxy's answer to CONNECT: 502 and
/// 504 are how it reports a server it could not reach) or without a response (the proxy
/// closed the connection before answering, or a SOCKS5 proxy reported a general failure);
/// a connection closed by the server before it answered the opening handshake, in plain
/// HTTP or during the TLS handshake (a server restarting or overloaded). For these
/// statuses, a `Retry-After` header in seconds makes the wait at least that long, within
/// `max_delay`.
///
/// Not retried: every other `InvalidStatus` (4xx such as 401, 403 and 404 need another
/// request, not the same one again; redirects beyond `max_redirects`); every other
/// `ProxyError` (407: the proxy wants other credentials; 403: its rules forbid the
/// target); a SOCKS5 proxy's refusal by rule or of the credentials (an
/// `InvalidHandshake`); `TlsError` (an untrusted certificate, a hostname mismatch, a
/// handshake alert or a configuration error repeat identically; Python websockets retries
/// these as `OSError`, syncws does not); `InvalidURI`; `InvalidHeader`, `NegotiationError`,
/// `SecurityLimit` and other invalid handshake responses (the server is misconfigured);
/// anything syncws does not throw (`std::bad_alloc`, exceptions of user hooks). A null
/// `error` is not retried.
bool is_retryable(std::exception_ptr error) noexcept;

/// Thrown when `ReconnectOptions::max_attempts` attempts in a row failed with retryable
/// errors. `what()` says how many; the last attempt's error is nested
/// (`std::rethrow_if_nested`) and also available as `last_error()`.
class RetriesExhausted : public Error {
public:
    /// `what` is the message; `attempts` the failed attempts in a row; `last_error` the
    /// last one's error. `connect` makes it; public so that tests and wrappers can too.
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
/// called from any thread (including `on_retry` and the loop body). Neither copyable nor
/// movable, so other threads may keep a reference; the destructor must not run while
/// another thread is inside any member, `stop()` included.
class Reconnector {
public:
    /// Keeps `uri` connected with `client` options, retrying as `options` say. Connects
    /// nothing yet: `connect` or `begin` does.
    /// Throws `std::invalid_argument` if `options` are invalid (a negative delay or
    /// `max_attempts`, `factor` below 1 or NaN, `jitter` outside [0, 1]); `client` and
    /// `uri` are checked by each attempt (`InvalidURI` is not retried).
    Reconnector(std::string uri, ClientOptions client = {}, ReconnectOptions options = {});
    /// Not copyable, and not movable either: other threads may hold a reference.
    Reconnector(const Reconnector&) = delete;
    /// Not copyable.
    Reconnector& operator=(const Reconnector&) = delete;
    /// Closes the connection the loop holds, if any (1000, waiting up to `close_timeout`).
    /// Must not run while another thread is inside `connect`, the loop or `stop()`.
    ~Reconnector();

    /// Opens a connection, retrying failed attempts that `should_retry` accepts: blocks
    /// until one succeeds. Returns nothing once `stop()` was called, before or during the
    /// call (a connection that opened meanwhile is closed), and never throws then.
    /// Throws: the first error `should_retry` rejects, unchanged; `RetriesExhausted` after
    /// `max_attempts` failures in a row; what `should_retry`, `on_retry` or `random` throw.
    /// After a throw the count of failures restarts.
    std::optional<ClientConnection> connect();

    /// Stops for good: wakes a `connect` waiting between attempts at once (no polling) and
    /// makes it return nothing; closes the connection the range-for loop holds (1001, going
    /// away), which wakes a `recv` blocked on it, so the loop ends after that iteration. An
    /// attempt in progress is not interrupted: it ends within `ClientOptions::open_timeout`,
    /// and its connection, if it opens, is closed and not yielded.
    ///
    /// Returns once the connection the loop held when `stop()` was called is closed: the
    /// closing handshake is done, or `close_timeout` passed (as `Connection::close`); at
    /// once if there was none. It does not wait for the loop to end nor for an attempt in
    /// progress. It holds no lock meanwhile, so `stopped()`, `connect` and the loop's `++`
    /// go on (the connection stays alive until both the loop and `stop()` let go of it).
    /// Idempotent; from the loop body, it closes the body's own connection.
    void stop();
    /// True once `stop()` was called. Never blocks on a `stop()` in progress.
    bool stopped() const;

    /// Input iterator over connections (see the class comment). Single pass.
    class iterator;
    /// `iterator(this)`: connects, blocking like `connect`; the end iterator if stopped.
    /// Throws like `connect`.
    iterator begin();
    /// The end iterator (`iterator()`).
    iterator end();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Input iterator of `Reconnector`: dereferences to the open connection; `++` closes it and
/// connects again. Used by one thread only.
class Reconnector::iterator {
public:
    /// Single pass: a connection is yielded once.
    using iterator_category = std::input_iterator_tag;
    /// What `*` refers to: the open connection.
    using value_type = ClientConnection;
    /// Required of iterators; iterators are never subtracted.
    using difference_type = std::ptrdiff_t;
    /// What `->` returns.
    using pointer = ClientConnection*;
    /// What `*` returns.
    using reference = ClientConnection&;

    /// The end iterator.
    iterator() = default;
    /// Connects through `reconnector` (its `connect`: blocks until a connection opens) and
    /// holds the connection; the end iterator if it is stopped.
    /// Throws like `Reconnector::connect`.
    explicit iterator(Reconnector* reconnector);
    /// The connection held. Not on the end iterator.
    ClientConnection& operator*() const;
    /// `&**this`. Not on the end iterator.
    ClientConnection* operator->() const { return &**this; }
    /// Closes the connection held (1000, waiting up to `close_timeout`; not waiting if
    /// `stop()` is closing it) and connects again, blocking like `connect`: becomes the end
    /// iterator if stopped. Throws like `connect`; the iterator is then the end iterator.
    iterator& operator++();
    /// Equal if both are the end iterator, or both iterate the same reconnector (single
    /// pass: there is only ever one position).
    friend bool operator==(const iterator& a, const iterator& b) {
        return a.reconnector_ == b.reconnector_;
    }
    /// `!(a == b)`.
    friend bool operator!=(const iterator& a, const iterator& b) { return !(a == b); }

private:
    void advance();
    Reconnector* reconnector_ = nullptr;
};

/// Opens a connection to `uri`, retrying failed attempts as `Reconnector::connect` does,
/// for programs that only need to survive a server that isn't up yet. Blocks until
/// connected; with `max_attempts` 0 and an unreachable server, forever (use a
/// `Reconnector` to be able to stop).
/// Throws like the `Reconnector` constructor and `Reconnector::connect`.
ClientConnection connect_with_retry(std::string_view uri, const ClientOptions& client = {},
                                    const ReconnectOptions& options = {});

} // namespace syncws
