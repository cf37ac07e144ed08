// A Stream wrapper that fails the Nth operation: Beast's fail-count loop for lib/net. Run a
// scenario with N = 1, 2, … until it completes without reaching N; every error path of the
// code under test then runs once.
#pragma once

#include "stream.hpp"

#include <syncws/errors.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace syncws::test {

/// What to break, shared between the test and the `FaultyStream` (which may die first, with
/// the stream that owns it).
struct FaultPlan {
    enum class Fault {
        error, ///< the operation throws NetworkError (ECONNRESET)
        eof,   ///< reads return 0 as if the peer had closed; writes still throw
    };

    FaultPlan(int fail_at_, Fault fault_) : fail_at(fail_at_), fault(fault_) {}

    /// The operation to fail, counting `read_some`, `write_all` and `write_some_now` calls
    /// from 1; 0: none.
    const int fail_at;
    const Fault fault;
    /// Operations attempted so far, including failed ones.
    std::atomic<int> operations{0};
    /// True once the fault fired.
    std::atomic<bool> fired{false};
};

/// Wraps a stream and makes the `plan->fail_at`-th I/O operation fail. Once failed, every
/// later operation fails the same way and the inner stream is aborted, so the peer sees the
/// connection die.
///
/// Thread safety: as `net::Stream` (the plan's counters are atomic).
class FaultyStream final : public net::Stream {
public:
    FaultyStream(std::unique_ptr<net::Stream> inner, std::shared_ptr<FaultPlan> plan)
        : inner_(std::move(inner)), plan_(std::move(plan)) {}

    std::size_t read_some(char* buf, std::size_t n) override {
        if (should_fail()) {
            if (plan_->fault == FaultPlan::Fault::eof) return 0;
            throw_fault();
        }
        return inner_->read_some(buf, n);
    }
    void write_all(const char* data, std::size_t n) override {
        if (should_fail()) throw_fault();
        inner_->write_all(data, n);
    }
    std::size_t write_some_now(const char* data, std::size_t n) override {
        if (should_fail()) throw_fault();
        return inner_->write_some_now(data, n);
    }
    bool has_backlog() const override { return inner_->has_backlog(); }
    net::Readiness wait(bool read, bool write, int wake_fd, net::Deadline deadline) override {
        // Once fired, the inner stream is aborted: it reports readable at once.
        return inner_->wait(read, write, wake_fd, deadline);
    }
    void shutdown_write() override { inner_->shutdown_write(); }
    bool shutdown_write_now() override { return inner_->shutdown_write_now(); }
    void abort() noexcept override { inner_->abort(); }
    bool wait_readable(net::Deadline deadline) override {
        if (plan_->fired.load()) return true;
        return inner_->wait_readable(deadline);
    }
    std::string local_address() const override { return inner_->local_address(); }
    std::string remote_address() const override { return inner_->remote_address(); }

private:
    bool should_fail() {
        int n = ++plan_->operations;
        if (plan_->fired.load() || (plan_->fail_at > 0 && n >= plan_->fail_at)) {
            if (!plan_->fired.exchange(true)) inner_->abort();
            return true;
        }
        return false;
    }
    [[noreturn]] void throw_fault() {
        throw NetworkError(std::make_error_code(std::errc::connection_reset),
                           "injected fault at operation " + std::to_string(plan_->fail_at));
    }

    std::unique_ptr<net::Stream> inner_;
    std::shared_ptr<FaultPlan> plan_;
};

} // namespace syncws::test
