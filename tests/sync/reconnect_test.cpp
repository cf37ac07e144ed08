// Reconnector, connect_with_retry(), is_retryable(), backoff_delay(): the backoff schedule
// exactly, which errors are retried (against real servers on 127.0.0.1), stop() from
// another thread, and the range-for loop that reconnects after each lost connection.
// Waits between attempts are 1-2 ms; what happens next is driven by on_retry, not by time.
#include "handshake_io.hpp"
#include "listener.hpp"
#include "raw_peer.hpp"
#include "sync_test_util.hpp"
#include "test_proxy.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>
#include <syncws/reconnect.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#if SYNCWS_TEST_HAVE_TLS
#include "tls_certs.hpp"
#endif

namespace syncws::test {
namespace {

using ReconnectTest = SyncTest;
using std::chrono::milliseconds;

// ----- helpers ----------------------------------------------------------------------------

/// Backoff without randomness and with millisecond waits, so a test's attempts are
/// deterministic and quick.
ReconnectOptions quick(double factor = 2.0) {
    ReconnectOptions o;
    o.initial_delay = 1ms;
    o.max_delay = 1000ms;
    o.factor = factor;
    o.jitter = 0.0;
    return o;
}

/// A TCP port on 127.0.0.1 where nobody listens (it was free a moment ago).
std::uint16_t free_port() {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    return listener->port();
}

std::string ws_uri(std::uint16_t port) {
    return "ws://127.0.0.1:" + std::to_string(port) + "/";
}

Response status_response(int status) {
    Response r;
    r.status = status;
    r.headers.add("Content-Type", "text/plain");
    r.body = "status " + std::to_string(status) + "\n";
    return r;
}

/// Server options whose process_request answers `statuses[i]` to the i-th request (0 means
/// "go on with the handshake"), and the handshake itself once the list is exhausted.
/// `requests` counts the requests seen.
ServerOptions scripted_options(std::vector<int> statuses, std::atomic<int>& requests) {
    ServerOptions so = local_options();
    so.process_request = [statuses = std::move(statuses),
                          &requests](const Request&) -> std::optional<Response> {
        const auto i = static_cast<std::size_t>(requests++);
        if (i < statuses.size() && statuses[i] != 0) return status_response(statuses[i]);
        return std::nullopt;
    };
    return so;
}

/// What on_retry saw.
struct Retry {
    int attempt;
    milliseconds delay;
    std::string what;
};

/// An on_retry that appends to `log` (called on the connecting thread only).
auto recorder(std::vector<Retry>& log) {
    return [&log](const std::exception& e, int attempt, milliseconds delay) {
        log.push_back({attempt, delay, e.what()});
    };
}

template <class E> std::exception_ptr error(E e) {
    return std::make_exception_ptr(std::move(e));
}

// ----- backoff_delay ----------------------------------------------------------------------

TEST(Backoff, DefaultScheduleWithoutJitterIsGoldenRatioCappedAt90s) {
    // u = 0 gives the upper bound of each wait: 5 s × 1.618^(n−1), truncated to the
    // millisecond, capped at 90 s.
    const ReconnectOptions defaults;
    const std::vector<long long> expected = {5000,  8090,  13089, 21179, 34267,
                                             55445, 89710, 90000, 90000};
    for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(backoff_delay(defaults, static_cast<int>(i) + 1, 0.0).count(), expected[i])
            << "attempt " << i + 1;
}

TEST(Backoff, JitterScalesTheBoundDown) {
    ReconnectOptions o;
    o.initial_delay = 100ms;
    o.max_delay = 1000ms;
    o.factor = 2.0;
    o.jitter = 0.5; // the wait is drawn from [base/2, base]
    const std::vector<long long> half = {75, 150, 300, 600, 750, 750};
    const std::vector<long long> low = {50, 100, 200, 400, 500, 500};
    for (std::size_t i = 0; i < half.size(); ++i) {
        const int attempt = static_cast<int>(i) + 1;
        EXPECT_EQ(backoff_delay(o, attempt, 0.5).count(), half[i]) << attempt;
        EXPECT_EQ(backoff_delay(o, attempt, 0.0).count(), low[i] * 2) << attempt;
        EXPECT_EQ(backoff_delay(o, attempt, 1.0).count(), low[i]) << attempt;
    }
    o.jitter = 1.0; // full jitter: [0, base]
    EXPECT_EQ(backoff_delay(o, 3, 0.25).count(), 300);
    EXPECT_EQ(backoff_delay(o, 3, 0.999).count(), 0); // 400 × 0.001 = 0.4, truncated
    o.jitter = 0.0;                                   // deterministic whatever the random number
    EXPECT_EQ(backoff_delay(o, 3, 0.9).count(), 400);
}

TEST(Backoff, NeverOverflowsAndStaysWithinMaxDelay) {
    ReconnectOptions o;
    o.initial_delay = 1000ms;
    o.max_delay = milliseconds::max();
    o.factor = 10.0;
    o.jitter = 0.0;
    EXPECT_EQ(backoff_delay(o, 10, 0.0).count(), 1000LL * 1000000000LL);
    EXPECT_EQ(backoff_delay(o, 1000, 0.0), milliseconds::max()); // 10^999 → +inf → cap
    EXPECT_EQ(backoff_delay(o, INT_MAX, 0.0), milliseconds::max());
    o.jitter = 1.0;
    EXPECT_LE(backoff_delay(o, INT_MAX, 1e-300), milliseconds::max());

    const ReconnectOptions defaults;
    EXPECT_EQ(backoff_delay(defaults, INT_MAX, 0.0).count(), 90000);
    o.initial_delay = 0ms; // 0 × inf must not become NaN
    EXPECT_EQ(backoff_delay(o, INT_MAX, 0.0).count(), 0);
    o.initial_delay = 5000ms;
    o.max_delay = 2000ms; // the cap applies from the first attempt
    o.jitter = 0.0;
    EXPECT_EQ(backoff_delay(o, 1, 0.0).count(), 2000);
}

TEST(Backoff, OutOfRangeInputsAreClamped) {
    ReconnectOptions o = quick();
    o.initial_delay = 100ms;
    o.jitter = 1.0;
    EXPECT_EQ(backoff_delay(o, 0, 0.0).count(), 100); // attempt < 1 counts as 1
    EXPECT_EQ(backoff_delay(o, -7, 0.0).count(), 100);
    EXPECT_EQ(backoff_delay(o, 1, 2.0).count(), 0);    // random > 1 → 1
    EXPECT_EQ(backoff_delay(o, 1, -3.0).count(), 100); // random < 0 → 0
    EXPECT_EQ(backoff_delay(o, 1, std::nan("")).count(), 100);
}

TEST(Backoff, InvalidOptionsAreRejected) {
    auto with = [](auto change) {
        ReconnectOptions o;
        change(o);
        return o;
    };
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.factor = 0.5; }), 1, 0), std::invalid_argument);
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.factor = std::nan(""); }), 1, 0),
                 std::invalid_argument);
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.jitter = 1.5; }), 1, 0), std::invalid_argument);
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.jitter = -0.1; }), 1, 0),
                 std::invalid_argument);
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.initial_delay = -1ms; }), 1, 0),
                 std::invalid_argument);
    EXPECT_THROW(backoff_delay(with([](auto& o) { o.max_delay = -1ms; }), 1, 0),
                 std::invalid_argument);
    // Reconnector checks them (and max_attempts) when it is made, before any attempt.
    EXPECT_THROW(Reconnector("ws://127.0.0.1:1/", {}, with([](auto& o) { o.max_attempts = -1; })),
                 std::invalid_argument);
    EXPECT_THROW(Reconnector("ws://127.0.0.1:1/", {}, with([](auto& o) { o.factor = 0.9; })),
                 std::invalid_argument);
    EXPECT_THROW(connect_with_retry("ws://127.0.0.1:1/", {}, with([](auto& o) { o.jitter = 2; })),
                 std::invalid_argument);
}

// ----- is_retryable -----------------------------------------------------------------------

TEST(Retryable, NetworkErrorsAndTimeoutsAre) {
    for (const auto code : {std::errc::connection_refused, std::errc::connection_reset,
                            std::errc::network_unreachable, std::errc::host_unreachable,
                            std::errc::no_such_file_or_directory}) // a Unix socket not there yet
        EXPECT_TRUE(is_retryable(error(NetworkError(std::make_error_code(code), "connect"))))
            << std::make_error_code(code).message();
    EXPECT_TRUE(is_retryable(
        error(NetworkError(std::error_code(-2, std::generic_category()), "DNS lookup failed"))));
    EXPECT_TRUE(is_retryable(error(Timeout("timed out during opening handshake"))));
}

TEST(Retryable, ServerErrorsAndTooManyRequestsAreOtherStatusesAreNot) {
    for (const int status : {429, 500, 502, 503, 504})
        EXPECT_TRUE(is_retryable(error(InvalidStatus(status_response(status))))) << status;
    for (const int status : {200, 301, 400, 401, 403, 404, 426, 501, 505, 511})
        EXPECT_FALSE(is_retryable(error(InvalidStatus(status_response(status))))) << status;
}

TEST(Retryable, TlsFailuresAreNotButAPeerClosingDuringTheHandshakeIs) {
    EXPECT_FALSE(is_retryable(error(TlsError("TLS handshake with localhost:1 failed: certificate "
                                             "verify failed: hostname mismatch"))));
    EXPECT_FALSE(is_retryable(error(TlsError("TLS configuration: cannot load cert_file x"))));
    EXPECT_TRUE(is_retryable(error(
        TlsError("TLS handshake with localhost:1 failed: the connection was closed by the peer"))));
}

TEST(Retryable, HandshakeAndUsageErrorsAreNot) {
    EXPECT_FALSE(is_retryable(error(InvalidURI("http://x/", "scheme isn't ws or wss"))));
    EXPECT_FALSE(is_retryable(error(InvalidHeader("Upgrade", "missing"))));
    EXPECT_FALSE(is_retryable(error(NegotiationError("unsupported subprotocol"))));
    EXPECT_FALSE(is_retryable(error(SecurityLimit("too many headers"))));
    EXPECT_FALSE(is_retryable(error(InvalidHandshake("invalid HTTP response: bad status line"))));
    EXPECT_TRUE(is_retryable(
        error(InvalidHandshake("connection closed while waiting for the HTTP response"))));
    // A subclass with that message is an answer, not a closed connection.
    EXPECT_FALSE(is_retryable(
        error(NegotiationError("connection closed while waiting for the HTTP response"))));
    EXPECT_FALSE(is_retryable(error(ProtocolError(1002, "bad frame"))));
    EXPECT_FALSE(is_retryable(error(ConnectionClosedOK(std::nullopt, std::nullopt, false))));
    EXPECT_FALSE(is_retryable(error(InvalidState("send after close"))));
    EXPECT_FALSE(is_retryable(error(std::runtime_error("user hook"))));
    EXPECT_FALSE(is_retryable(error(42)));
    EXPECT_FALSE(is_retryable(nullptr));
}

TEST(Retryable, ProxyErrorsFollowTheStatusRuleAndAProxyHangingUpIsRetried) {
    for (const int status : {429, 500, 502, 503, 504})
        EXPECT_TRUE(is_retryable(error(ProxyError("proxy refused", status_response(status)))))
            << status;
    // 407: other credentials are needed; 403: the proxy's rules forbid the target.
    for (const int status : {400, 403, 404, 405, 407, 501, 505})
        EXPECT_FALSE(is_retryable(error(ProxyError("proxy refused", status_response(status)))))
            << status;
    EXPECT_TRUE(is_retryable(
        error(ProxyError("proxy closed the connection without answering", std::nullopt))));
}

// ----- retrying against real servers ------------------------------------------------------

TEST_F(ReconnectTest, RetriesA503UntilTheServerAccepts) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({503, 503}, requests));
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    Reconnector reconnector(uri_of(*server), {}, o);
    auto client = reconnector.connect();
    ASSERT_TRUE(client);
    client->send_text("third time lucky");
    EXPECT_EQ(client->recv().data, "third time lucky");
    EXPECT_EQ(requests.load(), 3);
    ASSERT_EQ(retries.size(), 2u);
    EXPECT_EQ(retries[0].attempt, 1);
    EXPECT_EQ(retries[0].delay, 1ms);
    EXPECT_EQ(retries[1].attempt, 2);
    EXPECT_EQ(retries[1].delay, 2ms);
    EXPECT_TRUE(contains(retries[0].what, "HTTP 503")) << retries[0].what;
}

TEST_F(ReconnectTest, A404IsNotRetried) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({404, 0}, requests));
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    Reconnector reconnector(uri_of(*server), {}, o);
    try {
        reconnector.connect();
        FAIL() << "connected";
    } catch (const InvalidStatus& e) { // the error itself, not a wrapper
        EXPECT_EQ(e.response().status, 404);
    }
    EXPECT_EQ(requests.load(), 1);
    EXPECT_TRUE(retries.empty());
}

TEST_F(ReconnectTest, ShouldRetryReplacesThePolicy) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({404, 404, 404}, requests));
    ReconnectOptions o = quick();
    int asked = 0;
    o.should_retry = [&](std::exception_ptr e) {
        EXPECT_THROW(std::rethrow_exception(e), InvalidStatus);
        return ++asked < 2; // retry the first 404 only
    };
    EXPECT_THROW(Reconnector(uri_of(*server), {}, o).connect(), InvalidStatus);
    EXPECT_EQ(requests.load(), 2);
    EXPECT_EQ(asked, 2);
}

TEST_F(ReconnectTest, RefusedUntilAServerStartsOnThePort) {
    const std::uint16_t port = free_port();
    std::unique_ptr<Server> server;
    std::vector<int> refused_attempts;
    LogCapture log;
    ClientOptions co;
    co.connection.logger = log.logger();
    ReconnectOptions o = quick();
    o.on_retry = [&](const std::exception& e, int attempt, milliseconds) {
        const auto* network = dynamic_cast<const NetworkError*>(&e);
        ASSERT_NE(network, nullptr) << e.what();
        EXPECT_EQ(network->code(), std::errc::connection_refused) << e.what();
        refused_attempts.push_back(attempt);
        if (attempt == 2) { // the server comes up during the second wait
            ServerOptions so = local_options();
            so.port = port;
            server = start_server(echo_handler(), so);
        }
    };
    Reconnector reconnector(ws_uri(port), co, o);
    auto client = reconnector.connect();
    ASSERT_TRUE(client);
    client->send_text("up at last");
    EXPECT_EQ(client->recv().data, "up at last");
    EXPECT_EQ(refused_attempts, (std::vector<int>{1, 2}));
    EXPECT_TRUE(log.wait_for("info: connecting to " + ws_uri(port) +
                             " failed (attempt 2); retrying in 0.002 s:"))
        << log.all();
}

TEST_F(ReconnectTest, ConnectWithRetryReturnsTheConnection) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({502}, requests));
    auto client = connect_with_retry(uri_of(*server), {}, quick());
    client.send_text("via connect_with_retry");
    EXPECT_EQ(client.recv().data, "via connect_with_retry");
    EXPECT_EQ(requests.load(), 2);
}

TEST_F(ReconnectTest, MaxAttemptsGivesUpAndSaysSo) {
    const std::uint16_t port = free_port();
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.max_attempts = 3;
    o.on_retry = recorder(retries);
    try {
        connect_with_retry(ws_uri(port), {}, o);
        FAIL() << "connected to a closed port";
    } catch (const RetriesExhausted& e) {
        EXPECT_EQ(e.attempts(), 3);
        EXPECT_TRUE(
            contains(e.what(), "gave up connecting to " + ws_uri(port) + " after 3 attempts: "))
            << e.what();
        EXPECT_TRUE(contains(e.what(), "refused")) << e.what();
        const auto cause = nested_cause(e);
        ASSERT_TRUE(cause);
        EXPECT_EQ(cause, e.last_error());
        try {
            std::rethrow_exception(cause);
        } catch (const NetworkError& n) {
            EXPECT_EQ(n.code(), std::errc::connection_refused);
        }
    }
    // No wait after the last attempt.
    ASSERT_EQ(retries.size(), 2u);
    EXPECT_EQ(retries[1].attempt, 2);
}

TEST_F(ReconnectTest, ServerClosingBeforeAnsweringIsRetried) {
    // A server that reads the request and hangs up: the connection closed before the
    // response is retried (this pins the engine's message that is_retryable recognizes).
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto hanging_up = run_async([&] {
        for (int i = 0; i < 2; ++i) {
            auto stream = listener->accept();
            if (!stream || read_http_head(*stream).empty()) return i;
        } // each stream closes here, after the whole request was read: a FIN, not a reset
        return 2;
    });
    ReconnectOptions o = quick();
    o.max_attempts = 2;
    try {
        connect_with_retry(ws_uri(listener->port()), {}, o);
        FAIL() << "connected";
    } catch (const RetriesExhausted& e) {
        EXPECT_EQ(e.attempts(), 2);
        try {
            std::rethrow_exception(e.last_error());
        } catch (const InvalidHandshake& h) {
            EXPECT_TRUE(contains(h.what(), "connection closed while waiting for the HTTP"))
                << h.what();
        }
    }
    ASSERT_TRUE(finishes(hanging_up));
    EXPECT_EQ(hanging_up.get(), 2);
}

TEST_F(ReconnectTest, RetryAfterIsHonouredWithinMaxDelay) {
    std::atomic<int> requests{0};
    ServerOptions so = local_options();
    so.process_request = [&](const Request&) -> std::optional<Response> {
        if (requests++ > 1) return std::nullopt;
        Response r = status_response(503);
        r.headers.add("Retry-After", "3600");
        return r;
    };
    auto server = start_server(echo_handler(), so);

    // The server's hour wins over a 1 ms backoff; stop() from on_retry ends the wait.
    ReconnectOptions o = quick();
    o.max_delay = std::chrono::hours(2);
    std::vector<Retry> retries;
    std::unique_ptr<Reconnector> reconnector;
    o.on_retry = [&](const std::exception& e, int attempt, milliseconds delay) {
        retries.push_back({attempt, delay, e.what()});
        reconnector->stop();
    };
    reconnector = std::make_unique<Reconnector>(uri_of(*server), ClientOptions{}, o);
    EXPECT_FALSE(reconnector->connect());
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0].delay, std::chrono::hours(1));

    // max_delay still bounds it.
    retries.clear();
    o = quick();
    o.max_delay = 3ms;
    o.on_retry = recorder(retries);
    auto client = connect_with_retry(uri_of(*server), {}, o);
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_EQ(retries[0].delay, 3ms);
    EXPECT_EQ(requests.load(), 3);
}

TEST_F(ReconnectTest, AThrowingLoggerIsSwallowed) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({503}, requests));
    std::atomic<int> logged{0};
    ClientOptions co;
    co.connection.logger = [&](LogLevel, std::string_view) {
        ++logged;
        throw std::runtime_error("logger failed");
    };
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    auto client = connect_with_retry(uri_of(*server), co, o);
    client.send_text("logged anyway");
    EXPECT_EQ(client.recv().data, "logged anyway");
    EXPECT_EQ(requests.load(), 2);
    EXPECT_GE(logged.load(), 1);
    EXPECT_EQ(retries.size(), 1u); // on_retry still ran after the logger threw
}

TEST_F(ReconnectTest, AThrowingOnRetryPropagatesAndTheCountRestarts) {
    std::atomic<int> requests{0};
    auto server = start_server(echo_handler(), scripted_options({503, 503, 0}, requests));
    std::vector<int> attempts;
    bool refuse = true;
    ReconnectOptions o = quick();
    o.on_retry = [&](const std::exception&, int attempt, milliseconds) {
        attempts.push_back(attempt);
        if (refuse) throw std::runtime_error("on_retry refuses");
    };
    Reconnector reconnector(uri_of(*server), {}, o);
    try {
        reconnector.connect();
        FAIL() << "connected";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "on_retry refuses");
    }
    refuse = false;
    EXPECT_TRUE(reconnector.connect());
    EXPECT_EQ(attempts, (std::vector<int>{1, 1}));
    EXPECT_EQ(requests.load(), 3);
}

// ----- through an HTTP proxy --------------------------------------------------------------

ClientOptions via(const std::string& proxy) {
    ClientOptions co;
    co.proxy = proxy;
    co.proxy_from_environment = false;
    return co;
}

void write_text(net::Stream& stream, std::string_view text) {
    stream.write_all(text.data(), text.size());
}

TEST_F(ReconnectTest, ProxyRefusalsWith502And503AreRetriedWithRetryAfter) {
    // A hand-written proxy: 502, then 503 with Retry-After, then a tunnel whose far end it
    // serves itself (a WebSocket handshake over the same stream).
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto proxy = run_async([&]() -> std::unique_ptr<RawPeer> {
        for (const std::string_view answer :
             {"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
              "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\n"
              "Content-Length: 0\r\n\r\n"}) {
            auto stream = listener->accept();
            if (!stream || !contains(read_http_head(*stream), "CONNECT backend.test:80 HTTP/1.1"))
                return nullptr;
            write_text(*stream, answer);
        }
        std::unique_ptr<net::Stream> stream = listener->accept();
        if (!stream || !contains(read_http_head(*stream), "CONNECT backend.test:80 HTTP/1.1"))
            return nullptr;
        write_text(*stream, "HTTP/1.1 200 Connection established\r\n\r\n");
        auto engine = std::make_unique<ServerProtocol>();
        const auto result = detail::run_handshake(*engine, *stream, Clock::now() + generous,
                                                  "handshake in the tunnel", detail::PeerBytes::awaited);
        if (!result.request) return nullptr;
        engine->send_response(engine->accept(*result.request));
        detail::flush_engine(*engine, *stream);
        return std::make_unique<RawPeer>(std::move(stream), std::move(engine));
    });
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.max_delay = 5ms; // bounds the proxy's hour
    o.on_retry = recorder(retries);
    auto client = connect_with_retry(
        "ws://backend.test/feed", via("http://127.0.0.1:" + std::to_string(listener->port())), o);
    ASSERT_TRUE(finishes(proxy));
    auto peer = proxy.get();
    ASSERT_TRUE(peer);
    client.send_text("through the tunnel");
    const auto message = peer->read_message();
    ASSERT_TRUE(message);
    EXPECT_EQ(message->data, "through the tunnel");
    ASSERT_EQ(retries.size(), 2u);
    EXPECT_TRUE(contains(retries[0].what, "502")) << retries[0].what;
    EXPECT_EQ(retries[0].delay, 1ms);
    EXPECT_TRUE(contains(retries[1].what, "503")) << retries[1].what;
    EXPECT_EQ(retries[1].delay, 5ms); // Retry-After, within max_delay (the backoff said 2 ms)
    peer->drop();                     // so that closing the client doesn't wait for it
}

TEST_F(ReconnectTest, AProxyThatKeepsAnswering502GivesUpAfterMaxAttempts) {
    TestProxyOptions po;
    po.refuse_status = "502 Bad Gateway";
    TestProxy proxy(po);
    ReconnectOptions o = quick();
    o.max_attempts = 3;
    try {
        connect_with_retry("ws://backend.test/", via(proxy.url()), o);
        FAIL() << "connected";
    } catch (const RetriesExhausted& e) {
        EXPECT_EQ(e.attempts(), 3);
        try {
            std::rethrow_exception(e.last_error());
        } catch (const ProxyError& p) {
            ASSERT_TRUE(p.response());
            EXPECT_EQ(p.response()->status, 502);
        }
    }
    EXPECT_EQ(proxy.seen().size(), 3u);
}

TEST_F(ReconnectTest, AProxyAsking407IsNotRetried) {
    TestProxyOptions po;
    po.user = "alice";
    po.password = "secret";
    TestProxy proxy(po);
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    try {
        connect_with_retry("ws://backend.test/", via(proxy.url("alice:wrong")), o);
        FAIL() << "connected";
    } catch (const ProxyError& e) { // the error itself, not a wrapper
        ASSERT_TRUE(e.response());
        EXPECT_EQ(e.response()->status, 407);
    }
    EXPECT_TRUE(retries.empty());
    EXPECT_EQ(proxy.seen().size(), 1u);
}

TEST_F(ReconnectTest, AProxyClosingBeforeAnsweringIsRetried) {
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto hanging_up = run_async([&] {
        for (int i = 0; i < 2; ++i) {
            auto stream = listener->accept();
            if (!stream || read_http_head(*stream).empty()) return i;
        } // each stream closes here, after the whole request was read: a FIN, not a reset
        return 2;
    });
    ReconnectOptions o = quick();
    o.max_attempts = 2;
    try {
        connect_with_retry("ws://backend.test/",
                           via("http://127.0.0.1:" + std::to_string(listener->port())), o);
        FAIL() << "connected";
    } catch (const RetriesExhausted& e) {
        EXPECT_EQ(e.attempts(), 2);
        try {
            std::rethrow_exception(e.last_error());
        } catch (const ProxyError& p) {
            EXPECT_FALSE(p.response()) << p.what();
        }
    }
    ASSERT_TRUE(finishes(hanging_up));
    EXPECT_EQ(hanging_up.get(), 2);
}

#if SYNCWS_TEST_HAVE_TLS

TEST_F(ReconnectTest, TlsVerificationFailureIsNotRetried) {
    // other_host names other.example only.
    auto server = start_server(echo_handler(), tls_server_options(test_pki().other_host));
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    const std::string uri = "wss://localhost:" + std::to_string(server->port()) + "/";
    try {
        connect_with_retry(uri, trusting_client(), o);
        FAIL() << "connected despite a hostname mismatch";
    } catch (const TlsError& e) {
        EXPECT_TRUE(contains(e.what(), "hostname mismatch")) << e.what();
    }
    EXPECT_TRUE(retries.empty());
}

TEST_F(ReconnectTest, PeerClosingDuringTheTlsHandshakeIsRetried) {
    // A TCP server that reads the ClientHello and hangs up, as a restarting TLS terminator
    // may: retried (and this pins the TLS layer's message that is_retryable recognizes).
    auto listener = net::Listener::tcp("127.0.0.1", 0);
    auto hanging_up = run_async([&] {
        for (int i = 0; i < 2; ++i) {
            auto stream = listener->accept();
            if (!stream) return i;
            // The whole first record (the ClientHello), so that closing sends a FIN, then
            // wait for the client to give up.
            std::string record;
            char buffer[4096];
            std::size_t wanted = 5;
            while (record.size() < wanted) {
                if (!stream->wait_readable(Clock::now() + generous)) return i;
                const std::size_t n = stream->read_some(buffer, sizeof buffer);
                if (n == 0) return i;
                record.append(buffer, n);
                if (record.size() >= 5) { // TLS record header: type, version, length
                    const auto byte = [&](std::size_t at) {
                        return static_cast<std::size_t>(static_cast<unsigned char>(record[at]));
                    };
                    wanted = 5 + (byte(3) << 8) + byte(4);
                }
            }
            stream->shutdown_write();
            while (stream->wait_readable(Clock::now() + generous) &&
                   stream->read_some(buffer, sizeof buffer) > 0) {
            }
        }
        return 2;
    });
    ReconnectOptions o = quick();
    o.max_attempts = 2;
    const std::string uri = "wss://localhost:" + std::to_string(listener->port()) + "/";
    try {
        connect_with_retry(uri, trusting_client(), o);
        FAIL() << "connected";
    } catch (const RetriesExhausted& e) {
        EXPECT_EQ(e.attempts(), 2);
        try {
            std::rethrow_exception(e.last_error());
        } catch (const TlsError& t) {
            EXPECT_TRUE(contains(t.what(), "the connection was closed by the peer")) << t.what();
        }
    }
    ASSERT_TRUE(finishes(hanging_up));
    EXPECT_EQ(hanging_up.get(), 2);
}

#endif // SYNCWS_TEST_HAVE_TLS

// ----- stop() -----------------------------------------------------------------------------

TEST_F(ReconnectTest, StopWakesAnHourLongBackoffAtOnce) {
    const std::uint16_t port = free_port();
    ReconnectOptions o = quick();
    o.initial_delay = std::chrono::hours(1);
    o.max_delay = std::chrono::hours(1);
    Latch waiting;
    o.on_retry = [&](const std::exception&, int, milliseconds delay) {
        EXPECT_EQ(delay, std::chrono::hours(1));
        waiting.count_down();
    };
    Reconnector reconnector(ws_uri(port), {}, o);
    auto connecting = run_async([&] { return reconnector.connect(); });
    ASSERT_TRUE(waiting.wait());
    EXPECT_FALSE(reconnector.stopped());
    const auto start = Clock::now();
    reconnector.stop();
    ASSERT_TRUE(finishes(connecting)) << "stop() did not wake the wait";
    EXPECT_FALSE(connecting.get());
    EXPECT_LT(ms_since(start), 10000);
    EXPECT_TRUE(reconnector.stopped());
    // Stopped for good: no more attempts.
    EXPECT_FALSE(reconnector.connect());
    reconnector.stop(); // idempotent
}

// ----- the range-for loop -----------------------------------------------------------------

TEST_F(ReconnectTest, LoopReconnectsAfterEachLostConnectionAndResetsTheBackoff) {
    // Requests: accept, 503, 503, accept, 503, accept. Each accepted connection says hello
    // and is closed by the server.
    std::atomic<int> requests{0};
    std::atomic<int> served{0};
    auto server =
        start_server([&](ServerConnection& c) { c.send_text("hello " + std::to_string(++served)); },
                     scripted_options({0, 503, 503, 0, 503, 0}, requests));
    std::vector<Retry> retries;
    ReconnectOptions o = quick();
    o.on_retry = recorder(retries);
    Reconnector reconnector(uri_of(*server), {}, o);
    std::vector<std::string> greetings;
    for (ClientConnection& ws : reconnector) {
        greetings.push_back(ws.recv().data);
        EXPECT_THROW(ws.recv(), ConnectionClosedOK); // the server closes
        if (greetings.size() == 3) reconnector.stop();
    }
    EXPECT_EQ(greetings, (std::vector<std::string>{"hello 1", "hello 2", "hello 3"}));
    EXPECT_EQ(requests.load(), 6);
    // The count restarts after each success; a lost connection is retried at once, so
    // on_retry only sees the 503s.
    ASSERT_EQ(retries.size(), 3u);
    EXPECT_EQ(retries[0].attempt, 1);
    EXPECT_EQ(retries[1].attempt, 2);
    EXPECT_EQ(retries[1].delay, 2ms);
    EXPECT_EQ(retries[2].attempt, 1);
    EXPECT_EQ(retries[2].delay, 1ms);
}

TEST_F(ReconnectTest, StopFromAnotherThreadEndsTheLoopAndClosesWith1001) {
    Latch server_saw_close;
    std::atomic<int> close_code{0};
    auto server = start_server([&](ServerConnection& c) {
        for (auto& m : c)
            c.send(m);
        close_code = c.close_code();
        server_saw_close.count_down();
    });
    Reconnector reconnector(uri_of(*server), {}, quick());
    Latch receiving;
    auto looping = run_async([&] {
        int iterations = 0;
        for (ClientConnection& ws : reconnector) {
            ++iterations;
            receiving.count_down();
            try {
                ws.recv(); // blocks until stop() closes the connection
                ADD_FAILURE() << "received a message";
            } catch (const ConnectionClosedOK& e) {
                EXPECT_EQ(e.sent().value_or(Close{}).code, 1001);
            }
        }
        return iterations;
    });
    ASSERT_TRUE(receiving.wait());
    reconnector.stop();
    ASSERT_TRUE(finishes(looping));
    EXPECT_EQ(looping.get(), 1);
    ASSERT_TRUE(server_saw_close.wait());
    EXPECT_EQ(close_code.load(), 1001);
}

TEST_F(ReconnectTest, StopWaitsForTheCloseWithoutBlockingStoppedOrTheLoop) {
    // The loop body holds a connection whose peer never answers the close: stop() waits
    // for it (close_timeout, an hour here), but nothing else waits for stop().
    RawServer server;
    ClientOptions co;
    co.connection.close_timeout = std::chrono::hours(1);
    Reconnector reconnector(server.uri(), co, quick());
    Latch in_body;
    Latch leave_body;
    auto looping = run_async([&] {
        int iterations = 0;
        for (ClientConnection& ws : reconnector) {
            static_cast<void>(ws);
            ++iterations;
            in_body.count_down();
            EXPECT_TRUE(leave_body.wait());
        }
        return iterations;
    });
    auto peer = server.accept();
    peer->set_auto_reply(false); // never echoes the close
    ASSERT_TRUE(in_body.wait());

    auto stopping = run_async([&] { reconnector.stop(); });
    // The close frame arrived: stop() is inside the close, waiting for an answer.
    const auto frame = peer->read_frame();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->opcode, Opcode::close);
    EXPECT_EQ(Close::parse(frame->payload), (Close{1001, ""}));

    auto asking = run_async([&] { return reconnector.stopped(); });
    EXPECT_TRUE(finishes(asking)) << "stopped() waited for stop()";
    // The body ends; ++ lets go of the connection without waiting for stop() and ends the
    // loop.
    leave_body.count_down();
    EXPECT_TRUE(finishes(looping)) << "the loop's ++ waited for stop()";
    EXPECT_EQ(stopping.wait_for(0ms), std::future_status::timeout) << "nobody answered yet";

    peer->drop(); // the TCP connection ends, and with it the close
    ASSERT_TRUE(finishes(stopping));
    ASSERT_TRUE(finishes(asking));
    EXPECT_TRUE(asking.get());
    ASSERT_TRUE(finishes(looping));
    EXPECT_EQ(looping.get(), 1);
}

TEST_F(ReconnectTest, AnIteratorWhoseIncrementThrowsIsTheEnd) {
    std::atomic<int> requests{0};
    auto server = start_server([](ServerConnection&) {}, scripted_options({0, 404}, requests));
    Reconnector reconnector(uri_of(*server), {}, quick());
    auto it = reconnector.begin();
    ASSERT_NE(it, reconnector.end());
    EXPECT_EQ(it->response().status, 101);
    EXPECT_THROW(++it, InvalidStatus);
    EXPECT_EQ(it, reconnector.end());
    EXPECT_EQ(requests.load(), 2);
}

TEST_F(ReconnectTest, LoopThrowsANonRetryableError) {
    std::atomic<int> requests{0};
    auto server = start_server([](ServerConnection&) {}, scripted_options({0, 403}, requests));
    Reconnector reconnector(uri_of(*server), {}, quick());
    int iterations = 0;
    try {
        for (ClientConnection& ws : reconnector) {
            ++iterations;
            try {
                ws.recv();
            } catch (const ConnectionClosed&) {
            }
        }
        FAIL() << "the loop ended quietly";
    } catch (const InvalidStatus& e) {
        EXPECT_EQ(e.response().status, 403);
    }
    EXPECT_EQ(iterations, 1);
    EXPECT_EQ(requests.load(), 2);
}

} // namespace
} // namespace syncws::test
