#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/reconnect.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <typeinfo>
#include <utility>

namespace syncws {

namespace {

using std::chrono::milliseconds;

void validate(const ReconnectOptions& options) {
    if (options.initial_delay.count() < 0 || options.max_delay.count() < 0)
        throw std::invalid_argument("ReconnectOptions: delays must not be negative");
    if (!(options.factor >= 1.0))
        throw std::invalid_argument("ReconnectOptions: factor must be at least 1");
    if (!(options.jitter >= 0.0 && options.jitter <= 1.0))
        throw std::invalid_argument("ReconnectOptions: jitter must be in [0, 1]");
    if (options.max_attempts < 0)
        throw std::invalid_argument("ReconnectOptions: max_attempts must not be negative");
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The two ways a server that closes the connection before answering shows up. Neither has
// its own exception type yet, so they are recognized by the message their thrower writes
// (lib/proto/protocol.cpp receive_eof, lib/net/tls.cpp TlsStream::handshake); the tests
// pin both, so a changed message fails them instead of silently changing the policy.
constexpr std::string_view eof_before_response = "connection closed while waiting for the HTTP";
constexpr std::string_view eof_during_tls = "failed: the connection was closed by the peer";

// 429 Too Many Requests, and the 5xx that say "not now" rather than "never": 500 Internal
// Server Error, 502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout.
bool retryable_status(int status) {
    switch (status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return true;
    default:
        return false;
    }
}

// Retry-After (RFC 9110 §10.2.3) in its delay-seconds form; the HTTP-date form is ignored
// (it would need a trusted clock).
std::optional<milliseconds> retry_after(const Response& response) {
    const auto value = response.headers.get("Retry-After");
    if (!value || value->empty() || value->size() > 18) return std::nullopt;
    long long seconds = 0;
    for (const char c : *value) {
        if (c < '0' || c > '9') return std::nullopt;
        seconds = seconds * 10 + (c - '0');
    }
    // Anything beyond a century is as good as a century, and stays clear of overflow.
    constexpr long long century = 100LL * 365 * 24 * 3600;
    return milliseconds(std::min(seconds, century) * 1000);
}

// The Retry-After of the HTTP response a failed attempt got, from the server or from an
// HTTP proxy. (Read inside the handler: rethrow_exception may throw a copy.)
std::optional<milliseconds> retry_after(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const InvalidStatus& e) {
        return retry_after(e.response());
    } catch (const ProxyError& e) {
        if (e.response()) return retry_after(*e.response());
        return std::nullopt;
    } catch (...) {
        return std::nullopt;
    }
}

// std::condition_variable::wait_for adds the wait to now() in nanoseconds: a century keeps
// that far from overflowing, and nobody can tell it from a longer wait.
constexpr milliseconds longest_wait = std::chrono::hours(24 * 365 * 100);

std::string seconds_text(milliseconds delay) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(delay.count()) / 1000.0);
    return text;
}

} // namespace

std::chrono::milliseconds backoff_delay(const ReconnectOptions& options, int attempt,
                                        double random) {
    validate(options);
    if (options.initial_delay.count() == 0) return milliseconds(0);
    const double max_ms = static_cast<double>(options.max_delay.count());
    // factor ≥ 1, so the bound only grows; pow saturates to +inf rather than wrapping, and
    // the comparison below caps it.
    double base = static_cast<double>(options.initial_delay.count()) *
                  std::pow(options.factor, static_cast<double>(std::max(attempt, 1) - 1));
    if (!(base < max_ms)) base = max_ms;
    const double u = random > 0.0 ? std::min(random, 1.0) : 0.0; // NaN → 0
    const double value = base * (1.0 - options.jitter * u);
    // max_delay may be milliseconds::max(), which a double rounds up beyond the range of
    // the result type: return it as it is.
    if (value >= max_ms) return options.max_delay;
    return milliseconds(static_cast<milliseconds::rep>(value));
}

bool is_retryable(std::exception_ptr error) noexcept {
    if (!error) return false;
    try {
        std::rethrow_exception(error);
    } catch (const InvalidStatus& e) {
        return retryable_status(e.response().status);
    } catch (const ProxyError& e) {
        // No answer at all: the proxy closed the connection before answering CONNECT, as
        // one restarting or shedding load does.
        return !e.response() || retryable_status(e.response()->status);
    } catch (const InvalidHandshake& e) {
        // Only the plain InvalidHandshake: its subclasses are answers that were wrong.
        return typeid(e) == typeid(InvalidHandshake) && starts_with(e.what(), eof_before_response);
    } catch (const TlsError& e) {
        return ends_with(e.what(), eof_during_tls);
    } catch (const NetworkError&) {
        return true;
    } catch (const Timeout&) {
        return true;
    } catch (...) {
        return false;
    }
}

struct Reconnector::Impl {
    Impl(std::string uri_, ClientOptions client_, ReconnectOptions options_)
        : uri(std::move(uri_)), client(std::move(client_)), options(std::move(options_)) {
        validate(options);
        if (!options.random) {
            std::random_device device;
            random_engine.seed((static_cast<std::uint64_t>(device()) << 32) ^ device());
        }
    }

    double draw() {
        if (options.random) return options.random();
        return std::uniform_real_distribution<double>(0.0, 1.0)(random_engine);
    }

    bool is_stopped() {
        std::lock_guard lock(mutex);
        return stopped;
    }

    // The client's logger is also the connections' logger, and they swallow what it throws
    // (ConnectionCore::log): a diagnostic must not change what connect does.
    void log(const std::string& message) const noexcept {
        try {
            client.connection.logger(LogLevel::info, message);
        } catch (...) {
        }
    }

    std::optional<ClientConnection> connect();
    milliseconds wait_before_retry(const std::exception_ptr& error, int attempt);

    // Used only by the connecting thread.
    const std::string uri;
    const ClientOptions client;
    const ReconnectOptions options;
    std::mt19937_64 random_engine;
    int failures = 0; // failed attempts in a row

    std::mutex mutex;
    std::condition_variable wake; // signalled by stop()
    bool stopped = false;         // guarded by mutex
    // The loop's connection. Shared, so that stop() can close it outside the lock while
    // the loop lets go of it meanwhile: whichever lets go last destroys it. Guarded by
    // mutex; the iterating thread also reads it unlocked, since only that thread assigns it.
    std::shared_ptr<ClientConnection> current;
};

std::optional<ClientConnection> Reconnector::Impl::connect() {
    for (;;) {
        if (is_stopped()) return std::nullopt;
        std::exception_ptr error;
        try {
            auto connection = syncws::connect(uri, client);
            failures = 0;
            // Stopped while connecting: the caller asked for no more connections; this one
            // closes as it goes out of scope.
            if (is_stopped()) return std::nullopt;
            return connection;
        } catch (...) {
            error = std::current_exception();
        }
        if (is_stopped()) return std::nullopt;
        if (failures < INT_MAX) ++failures;
        const int attempt = failures;

        const bool retry = options.should_retry ? options.should_retry(error) : is_retryable(error);
        if (!retry) std::rethrow_exception(error);
        if (options.max_attempts > 0 && attempt >= options.max_attempts) {
            std::string why = "unknown exception";
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                why = e.what();
            } catch (...) {
            }
            try {
                std::rethrow_exception(error);
            } catch (...) {
                std::throw_with_nested(RetriesExhausted("gave up connecting to " + uri + " after " +
                                                            std::to_string(attempt) +
                                                            " attempts: " + why,
                                                        attempt, error));
            }
        }

        const milliseconds delay = wait_before_retry(error, attempt);
        std::unique_lock lock(mutex);
        wake.wait_for(lock, std::min(delay, longest_wait), [&] { return stopped; });
    }
}

// Chooses the wait after a failed attempt, and reports it to the logger and on_retry.
milliseconds Reconnector::Impl::wait_before_retry(const std::exception_ptr& error, int attempt) {
    milliseconds delay = backoff_delay(options, attempt, draw());
    // A server (or proxy) that says when to come back (503, 429) is not asked earlier,
    // within the limit the caller set.
    if (const auto after = retry_after(error))
        delay = std::max(delay, std::min(*after, options.max_delay));

    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        if (client.connection.logger)
            log("connecting to " + uri + " failed (attempt " + std::to_string(attempt) +
                "); retrying in " + seconds_text(delay) + " s: " + e.what());
        if (options.on_retry) options.on_retry(e, attempt, delay);
    } catch (...) {
        const Error unknown("unknown exception");
        if (client.connection.logger)
            log("connecting to " + uri + " failed (attempt " + std::to_string(attempt) +
                "); retrying in " + seconds_text(delay) + " s: unknown exception");
        if (options.on_retry) options.on_retry(unknown, attempt, delay);
    }
    return delay;
}

Reconnector::Reconnector(std::string uri, ClientOptions client, ReconnectOptions options)
    : impl_(std::make_unique<Impl>(std::move(uri), std::move(client), std::move(options))) {}

Reconnector::~Reconnector() = default;

std::optional<ClientConnection> Reconnector::connect() {
    try {
        return impl_->connect();
    } catch (...) {
        // Whatever ends the call (a rejected error, RetriesExhausted, a user callback), the
        // next call starts a new series of attempts.
        impl_->failures = 0;
        throw;
    }
}

void Reconnector::stop() {
    Impl& s = *impl_;
    std::shared_ptr<ClientConnection> connection;
    {
        std::lock_guard lock(s.mutex);
        s.stopped = true;
        s.wake.notify_all();
        connection = s.current;
    }
    // Closing waits for the closing handshake (close_timeout at most): outside the lock, so
    // that stopped() and the loop's ++ don't wait for it. The loop can't store a connection
    // after this (it checks `stopped` under the lock), and the shared handle keeps this one
    // alive even if the loop lets go of it meanwhile.
    if (connection) connection->close(static_cast<std::uint16_t>(CloseCode::going_away));
}

bool Reconnector::stopped() const {
    return impl_->is_stopped();
}

Reconnector::iterator Reconnector::begin() {
    return iterator(this);
}

Reconnector::iterator Reconnector::end() {
    return iterator();
}

Reconnector::iterator::iterator(Reconnector* reconnector) : reconnector_(reconnector) {
    advance();
}

ClientConnection& Reconnector::iterator::operator*() const {
    return *reconnector_->impl_->current;
}

Reconnector::iterator& Reconnector::iterator::operator++() {
    Impl& s = *reconnector_->impl_;
    std::shared_ptr<ClientConnection> previous;
    {
        std::lock_guard lock(s.mutex);
        previous.swap(s.current);
    }
    // Closing waits for the closing handshake (close_timeout at most): not under the lock,
    // so stop() and stopped() stay prompt. If stop() holds the connection too, it is the
    // one closing it, and the last of the two to let go destroys it.
    previous.reset();
    advance();
    return *this;
}

void Reconnector::iterator::advance() {
    // The end iterator until a connection is held, also if connect() throws.
    Reconnector* const reconnector = std::exchange(reconnector_, nullptr);
    if (!reconnector) return;
    Impl& s = *reconnector->impl_;
    auto connection = reconnector->connect();
    if (!connection) return;
    auto shared = std::make_shared<ClientConnection>(std::move(*connection));
    std::unique_lock lock(s.mutex);
    // stop() between connect() and here could not close this connection: check again
    // under the lock that stop() takes.
    if (s.stopped) {
        lock.unlock();
        return; // `shared` closes it, outside the lock
    }
    s.current = std::move(shared);
    reconnector_ = reconnector;
}

ClientConnection connect_with_retry(std::string_view uri, const ClientOptions& client,
                                    const ReconnectOptions& options) {
    Reconnector reconnector(std::string(uri), client, options);
    // Nobody else can reach this reconnector to stop it, so connect() returns a connection
    // or throws.
    return std::move(*reconnector.connect());
}

} // namespace syncws
