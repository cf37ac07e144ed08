// raw_echo: a minimal blocking WebSocket echo server, the baseline of issue 5 — "the limit of a
// blocking design on this machine". One thread per connection; the thread reads the HTTP
// upgrade, answers 101, then loops: read whatever the socket has, echo every complete frame of
// that read into one buffer, send the buffer with one write. No UTF-8 validation, no
// reassembly (frames are echoed as they come), no extensions: whatever a real library must do
// beyond this is its cost over the limit.
//
//   raw_echo [--host 127.0.0.1] [--port 0] [--tls-cert FILE --tls-key FILE]
//
// Prints "raw_echo listening on ws://HOST:PORT/" (wss:// with TLS) as its first stdout line.
// Runs until SIGTERM or SIGINT.
#include "ws_wire.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using wsload::FrameHeader;

struct Args {
    std::string host = "127.0.0.1";
    std::string port = "0";
    std::string cert;
    std::string key;
};

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "raw_echo: %s\nusage: raw_echo [--host H] [--port N]"
                 " [--tls-cert FILE --tls-key FILE]\n",
                 why.c_str());
    std::exit(2);
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "raw_echo: %s\n", what.c_str());
    std::exit(1);
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--host")
            args.host = value();
        else if (arg == "--port")
            args.port = value();
        else if (arg == "--tls-cert")
            args.cert = value();
        else if (arg == "--tls-key")
            args.key = value();
        else
            usage("unknown option " + arg);
    }
    if (args.cert.empty() != args.key.empty()) usage("--tls-cert and --tls-key go together");
    return args;
}

/// One accepted socket, plain or TLS, in blocking mode.
class Io {
public:
    Io(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
    Io(const Io&) = delete;
    Io& operator=(const Io&) = delete;
    ~Io() {
        if (ssl_) SSL_free(ssl_);
        ::close(fd_);
    }

    /// Bytes read (> 0), or 0 on end of stream or error: either way the connection is over.
    std::size_t read_some(std::uint8_t* data, std::size_t size) {
        if (ssl_) {
            const int n =
                SSL_read(ssl_, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
            return n > 0 ? static_cast<std::size_t>(n) : 0;
        }
        for (;;) {
            const ssize_t n = ::recv(fd_, data, size, 0);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) return 0;
        }
    }

    /// Writes everything (normally in one call: the kernel takes the whole buffer unless the
    /// peer stops reading).
    bool write_all(const std::uint8_t* data, std::size_t size) {
        while (size > 0) {
            std::size_t written = 0;
            if (ssl_) {
                const int n =
                    SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
                if (n <= 0) return false;
                written = static_cast<std::size_t>(n);
            } else {
                const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return false;
                written = static_cast<std::size_t>(n);
            }
            data += written;
            size -= written;
        }
        return true;
    }

    /// Closes our direction and waits (bounded) for the peer's FIN, so that closing the socket
    /// with unread bytes cannot turn into a reset that destroys our close frame in flight.
    void shutdown() {
        if (ssl_) SSL_shutdown(ssl_);
        ::shutdown(fd_, SHUT_WR);
        timeval timeout{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        std::uint8_t sink[4096];
        while (::recv(fd_, sink, sizeof sink, 0) > 0) {
        }
    }

private:
    int fd_;
    SSL* ssl_;
};

/// The read buffer of a connection. Unlike std::vector it does not zero its storage: pages an
/// idle connection never reads into are never touched, so they cost no RSS.
class ReadBuffer {
public:
    explicit ReadBuffer(std::size_t size)
        : data_(std::make_unique_for_overwrite<std::uint8_t[]>(size)), size_(size) {}
    std::uint8_t* data() { return data_.get(); }
    std::size_t size() const { return size_; }
    /// Grows to `size` bytes, keeping the contents.
    void resize(std::size_t size) {
        auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(size);
        std::memcpy(grown.get(), data_.get(), std::min(size, size_));
        data_ = std::move(grown);
        size_ = size;
    }

private:
    std::unique_ptr<std::uint8_t[]> data_;
    std::size_t size_;
};

/// Reads the upgrade request and answers 101. Returns false (after a 400) if it is not one.
/// Bytes read past the request's blank line are frames: they are left in `in`/`have`.
bool handshake(Io& io, ReadBuffer& in, std::size_t& have) {
    std::string_view head;
    for (;;) {
        const std::string_view seen(reinterpret_cast<const char*>(in.data()), have);
        const std::size_t end = seen.find("\r\n\r\n");
        if (end != std::string_view::npos) {
            head = seen.substr(0, end + 2);
            break;
        }
        if (have == in.size()) return false; // a request head larger than the buffer
        const std::size_t n = io.read_some(in.data() + have, in.size() - have);
        if (n == 0) return false;
        have += n;
    }
    const auto key = wsload::header_value(head, "Sec-WebSocket-Key");
    if (!key) {
        static constexpr std::string_view bad = "HTTP/1.1 400 Bad Request\r\n"
                                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
        io.write_all(reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size());
        return false;
    }
    const std::string response = "HTTP/1.1 101 Switching Protocols\r\n"
                                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: " +
                                 wsload::accept_key(*key) + "\r\n\r\n";
    const std::size_t consumed = head.size() + 2;
    std::memmove(in.data(), in.data() + consumed, have - consumed);
    have -= consumed;
    return io.write_all(reinterpret_cast<const std::uint8_t*>(response.data()), response.size());
}

/// Appends a server (unmasked) frame to `out`.
void append_frame(std::vector<std::uint8_t>& out, bool fin, std::uint8_t opcode,
                  const std::uint8_t* payload, std::size_t size) {
    std::uint8_t header[wsload::max_header_size];
    const std::size_t header_size = wsload::write_header(header, fin, opcode, size, nullptr);
    out.insert(out.end(), header, header + header_size);
    out.insert(out.end(), payload, payload + size);
}

/// Appends a close frame carrying `code`.
void append_close(std::vector<std::uint8_t>& out, std::uint16_t code) {
    const std::uint8_t payload[2] = {static_cast<std::uint8_t>(code >> 8),
                                     static_cast<std::uint8_t>(code)};
    append_frame(out, true, wsload::op_close, payload, 2);
}

enum class Verdict { more, close };

/// Echoes one complete frame (payload unmasked in place) into `out`.
Verdict echo_frame(const FrameHeader& h, std::uint8_t* payload, std::vector<std::uint8_t>& out) {
    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    if (!h.masked) {
        append_close(out, 1002);
        return Verdict::close;
    }
    const auto size = static_cast<std::size_t>(h.length);
    wsload::apply_mask(payload, payload, size, h.mask);
    switch (h.opcode) {
    case wsload::op_ping: // §5.5.3: the pong carries the ping's application data
        append_frame(out, true, wsload::op_pong, payload, size);
        return Verdict::more;
    case wsload::op_pong:
        return Verdict::more;
    case wsload::op_close: // §5.5.1: answer with a close, echoing the status code
        append_frame(out, true, wsload::op_close, payload, std::min<std::size_t>(size, 2));
        return Verdict::close;
    default:
        append_frame(out, h.fin, h.opcode, payload, size);
        return Verdict::more;
    }
}

// Frames larger than this are refused (1009) rather than buffered; the bulk scenario's 16 MiB
// messages fit.
constexpr std::uint64_t max_frame = 256u << 20;

/// The echo loop: every complete frame of one read is echoed, and all the echoes leave in one
/// write — the point of the baseline (one write per echo is what costs Beast 4x).
void echo_loop(Io& io, ReadBuffer& in, std::size_t have) {
    std::vector<std::uint8_t> out;
    out.reserve(in.size());
    for (;;) {
        std::size_t pos = 0;
        Verdict verdict = Verdict::more;
        while (verdict == Verdict::more) {
            const auto h = wsload::parse_header(in.data() + pos, have - pos);
            if (!h) break;
            if (h->length > max_frame) {
                append_close(out, 1009);
                verdict = Verdict::close;
                break;
            }
            const std::size_t total = h->header_size + static_cast<std::size_t>(h->length);
            if (have - pos < total) {
                // Make room for the whole frame so that the next reads can complete it.
                if (in.size() < total) {
                    std::memmove(in.data(), in.data() + pos, have - pos);
                    have -= pos;
                    pos = 0;
                    in.resize(total);
                }
                break;
            }
            verdict = echo_frame(*h, in.data() + pos + h->header_size, out);
            pos += total;
        }
        if (!out.empty() && !io.write_all(out.data(), out.size())) return;
        out.clear();
        if (verdict == Verdict::close) {
            io.shutdown();
            return;
        }
        std::memmove(in.data(), in.data() + pos, have - pos);
        have -= pos;
        const std::size_t n = io.read_some(in.data() + have, in.size() - have);
        if (n == 0) return;
        have += n;
    }
}

// The initial read buffer: large enough for a 4 KiB message burst per read, small enough that
// an idle connection costs little.
constexpr std::size_t initial_buffer = 16 * 1024;

void serve_connection(int fd, SSL_CTX* tls) {
    SSL* ssl = nullptr;
    if (tls) {
        ssl = SSL_new(tls);
        if (!ssl) {
            ::close(fd);
            return;
        }
        SSL_set_fd(ssl, fd);
    }
    Io io(fd, ssl);
    if (ssl && SSL_accept(ssl) <= 0) return;
    ReadBuffer in(initial_buffer);
    std::size_t have = 0;
    if (!handshake(io, in, have)) return;
    echo_loop(io, in, have);
}

SSL_CTX* make_tls(const Args& args) {
    if (args.cert.empty()) return nullptr;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, args.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, args.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        die("TLS setup: " + std::string(buf));
    }
    return ctx;
}

/// Binds and listens; returns the socket and writes the bound address to `shown`.
int listen_on(const Args& args, std::string& shown) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(args.host.c_str(), args.port.c_str(), &hints, &found))
        die("cannot resolve " + args.host + ": " + gai_strerror(rc));
    const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 ||
        ::listen(fd, SOMAXCONN) != 0)
        die("cannot listen on " + args.host + ":" + args.port + ": " + std::strerror(errno));
    ::freeaddrinfo(found);

    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    char text[INET6_ADDRSTRLEN] = {};
    std::uint16_t port = 0;
    if (bound.ss_family == AF_INET6) {
        sockaddr_in6 a6;
        std::memcpy(&a6, &bound, sizeof a6);
        ::inet_ntop(AF_INET6, &a6.sin6_addr, text, sizeof text);
        port = ntohs(a6.sin6_port);
        shown = "[" + std::string(text) + "]";
    } else {
        sockaddr_in a4;
        std::memcpy(&a4, &bound, sizeof a4);
        ::inet_ntop(AF_INET, &a4.sin_addr, text, sizeof text);
        port = ntohs(a4.sin_port);
        shown = text;
    }
    shown += ":" + std::to_string(port);
    return fd;
}

extern "C" void on_signal(int) {
    // A benchmark server has no state worth a graceful shutdown; _exit is async-signal-safe.
    ::_exit(0);
}

/// The idle scenario holds 10,000 connections: one descriptor each.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN); // SSL_write uses write(): a closed peer must not kill us
    raise_fd_limit();
    SSL_CTX* tls = make_tls(args);

    std::string shown;
    const int listener = listen_on(args, shown);
    std::printf("raw_echo listening on %s%s/\n", tls ? "wss://" : "ws://", shown.c_str());
    std::fflush(stdout);

    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die(std::string("accept: ") + std::strerror(errno));
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        try {
            std::thread(serve_connection, fd, tls).detach();
        } catch (const std::system_error& e) {
            std::fprintf(stderr, "raw_echo: cannot start a thread: %s\n", e.what());
            ::close(fd);
        }
    }
}
