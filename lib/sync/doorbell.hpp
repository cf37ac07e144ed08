// Wakes a connection's I/O thread out of its poll().
#pragma once

#include "socket.hpp"

namespace syncws::detail {

/// An eventfd that a connection's I/O thread polls beside its socket, so that other threads
/// can tell it something changed that the socket will not: output queued, an earlier
/// deadline, room in the receive queue.
///
/// Thread safety: `ring` from any thread; `drain` and `fd` from the I/O thread.
class Doorbell {
public:
    /// Throws: `NetworkError` when no descriptor is left (EMFILE, ENFILE).
    Doorbell();

    /// Never blocks, never throws; rings pile up into one wake-up.
    void ring() noexcept;
    /// Resets it after a wake-up.
    void drain() noexcept;
    int fd() const noexcept { return fd_.get(); }

private:
    net::FileDescriptor fd_;
};

} // namespace syncws::detail
