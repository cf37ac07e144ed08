// ws_load: the WebSocket load generator of issue 5. It speaks RFC 6455 over plain sockets and
// OpenSSL (never through syncws, so that it measures the server, not itself), masks its
// frames as a client must, checks every echoed payload, and reports its own CPU use.
//
//   ws_load --url ws://127.0.0.1:PORT/ --scenario rtt|throughput|text|bulk|connect|idle
//           [--duration SECONDS] [--connections N] [--inflight N] [--size BYTES]
//           [--workers N] [--idle N] [--server-pid PID] [--insecure] [--ca FILE]
//
// Scenarios (the shapes of issue 5; options override them):
//   rtt         1 connection, 32 B binary, one message at a time: p50/p99/max in µs.
//   throughput  64 connections × 16 in flight × 32 B binary: messages/s.
//   text        the same with 4 KiB of valid UTF-8 (1- to 4-byte sequences): messages/s, MB/s.
//   bulk        1 connection, --size (1 MiB) binary, one at a time: MB/s.
//   connect     --workers (4) threads looping connect + handshake + close handshake.
//   idle        hold --idle (1000) connections: the server's RSS and threads per connection
//               (needs --server-pid) and the rtt of one more connection before and while
//               they are held.
// throughput, text and bulk run on --workers (1) epoll threads. client_cpu_util is the tool's
// CPU time over wall time: near 1.0 per client thread means the tool set the pace. With
// --server-pid the server's CPU is reported too, so the CPU per message can be compared even
// on a machine too busy for the rates to mean much.
//
// Output: one JSON object on one stdout line; diagnostics on stderr; exit 1 on any error,
// a wrong echo included.
#include "ws_net.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

using wsload::append_frame;
using wsload::Buffer;
using wsload::Conn;
using wsload::Endpoint;
using wsload::Error;
using wsload::Frame;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------ options

struct Options {
    std::string url;
    std::string scenario;
    double duration = 3;
    // 0 = the scenario's default (see apply_defaults).
    int connections = 0;
    int inflight = 0;
    std::size_t size = 0;
    int workers = 0;
    int idle = 1000;
    long server_pid = 0;
    bool insecure = false;
    std::string ca;
};

[[noreturn]] void usage(const std::string& why, int status = 1) {
    std::fprintf(stderr,
                 "ws_load: %s\n"
                 "usage: ws_load --url ws://HOST:PORT/ --scenario "
                 "rtt|throughput|text|bulk|connect|idle\n"
                 "               [--duration SECONDS] [--connections N] [--inflight N]"
                 " [--size BYTES]\n"
                 "               [--workers N] [--idle N] [--server-pid PID] [--insecure]"
                 " [--ca FILE]\n",
                 why.c_str());
    std::exit(status);
}

long parse_number(const std::string& text, const std::string& option, long min, long max) {
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || *end != '\0' || value < min || value > max)
        usage("bad value for " + option + ": " + text);
    return value;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        auto count = [&](long min, long max) { return parse_number(value(), arg, min, max); };
        if (arg == "--help" || arg == "-h") {
            usage("a WebSocket load generator (issue 5)", 0);
        } else if (arg == "--url") {
            o.url = value();
        } else if (arg == "--scenario") {
            o.scenario = value();
        } else if (arg == "--duration") {
            const std::string text = value();
            char* end = nullptr;
            o.duration = std::strtod(text.c_str(), &end);
            if (*end != '\0' || !(o.duration > 0) || o.duration > 3600)
                usage("bad value for --duration: " + text);
        } else if (arg == "--connections") {
            o.connections = static_cast<int>(count(1, 100000));
        } else if (arg == "--inflight") {
            o.inflight = static_cast<int>(count(1, 100000));
        } else if (arg == "--size") {
            o.size = static_cast<std::size_t>(count(1, 1L << 30));
        } else if (arg == "--workers") {
            o.workers = static_cast<int>(count(1, 256));
        } else if (arg == "--idle") {
            o.idle = static_cast<int>(count(1, 1000000));
        } else if (arg == "--server-pid") {
            o.server_pid = count(1, LONG_MAX);
        } else if (arg == "--insecure") {
            o.insecure = true;
        } else if (arg == "--ca") {
            o.ca = value();
        } else {
            usage("unknown option " + arg);
        }
    }
    if (o.url.empty()) usage("--url is required");
    if (o.scenario.empty()) usage("--scenario is required");
    return o;
}

/// The shapes of issue 5; an option given on the command line wins.
void apply_defaults(Options& o) {
    struct Shape {
        const char* name;
        int connections, inflight;
        std::size_t size;
        int workers;
    };
    static constexpr Shape shapes[] = {
        {"rtt", 1, 1, 32, 1},       {"throughput", 64, 16, 32, 1}, {"text", 64, 16, 4096, 1},
        {"bulk", 1, 1, 1 << 20, 1}, {"connect", 1, 1, 32, 4},      {"idle", 1, 1, 32, 1},
    };
    for (const Shape& s : shapes) {
        if (o.scenario != s.name) continue;
        if (!o.connections) o.connections = s.connections;
        if (!o.inflight) o.inflight = s.inflight;
        if (!o.size) o.size = s.size;
        if (!o.workers) o.workers = s.workers;
        return;
    }
    usage("unknown scenario " + o.scenario);
}

// ------------------------------------------------------------------------------ output

/// Builds the one JSON line of the result, keys in the order added.
class JsonLine {
public:
    JsonLine& add(const char* key, const std::string& value) {
        std::string quoted = "\"";
        for (const char c : value) {
            if (c == '"' || c == '\\') quoted += '\\';
            if (static_cast<unsigned char>(c) >= 0x20) quoted += c;
        }
        return raw(key, quoted + "\"");
    }
    JsonLine& add(const char* key, double value, int decimals) {
        if (!std::isfinite(value)) return raw(key, "null");
        char text[64];
        std::snprintf(text, sizeof text, "%.*f", decimals, value);
        return raw(key, text);
    }
    JsonLine& add(const char* key, long long value) { return raw(key, std::to_string(value)); }
    std::string str() const { return "{" + body_ + "}"; }

private:
    JsonLine& raw(const char* key, const std::string& value) {
        if (!body_.empty()) body_ += ',';
        body_ += '"';
        body_ += key;
        body_ += "\":";
        body_ += value;
        return *this;
    }
    std::string body_;
};

// ------------------------------------------------------------------------------ payloads

/// The messages of a run. Message `seq` is a fixed pattern whose first 16 bytes are `seq` in
/// hex, so that every echo is checked against what was sent without keeping copies, and a
/// reordered or duplicated echo is caught too. Text patterns are valid UTF-8 mixing 1- to
/// 4-byte sequences; the hex stamp is ASCII, so it keeps them valid.
class Payloads {
public:
    Payloads(std::size_t size, bool text) : pattern_(size) {
        if (text)
            fill_text();
        else
            for (auto& byte : pattern_)
                byte = static_cast<std::uint8_t>(wsload::rng().next() >> 56);
    }

    std::size_t size() const { return pattern_.size(); }

    /// Writes message `seq` masked with `mask` (the stamp is a multiple of 4 bytes long, so
    /// the mask phase of the pattern part is unchanged).
    void write_masked(std::uint8_t* dst, std::uint64_t seq, const std::uint8_t mask[4]) const {
        const std::size_t n = stamp_size();
        std::uint8_t stamp[16];
        write_stamp(stamp, seq);
        wsload::apply_mask(dst, stamp, n, mask);
        wsload::apply_mask(dst + n, pattern_.data() + n, size() - n, mask);
    }

    bool matches(const std::uint8_t* data, std::size_t n, std::uint64_t seq) const {
        if (n != size()) return false;
        std::uint8_t stamp[16];
        write_stamp(stamp, seq);
        const std::size_t s = stamp_size();
        return std::memcmp(data, stamp, s) == 0 &&
               std::memcmp(data + s, pattern_.data() + s, n - s) == 0;
    }

private:
    std::size_t stamp_size() const { return std::min<std::size_t>(16, size()); }

    static void write_stamp(std::uint8_t* out, std::uint64_t seq) {
        static constexpr char hex[] = "0123456789abcdef";
        for (int i = 15; i >= 0; --i, seq >>= 4)
            out[i] = static_cast<std::uint8_t>(hex[seq & 0xF]);
    }

    void fill_text() {
        // a, é, €, 😀, Ж, 中, 𝄞, Z: 1, 2, 3, 4, 2, 3, 4, 1 bytes.
        static constexpr std::string_view chars[] = {
            "a",        "\xC3\xA9",     "\xE2\x82\xAC",     "\xF0\x9F\x98\x80",
            "\xD0\x96", "\xE4\xB8\xAD", "\xF0\x9D\x84\x9E", "Z"};
        std::size_t pos = 0;
        for (; pos < stamp_size(); ++pos) // overwritten by the ASCII stamp
            pattern_[pos] = 'x';
        for (std::size_t k = 0; pos < size(); ++k) {
            const std::string_view c = chars[k % std::size(chars)];
            if (size() - pos < c.size()) {
                pattern_[pos++] = '.'; // no room for a whole sequence: pad with ASCII
                continue;
            }
            std::memcpy(pattern_.data() + pos, c.data(), c.size());
            pos += c.size();
        }
    }

    std::vector<std::uint8_t> pattern_;
};

/// Appends message `seq` as one masked frame.
void append_message(Buffer& out, const Payloads& payloads, std::uint64_t seq, std::uint8_t opcode) {
    const auto key = static_cast<std::uint32_t>(wsload::rng().next());
    std::uint8_t mask[4];
    std::memcpy(mask, &key, 4);
    std::uint8_t* p = out.prepare(wsload::max_header_size + payloads.size());
    const std::size_t header = wsload::write_header(p, true, opcode, payloads.size(), mask);
    payloads.write_masked(p + header, seq, mask);
    out.commit(header + payloads.size());
}

[[noreturn]] void echo_mismatch(const std::string& where, std::uint64_t seq, std::size_t got,
                                std::size_t expected) {
    throw Error(where + ": echo of message " + std::to_string(seq) +
                " differs from what was sent (" + std::to_string(got) + " bytes, expected " +
                std::to_string(expected) + ")");
}

// ------------------------------------------------------------------------------ measurements

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

/// User + system CPU seconds of this process (all threads).
double own_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// User + system CPU seconds of another process, from /proc/PID/stat (fields 14 and 15).
double process_cpu_seconds(long pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::size_t paren = text.rfind(')'); // the command name may contain spaces
    if (paren == std::string::npos)
        throw Error("cannot read /proc/" + std::to_string(pid) + "/stat");
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct ServerStatus {
    long rss_kib = 0;
    long threads = 0;
};

/// VmRSS and Threads of the server, from /proc/PID/status.
ServerStatus server_status(long pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/status");
    if (!file) throw Error("cannot read /proc/" + std::to_string(pid) + "/status");
    ServerStatus status;
    std::string line;
    while (std::getline(file, line)) {
        if (line.starts_with("VmRSS:")) status.rss_kib = std::stol(line.substr(6));
        if (line.starts_with("Threads:")) status.threads = std::stol(line.substr(8));
    }
    return status;
}

/// Wall time, our CPU and (given its pid) the server's CPU over one timed window; a CPU
/// utilisation near 1.0 per client thread means the tool, not the server, set the pace.
class CpuWindow {
public:
    explicit CpuWindow(long server_pid) : server_pid_(server_pid) {}

    void start() {
        if (server_pid_) server_cpu_ = process_cpu_seconds(server_pid_);
        own_cpu_ = own_cpu_seconds();
        start_ = Clock::now();
    }
    void stop() {
        seconds_ = seconds_between(start_, Clock::now());
        own_cpu_ = own_cpu_seconds() - own_cpu_;
        if (server_pid_) server_cpu_ = process_cpu_seconds(server_pid_) - server_cpu_;
    }
    Clock::time_point started() const { return start_; }
    double seconds() const { return seconds_; }

    void report(JsonLine& json) const {
        json.add("client_cpu_s", own_cpu_, 3).add("client_cpu_util", own_cpu_ / seconds_, 3);
        if (server_pid_)
            json.add("server_cpu_s", server_cpu_, 3)
                .add("server_cpu_util", server_cpu_ / seconds_, 3);
    }

private:
    long server_pid_;
    Clock::time_point start_;
    double seconds_ = 0;
    double own_cpu_ = 0;
    double server_cpu_ = 0;
};

double percentile_us(const std::vector<std::int64_t>& sorted_ns, double q) {
    if (sorted_ns.empty()) return NAN;
    const auto index = std::min(
        sorted_ns.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted_ns.size())));
    return static_cast<double>(sorted_ns[index]) / 1000.0;
}

/// Runs `work(i)` on `n` threads and rethrows the first failure after all have ended.
void run_threads(int n, const std::function<void(int)>& work,
                 const std::function<void()>& while_running = {}) {
    std::vector<std::exception_ptr> failures(static_cast<std::size_t>(n));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            try {
                work(i);
            } catch (...) {
                failures[static_cast<std::size_t>(i)] = std::current_exception();
            }
        });
    if (while_running) while_running();
    for (auto& t : threads)
        t.join();
    for (auto& failure : failures)
        if (failure) std::rethrow_exception(failure);
}

// ------------------------------------------------------------------------------ rtt

struct RttResult {
    long long messages = 0;
    double seconds = 0;
    double p50_us = NAN;
    double p99_us = NAN;
    double max_us = NAN; ///< a stall that percentiles hide shows here
};

/// The next frame other than a ping or pong. Pings are answered, so a server's keepalive
/// cannot fail a long run; unsolicited pongs are allowed (RFC 6455 §5.5.3).
Frame read_data_frame(Conn& conn) {
    for (;;) {
        const Frame frame = wsload::read_frame(conn);
        if (frame.header.opcode == wsload::op_pong) continue;
        if (frame.header.opcode != wsload::op_ping) return frame;
        Buffer pong;
        append_frame(pong, true, wsload::op_pong, frame.payload,
                     static_cast<std::size_t>(frame.header.length));
        conn.stream.write_all(pong.data(), pong.size());
    }
}

/// One message at a time on a blocking connection: send, wait for the echo, repeat.
RttResult measure_rtt(Conn& conn, const Payloads& payloads, double seconds, std::uint64_t& seq) {
    std::vector<std::int64_t> samples;
    samples.reserve(1 << 20);
    Buffer out;
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    for (auto now = start; now < end;) {
        out.clear();
        append_message(out, payloads, seq, wsload::op_binary);
        conn.stream.write_all(out.data(), out.size());
        const Frame frame = read_data_frame(conn);
        if (frame.header.opcode != wsload::op_binary || !frame.header.fin)
            throw Error("rtt: expected one binary frame, got opcode " +
                        std::to_string(frame.header.opcode));
        const auto length = static_cast<std::size_t>(frame.header.length);
        if (!payloads.matches(frame.payload, length, seq))
            echo_mismatch("rtt", seq, length, payloads.size());
        ++seq;
        const auto done = Clock::now();
        samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(done - now).count());
        now = done;
    }
    RttResult r;
    r.seconds = seconds_between(start, Clock::now());
    r.messages = static_cast<long long>(samples.size());
    std::sort(samples.begin(), samples.end());
    r.p50_us = percentile_us(samples, 0.50);
    r.p99_us = percentile_us(samples, 0.99);
    r.max_us = percentile_us(samples, 1.0);
    return r;
}

void scenario_rtt(const Options& o, const Endpoint& e, JsonLine& json) {
    const Payloads payloads(o.size, false);
    Conn conn = wsload::open_connection(e);
    std::uint64_t seq = 0;
    CpuWindow cpu(o.server_pid);
    cpu.start();
    const RttResult r = measure_rtt(conn, payloads, o.duration, seq);
    cpu.stop();
    wsload::close_connection(conn);
    json.add("size", static_cast<long long>(o.size))
        .add("seconds", r.seconds, 3)
        .add("messages", r.messages)
        .add("messages_per_s", static_cast<double>(r.messages) / r.seconds, 1)
        .add("p50_us", r.p50_us, 1)
        .add("p99_us", r.p99_us, 1)
        .add("max_us", r.max_us, 1);
    cpu.report(json);
}

// ------------------------------------------------------------------------------ flows

/// One connection of a flow: it keeps `inflight` messages outstanding until the window ends,
/// then closes.
struct Peer {
    Conn conn;
    Buffer out;
    std::size_t index = 0;
    std::uint64_t sent = 0;   ///< messages queued so far (the next one's sequence number)
    std::uint64_t echoed = 0; ///< echoes received and checked
    Buffer assembly;          ///< a fragmented echo being reassembled
    std::uint8_t assembly_opcode = 0;
    bool assembling = false;
    bool closing = false; ///< our close frame is queued
    bool done = false;    ///< the server's close frame arrived
};

struct FlowSpec {
    int inflight = 1;
    std::uint8_t opcode = wsload::op_binary;
    const Payloads* payloads = nullptr;
    Clock::time_point deadline;
};

/// Drives a share of a flow's connections from one thread with edge-triggered epoll. All the
/// messages a connection queues while handling one read leave in one write, so that a
/// thread can keep many connections busy and the tool does not set the pace.
class FlowWorker {
public:
    FlowWorker(std::vector<Peer*> peers, const FlowSpec& spec, bool tls)
        : peers_(std::move(peers)), spec_(spec), tls_(tls) {}

    void run() {
        epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) throw Error(wsload::errno_text("epoll_create1"));
        try {
            loop();
        } catch (...) {
            ::close(epoll_);
            throw;
        }
        ::close(epoll_);
    }

    long long counted() const { return counted_; }

private:
    // After the window, the servers get this long to echo what is in flight and to answer the
    // close handshake.
    static constexpr std::chrono::seconds drain_limit{20};

    void loop() {
        for (Peer* p : peers_) {
            p->conn.stream.set_nonblocking();
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            ev.data.ptr = p;
            if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, p->conn.stream.fd(), &ev) != 0)
                throw Error(wsload::errno_text("epoll_ctl"));
            for (int i = 0; i < spec_.inflight; ++i)
                queue_message(*p);
            flush(*p);
        }
        open_ = peers_.size();
        Clock::time_point limit = spec_.deadline;
        std::vector<epoll_event> events(256);
        while (open_ > 0) {
            const auto now = Clock::now();
            if (in_window_ && now >= spec_.deadline) {
                end_window();
                limit = now + drain_limit;
            } else if (!in_window_ && now >= limit) {
                throw Error("the server did not finish echoing and answer the close handshake "
                            "within " +
                            std::to_string(drain_limit.count()) + " s");
            }
            const auto wait_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(limit - now).count() + 1;
            const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                                       static_cast<int>(wait_ms));
            if (n < 0 && errno != EINTR) throw Error(wsload::errno_text("epoll_wait"));
            for (int i = 0; i < n; ++i)
                on_event(*static_cast<Peer*>(events[static_cast<std::size_t>(i)].data.ptr),
                         events[static_cast<std::size_t>(i)].events);
        }
    }

    void end_window() {
        in_window_ = false;
        for (Peer* p : peers_) {
            maybe_close(*p);
            flush(*p);
        }
    }

    /// After the window, a connection closes once every message it sent has come back: a
    /// server may answer a close at once and drop the echoes still queued (§5.5.1 lets it),
    /// which would leave them unchecked.
    void maybe_close(Peer& p) {
        if (p.closing || p.echoed != p.sent) return;
        const std::uint8_t code[2] = {1000 >> 8, 1000 & 0xFF};
        append_frame(p.out, true, wsload::op_close, code, 2);
        p.closing = true;
    }

    void on_event(Peer& p, std::uint32_t events) {
        if (p.done) return;
        // TLS may need to read to make progress on a write, so it reads on every event.
        const bool readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        if (readable || tls_) read_all(p);
        if (!p.done) flush(p);
    }

    std::string name(const Peer& p) const { return "connection " + std::to_string(p.index); }

    void queue_message(Peer& p) { append_message(p.out, *spec_.payloads, p.sent++, spec_.opcode); }

    void flush(Peer& p) {
        while (!p.out.empty()) {
            const ssize_t put = p.conn.stream.write_some(p.out.data(), p.out.size());
            if (put < 0) return; // EPOLLOUT will call again
            p.out.consume(static_cast<std::size_t>(put));
        }
    }

    /// Edge-triggered: read until the socket has nothing more.
    void read_all(Peer& p) {
        for (;;) {
            Buffer& in = p.conn.in;
            std::uint8_t* free = in.prepare(16384); // before writable(): it may grow the buffer
            const std::size_t room = in.writable();
            const ssize_t got = p.conn.stream.read_some(free, room);
            if (got < 0) return;
            if (got == 0) throw Error(name(p) + ": the server closed TCP without a close frame");
            in.commit(static_cast<std::size_t>(got));
            while (auto frame = wsload::take_frame(p.conn)) {
                on_frame(p, *frame);
                if (p.done) return;
            }
            // A short read of a TCP socket emptied it, and bytes arriving later raise a new
            // edge: skip the recv that would only say EAGAIN (one syscall per event saved).
            // Not for TLS, where a short read is one record of possibly several buffered.
            if (!tls_ && static_cast<std::size_t>(got) < room) return;
        }
    }

    void on_frame(Peer& p, const Frame& f) {
        const auto length = static_cast<std::size_t>(f.header.length);
        switch (f.header.opcode) {
        case wsload::op_ping: // §5.5.2: answer with a pong carrying the same data…
            if (!p.closing)   // …but §5.5.1: no frame may follow our close
                append_frame(p.out, true, wsload::op_pong, f.payload, length);
            return;
        case wsload::op_pong:
            return;
        case wsload::op_close:
            on_close(p, f);
            return;
        default:
            break;
        }
        if (f.header.fin && f.header.opcode != wsload::op_continuation && !p.assembling) {
            on_echo(p, f.header.opcode, f.payload, length);
            return;
        }
        // A server may fragment its echo (§5.4); reassemble it before checking.
        if (f.header.opcode != wsload::op_continuation) {
            if (p.assembling) throw Error(name(p) + ": new message inside a fragmented one");
            p.assembling = true;
            p.assembly_opcode = f.header.opcode;
        } else if (!p.assembling) {
            throw Error(name(p) + ": continuation frame without a message");
        }
        p.assembly.append(f.payload, length);
        if (f.header.fin) {
            p.assembling = false;
            on_echo(p, p.assembly_opcode, p.assembly.data(), p.assembly.size());
            p.assembly.clear();
        }
    }

    void on_echo(Peer& p, std::uint8_t opcode, const std::uint8_t* data, std::size_t size) {
        if (opcode != spec_.opcode)
            throw Error(name(p) + ": echo has opcode " + std::to_string(opcode) + ", sent " +
                        std::to_string(spec_.opcode));
        if (!spec_.payloads->matches(data, size, p.echoed))
            echo_mismatch(name(p), p.echoed, size, spec_.payloads->size());
        ++p.echoed;
        if (!in_window_) {
            maybe_close(p);
            return;
        }
        ++counted_;
        queue_message(p);
    }

    void on_close(Peer& p, const Frame& f) {
        if (!p.closing) {
            std::string code = "no status";
            if (f.header.length >= 2) code = std::to_string(f.payload[0] << 8 | f.payload[1]);
            throw Error(name(p) + ": the server closed the connection (" + code + ")");
        }
        if (p.echoed != p.sent)
            throw Error(name(p) + ": the server closed with " + std::to_string(p.sent - p.echoed) +
                        " echoes missing");
        p.done = true;
        p.conn.stream.reset(); // also leaves the epoll set
        --open_;
    }

    std::vector<Peer*> peers_;
    FlowSpec spec_;
    bool tls_;
    int epoll_ = -1;
    bool in_window_ = true;
    std::size_t open_ = 0;
    long long counted_ = 0;
};

/// throughput, text and bulk: `connections` × `inflight` messages of `size` bytes.
void scenario_flow(const Options& o, const Endpoint& e, JsonLine& json) {
    const bool text = o.scenario == "text";
    const Payloads payloads(o.size, text);
    std::vector<Peer> peers(static_cast<std::size_t>(o.connections));
    for (std::size_t i = 0; i < peers.size(); ++i) {
        peers[i].conn = wsload::open_connection(e);
        peers[i].index = i;
    }
    const int workers = std::min(o.workers, o.connections);
    std::fprintf(stderr,
                 "ws_load: %s: %d connections x %d in flight x %zu B, %d thread(s), %.1f s\n",
                 o.scenario.c_str(), o.connections, o.inflight, o.size, workers, o.duration);

    CpuWindow cpu(o.server_pid);
    cpu.start();
    FlowSpec spec;
    spec.inflight = o.inflight;
    spec.opcode = text ? wsload::op_text : wsload::op_binary;
    spec.payloads = &payloads;
    spec.deadline = cpu.started() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.duration));
    std::vector<FlowWorker> flows;
    for (int w = 0; w < workers; ++w) {
        std::vector<Peer*> share;
        for (std::size_t i = static_cast<std::size_t>(w); i < peers.size();
             i += static_cast<std::size_t>(workers))
            share.push_back(&peers[i]);
        flows.emplace_back(std::move(share), spec, e.tls);
    }
    // The window's CPU figures are taken at the deadline, before the drain of the close.
    run_threads(
        workers, [&](int w) { flows[static_cast<std::size_t>(w)].run(); },
        [&] {
            std::this_thread::sleep_until(spec.deadline);
            cpu.stop();
        });

    long long messages = 0;
    for (const auto& flow : flows)
        messages += flow.counted();
    // Echoes count up to the deadline exactly; the CPU sample may come late on a busy machine.
    const double window = seconds_between(cpu.started(), spec.deadline);
    const double rate = static_cast<double>(messages) / window;
    json.add("connections", static_cast<long long>(o.connections))
        .add("inflight", static_cast<long long>(o.inflight))
        .add("size", static_cast<long long>(o.size))
        .add("client_threads", static_cast<long long>(workers))
        .add("seconds", window, 3)
        .add("messages", messages)
        .add("messages_per_s", rate, 1)
        .add("mb_per_s", rate * static_cast<double>(o.size) / 1e6, 2);
    cpu.report(json);
}

// ------------------------------------------------------------------------------ connect

/// Workers loop over connect + handshake + close handshake; cycles finished inside the window
/// count.
void scenario_connect(const Options& o, const Endpoint& e, JsonLine& json) {
    std::fprintf(stderr, "ws_load: connect: %d workers, %.1f s\n", o.workers, o.duration);
    std::vector<long long> done(static_cast<std::size_t>(o.workers));
    CpuWindow cpu(o.server_pid);
    cpu.start();
    const auto deadline = cpu.started() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(o.duration));
    run_threads(
        o.workers,
        [&](int w) {
            while (Clock::now() < deadline) {
                Conn conn = wsload::open_connection(e);
                wsload::close_connection(conn);
                if (Clock::now() <= deadline) ++done[static_cast<std::size_t>(w)];
            }
        },
        [&] {
            std::this_thread::sleep_until(deadline);
            cpu.stop();
        });
    long long handshakes = 0;
    for (const long long n : done)
        handshakes += n;
    const double window = seconds_between(cpu.started(), deadline);
    json.add("client_threads", static_cast<long long>(o.workers))
        .add("seconds", window, 3)
        .add("handshakes", handshakes)
        .add("handshakes_per_s", static_cast<double>(handshakes) / window, 1);
    cpu.report(json);
}

// ------------------------------------------------------------------------------ idle

// Connections are opened by this many threads at once: enough to hide one handshake's round
// trip, few enough not to turn opening into a connect-storm benchmark.
constexpr int opener_threads = 8;

/// Opens `conns.size()` connections. Each one then does a ping round trip: its pong proves
/// the server has finished setting the connection up (thread started, first read done,
/// buffers allocated), so the RSS read right after the last one is complete without sleeping.
void open_idle(const Endpoint& e, std::vector<Conn>& conns) {
    const int threads = static_cast<int>(std::min<std::size_t>(opener_threads, conns.size()));
    run_threads(threads, [&](int t) {
        Buffer out;
        const std::uint8_t data[4] = {'i', 'd', 'l', 'e'};
        for (std::size_t i = static_cast<std::size_t>(t); i < conns.size();
             i += static_cast<std::size_t>(threads)) {
            try {
                conns[i] = wsload::open_connection(e);
            } catch (const Error& error) {
                throw Error("idle connection " + std::to_string(i + 1) + " of " +
                            std::to_string(conns.size()) + ": " + error.what());
            }
            out.clear();
            append_frame(out, true, wsload::op_ping, data, sizeof data);
            conns[i].stream.write_all(out.data(), out.size());
            const Frame pong = wsload::read_frame(conns[i]);
            if (pong.header.opcode != wsload::op_pong || pong.header.length != sizeof data ||
                std::memcmp(pong.payload, data, sizeof data) != 0)
                throw Error("idle connection " + std::to_string(i) +
                            ": ping not answered by its pong");
        }
    });
}

void close_idle(std::vector<Conn>& conns) {
    const int threads = static_cast<int>(std::min<std::size_t>(opener_threads, conns.size()));
    run_threads(threads, [&](int t) {
        for (std::size_t i = static_cast<std::size_t>(t); i < conns.size();
             i += static_cast<std::size_t>(threads))
            wsload::close_connection(conns[i]);
    });
}

/// Holds `idle` connections open: the server's memory and threads per connection, and the
/// rtt of one more connection while they are held against its rtt before.
void scenario_idle(const Options& o, const Endpoint& e, JsonLine& json) {
    const Payloads payloads(o.size, false);
    Conn probe = wsload::open_connection(e);
    std::uint64_t seq = 0;
    const RttResult unloaded = measure_rtt(probe, payloads, o.duration, seq);

    ServerStatus before, after;
    if (o.server_pid)
        before = server_status(o.server_pid);
    else
        std::fprintf(stderr, "ws_load: idle: no --server-pid, so no server RSS or threads\n");
    std::vector<Conn> conns(static_cast<std::size_t>(o.idle));
    const auto open_start = Clock::now();
    open_idle(e, conns);
    const double open_seconds = seconds_between(open_start, Clock::now());
    if (o.server_pid) after = server_status(o.server_pid);
    std::fprintf(stderr, "ws_load: idle: %d connections open in %.2f s\n", o.idle, open_seconds);

    const RttResult loaded = measure_rtt(probe, payloads, o.duration, seq);
    close_idle(conns);
    wsload::close_connection(probe);

    json.add("idle_connections", static_cast<long long>(o.idle)).add("open_s", open_seconds, 3);
    if (o.server_pid) {
        const double n = o.idle;
        json.add("server_rss_kib_before", static_cast<long long>(before.rss_kib))
            .add("server_rss_kib_after", static_cast<long long>(after.rss_kib))
            .add("rss_per_conn_kib", static_cast<double>(after.rss_kib - before.rss_kib) / n, 2)
            .add("server_threads_before", static_cast<long long>(before.threads))
            .add("server_threads_after", static_cast<long long>(after.threads))
            .add("threads_per_conn", static_cast<double>(after.threads - before.threads) / n, 3);
    }
    json.add("unloaded_p50_us", unloaded.p50_us, 1)
        .add("unloaded_p99_us", unloaded.p99_us, 1)
        .add("p50_us", loaded.p50_us, 1)
        .add("p99_us", loaded.p99_us, 1)
        .add("max_us", loaded.max_us, 1)
        .add("p50_ratio", loaded.p50_us / unloaded.p50_us, 3);
}

/// 10,000 idle connections need as many descriptors.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse_options(argc, argv);
    apply_defaults(o);
    std::signal(SIGPIPE,
                SIG_IGN); // OpenSSL writes with write(): a dead peer is an error, not a kill
    raise_fd_limit();
    try {
        Endpoint e = wsload::parse_endpoint(o.url);
        if (e.tls) e.tls_context = wsload::make_client_tls(o.insecure, o.ca);
        JsonLine json;
        json.add("scenario", o.scenario).add("url", o.url);
        if (o.scenario == "rtt")
            scenario_rtt(o, e, json);
        else if (o.scenario == "connect")
            scenario_connect(o, e, json);
        else if (o.scenario == "idle")
            scenario_idle(o, e, json);
        else
            scenario_flow(o, e, json);
        std::printf("%s\n", json.str().c_str());
        std::fflush(stdout);
        if (e.tls_context) SSL_CTX_free(e.tls_context);
        return 0;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "ws_load: error: %s\n", ex.what());
        return 1;
    }
}
