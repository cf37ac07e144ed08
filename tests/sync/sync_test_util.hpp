// Helpers shared by the runtime tests: a watchdog, echo servers, bounded waits, process
// statistics (threads, memory).
#pragma once

#include "raw_peer.hpp"
#if SYNCWS_TEST_HAVE_TLS
#include "tls_certs.hpp"
#endif

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace syncws::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Aborts the process if a test is still running after `limit`: a hung test then fails at
/// once with its name instead of stalling the suite until Meson's timeout.
class Watchdog {
public:
    explicit Watchdog(std::chrono::seconds limit = std::chrono::seconds(120))
        : thread_([this, limit] {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
                  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
                  std::fprintf(stderr, "\nwatchdog: %s.%s still running after %lld s: hung\n",
                               info ? info->test_suite_name() : "?", info ? info->name() : "?",
                               static_cast<long long>(limit.count()));
                  std::fflush(stderr);
                  std::abort();
              }
          }) {}
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

/// Every test in these suites gets a watchdog.
class SyncTest : public ::testing::Test {
private:
    Watchdog watchdog_;
};

/// Passes if `text` contains `needle`; the failure message shows both.
inline ::testing::AssertionResult contains(std::string_view text, std::string_view needle) {
    if (text.find(needle) != std::string_view::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "\"" << text << "\" does not contain \"" << needle << "\"";
}

/// Runs `f` on a new thread; the future carries its result or exception.
template <class F> auto run_async(F&& f) {
    return std::async(std::launch::async, std::forward<F>(f));
}

/// True if `future` is ready within `generous`.
template <class T> bool finishes(const std::future<T>& future) {
    return future.wait_for(generous) == std::future_status::ready;
}

/// True if `future` is still not ready after `d`: the proof that something blocks. A
/// timed wait, never used to let something happen.
template <class T> bool still_blocked(const std::future<T>& future, std::chrono::milliseconds d) {
    return future.wait_for(d) == std::future_status::timeout;
}

/// Milliseconds since `start`.
inline long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// A one-shot, many-waiter event.
class Latch {
public:
    explicit Latch(std::size_t count = 1) : count_(count) {}
    void count_down() {
        std::lock_guard lock(mutex_);
        if (count_ > 0 && --count_ == 0) cv_.notify_all();
    }
    /// True if the count reached zero within `timeout`.
    bool wait(std::chrono::milliseconds timeout = generous) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return count_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::size_t count_;
};

/// Collects log lines from any thread.
class LogCapture {
public:
    Logger logger() {
        return [this](LogLevel level, std::string_view message) {
            std::lock_guard lock(mutex_);
            lines_.push_back(std::string(to_string(level)) + ": " + std::string(message));
            cv_.notify_all();
        };
    }
    /// Waits until a line contains `needle`; true if one did within `timeout`.
    bool wait_for(std::string_view needle, std::chrono::milliseconds timeout = generous) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] {
            for (const auto& line : lines_)
                if (line.find(needle) != std::string::npos) return true;
            return false;
        });
    }
    std::string all() {
        std::lock_guard lock(mutex_);
        std::string out;
        for (const auto& line : lines_)
            out += line + "\n";
        return out;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::string> lines_;
};

/// Server options for 127.0.0.1 and an ephemeral port.
inline ServerOptions local_options() {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    return options;
}

#if SYNCWS_TEST_HAVE_TLS
/// Server TLS settings presenting `cert` (by default the leaf for localhost and 127.0.0.1).
inline TlsOptions serving_tls(const TestCert& cert = test_pki().server) {
    TlsOptions tls;
    tls.cert_pem = cert.cert_pem;
    tls.key_pem = cert.key_pem;
    return tls;
}

/// Client TLS settings that trust the test CA and nothing else.
inline TlsOptions trusting_tls() {
    TlsOptions tls;
    tls.ca_pem = test_pki().ca.cert_pem;
    tls.use_system_trust_store = false;
    return tls;
}

/// `local_options()` serving wss:// with `cert`.
inline ServerOptions tls_server_options(const TestCert& cert = test_pki().server) {
    ServerOptions options = local_options();
    options.tls = serving_tls(cert);
    return options;
}

/// Client options trusting the test CA only.
inline ClientOptions trusting_client() {
    ClientOptions options;
    options.tls = trusting_tls();
    return options;
}
#endif

/// A handler that sends every message back until the connection closes.
inline Handler echo_handler() {
    return [](ServerConnection& connection) {
        for (auto& message : connection)
            connection.send(message);
    };
}

/// A syncws client connected to a raw peer (a socket and an engine driven by hand), to
/// send exact frames and withhold answers.
struct RawPair {
    explicit RawPair(ClientOptions options = {}) {
        auto accepted = run_async([&] { return raw_server.accept(); });
        client = std::make_unique<ClientConnection>(connect(raw_server.uri(), options));
        peer = accepted.get();
    }
    RawServer raw_server;
    std::unique_ptr<ClientConnection> client;
    std::unique_ptr<RawPeer> peer;
};

/// A started server on 127.0.0.1.
inline std::unique_ptr<Server> start_server(Handler handler,
                                            ServerOptions options = local_options()) {
    auto server = std::make_unique<Server>(std::move(handler), std::move(options));
    server->start();
    return server;
}

inline std::string uri_of(const Server& server, std::string_view resource = "/") {
    return "ws://127.0.0.1:" + std::to_string(server.port()) + std::string(resource);
}

/// `n` bytes that catch reordering, loss and duplication (and don't compress).
inline std::string pattern(std::size_t n, unsigned seed) {
    std::string out(n, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

/// Threads of this process, from /proc/self/task.
inline int thread_count() {
    int n = 0;
    if (DIR* dir = ::opendir("/proc/self/task")) {
        while (const dirent* entry = ::readdir(dir))
            if (entry->d_name[0] != '.') ++n;
        ::closedir(dir);
    }
    return n;
}

/// Resident memory of this process in bytes, from /proc/self/statm.
inline long long resident_bytes() {
    long long pages_total = 0;
    long long pages_resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%lld %lld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return pages_resident * ::sysconf(_SC_PAGESIZE);
}

/// Re-evaluates `condition` (yielding in between) until it holds or `timeout` passes. For
/// facts the kernel publishes with a lag (a joined thread leaving /proc), never for ordering
/// between our own threads.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = generous) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

/// The nested cause of `error` as an exception_ptr, or null.
inline std::exception_ptr nested_cause(const std::exception& error) {
    if (const auto* nested = dynamic_cast<const std::nested_exception*>(&error))
        return nested->nested_ptr();
    return nullptr;
}

} // namespace syncws::test
