// Out of file descriptors (EMFILE): a connection that cannot get its wake-up descriptor is
// refused before anything is promised. A server answers 503, not 101 then a drop; a client
// fails before it connects. A binary of its own: these tests fill the process's table.
#include "sync_test_util.hpp"

#include <syncws/client.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
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

TEST_F(DescriptorsTest, TheServerAnswers503WhenTheConnectionCannotHaveItsDescriptor) {
    auto server = start_server(echo_handler());
    const std::string uri = uri_of(*server);
    Response refused;
    {
        // Three left: the client's wake-up descriptor and socket, and the socket the server
        // accepts. The server's own wake-up descriptor is one too many. (The duplicate the
        // accept loop makes to cut a handshake short at shutdown fails first, quietly: the
        // handshake then just cannot be cut short.)
        DescriptorHog hog(3);
        ASSERT_TRUE(hog.exhausted_the_table());
        try {
            connect(uri);
            ADD_FAILURE() << "the connection opened with no descriptor left for the server";
        } catch (const InvalidStatus& e) {
            refused = e.response();
        }
    }
    EXPECT_EQ(refused.status, 503);
    EXPECT_TRUE(refused.headers.contains("Retry-After"));
    // The server goes on: with descriptors back, the next client gets through.
    auto client = connect(uri);
    client.send_text("after");
    EXPECT_EQ(client.recv().data, "after");
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
    auto client = connect(uri);
    client.send_text("after");
    EXPECT_EQ(client.recv().data, "after");
}

} // namespace
} // namespace syncws::test
