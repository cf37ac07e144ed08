// Listening sockets: TCP (IPv4, IPv6, dual-stack), Unix domain, or an adopted descriptor.
#pragma once

#include "socket.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>

namespace syncws::net {

/// A listening socket with a blocking `accept()` that another thread can interrupt.
///
/// A socket this class made (`tcp`, `unix_socket`) is blocking, and threads wait in
/// accept(2) itself: the kernel wakes one of them per connection, so a pool of threads can
/// accept for themselves with no thread handing connections over (a context switch each,
/// which cost a third of the handshakes per second). `close()` shuts the socket down for
/// reading, which makes every accept(2), blocked or later, fail at once, and new clients
/// be refused.
///
/// An adopted socket (`adopt`) is shared with whoever passed it (systemd keeps it across
/// restarts), so neither is done to it: it stays non-blocking, and `accept()` polls it *and*
/// the read end of a self-pipe. `close()` writes one byte to the pipe and never reads it
/// back, so the pipe stays readable forever after: an `accept()` already blocked wakes, and
/// one that starts later returns at once. When several threads accept and one takes the
/// connection, the others go back to waiting (EAGAIN).
///
/// Nothing is closed under a blocked thread (the descriptors are closed only by `release`
/// and the destructor), so there is no window where a descriptor number could be reused.
///
/// Thread safety: `accept()` may be called from several threads at once; `close()` from any
/// thread, any number of times. The destructor must run after every `accept()` returned.
class Listener {
public:
    /// Default `listen()` backlog.
    static constexpr int default_backlog = 128;

    /// Listens on TCP `host`:`port`. An empty host or "::" listens on every address, IPv4
    /// and IPv6 (one AF_INET6 socket with IPV6_V6ONLY off; IPv4 only if the kernel has no
    /// IPv6); "0.0.0.0" on every IPv4 address; otherwise on the first resolved address that
    /// binds ("localhost" may mean ::1 only: give 127.0.0.1 or :: to be sure). Port 0 picks a
    /// free port: see `port()`. Sets SO_REUSEADDR, so a restarted server can bind while old
    /// connections linger in TIME_WAIT.
    /// Throws: `NetworkError` "cannot listen on host:port" (EADDRINUSE, EACCES, …) or a DNS
    /// error.
    static std::unique_ptr<Listener> tcp(std::string_view host, std::uint16_t port,
                                         int backlog = default_backlog);

    /// Listens on a Unix domain socket at `path`. A stale socket file (one nobody listens on)
    /// is removed first; a live one is an error (EADDRINUSE), and so is a path that exists but
    /// is not a socket. The file is removed again by `close()` or the destructor if it is
    /// still the one this listener created.
    /// Throws: `NetworkError`.
    static std::unique_ptr<Listener> unix_socket(const std::string& path,
                                                 int backlog = default_backlog);

    /// Takes ownership of `fd`, a socket already bound and listening (from systemd socket
    /// activation, a parent process, a test). Makes it non-blocking and close-on-exec: the
    /// open file description is shared with whoever else holds it.
    /// Throws: `NetworkError` (EINVAL if `fd` is not a listening stream socket).
    static std::unique_ptr<Listener> adopt(int fd);

    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener();

    /// Waits for a connection and returns it as a blocking stream (TCP_NODELAY set for TCP).
    /// Returns nullptr once `close()` was called (before or during the wait).
    /// Connections that fail between the kernel's queue and accept (ECONNABORTED, and the
    /// network errors accept(2) says to treat like EAGAIN) are skipped.
    /// Throws: `NetworkError` (EMFILE/ENFILE when out of descriptors: the caller decides
    /// whether to back off and retry).
    std::unique_ptr<SocketStream> accept();

    /// TCP only (best effort): `accept()` returns a connection once its first bytes are in,
    /// for protocols whose clients speak first (HTTP, TLS), so that the thread taking it
    /// reads at once instead of sleeping again until they come (a context switch and a
    /// poll() per connection). A client that stays silent is accepted about a second later
    /// all the same. Clients still in that state when the listener closes get no RST: the
    /// kernel drops them silently. True if it took effect.
    bool defer_accept_until_data() noexcept;

    /// Makes every blocked and future `accept()` return nullptr, and removes a Unix socket's
    /// file. A socket this class made refuses new clients from now on (and a port the
    /// kernel picked may be free again at once); an adopted one stays listening until
    /// `release()` or the destructor. Idempotent; never throws.
    void close() noexcept;

    /// Closes the listening socket, so the port is free again and new clients are refused
    /// at once instead of waiting in the backlog. Only once every `accept()` has returned:
    /// nothing else may use the descriptor meanwhile.
    /// Implies `close()`. Idempotent; never throws.
    void release() noexcept;

    /// True once `close()` was called.
    bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

    /// The bound TCP port (the one the kernel picked for port 0); 0 for a Unix socket.
    std::uint16_t port() const noexcept { return port_; }

    /// The bound address: "127.0.0.1:8080", "[::]:8080", or the Unix socket path.
    const std::string& local_address() const noexcept { return local_address_; }

    /// The listening descriptor, still owned by this object.
    int native_handle() const noexcept { return fd_.get(); }

private:
    // `owned`: made here, so it may block and be shut down (see the class comment).
    Listener(FileDescriptor fd, bool is_unix, bool owned);
    void remove_socket_file() noexcept;

    FileDescriptor fd_;
    FileDescriptor wake_read_;
    FileDescriptor wake_write_;
    bool is_unix_ = false;
    bool owned_ = false;
    bool is_tcp_ = false;
    // Made here and bound to one address (not a wildcard): every connection's local address
    // is the listener's own, with no getsockname().
    bool bound_to_one_address_ = false;
    std::uint16_t port_ = 0;
    std::string local_address_;
    // The Unix socket file we created, identified by device and inode so that we never
    // remove a file someone else put at the same path after us.
    std::string unix_path_;
    dev_t unix_dev_ = 0;
    ino_t unix_ino_ = 0;
    std::once_flag unlink_once_;
    std::atomic<bool> closed_{false};
};

} // namespace syncws::net
