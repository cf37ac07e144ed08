// RFC 7692 permessage-deflate at the extension level: the factories and the Extension are
// driven directly, without an engine.
#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>
#include <syncws/extension.hpp>
#include <syncws/frame.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// ----- allocation counter ---------------------------------------------------------------------
//
// The extension makes zlib allocate through operator new, so replacing it here measures the
// compression memory of a connection and the peak memory of decoding a bomb.

namespace {
std::atomic<std::size_t> g_live_bytes{0};
std::atomic<std::size_t> g_peak_bytes{0};
constexpr std::size_t header_size = 16; // keeps the returned block 16-byte aligned

void* counted_alloc(std::size_t n) noexcept {
    void* block = std::malloc(n + header_size);
    if (block == nullptr) {
        return nullptr;
    }
    std::memcpy(block, &n, sizeof n);
    const std::size_t live = g_live_bytes.fetch_add(n) + n;
    std::size_t peak = g_peak_bytes.load();
    while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
    }
    return static_cast<char*>(block) + header_size;
}

void counted_free(void* p) noexcept {
    if (p == nullptr) {
        return;
    }
    char* block = static_cast<char*>(p) - header_size;
    std::size_t n = 0;
    std::memcpy(&n, block, sizeof n);
    g_live_bytes.fetch_sub(n);
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

namespace syncws {
namespace {

constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();
using Extensions = std::vector<std::unique_ptr<Extension>>;

// ----- helpers --------------------------------------------------------------------------------

Bytes hex(std::string_view text) {
    Bytes out;
    unsigned value = 0;
    int digits = 0;
    for (char c : text) {
        if (c == ' ') {
            continue;
        }
        value = value * 16 + static_cast<unsigned>(std::stoi(std::string(1, c), nullptr, 16));
        if (++digits == 2) {
            out.push_back(static_cast<char>(value));
            value = 0;
            digits = 0;
        }
    }
    return out;
}

std::string to_hex(const Bytes& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        if (!out.empty()) {
            out.push_back(' ');
        }
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// "a; b=1; c" → parameters (enough of RFC 6455 §9.1 for these tests).
ExtensionParameters params(std::string_view text) {
    ExtensionParameters out;
    auto trim = [](std::string_view s) {
        while (!s.empty() && s.front() == ' ') {
            s.remove_prefix(1);
        }
        while (!s.empty() && s.back() == ' ') {
            s.remove_suffix(1);
        }
        return s;
    };
    while (!text.empty()) {
        const std::size_t semi = text.find(';');
        const std::string_view item = trim(text.substr(0, semi));
        text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
        if (item.empty()) {
            continue;
        }
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            out.push_back({std::string(item), std::nullopt});
        } else {
            out.push_back(
                {std::string(trim(item.substr(0, eq))), std::string(trim(item.substr(eq + 1)))});
        }
    }
    return out;
}

std::string to_string(const ExtensionParameters& ps) {
    std::string out;
    for (const auto& p : ps) {
        if (!out.empty()) {
            out += "; ";
        }
        out += p.name;
        if (p.value) {
            out += "=" + *p.value;
        }
    }
    return out;
}

Frame make_frame(Opcode opcode, Bytes payload, bool fin = true, bool rsv1 = false) {
    Frame f;
    f.opcode = opcode;
    f.fin = fin;
    f.rsv1 = rsv1;
    f.payload = std::move(payload);
    return f;
}

// The first header byte, as RFC 7692 §7.2.3 prints it (0xc1: FIN, RSV1, text).
unsigned header_byte(const Frame& f) {
    return (f.fin ? 0x80u : 0u) | (f.rsv1 ? 0x40u : 0u) | static_cast<unsigned>(f.opcode);
}

std::unique_ptr<Extension> server_extension(const ServerDeflateOptions& options,
                                            std::string_view offer,
                                            ExtensionParameters* response = nullptr) {
    auto acceptance = make_server_deflate(options)->negotiate(params(offer), {});
    if (!acceptance) {
        return nullptr;
    }
    if (response != nullptr) {
        *response = acceptance->response;
    }
    return std::move(acceptance->extension);
}

std::unique_ptr<Extension> client_extension(const ClientDeflateOptions& options,
                                            std::string_view response) {
    return make_client_deflate(options)->accept(params(response), {});
}

struct Pair {
    std::unique_ptr<Extension> client;
    std::unique_ptr<Extension> server;
    ExtensionParameters response;
};

// The whole negotiation: the client's offers, the server's choice, the client's check.
Pair negotiate(const ClientDeflateOptions& c, const ServerDeflateOptions& s) {
    auto client_factory = make_client_deflate(c);
    auto server_factory = make_server_deflate(s);
    Pair pair;
    for (const auto& offer : client_factory->offers()) {
        auto acceptance = server_factory->negotiate(offer, {});
        if (acceptance) {
            pair.response = acceptance->response;
            pair.server = std::move(acceptance->extension);
            pair.client = client_factory->accept(pair.response, {});
            break;
        }
    }
    return pair;
}

// Encodes one message as frames cut at `cuts` (offsets into the message).
std::vector<Frame> encode_message(Extension& ext, Opcode opcode, const Bytes& message,
                                  std::vector<std::size_t> cuts = {}, bool compress = true) {
    std::vector<Frame> frames;
    std::size_t start = 0;
    cuts.push_back(message.size());
    for (std::size_t i = 0; i < cuts.size(); ++i) {
        Frame f = make_frame(i == 0 ? opcode : Opcode::continuation,
                             message.substr(start, cuts[i] - start), i + 1 == cuts.size());
        ext.encode(f, compress);
        frames.push_back(std::move(f));
        start = cuts[i];
    }
    return frames;
}

// Decodes the frames of one message, handing each the remaining budget as the engine does.
Bytes decode_message(Extension& ext, std::vector<Frame> frames, std::size_t max_size = unlimited) {
    Bytes message;
    for (Frame& f : frames) {
        const Opcode opcode = f.opcode;
        const bool fin = f.fin;
        ext.decode(f, max_size == unlimited ? unlimited : max_size - message.size());
        EXPECT_FALSE(f.rsv1);
        EXPECT_EQ(f.opcode, opcode);
        EXPECT_EQ(f.fin, fin);
        message += f.payload;
    }
    return message;
}

Bytes roundtrip(Extension& from, Extension& to, Opcode opcode, const Bytes& message,
                std::vector<std::size_t> cuts = {}) {
    return decode_message(to, encode_message(from, opcode, message, std::move(cuts)));
}

// Deterministic data: text-like and compressible, with some noise.
Bytes text_data(std::size_t size, std::uint32_t seed = 1) {
    static const char* const words[] = {"permessage", "deflate ", "window ",
                                        "{\"id\": ",  "context ", "takeover",
                                        ", ",         "\n",       "Hello "};
    Bytes out;
    std::uint32_t x = seed;
    while (out.size() < size) {
        x = x * 1664525u + 1013904223u;
        if ((x >> 28) == 0) {
            out.push_back(static_cast<char>(x >> 8));
        } else {
            out += words[(x >> 24) % (sizeof words / sizeof words[0])];
        }
    }
    out.resize(size);
    return out;
}

Bytes random_data(std::size_t size, std::uint32_t seed) {
    Bytes out(size, '\0');
    std::uint32_t x = seed;
    for (char& c : out) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

// Raw DEFLATE with plain zlib, sync-flushed and with the tail removed, as a peer would send.
Bytes zlib_compress(const Bytes& data, int window_bits, int level = 6) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    Bytes out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    EXPECT_EQ(z.avail_in, 0u);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    EXPECT_EQ(out.substr(out.size() - 4), hex("00 00 ff ff"));
    out.resize(out.size() - 4);
    return out;
}

// Raw DEFLATE decompression with exactly `window_bits`, independent of the extension.
std::optional<Bytes> zlib_decompress(const Bytes& compressed, int window_bits) {
    z_stream z{};
    EXPECT_EQ(inflateInit2(&z, -window_bits), Z_OK);
    Bytes input = compressed + hex("00 00 ff ff");
    Bytes out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(input.data());
    z.avail_in = static_cast<uInt>(input.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    inflateEnd(&z);
    if (rc != Z_OK || z.avail_in != 0) {
        return std::nullopt;
    }
    out.resize(out.size() - z.avail_out);
    return out;
}

template <typename F> std::uint16_t protocol_error_code(F&& f) {
    try {
        f();
    } catch (const PayloadTooBig&) {
        return 1009;
    } catch (const ProtocolError& e) {
        return e.close_code();
    }
    return 0;
}

// ----- RFC 7692 §7.2.3: the examples, byte for byte --------------------------------------------

TEST(Deflate7692Examples, HelloCompressesToTheRfcBytes) {
    // §7.2.3.1: 0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00, with either side's defaults.
    for (auto* ext : {client_extension({}, "").release(), server_extension({}, "").release()}) {
        std::unique_ptr<Extension> owned(ext);
        Frame f = make_frame(Opcode::text, "Hello");
        owned->encode(f, true);
        EXPECT_EQ(header_byte(f), 0xc1u);
        EXPECT_EQ(to_hex(f.payload), "f2 48 cd c9 c9 07 00");
    }
}

TEST(Deflate7692Examples, ContextTakeoverShrinksTheSecondHello) {
    // §7.2.3.3: "the second message is compressed to 0xf2 0x00 0x11 0x00 0x00 ... by
    // using the LZ77 sliding window of the first".
    auto ext = client_extension({}, "");
    Frame first = make_frame(Opcode::text, "Hello");
    ext->encode(first, true);
    Frame second = make_frame(Opcode::text, "Hello");
    ext->encode(second, true);
    EXPECT_EQ(to_hex(first.payload), "f2 48 cd c9 c9 07 00");
    EXPECT_EQ(to_hex(second.payload), "f2 00 11 00 00");
    EXPECT_TRUE(second.rsv1);

    auto receiver = server_extension({}, "");
    EXPECT_EQ(decode_message(*receiver, {first}), "Hello");
    EXPECT_EQ(decode_message(*receiver, {second}), "Hello");
}

TEST(Deflate7692Examples, NoContextTakeoverRepeatsTheSameBytes) {
    // Both ways: the client imposed it on itself, or the server required it.
    for (std::string_view response : {"client_no_context_takeover", ""}) {
        ClientDeflateOptions options;
        options.client_no_context_takeover = response.empty();
        auto ext = client_extension(options, response);
        for (int i = 0; i < 3; ++i) {
            Frame f = make_frame(Opcode::text, "Hello");
            ext->encode(f, true);
            EXPECT_EQ(to_hex(f.payload), "f2 48 cd c9 c9 07 00") << i;
        }
    }
}

TEST(Deflate7692Examples, EmptyMessageIsOneZeroOctet) {
    // §7.2.3.6: "0xc1 0x01 0x00".
    auto ext = client_extension({}, "");
    Frame empty = make_frame(Opcode::binary, "");
    ext->encode(empty, true);
    EXPECT_TRUE(empty.rsv1);
    EXPECT_EQ(to_hex(empty.payload), "00");
    // After a message, with the context kept, zlib has nothing pending: still 0x00.
    Frame hello = make_frame(Opcode::text, "Hello");
    ext->encode(hello, true);
    Frame again = make_frame(Opcode::binary, "");
    ext->encode(again, true);
    EXPECT_EQ(to_hex(again.payload), "00");

    auto receiver = server_extension({}, "");
    EXPECT_EQ(decode_message(*receiver, {empty}), "");
    EXPECT_EQ(decode_message(*receiver, {hello}), "Hello");
    EXPECT_EQ(decode_message(*receiver, {again}), "");
    // The window survived the empty message: the §7.2.3.3 back-reference still resolves.
    EXPECT_EQ(
        decode_message(*receiver, {make_frame(Opcode::text, hex("f2 00 11 00 00"), true, true)}),
        "Hello");
}

TEST(Deflate7692Examples, DecodesEverySampleOfSection7_2_3) {
    struct Sample {
        const char* section;
        std::vector<std::string_view> frames; // hex payloads; the first frame has RSV1
    };
    const Sample samples[] = {
        {"7.2.3.1 one frame", {"f2 48 cd c9 c9 07 00"}},
        {"7.2.3.2 two fragments", {"f2 48 cd", "c9 c9 07 00"}},
        {"7.2.3.3 no compression", {"00 05 00 fa ff 48 65 6c 6c 6f 00"}},
        {"7.2.3.4 BFINAL set", {"f3 48 cd c9 c9 07 00 00"}},
        {"7.2.3.5 two DEFLATE blocks", {"f2 48 05 00 00 00 ff ff ca c9 c9 07 00"}},
    };
    for (const Sample& sample : samples) {
        auto ext = server_extension({}, "");
        std::vector<Frame> frames;
        for (std::size_t i = 0; i < sample.frames.size(); ++i) {
            frames.push_back(make_frame(i == 0 ? Opcode::text : Opcode::continuation,
                                        hex(sample.frames[i]), i + 1 == sample.frames.size(),
                                        i == 0));
        }
        EXPECT_EQ(decode_message(*ext, frames), "Hello") << sample.section;
        // The next message still decodes, with the window of the first (context takeover).
        EXPECT_EQ(
            decode_message(*ext, {make_frame(Opcode::text, hex("f2 00 11 00 00"), true, true)}),
            "Hello")
            << sample.section;
    }
}

TEST(Deflate7692Examples, FragmentedSampleHeaders) {
    // §7.2.3.2: 0x41 0x03 0xf2 0x48 0xcd / 0x80 0x04 0xc9 0xc9 0x07 0x00. RSV1 is set on
    // the first frame only; the continuation's RSV1 is clear.
    Frame first = make_frame(Opcode::text, hex("f2 48 cd"), false, true);
    Frame last = make_frame(Opcode::continuation, hex("c9 c9 07 00"), true, false);
    EXPECT_EQ(header_byte(first), 0x41u);
    EXPECT_EQ(header_byte(last), 0x80u);
    auto ext = server_extension({}, "");
    EXPECT_EQ(decode_message(*ext, {first, last}), "Hello");
}

// ----- negotiation, server side ---------------------------------------------------------------

struct ServerCase {
    const char* name;
    ServerDeflateOptions options;
    const char* offer;
    const char* response; // nullptr: declined
};

ServerDeflateOptions server_options(std::optional<int> server_bits, std::optional<int> client_bits,
                                    bool snct = false, bool cnct = false, bool require = false) {
    ServerDeflateOptions o;
    o.server_max_window_bits = server_bits;
    o.client_max_window_bits = client_bits;
    o.server_no_context_takeover = snct;
    o.client_no_context_takeover = cnct;
    o.require_client_max_window_bits = require;
    return o;
}

TEST(Deflate7692Negotiation, ServerAnswersEveryOffer) {
    const ServerDeflateOptions defaults; // 12 / 12
    const ServerDeflateOptions open = server_options(std::nullopt, std::nullopt);
    const ServerCase cases[] = {
        // Defaults: announce our 12-bit window; limit the client only if it allows it.
        {"bare", defaults, "", "server_max_window_bits=12"},
        {"cmwb", defaults, "client_max_window_bits",
         "server_max_window_bits=12; client_max_window_bits=12"},
        {"cmwb=10", defaults, "client_max_window_bits=10",
         "server_max_window_bits=12; client_max_window_bits=10"},
        {"cmwb=15", defaults, "client_max_window_bits=15",
         "server_max_window_bits=12; client_max_window_bits=12"},
        {"cmwb=8", defaults, "client_max_window_bits=8",
         "server_max_window_bits=12; client_max_window_bits=8"},
        {"smwb=10", defaults, "server_max_window_bits=10", "server_max_window_bits=10"},
        {"smwb=15", defaults, "server_max_window_bits=15", "server_max_window_bits=12"},
        {"smwb=9", defaults, "server_max_window_bits=9", "server_max_window_bits=9"},
        // 8 is accepted; our messages then go uncompressed (see EightBitWindows).
        {"smwb=8", defaults, "server_max_window_bits=8", "server_max_window_bits=8"},
        {"snct", defaults, "server_no_context_takeover",
         "server_no_context_takeover; server_max_window_bits=12"},
        {"cnct", defaults, "client_no_context_takeover",
         "client_no_context_takeover; server_max_window_bits=12"},
        {"all four", defaults,
         "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
         "client_max_window_bits=8",
         "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
         "client_max_window_bits=8"},
        {"all four, any order", defaults,
         "client_max_window_bits; server_max_window_bits=14; client_no_context_takeover; "
         "server_no_context_takeover",
         "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; "
         "client_max_window_bits=12"},
        // No limits configured: answer only what was offered.
        {"open bare", open, "", ""},
        {"open cmwb", open, "client_max_window_bits", ""},
        {"open cmwb=10", open, "client_max_window_bits=10", "client_max_window_bits=10"},
        {"open smwb=11", open, "server_max_window_bits=11", "server_max_window_bits=11"},
        {"open smwb=15", open, "server_max_window_bits=15", "server_max_window_bits=15"},
        {"explicit 15 not announced", server_options(15, 15), "", ""},
        {"explicit 15 and cmwb", server_options(15, 15), "client_max_window_bits",
         "client_max_window_bits=15"},
        // Configured context takeover rules are imposed.
        {"config snct", server_options(12, 12, true), "",
         "server_no_context_takeover; server_max_window_bits=12"},
        {"config cnct", server_options(12, 12, false, true), "",
         "client_no_context_takeover; server_max_window_bits=12"},
        {"config both", server_options(std::nullopt, std::nullopt, true, true),
         "server_no_context_takeover; client_no_context_takeover",
         "server_no_context_takeover; client_no_context_takeover"},
        {"require cmwb: absent", server_options(12, 10, false, false, true), "", nullptr},
        {"require cmwb: present", server_options(12, 10, false, false, true),
         "client_max_window_bits", "server_max_window_bits=12; client_max_window_bits=10"},
        // RFC 7692 §5: unknown, repeated or invalid parameters decline the offer.
        {"unknown", defaults, "x_unknown", nullptr},
        {"unknown with value", defaults, "mux=1", nullptr},
        {"names are case-sensitive", defaults, "Server_No_Context_Takeover", nullptr},
        {"snct with value", defaults, "server_no_context_takeover=1", nullptr},
        {"cnct with value", defaults, "client_no_context_takeover=true", nullptr},
        {"snct twice", defaults, "server_no_context_takeover; server_no_context_takeover", nullptr},
        {"cnct twice", defaults, "client_no_context_takeover; client_no_context_takeover", nullptr},
        {"smwb twice", defaults, "server_max_window_bits=10; server_max_window_bits=10", nullptr},
        {"cmwb twice", defaults, "client_max_window_bits; client_max_window_bits=10", nullptr},
        {"smwb without value", defaults, "server_max_window_bits", nullptr},
        {"smwb=7", defaults, "server_max_window_bits=7", nullptr},
        {"smwb=16", defaults, "server_max_window_bits=16", nullptr},
        {"smwb=08", defaults, "server_max_window_bits=08", nullptr},
        {"smwb=+9", defaults, "server_max_window_bits=+9", nullptr},
        {"smwb=abc", defaults, "server_max_window_bits=abc", nullptr},
        {"smwb empty", defaults, "server_max_window_bits=", nullptr},
        {"cmwb=7", defaults, "client_max_window_bits=7", nullptr},
        {"cmwb=16", defaults, "client_max_window_bits=16", nullptr},
        {"cmwb=1O", defaults, "client_max_window_bits=1O", nullptr},
    };
    for (const ServerCase& c : cases) {
        ExtensionParameters response;
        auto ext = server_extension(c.options, c.offer, &response);
        if (c.response == nullptr) {
            EXPECT_EQ(ext, nullptr) << c.name << ": answered " << to_string(response);
            continue;
        }
        ASSERT_NE(ext, nullptr) << c.name << ": declined";
        EXPECT_EQ(to_string(response), c.response) << c.name;
        EXPECT_EQ(ext->name(), "permessage-deflate");
        EXPECT_EQ(ext->rsv_bits(), 0x4);
        EXPECT_EQ(ext->negotiated(), (ExtensionOffer{"permessage-deflate", response})) << c.name;
        // The client accepts every response we produce for an offer it could have made.
        ClientDeflateOptions client;
        const ExtensionParameters offered = params(c.offer);
        client.offer_client_max_window_bits = false;
        for (const auto& p : offered) {
            if (p.name == "server_no_context_takeover") {
                client.server_no_context_takeover = true;
            } else if (p.name == "client_no_context_takeover") {
                client.client_no_context_takeover = true;
            } else if (p.name == "server_max_window_bits") {
                client.server_max_window_bits = std::stoi(*p.value);
            } else if (p.name == "client_max_window_bits") {
                client.offer_client_max_window_bits = true;
                if (p.value && *p.value != "8") {
                    client.client_max_window_bits = std::stoi(*p.value);
                }
            }
        }
        EXPECT_NO_THROW(make_client_deflate(client)->accept(response, {})) << c.name;
    }
}

class FakeRsv1Extension final : public Extension {
public:
    std::string_view name() const noexcept override { return "x-other"; }
    std::uint8_t rsv_bits() const noexcept override { return 0x4; }
    void decode(Frame&, std::size_t) override {}
    void encode(Frame&, bool) override {}
    ExtensionOffer negotiated() const override { return {"x-other", {}}; }
};

TEST(Deflate7692Negotiation, Rsv1ConflictDeclinesOrFails) {
    Extensions accepted;
    accepted.push_back(std::make_unique<FakeRsv1Extension>());
    EXPECT_FALSE(make_server_deflate()->negotiate({}, accepted));
    EXPECT_THROW(make_client_deflate()->accept({}, accepted), NegotiationError);
    // A second permessage-deflate claims RSV1 too.
    Extensions first;
    first.push_back(server_extension({}, ""));
    EXPECT_FALSE(make_server_deflate()->negotiate({}, first));
    EXPECT_THROW(make_client_deflate()->accept({}, first), NegotiationError);
}

// ----- negotiation, client side ---------------------------------------------------------------

ClientDeflateOptions client_options(std::optional<int> server_bits, std::optional<int> client_bits,
                                    bool snct = false, bool cnct = false, bool offer_cmwb = true) {
    ClientDeflateOptions o;
    o.server_max_window_bits = server_bits;
    o.client_max_window_bits = client_bits;
    o.server_no_context_takeover = snct;
    o.client_no_context_takeover = cnct;
    o.offer_client_max_window_bits = offer_cmwb;
    return o;
}

TEST(Deflate7692Negotiation, ClientOffers) {
    EXPECT_EQ(to_string(make_client_deflate()->offers().at(0)), "client_max_window_bits");
    EXPECT_EQ(make_client_deflate()->offers().size(), 1u);
    EXPECT_EQ(make_client_deflate()->name(), "permessage-deflate");
    EXPECT_EQ(to_string(make_client_deflate(client_options(10, 11, true, true))->offers().at(0)),
              "server_no_context_takeover; client_no_context_takeover; "
              "server_max_window_bits=10; client_max_window_bits=11");
    EXPECT_EQ(to_string(make_client_deflate(client_options(8, std::nullopt))->offers().at(0)),
              "server_max_window_bits=8; client_max_window_bits");
    EXPECT_EQ(to_string(make_client_deflate(client_options(std::nullopt, 12, false, false, false))
                            ->offers()
                            .at(0)),
              "");
}

struct ClientCase {
    const char* name;
    ClientDeflateOptions options;
    const char* response;
    bool ok;
};

TEST(Deflate7692Negotiation, ClientChecksEveryResponse) {
    const ClientDeflateOptions defaults; // offers "client_max_window_bits"
    const ClientCase cases[] = {
        {"bare", defaults, "", true},
        {"server adds snct", defaults, "server_no_context_takeover", true},
        {"server imposes cnct", defaults, "client_no_context_takeover", true},
        {"server announces its window", defaults, "server_max_window_bits=10", true},
        {"server announces 8", defaults, "server_max_window_bits=8", true},
        {"server limits us", defaults, "client_max_window_bits=10", true},
        {"server limits us to 8", defaults, "client_max_window_bits=8", true},
        {"all four", defaults,
         "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; "
         "client_max_window_bits=15",
         true},
        // Malformed responses.
        {"cmwb without value", defaults, "client_max_window_bits", false},
        {"unknown", defaults, "x_unknown", false},
        {"snct with value", defaults, "server_no_context_takeover=1", false},
        {"cnct with value", defaults, "client_no_context_takeover=1", false},
        {"snct twice", defaults, "server_no_context_takeover; server_no_context_takeover", false},
        {"cnct twice", defaults, "client_no_context_takeover; client_no_context_takeover", false},
        {"smwb twice", defaults, "server_max_window_bits=9; server_max_window_bits=9", false},
        {"cmwb twice", defaults, "client_max_window_bits=9; client_max_window_bits=9", false},
        {"smwb without value", defaults, "server_max_window_bits", false},
        {"smwb=7", defaults, "server_max_window_bits=7", false},
        {"smwb=16", defaults, "server_max_window_bits=16", false},
        {"cmwb=7", defaults, "client_max_window_bits=7", false},
        {"cmwb=016", defaults, "client_max_window_bits=016", false},
        // cmwb never offered.
        {"cmwb not offered", client_options(std::nullopt, std::nullopt, false, false, false),
         "client_max_window_bits=10", false},
        {"cmwb not offered, bare", client_options(std::nullopt, 12, false, false, false), "", true},
        // We asked for server_no_context_takeover: it must be accepted.
        {"snct asked, missing", client_options(std::nullopt, std::nullopt, true), "", false},
        {"snct asked, given", client_options(std::nullopt, std::nullopt, true),
         "server_no_context_takeover", true},
        // We announced client_no_context_takeover: the server may or may not repeat it.
        {"cnct offered, not repeated", client_options(std::nullopt, std::nullopt, false, true), "",
         true},
        {"cnct offered, repeated", client_options(std::nullopt, std::nullopt, false, true),
         "client_no_context_takeover", true},
        // We asked for server_max_window_bits=10: same or smaller.
        {"smwb asked, missing", client_options(10, std::nullopt), "", false},
        {"smwb asked, larger", client_options(10, std::nullopt), "server_max_window_bits=11",
         false},
        {"smwb asked, same", client_options(10, std::nullopt), "server_max_window_bits=10", true},
        {"smwb asked, smaller", client_options(10, std::nullopt), "server_max_window_bits=8", true},
        // We offered client_max_window_bits=10: same or smaller, or nothing.
        {"cmwb offered, missing", client_options(std::nullopt, 10), "", true},
        {"cmwb offered, larger", client_options(std::nullopt, 10), "client_max_window_bits=11",
         false},
        {"cmwb offered, same", client_options(std::nullopt, 10), "client_max_window_bits=10", true},
        {"cmwb offered, smaller", client_options(std::nullopt, 10), "client_max_window_bits=9",
         true},
    };
    for (const ClientCase& c : cases) {
        if (c.ok) {
            std::unique_ptr<Extension> ext;
            EXPECT_NO_THROW(ext = client_extension(c.options, c.response)) << c.name;
            if (ext) {
                EXPECT_EQ(ext->negotiated(),
                          (ExtensionOffer{"permessage-deflate", params(c.response)}))
                    << c.name;
            }
        } else {
            try {
                client_extension(c.options, c.response);
                ADD_FAILURE() << c.name << ": accepted";
            } catch (const NegotiationError& e) {
                EXPECT_NE(std::string(e.what()).find("permessage-deflate"), std::string::npos)
                    << c.name << ": " << e.what();
            }
        }
    }
}

TEST(Deflate7692Negotiation, OptionsOutOfRangeAreRejected) {
    EXPECT_THROW(make_client_deflate(client_options(7, std::nullopt)), std::invalid_argument);
    EXPECT_THROW(make_client_deflate(client_options(16, std::nullopt)), std::invalid_argument);
    EXPECT_NO_THROW(make_client_deflate(client_options(8, std::nullopt)));
    // Our own compressor cannot have an 8-bit window.
    EXPECT_THROW(make_client_deflate(client_options(std::nullopt, 8)), std::invalid_argument);
    EXPECT_THROW(make_server_deflate(server_options(8, 12)), std::invalid_argument);
    EXPECT_NO_THROW(make_server_deflate(server_options(9, 8)));
    EXPECT_THROW(make_server_deflate(server_options(12, 16)), std::invalid_argument);
    EXPECT_THROW(make_server_deflate(server_options(12, std::nullopt, false, false, true)),
                 std::invalid_argument);
    ClientDeflateOptions level;
    level.compression_level = 10;
    EXPECT_THROW(make_client_deflate(level), std::invalid_argument);
    ServerDeflateOptions mem;
    mem.mem_level = 0;
    EXPECT_THROW(make_server_deflate(mem), std::invalid_argument);
}

// ----- negotiated behaviour, end to end ---------------------------------------------------------

// Every combination of client offers against several server configurations: negotiate,
// exchange messages both ways, and check what the agreement promises.
TEST(Deflate7692Negotiation, EveryCombinationInterOperates) {
    const std::optional<int> peer_windows[] = {std::nullopt, 8, 9, 12, 15};
    const std::optional<int> own_windows[] = {std::nullopt, 9, 12, 15};
    const ServerDeflateOptions servers[] = {
        ServerDeflateOptions{},
        server_options(std::nullopt, std::nullopt),
        server_options(9, 8, true, true),
        server_options(15, 10),
    };
    // Repeats at distance 3000: only a window of 12 bits or more can reach them.
    const Bytes block = random_data(3000, 7);
    const Bytes message = block + block;
    const Bytes note = random_data(200, 9);
    int combinations = 0;
    for (bool snct : {false, true}) {
        for (bool cnct : {false, true}) {
            for (const auto& smwb : peer_windows) {
                for (const auto& cmwb : own_windows) {
                    for (const ServerDeflateOptions& server : servers) {
                        Pair pair = negotiate(client_options(smwb, cmwb, snct, cnct), server);
                        const std::string what = to_string(pair.response);
                        ASSERT_TRUE(pair.client && pair.server) << what;
                        ++combinations;
                        for (Extension* from : {pair.client.get(), pair.server.get()}) {
                            Extension* to =
                                from == pair.client.get() ? pair.server.get() : pair.client.get();
                            EXPECT_EQ(roundtrip(*from, *to, Opcode::binary, message), message)
                                << what;
                            // Context takeover: a repeated short message (within even a
                            // 9-bit window) shrinks to a back-reference; without it, the
                            // same bytes again.
                            std::vector<Frame> first = encode_message(*from, Opcode::text, note);
                            std::vector<Frame> second = encode_message(*from, Opcode::text, note);
                            EXPECT_EQ(decode_message(*to, first), note) << what;
                            EXPECT_EQ(decode_message(*to, second), note) << what;
                            const bool reset = from == pair.client.get()
                                                   ? cnct || server.client_no_context_takeover
                                                   : snct || server.server_no_context_takeover;
                            if (first[0].rsv1) {
                                if (reset) {
                                    EXPECT_EQ(first[0].payload, second[0].payload) << what;
                                } else {
                                    EXPECT_LT(second[0].payload.size(), 20u) << what;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    EXPECT_EQ(combinations, 2 * 2 * 5 * 4 * 4);
}

TEST(Deflate7692Windows, CompressorUsesTheNegotiatedWindow) {
    const Bytes block = random_data(3000, 3);
    const Bytes message = block + block;
    // The server's window: 12 bits reaches back 3000 bytes, 9 bits does not.
    for (int bits : {9, 12}) {
        auto ext = server_extension({}, "server_max_window_bits=" + std::to_string(bits));
        Frame f = make_frame(Opcode::binary, message);
        ext->encode(f, true);
        ASSERT_TRUE(f.rsv1);
        if (bits == 12) {
            EXPECT_LT(f.payload.size(), 3300u);
        } else {
            EXPECT_GT(f.payload.size(), 5900u);
        }
        // An independent inflater with exactly that window accepts it.
        EXPECT_EQ(zlib_decompress(f.payload, bits), message) << bits;
    }
    // The client's window, limited by the server.
    auto client = client_extension({}, "client_max_window_bits=9");
    Frame f = make_frame(Opcode::binary, message);
    client->encode(f, true);
    EXPECT_GT(f.payload.size(), 5900u);
    EXPECT_EQ(zlib_decompress(f.payload, 9), message);
}

// Two messages from one zlib stream, as a peer with context takeover sends them.
std::pair<Bytes, Bytes> zlib_compress_two(const Bytes& first, const Bytes& second,
                                          int window_bits) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    auto one = [&z](const Bytes& data) {
        Bytes out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
        z.avail_in = static_cast<uInt>(data.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
        out.resize(out.size() - z.avail_out - 4);
        return out;
    };
    Bytes a = one(first);
    Bytes b = one(second);
    deflateEnd(&z);
    return {a, b};
}

TEST(Deflate7692Windows, DecompressorHoldsThePeerToItsWindow) {
    // A peer that promised 12 bits but reaches back 10000 bytes into its previous message
    // breaks RFC 7692 §7.1.2.2. (Within one message zlib resolves distances from the output
    // buffer and cannot tell; across messages only the window is left.)
    const Bytes block = random_data(10000, 5);
    const auto [first, second] = zlib_compress_two(block, block, 15);
    ASSERT_LT(second.size(), 100u); // the second message is one long back-reference
    auto strict = server_extension({}, "client_max_window_bits");
    EXPECT_EQ(decode_message(*strict, {make_frame(Opcode::binary, first, true, true)}), block);
    Frame f = make_frame(Opcode::binary, second, true, true);
    EXPECT_EQ(protocol_error_code([&] { strict->decode(f, unlimited); }), 1007);
    // The same messages are fine for a receiver that agreed to a 15-bit window.
    auto relaxed = server_extension({}, "");
    EXPECT_EQ(decode_message(*relaxed, {make_frame(Opcode::binary, first, true, true)}), block);
    EXPECT_EQ(decode_message(*relaxed, {make_frame(Opcode::binary, second, true, true)}), block);
}

TEST(Deflate7692Windows, EightBitWindows) {
    // A client that limits the server to 8 bits gets uncompressed messages: zlib cannot
    // compress raw DEFLATE with a 256-byte window.
    auto server = server_extension({}, "server_max_window_bits=8");
    Frame f = make_frame(Opcode::text, "Hello Hello Hello");
    server->encode(f, true);
    EXPECT_FALSE(f.rsv1);
    EXPECT_EQ(f.payload, "Hello Hello Hello");
    // Same for a client that the server limits to 8 bits.
    auto client = client_extension({}, "client_max_window_bits=8");
    Frame g = make_frame(Opcode::binary, "Hello Hello Hello");
    client->encode(g, true);
    EXPECT_FALSE(g.rsv1);
    // Decompressing with an 8-bit window works: zlib's 9-bit output never reaches back
    // more than 250 bytes.
    auto receiver = client_extension(client_options(8, std::nullopt), "server_max_window_bits=8");
    const Bytes message = text_data(2000, 9);
    EXPECT_EQ(decode_message(*receiver,
                             {make_frame(Opcode::text, zlib_compress(message, 9), true, true)}),
              message);
}

// ----- round trips --------------------------------------------------------------------------

TEST(Deflate7692RoundTrip, SizesFrom0To70000) {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 0; n <= 130; ++n) {
        sizes.push_back(n);
    }
    for (std::size_t n :
         {125,  126,  127,   255,   256,   257,   1000,  1023,  1024,  1025,  4095,  4096,
          4097, 8192, 16383, 16384, 16385, 32767, 32768, 32769, 65535, 65536, 65537, 70000}) {
        sizes.push_back(n);
    }
    for (bool takeover : {true, false}) {
        ClientDeflateOptions c;
        c.client_no_context_takeover = !takeover;
        c.server_no_context_takeover = !takeover;
        Pair pair = negotiate(c, ServerDeflateOptions{});
        ASSERT_TRUE(pair.client);
        for (std::size_t n : sizes) {
            for (Opcode opcode : {Opcode::text, Opcode::binary}) {
                const Bytes message = opcode == Opcode::text
                                          ? text_data(n, static_cast<std::uint32_t>(n))
                                          : random_data(n, static_cast<std::uint32_t>(n));
                std::vector<Frame> frames = encode_message(*pair.client, opcode, message);
                ASSERT_EQ(frames.size(), 1u);
                EXPECT_TRUE(frames[0].rsv1);
                EXPECT_EQ(decode_message(*pair.server, frames), message) << n;
                EXPECT_EQ(roundtrip(*pair.server, *pair.client, opcode, message), message) << n;
            }
        }
    }
}

TEST(Deflate7692RoundTrip, CompressibleDataShrinks) {
    Pair pair = negotiate({}, {});
    const Bytes message = text_data(50000, 4);
    std::vector<Frame> frames = encode_message(*pair.client, Opcode::text, message);
    EXPECT_LT(frames[0].payload.size(), message.size() / 3);
}

TEST(Deflate7692Fragments, CompressedMessageSplitAtEveryOffset) {
    // One compressed message, its payload cut into two frames at every offset (RSV1 on the
    // first only), decoded by a fresh receiver each time.
    const Bytes message = text_data(3000, 11);
    auto sender = client_extension({}, "");
    const Bytes compressed = encode_message(*sender, Opcode::text, message)[0].payload;
    ASSERT_GT(compressed.size(), 100u);
    for (std::size_t cut = 0; cut <= compressed.size(); ++cut) {
        auto receiver = server_extension(ServerDeflateOptions{}, "");
        std::vector<Frame> frames = {
            make_frame(Opcode::text, compressed.substr(0, cut), false, true),
            make_frame(Opcode::continuation, compressed.substr(cut), true, false)};
        ASSERT_EQ(decode_message(*receiver, frames), message) << cut;
        // The context carries on into the next message: these bytes are a literal 'H' and
        // a 4-byte match at distance 5, here into the end of the previous message.
        ASSERT_EQ(decode_message(*receiver,
                                 {make_frame(Opcode::text, hex("f2 00 11 00 00"), true, true)}),
                  "H" + message.substr(message.size() - 4))
            << cut;
    }
}

TEST(Deflate7692Fragments, SenderFragmentsAtEveryOffset) {
    const Bytes message = text_data(400, 12);
    for (bool takeover : {true, false}) {
        ClientDeflateOptions c;
        c.client_no_context_takeover = !takeover;
        Pair pair = negotiate(c, {});
        for (std::size_t cut = 0; cut <= message.size(); ++cut) {
            std::vector<Frame> frames = encode_message(*pair.client, Opcode::text, message, {cut});
            ASSERT_EQ(frames.size(), 2u);
            EXPECT_TRUE(frames[0].rsv1);
            EXPECT_FALSE(frames[1].rsv1);
            EXPECT_EQ(frames[1].opcode, Opcode::continuation);
            ASSERT_EQ(decode_message(*pair.server, frames), message) << cut;
        }
    }
}

TEST(Deflate7692Fragments, EmptyFragmentsAnywhere) {
    Pair pair = negotiate({}, {});
    const Bytes message = "Hello, fragmented world";
    const std::vector<std::vector<std::size_t>> cut_sets = {
        {0}, {0, 0}, {5, 5}, {23}, {0, 5, 5, 23}, {23, 23}, {1, 2, 3, 4, 5, 6, 7, 8}};
    for (const auto& cuts : cut_sets) {
        EXPECT_EQ(roundtrip(*pair.client, *pair.server, Opcode::text, message, cuts), message);
        EXPECT_EQ(roundtrip(*pair.server, *pair.client, Opcode::binary, message, cuts), message);
    }
    // An empty message in fragments, then a normal one.
    EXPECT_EQ(roundtrip(*pair.client, *pair.server, Opcode::text, "", {0, 0}), "");
    EXPECT_EQ(roundtrip(*pair.client, *pair.server, Opcode::text, message), message);
}

// ----- uncompressed messages ----------------------------------------------------------------

TEST(Deflate7692Uncompressed, Rsv1ClearPassesThrough) {
    auto ext = server_extension({}, "");
    Frame first = make_frame(Opcode::text, "plain ", false, false);
    Frame last = make_frame(Opcode::continuation, "text", true, false);
    EXPECT_EQ(decode_message(*ext, {first, last}), "plain text");
    // A compressed message after it still uses the (empty) context correctly, and an
    // uncompressed one in between does not disturb it.
    EXPECT_EQ(
        decode_message(*ext, {make_frame(Opcode::text, hex("f2 48 cd c9 c9 07 00"), true, true)}),
        "Hello");
    EXPECT_EQ(decode_message(*ext, {make_frame(Opcode::binary, hex("f2 00 11 00 00"))}),
              hex("f2 00 11 00 00"));
    EXPECT_EQ(decode_message(*ext, {make_frame(Opcode::text, hex("f2 00 11 00 00"), true, true)}),
              "Hello");
}

TEST(Deflate7692Uncompressed, CompressFalseAndThreshold) {
    ClientDeflateOptions c;
    c.compress_threshold = 10;
    Pair pair = negotiate(c, {});
    // compress = false: the whole message is sent as is, continuations included.
    std::vector<Frame> plain =
        encode_message(*pair.client, Opcode::text, text_data(100, 1), {50}, false);
    EXPECT_FALSE(plain[0].rsv1);
    EXPECT_EQ(plain[0].payload + plain[1].payload, text_data(100, 1));
    EXPECT_EQ(decode_message(*pair.server, plain), text_data(100, 1));
    // First frame under the threshold: uncompressed, even if later frames are large.
    std::vector<Frame> small = encode_message(*pair.client, Opcode::text, text_data(100, 2), {9});
    EXPECT_FALSE(small[0].rsv1);
    EXPECT_EQ(small[1].payload, text_data(100, 2).substr(9));
    EXPECT_EQ(decode_message(*pair.server, small), text_data(100, 2));
    // At the threshold: compressed.
    std::vector<Frame> big = encode_message(*pair.client, Opcode::text, text_data(100, 3), {10});
    EXPECT_TRUE(big[0].rsv1);
    EXPECT_EQ(decode_message(*pair.server, big), text_data(100, 3));
}

TEST(Deflate7692Uncompressed, ControlFramesAreUntouched) {
    auto ext = server_extension({}, "");
    Frame ping = make_frame(Opcode::ping, "Hello");
    ext->encode(ping, true);
    EXPECT_EQ(ping, make_frame(Opcode::ping, "Hello"));
    ext->decode(ping, unlimited);
    EXPECT_EQ(ping, make_frame(Opcode::ping, "Hello"));
}

// ----- errors -------------------------------------------------------------------------------

TEST(Deflate7692Errors, Rsv1OnContinuationIs1002) {
    // RFC 7692 §6.1, after a compressed and after an uncompressed first frame.
    for (bool compressed : {true, false}) {
        auto ext = server_extension({}, "");
        Frame first =
            make_frame(Opcode::text, compressed ? hex("f2 48 cd") : "Hel", false, compressed);
        ext->decode(first, unlimited);
        Frame next = make_frame(Opcode::continuation, hex("c9 c9 07 00"), true, true);
        EXPECT_EQ(protocol_error_code([&] { ext->decode(next, unlimited); }), 1002);
    }
}

TEST(Deflate7692Errors, CorruptDataIs1007) {
    const char* const corrupt[] = {
        "ff ff ff ff",                         // reserved block type 11
        "f2 48",                               // truncated in the middle of a block
        "f2 48 cd c9 c9 07 00 00 00 ff ff",    // the sender kept its 00 00 ff ff tail
        "04 00 00 00",                         // stored block, LEN and NLEN disagree... in part
        "ec bd 07 60 1c 49 96 25 26 2f 6d ca", // random-looking bytes
        "fc ff ff ff ff",                      // dynamic block with impossible code lengths
    };
    for (const char* payload : corrupt) {
        auto ext = server_extension({}, "");
        Frame f = make_frame(Opcode::binary, hex(payload), true, true);
        EXPECT_EQ(protocol_error_code([&] { ext->decode(f, unlimited); }), 1007) << payload;
    }
}

TEST(Deflate7692Errors, EmptyCompressedPayloadIsAnEmptyMessage) {
    // Not what RFC 7692 asks (0x00), but harmless: no data, no change to the window.
    auto ext = server_extension({}, "");
    EXPECT_EQ(decode_message(*ext, {make_frame(Opcode::text, "", true, true)}), "");
    EXPECT_EQ(
        decode_message(*ext, {make_frame(Opcode::text, hex("f2 48 cd c9 c9 07 00"), true, true)}),
        "Hello");
    EXPECT_EQ(decode_message(*ext, {make_frame(Opcode::text, hex("f2 00 11 00 00"), true, true)}),
              "Hello");
}

TEST(Deflate7692Errors, MaxSizeIsExact) {
    auto ext = server_extension({}, "");
    Frame ok = make_frame(Opcode::text, hex("f2 48 cd c9 c9 07 00"), true, true);
    ext->decode(ok, 5);
    EXPECT_EQ(ok.payload, "Hello");
    auto small = server_extension({}, "");
    Frame too_big = make_frame(Opcode::text, hex("f2 48 cd c9 c9 07 00"), true, true);
    EXPECT_EQ(protocol_error_code([&] { small->decode(too_big, 4); }), 1009);
    auto zero = server_extension({}, "");
    Frame empty = make_frame(Opcode::text, hex("00"), true, true);
    zero->decode(empty, 0);
    EXPECT_EQ(empty.payload, "");
}

// A few hundred KiB of DEFLATE that inflate to `size` zero bytes (DEFLATE tops out near
// 1032:1, so "a few KiB" cannot reach 100 MiB in one layer), made by streaming.
Bytes zeros_bomb(std::size_t size) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    const Bytes chunk(1 << 20, '\0');
    Bytes out;
    Bytes buffer(1 << 16, '\0');
    std::size_t left = size;
    while (left > 0) {
        const std::size_t n = std::min(left, chunk.size());
        left -= n;
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
        z.avail_in = static_cast<uInt>(n);
        do {
            z.next_out = reinterpret_cast<Bytef*>(buffer.data());
            z.avail_out = static_cast<uInt>(buffer.size());
            deflate(&z, left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            out.append(buffer.data(), buffer.size() - z.avail_out);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    out.resize(out.size() - 4);
    return out;
}

TEST(Deflate7692Errors, BombStopsAtMaxSizeWithBoundedMemory) {
    const std::size_t bomb_size = 110u << 20; // 110 MiB
    const std::size_t max_size = 1u << 20;    // 1 MiB
    const Bytes bomb = zeros_bomb(bomb_size);
    std::cout << "[          ] bomb: " << bomb.size() << " bytes inflate to " << bomb_size
              << " bytes\n";
    ASSERT_LT(bomb.size(), 200u * 1024);

    // One frame.
    {
        auto ext = client_extension({}, "");
        Frame f = make_frame(Opcode::binary, bomb, true, true);
        const std::size_t before = g_live_bytes.load();
        g_peak_bytes.store(before);
        EXPECT_EQ(protocol_error_code([&] { ext->decode(f, max_size); }), 1009);
        const std::size_t peak = g_peak_bytes.load() - before;
        std::cout << "[          ] peak memory while decoding the bomb: " << peak << " bytes\n";
        EXPECT_LT(peak, 2 * max_size + 256 * 1024);
    }
    // In fragments, each frame getting what is left of the budget.
    {
        auto ext = client_extension({}, "");
        std::vector<Frame> frames;
        const std::size_t part = bomb.size() / 4;
        for (std::size_t i = 0; i < 4; ++i) {
            frames.push_back(make_frame(i == 0 ? Opcode::binary : Opcode::continuation,
                                        bomb.substr(i * part, i == 3 ? Bytes::npos : part), i == 3,
                                        i == 0));
        }
        EXPECT_EQ(protocol_error_code([&] { decode_message(*ext, frames, max_size); }), 1009);
    }
    // The bomb is real: plain zlib inflates all of it (counted, not kept).
    {
        z_stream z{};
        ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
        Bytes input = bomb + hex("00 00 ff ff");
        Bytes buffer(1 << 20, '\0');
        std::size_t total = 0;
        z.next_in = reinterpret_cast<Bytef*>(input.data());
        z.avail_in = static_cast<uInt>(input.size());
        do {
            z.next_out = reinterpret_cast<Bytef*>(buffer.data());
            z.avail_out = static_cast<uInt>(buffer.size());
            const int rc = inflate(&z, Z_SYNC_FLUSH);
            ASSERT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc; // BUF: exactly full before
            total += buffer.size() - z.avail_out;
        } while (z.avail_out == 0);
        inflateEnd(&z);
        EXPECT_EQ(total, bomb_size);
    }
}

// ----- memory -------------------------------------------------------------------------------

TEST(Deflate7692Memory, BytesPerConnection) {
    // Server defaults: window 12, memLevel 5, client window 12 (the client offers
    // client_max_window_bits, as browsers do).
    ASSERT_EQ(to_string(negotiate({}, {}).response),
              "server_max_window_bits=12; client_max_window_bits=12");
    // Measure each stream alone, on fresh extensions.
    auto measure = [](auto&& make, auto&& use) {
        auto ext = make();
        const std::size_t before = g_live_bytes.load();
        use(*ext);
        return g_live_bytes.load() - before;
    };
    auto deflate_once = [](Extension& ext) {
        Frame f = make_frame(Opcode::text, text_data(20000, 1));
        ext.encode(f, true);
    };
    auto inflate_once = [](Extension& ext) {
        Frame f = make_frame(Opcode::text, zlib_compress(text_data(20000, 1), 9), true, true);
        ext.decode(f, unlimited);
    };
    const std::size_t server_deflate =
        measure([] { return server_extension({}, "client_max_window_bits"); }, deflate_once);
    const std::size_t server_inflate =
        measure([] { return server_extension({}, "client_max_window_bits"); }, inflate_once);
    const std::size_t deflate15 = measure([] { return client_extension({}, ""); }, deflate_once);
    const std::size_t inflate15 = measure([] { return client_extension({}, ""); }, inflate_once);
    std::cout << "[          ] compressor, window 12, memLevel 5: " << server_deflate << " bytes\n"
              << "[          ] decompressor, window 12: " << server_inflate << " bytes\n"
              << "[          ] server defaults, both directions: "
              << server_deflate + server_inflate << " bytes per connection\n"
              << "[          ] compressor, window 15, memLevel 5: " << deflate15 << " bytes\n"
              << "[          ] decompressor, window 15: " << inflate15 << " bytes\n";
    // zlib's formulas: 2^(w+2) + 2^(m+9) plus ~6 KiB of state; 2^w plus ~7 KiB of state.
    EXPECT_GE(server_deflate, (1u << 14) + (1u << 14));
    EXPECT_LE(server_deflate, (1u << 14) + (1u << 14) + 8 * 1024);
    EXPECT_GE(server_inflate, 1u << 12);
    EXPECT_LE(server_inflate, (1u << 12) + 8 * 1024);
    EXPECT_GE(deflate15, (1u << 17) + (1u << 14));
    EXPECT_LE(deflate15, (1u << 17) + (1u << 14) + 8 * 1024);
    EXPECT_GE(inflate15, 1u << 15);
    EXPECT_LE(inflate15, (1u << 15) + 8 * 1024);
}

TEST(Deflate7692Memory, NoContextTakeoverFreesStreamsBetweenMessages) {
    ClientDeflateOptions c;
    c.server_no_context_takeover = true;
    c.client_no_context_takeover = true;
    Pair pair = negotiate(c, {});
    ASSERT_EQ(to_string(pair.response), "server_no_context_takeover; client_no_context_takeover; "
                                        "server_max_window_bits=12; client_max_window_bits=12");
    const std::size_t before = g_live_bytes.load();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(roundtrip(*pair.client, *pair.server, Opcode::text, text_data(5000, 1)),
                  text_data(5000, 1));
        EXPECT_EQ(roundtrip(*pair.server, *pair.client, Opcode::text, text_data(5000, 2)),
                  text_data(5000, 2));
    }
    EXPECT_EQ(g_live_bytes.load(), before);

    // With context takeover the streams stay.
    Pair kept = negotiate({}, {});
    const std::size_t base = g_live_bytes.load();
    EXPECT_EQ(roundtrip(*kept.client, *kept.server, Opcode::text, text_data(5000, 1)),
              text_data(5000, 1));
    EXPECT_GT(g_live_bytes.load(), base + 30000);
}

TEST(Deflate7692Memory, NothingIsAllocatedBeforeTheFirstMessage) {
    const std::size_t before = g_live_bytes.load();
    {
        Pair pair = negotiate({}, {});
        // Only the two small extension objects and their negotiated parameters.
        EXPECT_LT(g_live_bytes.load() - before, 2048u);
    }
    EXPECT_EQ(g_live_bytes.load(), before);
}

} // namespace
} // namespace syncws
