#include "thread.hpp"

#include <climits>
#include <system_error>

namespace syncws::detail {

namespace {

void* run(void* arg) {
    std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(arg));
    (*body)();
    return nullptr;
}

// Sanitizers need far more stack than the code itself: their shadow frames and reports
// would overflow the small stacks that suit production.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t sanitizer_minimum = 1024 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::size_t sanitizer_minimum = 1024 * 1024;
#else
constexpr std::size_t sanitizer_minimum = 0;
#endif
#else
constexpr std::size_t sanitizer_minimum = 0;
#endif

} // namespace

void Thread::start(std::size_t stack_size, std::function<void()> body) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    std::size_t size = stack_size;
    if (size < static_cast<std::size_t>(PTHREAD_STACK_MIN)) size = PTHREAD_STACK_MIN;
    if (size < sanitizer_minimum) size = sanitizer_minimum;
    pthread_attr_setstacksize(&attr, size);
    auto* arg = new std::function<void()>(std::move(body));
    const int rc = pthread_create(&handle_, &attr, run, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete arg;
        throw std::system_error(rc, std::generic_category(), "cannot start a thread");
    }
    started_ = true;
}

void Thread::join() noexcept {
    if (!started_) return;
    pthread_join(handle_, nullptr);
    started_ = false;
}

bool Thread::is_current() const noexcept {
    return started_ && pthread_equal(handle_, pthread_self()) != 0;
}

} // namespace syncws::detail
