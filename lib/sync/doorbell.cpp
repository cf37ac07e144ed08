#include "doorbell.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

namespace syncws::detail {

Doorbell::Doorbell() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_.valid())
        net::detail::throw_errno(errno, "cannot create the connection's wake-up descriptor");
}

void Doorbell::ring() noexcept {
    const std::uint64_t one = 1;
    // Can only fail with EAGAIN once the counter is near 2^64: it is awake by then anyway.
    [[maybe_unused]] const auto r = ::write(fd_.get(), &one, sizeof one);
}

void Doorbell::drain() noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto r = ::read(fd_.get(), &count, sizeof count);
}

} // namespace syncws::detail
