// Out of file descriptors (EMFILE). A server connection needs one descriptor, its socket:
// its wake-up descriptor is made only when another thread needs to wake it, and a
// connection that then cannot have one fails alone, with an error that says why. A client
// makes its wake-up descriptor first and fails before it connects. A binary of its own:
// these tests fill the process's table.
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <future>
#include <string>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace syncws::test {
namespace {

int highest_open_descriptor() {
    int highest = 2;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (const dirent* entry = ::readdir(dir))
            highest = std::max(highest, std::atoi(entry->d_name));
        ::closedir(dir);
    }
    return highest;
}

// Takes every free descriptor but `spare`, and gives them back when destroyed. The soft
// limit is lowered first (and restored) so that the table stays small.
class DescriptorHog {
public:
    explicit DescriptorHog(int spare) {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit lower = saved_;
        lower.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, highest_open_descriptor() + 128);
        ::setrlimit(RLIMIT_NOFILE, &lower);
        for (;;) {
            const int fd = ::eventfd(0, EFD_CLOEXEC);
            if (fd < 0) break;
            held_.push_back(fd);
        }
        for (int i = 0; i < spare && !held_.empty(); ++i) {
            ::close(held_.back());
            held_.pop_back();
        }
    }
    DescriptorHog(const DescriptorHog&) = delete;
    DescriptorHog& operator=(const DescriptorHog&) = delete;
    ~DescriptorHog() {
        for (const int fd : held_)
            ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &saved_);
    }
    bool exhausted_the_table() const { return !held_.empty(); }

private:
    rlimit saved_{};
    std::vector<int> held_;
};

// UndefinedBehaviorSanitizer's vptr check tests whether memory is readable through a pipe
// it opens on the spot: with the table full it cannot, and reports every virtual call as
// "invalid vptr". These tests run in the plain and ThreadSanitizer builds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitizer_needs_descriptors = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
constexpr bool sanitizer_needs_descriptors = true;
#else
constexpr bool sanitizer_needs_descriptors = false;
#endif
#else
constexpr bool sanitizer_needs_descriptors = false;
#endif

class DescriptorsTest : public SyncTest {
protected:
    void SetUp() override {
        if (sanitizer_needs_descriptors)
            GTEST_SKIP() << "the sanitizers' runtime needs descriptors of its own";
        SyncTest::SetUp();
    }
};

void expect_echo(const std::string& uri) {
    auto client = connect(uri);
    client.send_text("after");
    EXPECT_EQ(client.recv().data, "after");
}

TEST_F(DescriptorsTest, AServerConnectionNeedsOnlyItsSocket) {
    auto server = start_server(echo_handler());
    const std::string uri = uri_of(*server);
    // Three left: the client's wake-up descriptor and socket, and the socket the server
    // accepts. (Or two, if an acceptor already waits in accept(2), which holds the number
    // it will return.)
    DescriptorHog hog(3);
    ASSERT_TRUE(hog.exhausted_the_table());
    expect_echo(uri);
}

TEST_F(DescriptorsTest, APromotionWithoutADescriptorFailsOnlyItsConnection) {
    std::promise<std::string> failure;
    std::promise<void> received;
    std::promise<void> table_full;
    auto server = start_server([&](ServerConnection& c) {
        auto first = c.recv();
        if (first.data != "promote") { // the client that comes after
            c.send(first);
            return;
        }
        // The table is filled only now: a thread blocked in accept(2) holds the number of
        // the descriptor it will return, so counting what the connection takes would depend
        // on whether an acceptor was waiting yet.
        received.set_value();
        table_full.get_future().wait();
        // The handler waits on a pong: the connection needs a thread that reads, and that
        // thread a wake-up descriptor.
        try {
            c.ping().get();
            failure.set_value("the pong came");
        } catch (const ConnectionClosedError& e) {
            const auto cause = nested_cause(e);
            try {
                if (cause) std::rethrow_exception(cause);
                failure.set_value(std::string("no cause: ") + e.what());
            } catch (const std::exception& inner) {
                failure.set_value(inner.what());
            }
        }
    });
    const std::string uri = uri_of(*server);
    {
        auto client = connect(uri);
        client.send_text("promote");
        received.get_future().wait();
        DescriptorHog hog(0);
        table_full.set_value();
        ASSERT_TRUE(hog.exhausted_the_table());
        auto reason = failure.get_future();
        EXPECT_TRUE(contains(reason.get(), "wake-up descriptor"));
        EXPECT_THROW(client.recv(), ConnectionClosedError);
    }
    expect_echo(uri); // the server goes on
}

TEST_F(DescriptorsTest, AClientFailsBeforeConnectingWhenNoDescriptorIsLeft) {
    auto server = start_server(echo_handler());
    const std::string uri = uri_of(*server);
    {
        DescriptorHog hog(0);
        ASSERT_TRUE(hog.exhausted_the_table());
        try {
            connect(uri);
            ADD_FAILURE() << "connect succeeded with no descriptor left";
        } catch (const NetworkError& e) {
            EXPECT_TRUE(contains(e.what(), "wake-up descriptor")) << e.what();
        }
    }
    expect_echo(uri);
}

} // namespace
} // namespace syncws::test
