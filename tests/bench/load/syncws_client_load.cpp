// syncws's client as a load generator: the client-side figures of issue 5, measured against
// the raw echo server and compared with ws_load's own rate (compare.py).
//
//   syncws_client_load --url ws://127.0.0.1:PORT/ --scenario throughput|text|bulk|rtt
//                      [--duration S] [--connections N] [--inflight N] [--size BYTES]
//                      [--insecure] [--ca FILE]
//
// Written as a user of the blocking API would write it: one thread per connection that
// keeps `inflight` messages outstanding (send `inflight`, then one more per echo received),
// compression off, every echo checked against what was sent (a sequence number stamped in
// each payload, so a lost, duplicated or reordered echo is caught). Prints one JSON object
// line with ws_load's keys.
#include <syncws/client.hpp>
#include <syncws/errors.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    std::string url;
    std::string scenario;
    double duration = 3.0;
    int connections = -1;
    int inflight = -1;
    long long size = -1;
    bool insecure = false;
    std::string ca_file;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "syncws_client_load: " << why << "\n"
              << "usage: syncws_client_load --url ws://HOST:PORT/ --scenario "
                 "throughput|text|bulk|rtt [--duration S] [--connections N] [--inflight N] "
                 "[--size BYTES] [--insecure] [--ca FILE]\n";
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--url")
            a.url = value();
        else if (arg == "--scenario")
            a.scenario = value();
        else if (arg == "--duration")
            a.duration = std::stod(value());
        else if (arg == "--connections")
            a.connections = std::stoi(value());
        else if (arg == "--inflight")
            a.inflight = std::stoi(value());
        else if (arg == "--size")
            a.size = std::stoll(value());
        else if (arg == "--insecure")
            a.insecure = true;
        else if (arg == "--ca")
            a.ca_file = value();
        else
            usage("unknown option " + arg);
    }
    if (a.url.empty()) usage("--url is required");
    // The scenarios: 64 x 16 x 32 B, the same with 4 KiB text, 1 x 1 MiB, 1 x 32 B.
    struct Defaults {
        const char* name;
        int connections, inflight;
        long long size;
    };
    static constexpr Defaults defaults[] = {
        {"throughput", 64, 16, 32},
        {"text", 64, 16, 4096},
        {"bulk", 1, 1, 1 << 20},
        {"rtt", 1, 1, 32},
    };
    const auto* d = std::find_if(std::begin(defaults), std::end(defaults),
                                 [&](const Defaults& x) { return a.scenario == x.name; });
    if (d == std::end(defaults)) usage("unknown scenario '" + a.scenario + "'");
    if (a.connections < 0) a.connections = d->connections;
    if (a.inflight < 0) a.inflight = d->inflight;
    if (a.size < 0) a.size = d->size;
    if (a.scenario == "rtt") a.inflight = 1;
    if (a.connections < 1 || a.inflight < 1 || a.size < 0 || a.duration <= 0)
        usage("--connections and --inflight must be >= 1, --duration > 0");
    return a;
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

constexpr std::size_t stamp_size = 16;

// The payload template: ASCII for binary messages, valid multi-byte UTF-8 (2-, 3- and
// 4-byte sequences) for text, so the peer's validation has real work. The first 16 bytes
// (fewer for a smaller message) are replaced by the sequence number in hex.
std::string make_template(std::size_t size, bool text) {
    std::string out;
    out.reserve(size);
    if (text) {
        out.assign(std::min(size, stamp_size), '0'); // the stamp's place: ASCII
        static constexpr const char* pieces[] = {"h", "\xc3\xa9", "\xe2\x82\xac",
                                                 "\xf0\x9d\x84\x9e", " "};
        for (std::size_t i = 0;; ++i) {
            const std::string_view piece = pieces[i % std::size(pieces)];
            if (out.size() + piece.size() > size) break;
            out += piece;
        }
        out.resize(size, 'x'); // the tail: ASCII, so truncation never splits a character
    } else {
        for (std::size_t i = 0; i < size; ++i)
            out.push_back(static_cast<char>('a' + i % 26));
    }
    return out;
}

// Writes the low hex digits of `seq` over the first (up to 16) bytes of `out`.
void stamp(char* out, std::size_t size, std::uint64_t seq) {
    static constexpr char hex[] = "0123456789abcdef";
    const std::size_t n = std::min(stamp_size, size);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = hex[(seq >> (4 * (n - 1 - i))) & 0xf];
}

void stamp(std::string& buffer, std::uint64_t seq) {
    stamp(buffer.data(), buffer.size(), seq);
}

// Whether `got` is the template stamped with `seq`, without building a copy of it.
bool matches(const std::string& got, const std::string& templ, std::uint64_t seq) {
    if (got.size() != templ.size()) return false;
    char head[stamp_size];
    const std::size_t n = std::min(stamp_size, templ.size());
    stamp(head, n, seq);
    return std::memcmp(got.data(), head, n) == 0 &&
           std::memcmp(got.data() + n, templ.data() + n, templ.size() - n) == 0;
}

// One counter per connection, on its own cache line: the workers bump them on every echo.
struct alignas(64) Counter {
    std::atomic<std::uint64_t> value{0};
};

struct Shared {
    std::atomic<bool> stop{false};
    std::mutex error_mutex;
    std::string first_error;

    void fail(const std::string& what) {
        std::lock_guard lock(error_mutex);
        if (first_error.empty()) first_error = what;
        stop.store(true);
    }
};

syncws::ClientOptions client_options(const Args& a) {
    syncws::ClientOptions options;
    options.compression = false;
    options.proxy_from_environment = false; // it measures the server named, not a proxy
    options.connection.max_size = std::nullopt; // bulk messages reach 16 MiB and beyond
    if (a.insecure) options.tls.insecure_skip_verify = true;
    if (!a.ca_file.empty()) options.tls.ca_file = a.ca_file;
    return options;
}

// throughput / text / bulk: keep `inflight` messages outstanding on one connection until
// told to stop, then collect the echoes still on their way.
void pipeline(syncws::ClientConnection& connection, const Args& a, bool text, std::latch& ready,
              Shared& shared, Counter& echoed) {
    try {
        const std::string templ = make_template(static_cast<std::size_t>(a.size), text);
        std::string out = templ;
        std::uint64_t sent = 0, received = 0;
        auto send_next = [&] {
            stamp(out, sent++);
            if (text)
                connection.send_text(out, false);
            else
                connection.send_binary(out, false);
        };
        ready.arrive_and_wait();
        for (int i = 0; i < a.inflight; ++i)
            send_next();
        // One Message for the whole run, as a loop that cares about speed receives: its
        // memory is used again (for 16 MiB echoes, fresh memory is a page fault per 4 KiB).
        syncws::Message message;
        while (received < sent) {
            connection.recv(message);
            if (message.binary == text || !matches(message.data, templ, received)) {
                shared.fail("echo " + std::to_string(received) + " differs from what was sent");
                return;
            }
            ++received;
            echoed.value.store(received, std::memory_order_relaxed);
            if (!shared.stop.load(std::memory_order_relaxed)) send_next();
        }
    } catch (const std::exception& e) {
        shared.fail(e.what());
    }
}

std::string json_number(double x) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", x);
    return buffer;
}

int run(const Args& a) {
    const auto options = client_options(a);
    const bool text = a.scenario == "text";
    std::vector<syncws::ClientConnection> connections;
    connections.reserve(static_cast<std::size_t>(a.connections));
    for (int i = 0; i < a.connections; ++i)
        connections.push_back(syncws::connect(a.url, options));

    std::ostringstream json;
    json << "{\"scenario\":\"" << a.scenario << "\",\"client\":\"syncws\",\"url\":\"" << a.url
         << "\",\"connections\":" << a.connections << ",\"inflight\":" << a.inflight
         << ",\"size\":" << a.size << ",\"client_threads\":" << a.connections;
    Shared shared;
    double elapsed = 0, cpu = 0;
    std::uint64_t messages = 0;

    if (a.scenario == "rtt") {
        auto& connection = connections.front();
        const std::string templ = make_template(static_cast<std::size_t>(a.size), false);
        std::string out = templ;
        std::vector<double> samples_us;
        samples_us.reserve(1 << 20);
        std::uint64_t seq = 0;
        syncws::Message message;
        auto exchange = [&] {
            stamp(out, seq);
            connection.send_binary(out, false);
            connection.recv(message);
            if (!message.binary || !matches(message.data, templ, seq))
                throw std::runtime_error("echo " + std::to_string(seq) + " differs");
            ++seq;
        };
        for (int i = 0; i < 100; ++i) // warm-up: caches, allocator, TCP
            exchange();
        const double cpu0 = cpu_seconds();
        const auto start = Clock::now();
        const auto deadline = start + std::chrono::duration<double>(a.duration);
        for (auto now = start; now < deadline;) {
            exchange();
            const auto after = Clock::now();
            samples_us.push_back(std::chrono::duration<double, std::micro>(after - now).count());
            now = after;
        }
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        cpu = cpu_seconds() - cpu0;
        messages = samples_us.size();
        std::sort(samples_us.begin(), samples_us.end());
        auto pct = [&](double p) {
            return samples_us[std::min(samples_us.size() - 1,
                                       static_cast<std::size_t>(p * samples_us.size()))];
        };
        json << ",\"p50_us\":" << json_number(pct(0.50)) << ",\"p99_us\":" << json_number(pct(0.99))
             << ",\"messages_per_s\":" << json_number(messages / elapsed);
    } else {
        std::vector<Counter> echoed(connections.size());
        std::latch ready(static_cast<std::ptrdiff_t>(connections.size()) + 1);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < connections.size(); ++i)
            threads.emplace_back(pipeline, std::ref(connections[i]), std::cref(a), text,
                                 std::ref(ready), std::ref(shared), std::ref(echoed[i]));
        ready.arrive_and_wait();
        const double cpu0 = cpu_seconds();
        const auto start = Clock::now();
        // Sleep in short steps so a failing worker ends the run early.
        const auto deadline = start + std::chrono::duration<double>(a.duration);
        while (Clock::now() < deadline && !shared.stop.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        for (const auto& c : echoed)
            messages += c.value.load(std::memory_order_relaxed);
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        cpu = cpu_seconds() - cpu0;
        shared.stop.store(true);
        for (auto& t : threads)
            t.join();
        json << ",\"messages_per_s\":" << json_number(messages / elapsed) << ",\"mb_per_s\":"
             << json_number(static_cast<double>(messages) * static_cast<double>(a.size) / elapsed /
                            1e6);
    }
    for (auto& connection : connections)
        connection.close();
    if (!shared.first_error.empty()) {
        std::cerr << "syncws_client_load: " << shared.first_error << "\n";
        return 1;
    }
    json << ",\"messages\":" << messages << ",\"seconds\":" << json_number(elapsed)
         << ",\"client_cpu_s\":" << json_number(cpu)
         << ",\"client_cpu_util\":" << json_number(cpu / elapsed) << "}";
    std::cout << json.str() << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    try {
        return run(args);
    } catch (const std::exception& e) {
        std::cerr << "syncws_client_load: " << e.what() << "\n";
        return 1;
    }
}
