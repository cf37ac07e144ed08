#include "listener.hpp"

#include "resolve.hpp"
#include "unix.hpp"

#include <syncws/errors.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace syncws::net {

namespace {

// Errors that accept(2) can report for one connection that died in the queue, or that
// "should be treated like EAGAIN by retrying" (Linux accept(2), "Error handling").
bool is_transient_accept_error(int e) {
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
#ifdef ENONET
    case ENONET:
#endif
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

FileDescriptor bind_and_listen(int family, const sockaddr* address, socklen_t length, int backlog,
                               bool dual_stack, int& error) {
    FileDescriptor fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        error = errno;
        return {};
    }
    int one = 1;
    int zero = 0;
    if (family != AF_UNIX) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) {
        // Explicit either way: the system default (net.ipv6.bindv6only) varies.
        const int* v6only = dual_stack ? &zero : &one;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, v6only, sizeof(int));
    }
    if (::bind(fd.get(), address, length) < 0 || ::listen(fd.get(), backlog) < 0) {
        error = errno;
        return {};
    }
    return fd;
}

} // namespace

Listener::Listener(FileDescriptor fd, bool is_unix, bool owned)
    : fd_(std::move(fd)), is_unix_(is_unix), owned_(owned) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        detail::throw_errno(errno, "cannot create the listener's wake-up pipe");
    }
    wake_read_.reset(pipe_fds[0]);
    wake_write_.reset(pipe_fds[1]);
    detail::set_nonblocking(fd_.get(), !owned_);

    sockaddr_storage address{};
    socklen_t length = sizeof address;
    auto* sa = reinterpret_cast<sockaddr*>(&address);
    if (::getsockname(fd_.get(), sa, &length) < 0) {
        detail::throw_errno(errno, "getsockname on a listening socket failed");
    }
    local_address_ = format_address(sa, length);
    if (sa->sa_family == AF_INET) {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
        port_ = ntohs(in4->sin_port);
        is_tcp_ = true;
        bound_to_one_address_ = owned_ && in4->sin_addr.s_addr != htonl(INADDR_ANY);
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        port_ = ntohs(in6->sin6_port);
        is_tcp_ = true;
        bound_to_one_address_ = owned_ && !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    } else {
        // A Unix socket's connections are named by its path (getsockname says the same).
        bound_to_one_address_ = owned_;
    }
    // (An adopted socket may be a transparent proxy's, or bound in ways we would not
    // recognise as a wildcard: its connections are asked.)
}

Listener::~Listener() {
    remove_socket_file();
}

std::unique_ptr<Listener> Listener::tcp(std::string_view host, std::uint16_t port, int backlog) {
    std::string target = host_port(host, port);
    std::string_view bare = strip_brackets(host);
    int error = 0;
    if (bare.empty() || bare == "::") {
        sockaddr_in6 any6{};
        any6.sin6_family = AF_INET6;
        any6.sin6_addr = in6addr_any;
        any6.sin6_port = htons(port);
        FileDescriptor fd = bind_and_listen(AF_INET6, reinterpret_cast<const sockaddr*>(&any6),
                                            sizeof any6, backlog, true, error);
        if (fd.valid()) return std::unique_ptr<Listener>(new Listener(std::move(fd), false, true));
        if (error != EAFNOSUPPORT) detail::throw_errno(error, "cannot listen on " + target);
        // A kernel without IPv6: the wildcard can only mean every IPv4 address.
        bare = "0.0.0.0";
    }
    for (const Endpoint& endpoint : resolve(bare, port, true)) {
        FileDescriptor fd = bind_and_listen(endpoint.family, endpoint.data(), endpoint.length,
                                            backlog, false, error);
        if (fd.valid()) return std::unique_ptr<Listener>(new Listener(std::move(fd), false, true));
    }
    detail::throw_errno(error, "cannot listen on " + target);
}

std::unique_ptr<Listener> Listener::unix_socket(const std::string& path, int backlog) {
    sockaddr_storage address{};
    socklen_t length = detail::make_unix_address(path, address);
    const auto* sa = reinterpret_cast<const sockaddr*>(&address);

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            detail::throw_errno(EADDRINUSE, "cannot listen on " + path +
                                                ": the path exists and is not a socket");
        }
        // A socket file outlives its server after a crash. Only a refused connection proves
        // nobody listens: then it is stale and safe to remove.
        FileDescriptor probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe.valid()) {
            if (::connect(probe.get(), sa, length) == 0) {
                detail::throw_errno(EADDRINUSE,
                                    "cannot listen on " + path + ": a server is listening there");
            }
            if (errno == ECONNREFUSED) ::unlink(path.c_str());
        }
    }
    int error = 0;
    FileDescriptor fd = bind_and_listen(AF_UNIX, sa, length, backlog, false, error);
    if (!fd.valid()) detail::throw_errno(error, "cannot listen on " + path);
    std::unique_ptr<Listener> listener(new Listener(std::move(fd), true, true));
    if (::stat(path.c_str(), &st) == 0) {
        listener->unix_path_ = path;
        listener->unix_dev_ = st.st_dev;
        listener->unix_ino_ = st.st_ino;
    }
    listener->local_address_ = path;
    return listener;
}

std::unique_ptr<Listener> Listener::adopt(int fd) {
    FileDescriptor owned(fd);
    int listening = 0;
    socklen_t length = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) < 0) {
        detail::throw_errno(errno, "cannot adopt descriptor " + std::to_string(fd));
    }
    if (listening == 0) {
        detail::throw_errno(EINVAL, "cannot adopt descriptor " + std::to_string(fd) +
                                        ": not a listening socket");
    }
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length);
    bool is_unix = address.ss_family == AF_UNIX;
    return std::unique_ptr<Listener>(new Listener(std::move(owned), is_unix, false));
}

std::unique_ptr<SocketStream> Listener::accept() {
    for (;;) {
        if (closed()) return nullptr;
        if (!owned_) {
            pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
            int r = ::poll(fds, 2, -1);
            if (r < 0) {
                if (errno == EINTR) continue;
                detail::throw_errno(errno, "poll on listener " + local_address_ + " failed");
            }
            if (fds[1].revents != 0 || closed()) return nullptr;
        }
        sockaddr_storage peer{};
        socklen_t peer_length = sizeof peer;
        int c = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length,
                          SOCK_CLOEXEC);
        if (c < 0) {
            const int error = errno;
            if (closed()) return nullptr; // shut down by close(): EINVAL
            if (is_transient_accept_error(error)) continue;
            detail::throw_errno(error, "accept on " + local_address_ + " failed");
        }
        FileDescriptor connection(c);
        if (is_tcp_) {
            int one = 1;
            // Can fail only if the connection already died; reads will report that.
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        // Bound to a wildcard (or adopted), the local address is the one the client reached:
        // the stream asks.
        return std::make_unique<SocketStream>(
            std::move(connection),
            format_address(reinterpret_cast<const sockaddr*>(&peer), peer_length),
            bound_to_one_address_ ? std::optional<std::string>(local_address_) : std::nullopt);
    }
}

bool Listener::defer_accept_until_data() noexcept {
    if (!is_tcp_) return false;
    // Linux counts it in SYN-ACK retransmissions: 1 s is the first one.
    int seconds = 1;
    return ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) == 0;
}

void Listener::close() noexcept {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    // Wakes every thread blocked in accept(2) (EINVAL), and refuses new clients.
    if (owned_) ::shutdown(fd_.get(), SHUT_RD);
    char byte = 0;
    // The pipe is empty (nothing else writes it), so this one byte always fits.
    ssize_t r;
    do {
        r = ::write(wake_write_.get(), &byte, 1);
    } while (r < 0 && errno == EINTR);
    remove_socket_file();
}

void Listener::release() noexcept {
    close();
    fd_.reset();
}

void Listener::remove_socket_file() noexcept {
    std::call_once(unlink_once_, [this] {
        if (unix_path_.empty()) return;
        struct stat st {};
        if (::lstat(unix_path_.c_str(), &st) == 0 && st.st_dev == unix_dev_ &&
            st.st_ino == unix_ino_) {
            ::unlink(unix_path_.c_str());
        }
    });
}

} // namespace syncws::net
