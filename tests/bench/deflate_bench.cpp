// permessage-deflate (RFC 7692) against plain zlib in the same binary: throughput of the
// Extension's encode/decode next to a hand-written raw-DEFLATE loop with the same window,
// memLevel and level, the compression ratio, and the memory one connection holds for each
// window/memLevel setting. deflate_table.py prints the figures as a Markdown table; the
// numbers to quote are the ratios (syncws / zlib throughput, compressed / original, bytes),
// which do not depend on the machine the way absolute throughput does.
//
// Both sides run on data prepared before timing: the syncws side on Frames built outside the
// timed region (copying a payload into a Frame is the engine's work), the zlib side from the
// same messages into a buffer allocated once. Every benchmark checks its work before timing
// (a round trip, or byte-for-byte equality of the zlib baseline's output with the
// Extension's); a failed check skips it with an error and makes the binary exit with 1, so
// the smoke test in the 'bench' suite fails too.
//
//     meson setup BUILD --buildtype=release && ninja -C BUILD tests/bench/deflate_bench
//     tests/bench/deflate_table.py BUILD/tests/bench/deflate_bench --benchmark_repetitions=3
#include <syncws/deflate.hpp>
#include <syncws/extension.hpp>
#include <syncws/frame.hpp>

#include <benchmark/benchmark.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

// ----- allocation counter -------------------------------------------------------------------
//
// deflate.cpp's zalloc goes through operator new, so replacing it here counts the bytes zlib
// holds for a connection. Relaxed atomics keep the cost of counting (paid by the syncws side
// only, which allocates per message) to a few nanoseconds per allocation.

namespace {
std::atomic<std::size_t> g_live_bytes{0};
constexpr std::size_t header_size = 16; // keeps the returned block 16-byte aligned

void* counted_alloc(std::size_t n) noexcept {
    void* block = std::malloc(n + header_size);
    if (block == nullptr) {
        return nullptr;
    }
    std::memcpy(block, &n, sizeof n);
    g_live_bytes.fetch_add(n, std::memory_order_relaxed);
    return static_cast<char*>(block) + header_size;
}

// Not inlined: GCC 12 at -O3 would otherwise see free() applied to what operator new
// returned in the caller, and warn (-Wmismatched-new-delete) about a mismatch that is not.
[[gnu::noinline]] void counted_free(void* p) noexcept {
    if (p == nullptr) {
        return;
    }
    char* block = static_cast<char*>(p) - header_size;
    std::size_t n = 0;
    std::memcpy(&n, block, sizeof n);
    g_live_bytes.fetch_sub(n, std::memory_order_relaxed);
    std::free(block);
}
} // namespace

void* operator new(std::size_t n) {
    if (void* p = counted_alloc(n)) {
        return p;
    }
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    if (void* p = counted_alloc(n)) {
        return p;
    }
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    counted_free(p);
}

namespace {

using syncws::Extension;
using syncws::Frame;
using syncws::Opcode;

constexpr std::size_t kib = 1024;
constexpr std::size_t max_message_size = 16 * 1024 * 1024; // decode()'s limit, never reached
constexpr int compression_level = 6;                       // both factories' default

// Set by fail(); main() returns 1 if any benchmark failed its check.
bool g_failed = false;

void fail(benchmark::State& state, const char* why) {
    g_failed = true;
    state.SkipWithError(why);
}

// ----- corpora ------------------------------------------------------------------------------

// splitmix64: deterministic on every platform, unlike std:: distributions.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    template <std::size_t N> const char* pick(const char* const (&list)[N]) {
        return list[below(N)];
    }

private:
    std::uint64_t state_;
};

constexpr const char* first_names[] = {
    "alice",  "bob",     "carol", "dave",   "erin",  "frank",  "grace", "heidi", "ivan",
    "judy",   "mallory", "niaj",  "olivia", "peggy", "rupert", "sybil", "trent", "victor",
    "walter", "yvonne",  "zoe",   "mikko",  "sanna", "kenji",  "amara", "lucas", "ingrid"};
constexpr const char* last_names[] = {"smith",  "jones",    "garcia",  "muller", "rossi",  "dubois",
                                      "tanaka", "kowalski", "silva",   "novak",  "larsen", "okafor",
                                      "nguyen", "haddad",   "fischer", "moreau"};
constexpr const char* event_types[] = {"order.created",    "order.updated", "order.shipped",
                                       "payment.captured", "user.login",    "cart.item_added",
                                       "cart.item_removed"};
constexpr const char* roles[] = {"reader", "writer", "admin", "billing", "support"};
constexpr const char* regions[] = {"eu-west-1", "eu-central-1", "us-east-1", "ap-northeast-1"};
constexpr const char* words[] = {"please",  "deliver", "before", "noon",  "gift",   "wrap",
                                 "leave",   "at",      "the",    "door",  "call",   "on",
                                 "arrival", "fragile", "second", "floor", "back",   "entrance",
                                 "no",      "plastic", "thanks", "again", "urgent", "weekend"};

// Appends the parts in order. (Not `"literal" + std::to_string(…)`: GCC 12 at -O3 warns
// about that with a false -Wrestrict.)
template <class... Parts> void append(std::string& s, const Parts&... parts) {
    (s.append(parts), ...);
}

template <class... Parts> std::string join(const Parts&... parts) {
    std::string s;
    append(s, parts...);
    return s;
}

std::string two_digits(std::uint64_t n) {
    return {static_cast<char>('0' + n / 10 % 10), static_cast<char>('0' + n % 10)};
}

std::string number(std::uint64_t n) {
    return std::to_string(n);
}

// One event of a made-up e-commerce stream: ids, names, an ISO timestamp, nested objects
// and arrays, and the same keys in every object, as JSON APIs send them.
std::string json_event(Rng& rng, std::uint64_t id, std::uint64_t& clock_ms) {
    // Every random draw is its own statement: the order in which function arguments are
    // evaluated is unspecified, and the corpus must not depend on the compiler.
    clock_ms += 1 + rng.below(5000);
    const std::uint64_t s = clock_ms / 1000;
    const char* type = rng.pick(event_types);
    const std::uint64_t user_id = 1000 + rng.below(90000);
    const char* first = rng.pick(first_names);
    const char* last = rng.pick(last_names);
    const char* role = rng.pick(roles);
    const bool verified = rng.below(4) != 0;
    std::string e;
    append(e, "{\"id\":", number(id), ",\"type\":\"", type, "\",\"ts\":\"2024-05-17T",
           two_digits(s / 3600 % 24), ":", two_digits(s / 60 % 60), ":", two_digits(s % 60), ".",
           number(100 + clock_ms % 900), "Z\",\"user\":{\"id\":", number(user_id), ",\"name\":\"",
           first, " ", last, "\",\"email\":\"", first, ".", last, "@example.com\",\"roles\":[\"",
           role, "\"],\"verified\":", verified ? "true" : "false", "},\"items\":[");
    const std::size_t items = 1 + rng.below(3);
    for (std::size_t i = 0; i < items; ++i) {
        const std::uint64_t sku = 100000 + rng.below(900000);
        const std::uint64_t qty = 1 + rng.below(9);
        const std::uint64_t euros = 1 + rng.below(500);
        const std::uint64_t cents = rng.below(100);
        append(e, i != 0 ? "," : "", "{\"sku\":\"SKU-", number(sku), "\",\"qty\":", number(qty),
               ",\"price\":", number(euros), ".", two_digits(cents), ",\"currency\":\"EUR\"}");
    }
    const char* region = rng.pick(regions);
    const std::uint64_t retries = rng.below(3);
    append(e, "],\"meta\":{\"region\":\"", region, "\",\"retries\":", number(retries),
           ",\"note\":\"");
    const std::size_t note = rng.below(6);
    for (std::size_t i = 0; i < note; ++i) {
        const char* word = rng.pick(words);
        append(e, i != 0 ? " " : "", word);
    }
    e += "\"}}";
    return e;
}

enum class Corpus { json, random };

const char* corpus_name(Corpus corpus) {
    return corpus == Corpus::json ? "json" : "random";
}

// The messages a benchmark cycles through: at least 8, and about 256 KiB in all, so that
// with context takeover no message finds an earlier copy of itself in a 32 KiB window.
struct Messages {
    std::vector<std::string> list;
    std::size_t total = 0;
    Opcode opcode = Opcode::text;
};

Messages generate(Corpus corpus, std::size_t size) {
    Messages m;
    m.opcode = corpus == Corpus::json ? Opcode::text : Opcode::binary;
    const std::size_t count = std::max<std::size_t>(8, 256 * kib / size);
    Rng rng(corpus == Corpus::json ? 7692 : 6455);
    std::uint64_t id = 5'000'000;
    std::uint64_t clock_ms = 9 * 3600 * 1000;
    for (std::size_t n = 0; n < count; ++n) {
        std::string message;
        if (corpus == Corpus::json) {
            // `{"seq":N,"source":"…","events":[e,e,…]}`, as many events as fit in `size`.
            const char* source = rng.pick(regions);
            append(message, "{\"seq\":", number(n), ",\"source\":\"ingest-", source,
                   "\",\"events\":[");
            std::string event = json_event(rng, id++, clock_ms);
            do {
                message += event;
                message += ',';
                event = json_event(rng, id++, clock_ms);
            } while (message.size() + event.size() + 2 <= size);
            message.back() = ']';
            message += '}';
        } else {
            message.resize(size);
            for (std::size_t i = 0; i < size; i += 8) {
                const std::uint64_t r = rng.next();
                std::memcpy(message.data() + i, &r, std::min<std::size_t>(8, size - i));
            }
        }
        m.total += message.size();
        m.list.push_back(std::move(message));
    }
    return m;
}

const Messages& messages(Corpus corpus, std::size_t size) {
    static std::map<std::pair<Corpus, std::size_t>, Messages> cache;
    auto it = cache.find({corpus, size});
    if (it == cache.end()) {
        it = cache.emplace(std::make_pair(corpus, size), generate(corpus, size)).first;
    }
    return it->second;
}

// ----- negotiation --------------------------------------------------------------------------

// What both sides agree to: the same window for both compressors (the server's is the
// number under test, the client's is limited to it), one memLevel, and context takeover in
// both directions or in neither (RFC 7692 §7.1.1).
struct Setting {
    int window_bits = 12; // ServerDeflateOptions' default
    int mem_level = 5;    // both factories' default
    bool takeover = true;
};

struct Pair {
    std::unique_ptr<Extension> server;
    std::unique_ptr<Extension> client;
};

// What a handshake does, through the factories' own API: the client's offers, the server's
// answer to the first acceptable one, the client's acceptance of that answer.
Pair negotiate(const Setting& setting) {
    syncws::ServerDeflateOptions server_options;
    server_options.server_max_window_bits = setting.window_bits;
    server_options.client_max_window_bits = setting.window_bits;
    server_options.mem_level = setting.mem_level;
    server_options.compression_level = compression_level;
    server_options.server_no_context_takeover = !setting.takeover;
    server_options.client_no_context_takeover = !setting.takeover;
    syncws::ClientDeflateOptions client_options;
    client_options.mem_level = setting.mem_level;
    client_options.compression_level = compression_level;

    const auto server_factory = syncws::make_server_deflate(server_options);
    const auto client_factory = syncws::make_client_deflate(client_options);
    const std::vector<std::unique_ptr<Extension>> none;
    for (const syncws::ExtensionParameters& offer : client_factory->offers()) {
        if (auto accepted = server_factory->negotiate(offer, none)) {
            Pair pair;
            pair.server = std::move(accepted->extension);
            pair.client = client_factory->accept(accepted->response, none);
            return pair;
        }
    }
    throw std::runtime_error("the server declined every offer");
}

Frame make_frame(Opcode opcode, const std::string& payload, bool rsv1) {
    Frame frame;
    frame.opcode = opcode;
    frame.rsv1 = rsv1;
    frame.payload = payload;
    return frame;
}

// The messages as the server's Extension sends them, in order from a fresh compressor.
// Decoding them cyclically stays valid with context takeover: the first message refers to
// nothing before it, and each later one only to the messages just before it.
const std::vector<std::string>& wire(Corpus corpus, std::size_t size, bool takeover) {
    static std::map<std::tuple<Corpus, std::size_t, bool>, std::vector<std::string>> cache;
    const auto key = std::make_tuple(corpus, size, takeover);
    auto it = cache.find(key);
    if (it == cache.end()) {
        const Messages& m = messages(corpus, size);
        Setting setting;
        setting.takeover = takeover;
        const Pair pair = negotiate(setting);
        std::vector<std::string> encoded;
        for (const std::string& message : m.list) {
            Frame frame = make_frame(m.opcode, message, false);
            pair.server->encode(frame, true);
            if (!frame.rsv1) {
                throw std::logic_error("the extension did not compress");
            }
            encoded.push_back(std::move(frame.payload));
        }
        it = cache.emplace(key, std::move(encoded)).first;
    }
    return it->second;
}

// Decodes the whole cycle with a fresh client Extension: true if every message comes back.
bool round_trips(Corpus corpus, std::size_t size, bool takeover) {
    const Messages& m = messages(corpus, size);
    const std::vector<std::string>& encoded = wire(corpus, size, takeover);
    Setting setting;
    setting.takeover = takeover;
    const Pair pair = negotiate(setting);
    for (std::size_t i = 0; i < m.list.size(); ++i) {
        Frame frame = make_frame(m.opcode, encoded[i], true);
        pair.client->decode(frame, max_message_size);
        if (frame.payload != m.list[i] || frame.rsv1) {
            return false;
        }
    }
    return true;
}

// ----- the zlib baseline --------------------------------------------------------------------

// What an application would write with zlib alone (RFC 7692 §7.2.1): raw DEFLATE, one
// Z_SYNC_FLUSH per message into a buffer sized once, the 00 00 ff ff tail removed, and
// deflateReset() between messages without context takeover.
class ZlibDeflater {
public:
    ZlibDeflater(const Setting& setting, std::size_t max_input) : takeover_(setting.takeover) {
        if (deflateInit2(&z_, compression_level, Z_DEFLATED, -setting.window_bits,
                         setting.mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
            throw std::runtime_error("deflateInit2 failed");
        }
        // deflateBound() is for Z_FINISH; a sync flush adds at most a few bytes more.
        out_.resize(deflateBound(&z_, static_cast<uLong>(max_input)) + 64);
    }
    ~ZlibDeflater() { deflateEnd(&z_); }
    ZlibDeflater(const ZlibDeflater&) = delete;
    ZlibDeflater& operator=(const ZlibDeflater&) = delete;

    // Compresses one message; the result stays valid until the next call.
    std::string_view compress(const std::string& message) {
        z_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(message.data()));
        z_.avail_in = static_cast<uInt>(message.size());
        z_.next_out = reinterpret_cast<Bytef*>(out_.data());
        z_.avail_out = static_cast<uInt>(out_.size());
        if (deflate(&z_, Z_SYNC_FLUSH) != Z_OK || z_.avail_in != 0 || z_.avail_out == 0) {
            throw std::runtime_error("deflate failed");
        }
        std::size_t produced = out_.size() - z_.avail_out;
        if (produced < 4 || std::memcmp(out_.data() + produced - 4, "\0\0\xff\xff", 4) != 0) {
            throw std::runtime_error("deflate output does not end with a sync flush");
        }
        produced -= 4;
        if (!takeover_) {
            deflateReset(&z_);
        }
        return {out_.data(), produced};
    }

private:
    z_stream z_{};
    bool takeover_;
    std::string out_;
};

// Its inflating counterpart: the message and then the tail (RFC 7692 §7.2.2) into a buffer
// sized once for the largest message, inflateReset() between messages without takeover.
class ZlibInflater {
public:
    ZlibInflater(const Setting& setting, std::size_t max_output) : takeover_(setting.takeover) {
        if (inflateInit2(&z_, -setting.window_bits) != Z_OK) {
            throw std::runtime_error("inflateInit2 failed");
        }
        out_.resize(max_output + 1);
    }
    ~ZlibInflater() { inflateEnd(&z_); }
    ZlibInflater(const ZlibInflater&) = delete;
    ZlibInflater& operator=(const ZlibInflater&) = delete;

    std::string_view decompress(const std::string& payload) {
        static const char tail[4] = {'\x00', '\x00', '\xff', '\xff'};
        z_.next_out = reinterpret_cast<Bytef*>(out_.data());
        z_.avail_out = static_cast<uInt>(out_.size());
        feed(payload.data(), payload.size());
        feed(tail, sizeof tail);
        if (z_.avail_out == 0) {
            throw std::runtime_error("message larger than expected");
        }
        if (!takeover_) {
            inflateReset(&z_);
        }
        return {out_.data(), out_.size() - z_.avail_out};
    }

private:
    void feed(const char* data, std::size_t size) {
        z_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(data));
        z_.avail_in = static_cast<uInt>(size);
        const int rc = inflate(&z_, Z_SYNC_FLUSH);
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || z_.avail_in != 0) {
            throw std::runtime_error("inflate failed");
        }
    }

    z_stream z_{};
    bool takeover_;
    std::string out_;
};

// ----- benchmarks ---------------------------------------------------------------------------

void report(benchmark::State& state, const Messages& m, std::size_t in_bytes,
            std::size_t compressed_bytes) {
    state.SetBytesProcessed(static_cast<std::int64_t>(in_bytes));
    state.SetItemsProcessed(state.iterations());
    if (in_bytes != 0) {
        state.counters["ratio"] =
            static_cast<double>(compressed_bytes) / static_cast<double>(in_bytes);
    }
    state.counters["msg_bytes"] = static_cast<double>(m.total) / static_cast<double>(m.list.size());
}

// The frames an Extension works on, built outside the timed region: copying a payload into
// a Frame is the engine's work, not the Extension's, and the zlib baseline has no such copy.
// All of them are rebuilt, with the timer paused, each time the cycle is used up.
class FramePool {
public:
    FramePool(const std::vector<std::string>& payloads, Opcode opcode, bool rsv1)
        : payloads_(payloads), opcode_(opcode), rsv1_(rsv1) {
        rebuild();
    }

    // The index of the next message; its frame is frame(index).
    std::size_t take(benchmark::State& state) {
        if (next_ == frames_.size()) {
            state.PauseTiming();
            rebuild();
            state.ResumeTiming();
        }
        return next_++;
    }
    Frame& frame(std::size_t index) { return frames_[index]; }

private:
    void rebuild() {
        frames_.clear();
        for (const std::string& payload : payloads_) {
            frames_.push_back(make_frame(opcode_, payload, rsv1_));
        }
        next_ = 0;
    }

    const std::vector<std::string>& payloads_;
    Opcode opcode_;
    bool rsv1_;
    std::vector<Frame> frames_;
    std::size_t next_ = 0;
};

// The server's Extension compresses one message per iteration: encode() replaces the
// frame's payload with the compressed bytes.
void encode_syncws(benchmark::State& state, Corpus corpus, std::size_t size, Setting setting) {
    const Messages& m = messages(corpus, size);
    const Pair pair = negotiate(setting);
    FramePool pool(m.list, m.opcode, false);
    std::size_t in_bytes = 0;
    std::size_t out_bytes = 0;
    for (auto _ : state) {
        const std::size_t i = pool.take(state);
        Frame& frame = pool.frame(i);
        pair.server->encode(frame, true);
        benchmark::DoNotOptimize(frame.payload.data());
        in_bytes += m.list[i].size();
        out_bytes += frame.payload.size();
    }
    report(state, m, in_bytes, out_bytes);
}

void encode_zlib(benchmark::State& state, Corpus corpus, std::size_t size, Setting setting) {
    const Messages& m = messages(corpus, size);
    {
        // Same bytes as the Extension, or the comparison would not be of the same work.
        const std::vector<std::string>& expected = wire(corpus, size, setting.takeover);
        ZlibDeflater check(setting, size);
        for (std::size_t i = 0; i < m.list.size(); ++i) {
            if (check.compress(m.list[i]) != expected[i]) {
                fail(state, "zlib baseline output differs from the Extension's");
                return;
            }
        }
    }
    ZlibDeflater deflater(setting, size);
    std::size_t i = 0;
    std::size_t in_bytes = 0;
    std::size_t out_bytes = 0;
    for (auto _ : state) {
        const std::string_view out = deflater.compress(m.list[i]);
        benchmark::DoNotOptimize(out.data());
        in_bytes += m.list[i].size();
        out_bytes += out.size();
        if (++i == m.list.size()) {
            i = 0;
        }
    }
    report(state, m, in_bytes, out_bytes);
}

// The client's Extension decompresses what the server's sent, one message per iteration.
void decode_syncws(benchmark::State& state, Corpus corpus, std::size_t size, Setting setting) {
    const Messages& m = messages(corpus, size);
    const std::vector<std::string>& encoded = wire(corpus, size, setting.takeover);
    if (!round_trips(corpus, size, setting.takeover)) {
        fail(state, "the Extension did not decode its own output");
        return;
    }
    const Pair pair = negotiate(setting);
    FramePool pool(encoded, m.opcode, true);
    std::size_t in_bytes = 0;
    std::size_t compressed_bytes = 0;
    for (auto _ : state) {
        const std::size_t i = pool.take(state);
        Frame& frame = pool.frame(i);
        pair.client->decode(frame, max_message_size);
        if (frame.payload.size() != m.list[i].size()) {
            fail(state, "wrong decoded size");
            break;
        }
        in_bytes += m.list[i].size();
        compressed_bytes += encoded[i].size();
    }
    report(state, m, in_bytes, compressed_bytes);
}

void decode_zlib(benchmark::State& state, Corpus corpus, std::size_t size, Setting setting) {
    const Messages& m = messages(corpus, size);
    const std::vector<std::string>& encoded = wire(corpus, size, setting.takeover);
    {
        ZlibInflater check(setting, size);
        for (std::size_t i = 0; i < m.list.size(); ++i) {
            if (check.decompress(encoded[i]) != m.list[i]) {
                fail(state, "zlib baseline did not decode the Extension's output");
                return;
            }
        }
    }
    ZlibInflater inflater(setting, size);
    std::size_t i = 0;
    std::size_t in_bytes = 0;
    std::size_t compressed_bytes = 0;
    for (auto _ : state) {
        const std::string_view out = inflater.decompress(encoded[i]);
        if (out.size() != m.list[i].size()) {
            fail(state, "wrong decoded size");
            break;
        }
        in_bytes += m.list[i].size();
        compressed_bytes += encoded[i].size();
        if (++i == m.list.size()) {
            i = 0;
        }
    }
    report(state, m, in_bytes, compressed_bytes);
}

// Bytes that one connection's server Extension holds after sending one message and
// receiving one: its compressor and its decompressor (all of it zlib's, through zalloc).
struct Memory {
    std::size_t compressor = 0;
    std::size_t decompressor = 0;
};

Memory connection_memory(const Setting& setting, bool compress) {
    const Messages& m = messages(Corpus::json, 64 * kib);
    const Pair pair = negotiate(setting);
    Frame from_client = make_frame(m.opcode, m.list[0], false);
    pair.client->encode(from_client, compress);
    const std::string received = from_client.payload; // allocated before we start counting

    Memory memory;
    const std::size_t before = g_live_bytes.load();
    {
        Frame frame = make_frame(m.opcode, m.list[1], false);
        pair.server->encode(frame, compress);
    }
    const std::size_t sent = g_live_bytes.load();
    {
        Frame frame = make_frame(m.opcode, received, from_client.rsv1);
        pair.server->decode(frame, max_message_size);
    }
    const std::size_t after = g_live_bytes.load();
    memory.compressor = sent - before;
    memory.decompressor = after - sent;
    return memory;
}

// Compression ratio, throughput and memory per connection for one window/memLevel setting:
// the server's encode() of JSON, as encode_syncws, plus the memory counters.
void setting_syncws(benchmark::State& state, std::size_t size, Setting setting) {
    const Memory memory = connection_memory(setting, true);
    Setting no_takeover = setting;
    no_takeover.takeover = false;
    const Memory idle = connection_memory(no_takeover, true);
    encode_syncws(state, Corpus::json, size, setting);
    state.counters["compressor_bytes"] = static_cast<double>(memory.compressor);
    state.counters["decompressor_bytes"] = static_cast<double>(memory.decompressor);
    state.counters["connection_bytes"] =
        static_cast<double>(memory.compressor + memory.decompressor);
    // Without context takeover the streams are freed after every message.
    state.counters["idle_no_takeover_bytes"] =
        static_cast<double>(idle.compressor + idle.decompressor);
}

// The extension negotiated but every message sent with compress = false: no zlib stream is
// ever created, and encode() leaves the frame alone.
void no_compression(benchmark::State& state, std::size_t size) {
    const Memory memory = connection_memory(Setting{}, false);
    const Messages& m = messages(Corpus::json, size);
    const Pair pair = negotiate(Setting{});
    FramePool pool(m.list, m.opcode, false);
    std::size_t in_bytes = 0;
    std::size_t out_bytes = 0;
    for (auto _ : state) {
        const std::size_t i = pool.take(state);
        Frame& frame = pool.frame(i);
        pair.server->encode(frame, false);
        benchmark::DoNotOptimize(frame.payload.data());
        in_bytes += m.list[i].size();
        out_bytes += frame.payload.size();
    }
    report(state, m, in_bytes, out_bytes);
    state.counters["connection_bytes"] =
        static_cast<double>(memory.compressor + memory.decompressor);
}

// Runs a benchmark body; an exception (a zlib or Extension failure) fails the benchmark
// instead of terminating the binary.
template <class Body, class... Args>
void guarded(benchmark::State& state, Body body, Args... args) {
    try {
        body(state, args...);
    } catch (const std::exception& e) {
        static std::string message;
        message = e.what();
        fail(state, message.c_str());
    }
}

template <class Body, class... Args> void add(const std::string& name, Body body, Args... args) {
    benchmark::RegisterBenchmark(name.c_str(),
                                 [=](benchmark::State& state) { guarded(state, body, args...); });
}

void register_all() {
    // syncws next to zlib at the server defaults (window 12, memLevel 5, level 6), each pair
    // adjacent so that both see the same load on a shared machine.
    for (const bool takeover : {true, false}) {
        for (const Corpus corpus : {Corpus::json, Corpus::random}) {
            for (const std::size_t size : {kib, 64 * kib}) {
                Setting setting;
                setting.takeover = takeover;
                const std::string config = join("/", corpus_name(corpus), "/", number(size), "/",
                                                takeover ? "takeover" : "no_takeover");
                add(join("encode", config, "/syncws"), encode_syncws, corpus, size, setting);
                add(join("encode", config, "/zlib"), encode_zlib, corpus, size, setting);
                add(join("decode", config, "/syncws"), decode_syncws, corpus, size, setting);
                add(join("decode", config, "/zlib"), decode_zlib, corpus, size, setting);
            }
        }
    }
    // Window bits and memLevel: ratio, speed and memory per connection, context takeover on.
    constexpr std::pair<int, int> settings[] = {{15, 8}, {14, 7}, {13, 6}, {12, 5},
                                                {11, 4}, {10, 3}, {9, 2}};
    for (const auto& [window_bits, mem_level] : settings) {
        for (const std::size_t size : {kib, 64 * kib}) {
            Setting setting;
            setting.window_bits = window_bits;
            setting.mem_level = mem_level;
            add(join("setting/window:", std::to_string(window_bits),
                     "/mem:", std::to_string(mem_level), "/json/", number(size)),
                setting_syncws, size, setting);
        }
    }
    for (const std::size_t size : {kib, 64 * kib}) {
        add(join("none/json/", number(size)), no_compression, size);
    }
}

} // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
