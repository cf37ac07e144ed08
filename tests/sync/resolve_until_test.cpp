// resolve_until: a name lookup bounded by the connection's open deadline. The lookups here
// are stand-ins that block, fail or answer on cue; the last test uses getaddrinfo().
#include "resolve_until.hpp"

#include "sync_test_util.hpp"

#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace syncws::test {
namespace {

using detail::resolve_until;
using ResolveUntilTest = SyncTest;

net::Deadline in(std::chrono::milliseconds d) {
    return Clock::now() + d;
}

std::vector<net::Endpoint> loopback(std::uint16_t port) {
    return net::resolve("127.0.0.1", port);
}

// The lookup's copy may outlive the test body's locals: it holds what it uses.
struct Cues {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<std::string> returned; // the name, once the lookup has returned
};

TEST_F(ResolveUntilTest, ALookupPastTheDeadlineThrowsTimeoutAndEndsOnItsOwnLater) {
    auto cues = std::make_shared<Cues>();
    auto returned = cues->returned.get_future();
    const auto lookup = [cues](const std::string& name, std::uint16_t port) {
        cues->released.wait();
        auto endpoints = loopback(port);
        cues->returned.set_value(name);
        return endpoints;
    };
    const auto start = Clock::now();
    try {
        resolve_until("slow.example", 80, in(100ms), lookup);
        FAIL() << "resolve_until returned";
    } catch (const Timeout& e) {
        EXPECT_TRUE(contains(e.what(), "DNS lookup for slow.example timed out after")) << e.what();
    }
    EXPECT_GE(Clock::now() - start, 100ms);
    // The lookup was not answered yet: only the deadline can have ended the wait.
    EXPECT_TRUE(still_blocked(returned, 0ms));
    cues->release.set_value();
    ASSERT_TRUE(finishes(returned));
    EXPECT_EQ(returned.get(), "slow.example");
}

TEST_F(ResolveUntilTest, ANameIsLookedUpOnAnotherThreadAndItsAddressesReturned) {
    auto lookup_thread = std::make_shared<std::promise<std::thread::id>>();
    auto on = lookup_thread->get_future();
    const auto endpoints = resolve_until("fast.example", 8080, in(generous),
                                         [lookup_thread](const std::string&, std::uint16_t port) {
                                             lookup_thread->set_value(std::this_thread::get_id());
                                             return loopback(port);
                                         });
    ASSERT_EQ(endpoints.size(), 1u);
    EXPECT_EQ(endpoints[0].to_string(), "127.0.0.1:8080");
    EXPECT_NE(on.get(), std::this_thread::get_id());
}

TEST_F(ResolveUntilTest, TheLookupsErrorReachesTheCaller) {
    const auto failing = [](const std::string& name, std::uint16_t) -> std::vector<net::Endpoint> {
        throw NetworkError(std::make_error_code(std::errc::host_unreachable),
                           "DNS lookup failed for " + name);
    };
    try {
        resolve_until("missing.example", 80, in(generous), failing);
        FAIL() << "resolve_until returned";
    } catch (const NetworkError& e) {
        EXPECT_TRUE(contains(e.what(), "DNS lookup failed for missing.example")) << e.what();
        EXPECT_EQ(e.code(), std::make_error_code(std::errc::host_unreachable));
    }
}

TEST_F(ResolveUntilTest, LiteralsAndLookupsWithoutADeadlineRunOnTheCallersThread) {
    std::thread::id ran_on;
    const auto lookup = [&](const std::string& name, std::uint16_t port) {
        ran_on = std::this_thread::get_id();
        return net::resolve(name, port);
    };
    for (const char* literal : {"127.0.0.1", "::1", "[::1]"}) {
        ran_on = {};
        EXPECT_EQ(resolve_until(literal, 80, in(generous), lookup).size(), 1u) << literal;
        EXPECT_EQ(ran_on, std::this_thread::get_id()) << literal;
    }
    ran_on = {};
    const auto on_loopback = [&](const std::string&, std::uint16_t port) {
        ran_on = std::this_thread::get_id();
        return loopback(port);
    };
    EXPECT_EQ(resolve_until("no-deadline.example", 80, net::Deadline::max(), on_loopback).size(),
              1u);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(ResolveUntilTest, ANameWhoseDeadlineHasPassedIsNotLookedUp) {
    bool looked_up = false;
    const auto lookup = [&](const std::string&, std::uint16_t port) {
        looked_up = true;
        return loopback(port);
    };
    try {
        resolve_until("late.example", 80, Clock::now() - 1ms, lookup);
        FAIL() << "resolve_until returned";
    } catch (const Timeout& e) {
        EXPECT_TRUE(contains(e.what(), "DNS lookup for late.example timed out")) << e.what();
    }
    EXPECT_FALSE(looked_up);
}

TEST_F(ResolveUntilTest, WithoutAStandInItIsGetaddrinfo) {
    // localhost comes from /etc/hosts: no DNS server is asked.
    const auto endpoints = resolve_until("localhost", 80, in(generous));
    ASSERT_FALSE(endpoints.empty());
    for (const auto& e : endpoints) {
        const auto text = e.to_string();
        EXPECT_TRUE(text == "127.0.0.1:80" || text == "[::1]:80") << text;
    }
}

} // namespace
} // namespace syncws::test
