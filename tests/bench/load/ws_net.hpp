// The client side of ws_load: byte buffers, a plain-or-TLS socket, the opening handshake and
// blocking frame I/O. POSIX sockets and OpenSSL only (see ws_wire.hpp for why not syncws).
#pragma once

#include "ws_wire.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#include <utility>

namespace wsload {

/// Any failure of the tool or of the server under test; main prints it and exits 1.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

inline std::string tls_error_text(const char* what) {
    char buf[256] = "unknown error";
    if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return std::string(what) + ": " + buf;
}

/// xorshift64* (Vigna). RFC 6455 §5.3 wants masks an intermediary cannot predict, which matters
/// for browsers running hostile scripts; a load tool needs only varied masks, and a CSPRNG call
/// per frame would be the tool measuring itself. Seeded once per thread from RAND_bytes.
class XorShift {
public:
    XorShift() {
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&state_), sizeof state_) != 1 ||
            state_ == 0)
            state_ = 0x9E3779B97F4A7C15ull;
    }
    std::uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }

private:
    std::uint64_t state_ = 0;
};

inline XorShift& rng() {
    thread_local XorShift generator;
    return generator;
}

/// A byte queue with uninitialised growth: appends at the end, consumes from the front, and
/// keeps its storage (a 16 MiB bulk buffer is allocated once, not zeroed per message).
class Buffer {
public:
    std::uint8_t* data() { return storage_.get() + begin_; }
    std::size_t size() const { return end_ - begin_; }
    bool empty() const { return begin_ == end_; }

    /// Room for at least `n` more bytes at the end; returns where they go.
    std::uint8_t* prepare(std::size_t n) {
        if (capacity_ - end_ < n) make_room(n);
        return storage_.get() + end_;
    }
    /// Bytes writable at the end without another prepare().
    std::size_t writable() const { return capacity_ - end_; }
    void commit(std::size_t n) { end_ += n; }
    void consume(std::size_t n) {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void clear() { begin_ = end_ = 0; }
    void append(const std::uint8_t* p, std::size_t n) {
        std::memcpy(prepare(n), p, n);
        commit(n);
    }

private:
    void make_room(std::size_t n) {
        const std::size_t live = size();
        if (begin_ > 0 && capacity_ - live >= n) {
            std::memmove(storage_.get(), data(), live);
        } else {
            const std::size_t capacity = std::max({capacity_ * 2, live + n, std::size_t{16384}});
            auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
            if (live) std::memcpy(grown.get(), data(), live);
            storage_ = std::move(grown);
            capacity_ = capacity;
        }
        begin_ = 0;
        end_ = live;
    }

    std::unique_ptr<std::uint8_t[]> storage_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

/// A connected socket, plain or TLS, blocking or not. Reads and writes report "would block"
/// as -1 and throw Error on failure.
class Stream {
public:
    Stream() = default;
    Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
    Stream(Stream&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), ssl_(std::exchange(other.ssl_, nullptr)) {}
    Stream& operator=(Stream&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
            ssl_ = std::exchange(other.ssl_, nullptr);
        }
        return *this;
    }
    ~Stream() { reset(); }

    int fd() const { return fd_; }
    /// From now on reads and writes go through `ssl`, which the stream frees.
    void attach_tls(SSL* ssl) { ssl_ = ssl; }
    bool is_open() const { return fd_ >= 0; }

    void reset() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        ssl_ = nullptr;
    }

    void set_nonblocking() {
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0)
            throw Error(errno_text("fcntl"));
    }

    /// > 0 bytes read, 0 at end of stream, -1 if nothing is available now (non-blocking
    /// socket, or the blocking receive timeout expired).
    ssize_t read_some(std::uint8_t* p, std::size_t n) {
        if (ssl_) {
            const int got = SSL_read(ssl_, p, clamp(n));
            return got > 0 ? got : tls_failure(got, "TLS read");
        }
        for (;;) {
            const ssize_t got = ::recv(fd_, p, n, 0);
            if (got >= 0) return got;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
            throw Error(errno_text("recv"));
        }
    }

    /// Bytes written (> 0) or -1 if the socket cannot take any now.
    ssize_t write_some(const std::uint8_t* p, std::size_t n) {
        if (ssl_) {
            const int put = SSL_write(ssl_, p, clamp(n));
            if (put > 0) return put;
            if (tls_failure(put, "TLS write") == 0) throw Error("TLS write: connection closed");
            return -1;
        }
        for (;;) {
            const ssize_t put = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (put >= 0) return put;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
            throw Error(errno_text("send"));
        }
    }

    /// Blocking write of everything.
    void write_all(const std::uint8_t* p, std::size_t n) {
        while (n > 0) {
            const ssize_t put = write_some(p, n);
            if (put < 0) throw Error("timed out writing to the server");
            p += put;
            n -= static_cast<std::size_t>(put);
        }
    }

private:
    static int clamp(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, 1 << 30)); }

    /// Maps a failed SSL_read/SSL_write: 0 for end of stream, -1 for "retry later".
    ssize_t tls_failure(int rc, const char* what) {
        switch (SSL_get_error(ssl_, rc)) {
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return -1;
        case SSL_ERROR_SYSCALL:
            if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
            if (errno == 0) return 0;
            throw Error(errno_text(what));
        default:
            throw Error(tls_error_text(what));
        }
    }

    int fd_ = -1;
    SSL* ssl_ = nullptr;
};

/// Where to connect: the parsed URL, its resolved address, and the TLS context for wss://.
struct Endpoint {
    bool tls = false;
    std::string host;      ///< without brackets
    std::string host_port; ///< for the Host header, as written in the URL
    std::string path = "/";
    sockaddr_storage address{};
    socklen_t address_size = 0;
    SSL_CTX* tls_context = nullptr;
};

/// Parses ws://host[:port][/path] or wss://… and resolves the host.
inline Endpoint parse_endpoint(const std::string& url) {
    Endpoint e;
    std::string_view rest = url;
    if (rest.starts_with("ws://")) {
        rest.remove_prefix(5);
    } else if (rest.starts_with("wss://")) {
        e.tls = true;
        rest.remove_prefix(6);
    } else {
        throw Error("the URL must start with ws:// or wss://: " + url);
    }
    const std::size_t slash = rest.find('/');
    e.host_port = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) e.path = std::string(rest.substr(slash));
    std::string port = e.tls ? "443" : "80";
    std::string_view hp = e.host_port;
    if (hp.starts_with('[')) { // [IPv6]:port
        const std::size_t close = hp.find(']');
        if (close == std::string_view::npos) throw Error("bad IPv6 literal in " + url);
        e.host = std::string(hp.substr(1, close - 1));
        if (close + 1 < hp.size() && hp[close + 1] == ':') port = hp.substr(close + 2);
    } else {
        const std::size_t colon = hp.rfind(':');
        e.host = std::string(hp.substr(0, colon));
        if (colon != std::string_view::npos) port = hp.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &found))
        throw Error("cannot resolve " + e.host + ": " + gai_strerror(rc));
    std::memcpy(&e.address, found->ai_addr, found->ai_addrlen);
    e.address_size = found->ai_addrlen;
    ::freeaddrinfo(found);
    return e;
}

/// A client TLS context: peer verification against the system roots, or `ca_file` instead,
/// or none with `insecure` (a benchmark against a self-signed test certificate).
inline SSL_CTX* make_client_tls(bool insecure, const std::string& ca_file) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw Error(tls_error_text("SSL_CTX_new"));
    // Many servers end a connection without close_notify; that is an end of stream here.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Non-blocking writes are retried with a buffer that may have moved and grown.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        const int ok = ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
        if (ok != 1) throw Error(tls_error_text("loading the trusted certificates"));
    }
    return ctx;
}

/// A WebSocket client connection: the stream and the bytes read but not yet parsed.
struct Conn {
    Stream stream;
    Buffer in;
};

/// Reading end of a blocking connection: at least one more byte into `conn.in`.
inline void fill_blocking(Conn& conn) {
    std::uint8_t* free = conn.in.prepare(4096); // before writable(): it may grow the buffer
    const ssize_t got = conn.stream.read_some(free, conn.in.writable());
    if (got < 0) throw Error("timed out waiting for the server");
    if (got == 0) throw Error("the server closed the connection");
    conn.in.commit(static_cast<std::size_t>(got));
}

/// Starts TLS on a connected socket: SNI and name (or IP) verification for the URL's host.
inline SSL* start_tls(int fd, const Endpoint& e) {
    SSL* ssl = SSL_new(e.tls_context);
    if (!ssl) throw Error(tls_error_text("SSL_new"));
    SSL_set_fd(ssl, fd);
    in6_addr probe;
    const bool ip_literal = ::inet_pton(AF_INET, e.host.c_str(), &probe) == 1 ||
                            ::inet_pton(AF_INET6, e.host.c_str(), &probe) == 1;
    if (ip_literal) {
        // RFC 6066 §3: SNI carries host names only; an IP is checked against the SAN.
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), e.host.c_str());
    } else {
        // SSL_set_tlsext_host_name is a macro with an old-style cast; this is its expansion.
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(e.host.c_str()));
        SSL_set1_host(ssl, e.host.c_str());
    }
    if (SSL_connect(ssl) != 1) {
        const std::string why = tls_error_text("TLS handshake");
        SSL_free(ssl);
        throw Error(why);
    }
    return ssl;
}

/// Sends the upgrade request and validates the answer: status 101 and the accept key of
/// RFC 6455 §4.1 (the client "MUST _Fail the WebSocket Connection_" otherwise).
inline void client_handshake(Conn& conn, const Endpoint& e) {
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1) throw Error("RAND_bytes failed");
    const std::string key = base64(nonce, sizeof nonce);
    const std::string request = "GET " + e.path + " HTTP/1.1\r\nHost: " + e.host_port +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: " +
                                key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    conn.stream.write_all(reinterpret_cast<const std::uint8_t*>(request.data()), request.size());

    std::size_t head_size = 0;
    for (;;) {
        const std::string_view seen(reinterpret_cast<const char*>(conn.in.data()), conn.in.size());
        const std::size_t end = seen.find("\r\n\r\n");
        if (end != std::string_view::npos) {
            head_size = end + 4;
            break;
        }
        if (seen.size() > 65536) throw Error("handshake response too large");
        fill_blocking(conn);
    }
    const std::string head(reinterpret_cast<const char*>(conn.in.data()), head_size - 2);
    if (!head.starts_with("HTTP/1.1 101"))
        throw Error("handshake refused: " + head.substr(0, head.find('\r')));
    const auto accept = header_value(head, "Sec-WebSocket-Accept");
    if (!accept || *accept != accept_key(key))
        throw Error("handshake: missing or wrong Sec-WebSocket-Accept");
    conn.in.consume(head_size); // any bytes after the head are already frames
}

// A blocking read that waits longer than this is a server failure, not a slow benchmark.
constexpr int receive_timeout_seconds = 20;

/// TCP connect (+ TLS) + opening handshake, blocking.
inline Conn open_connection(const Endpoint& e) {
    const int fd = ::socket(e.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(errno_text("socket"));
    Conn conn;
    conn.stream = Stream(fd, nullptr); // owns fd from here on, also if we throw
    const int one = 1;
    // Small messages must leave at once: Nagle would turn rtt into a 40 ms delayed-ACK test.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{receive_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&e.address), e.address_size) != 0)
        throw Error(errno_text("connect"));
    if (e.tls) conn.stream.attach_tls(start_tls(fd, e));
    client_handshake(conn, e);
    return conn;
}

/// Appends one client frame, masked with a fresh key (§5.3: "a new masking key for each frame").
inline void append_frame(Buffer& out, bool fin, std::uint8_t opcode, const std::uint8_t* payload,
                         std::size_t size) {
    const std::uint32_t key = static_cast<std::uint32_t>(rng().next());
    std::uint8_t mask[4];
    std::memcpy(mask, &key, 4);
    std::uint8_t* p = out.prepare(max_header_size + size);
    const std::size_t header = write_header(p, fin, opcode, size, mask);
    apply_mask(p + header, payload, size, mask);
    out.commit(header + size);
}

/// A frame read in full; `payload` points into the connection's buffer and is valid until
/// the next read from it.
struct Frame {
    FrameHeader header;
    const std::uint8_t* payload = nullptr;
};

/// Returns the next complete frame already in `conn.in`, if any, and consumes it.
inline std::optional<Frame> take_frame(Conn& conn) {
    const auto h = parse_header(conn.in.data(), conn.in.size());
    if (!h) return std::nullopt;
    const std::size_t total = h->header_size + static_cast<std::size_t>(h->length);
    if (conn.in.size() < total) {
        conn.in.prepare(total - conn.in.size()); // one allocation for a large frame
        return std::nullopt;
    }
    // §5.1: "A client MUST close a connection if it detects a masked frame."
    if (h->masked) throw Error("the server sent a masked frame");
    Frame frame{*h, conn.in.data() + h->header_size};
    conn.in.consume(total);
    return frame;
}

/// Blocking: the next frame from the server.
inline Frame read_frame(Conn& conn) {
    for (;;) {
        if (auto frame = take_frame(conn)) return *frame;
        fill_blocking(conn);
    }
}

/// The close handshake of §7.1.2 from the client side: send close 1000, read until the
/// server's close, then wait for the server to close TCP (§7.1.1: the server closes first,
/// so TIME_WAIT stays on its side and the client's ports are not used up).
inline void close_connection(Conn& conn) {
    const std::uint8_t code[2] = {1000 >> 8, 1000 & 0xFF};
    Buffer out;
    append_frame(out, true, op_close, code, 2);
    conn.stream.write_all(out.data(), out.size());
    for (;;) {
        const Frame frame = read_frame(conn);
        if (frame.header.opcode == op_close) break;
        // A keepalive ping the server sent before it saw our close: nothing may follow our
        // close frame (§5.5.1), so it goes unanswered.
        if (frame.header.opcode != op_pong && frame.header.opcode != op_ping)
            throw Error("closing: unexpected frame with opcode " +
                        std::to_string(frame.header.opcode));
    }
    std::uint8_t sink[256];
    for (;;) {
        const ssize_t got = conn.stream.read_some(sink, sizeof sink);
        if (got == 0) break;
        if (got < 0) throw Error("the server did not close TCP after the close handshake");
    }
    conn.stream.reset();
}

} // namespace wsload
