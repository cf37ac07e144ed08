#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/reconnect.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <typeinfo>

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

// Retry-After (RFC 9110 §10.2.3) in its delay-seconds form; the HTTP-date form is ignored
// (it would need a trusted clock).
std::optional<milliseconds> retry_after(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const InvalidStatus& e) {
        const auto value = e.response().headers.get("Retry-After");
        if (!value || value->empty() || value->size() > 18) return std::nullopt;
        long long seconds = 0;
        for (const char c : *value) {
            if (c < '0' || c > '9') return std::nullopt;
            seconds = seconds * 10 + (c - '0');
        }
        // Anything beyond a century is as good as a century, and stays clear of overflow.
        constexpr long long century = 100LL * 365 * 24 * 3600;
        return milliseconds(std::min(seconds, century) * 1000);
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
        switch (e.response().status) {
        case 429: // Too Many Requests
        case 500: // Internal Server Error
        case 502: // Bad Gateway
        case 503: // Service Unavailable
        case 504: // Gateway Timeout
            return true;
        default:
            return false;
        }
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

    // Used only by the connecting thread.
    const std::string uri;
    const ClientOptions client;
    const ReconnectOptions options;
    std::mt19937_64 random_engine;
    int failures = 0; // failed attempts in a row

    std::mutex mutex;
    std::condition_variable wake; // signalled by stop()
    bool stopped = false;         // guarded by mutex
    // The iteration's connection, so that stop() can close it. Guarded by mutex; the
    // iterating thread also reads it unlocked, since only that thread replaces it.
    std::optional<ClientConnection> current;
};

Reconnector::Reconnector(std::string uri, ClientOptions client, ReconnectOptions options)
    : impl_(std::make_unique<Impl>(std::move(uri), std::move(client), std::move(options))) {}

Reconnector::~Reconnector() = default;

std::optional<ClientConnection> Reconnector::connect() {
    Impl& s = *impl_;
    validate(s.options);
    for (;;) {
        if (s.is_stopped()) return std::nullopt;
        std::exception_ptr error;
        try {
            auto connection = syncws::connect(s.uri, s.client);
            s.failures = 0;
            // Stopped while connecting: the caller asked for no more connections; this one
            // closes as it goes out of scope.
            if (s.is_stopped()) return std::nullopt;
            return connection;
        } catch (...) {
            error = std::current_exception();
        }
        if (s.is_stopped()) return std::nullopt;
        if (s.failures < INT_MAX) ++s.failures;
        const int attempt = s.failures;

        const bool retry =
            s.options.should_retry ? s.options.should_retry(error) : is_retryable(error);
        if (!retry) {
            s.failures = 0;
            std::rethrow_exception(error);
        }
        if (s.options.max_attempts > 0 && attempt >= s.options.max_attempts) {
            s.failures = 0;
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
                std::throw_with_nested(RetriesExhausted("gave up connecting to " + s.uri +
                                                            " after " + std::to_string(attempt) +
                                                            " attempts: " + why,
                                                        attempt, error));
            }
        }

        milliseconds delay = backoff_delay(s.options, attempt, s.draw());
        // A server that says when to come back (503, 429) is not asked earlier, within the
        // limit the caller set.
        if (const auto after = retry_after(error))
            delay = std::max(delay, std::min(*after, s.options.max_delay));

        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            if (s.client.connection.logger)
                s.client.connection.logger(LogLevel::info,
                                           "connecting to " + s.uri + " failed (attempt " +
                                               std::to_string(attempt) + "); retrying in " +
                                               seconds_text(delay) + " s: " + e.what());
            if (s.options.on_retry) s.options.on_retry(e, attempt, delay);
        } catch (...) {
            const Error unknown("unknown exception");
            if (s.options.on_retry) s.options.on_retry(unknown, attempt, delay);
        }

        std::unique_lock lock(s.mutex);
        s.wake.wait_for(lock, std::min(delay, longest_wait), [&] { return s.stopped; });
    }
}

void Reconnector::stop() {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    s.stopped = true;
    s.wake.notify_all();
    // Under the lock, so the iterating thread cannot destroy the connection meanwhile; it
    // waits for the lock only on its way to connecting again, where it will see `stopped`.
    if (s.current) s.current->close(static_cast<std::uint16_t>(CloseCode::going_away));
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
    std::optional<ClientConnection> previous;
    {
        std::lock_guard lock(s.mutex);
        previous.swap(s.current);
    }
    // Closing waits for the closing handshake (close_timeout at most): not under the lock,
    // so stop() stays prompt.
    previous.reset();
    advance();
    return *this;
}

void Reconnector::iterator::advance() {
    Impl& s = *reconnector_->impl_;
    auto connection = reconnector_->connect();
    if (connection) {
        std::lock_guard lock(s.mutex);
        // stop() between connect() and here could not close this connection: check again
        // under the lock that stop() takes.
        if (!s.stopped) {
            s.current = std::move(connection);
            return;
        }
    }
    reconnector_ = nullptr;
}

ClientConnection connect_with_retry(std::string_view uri, const ClientOptions& client,
                                    const ReconnectOptions& options) {
    Reconnector reconnector(std::string(uri), client, options);
    // Nobody else can reach this reconnector to stop it, so connect() returns a connection
    // or throws.
    return std::move(*reconnector.connect());
}

} // namespace syncws
