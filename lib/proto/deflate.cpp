// permessage-deflate (RFC 7692) over zlib: negotiation on both sides and the per-message
// codec.
//
// Two zlib limits shape this file:
//
// * zlib cannot compress raw DEFLATE with an 8-bit (256-byte) window. Up to 1.2.8 it
//   silently used 9 bits; since 1.2.9 deflateInit2() rejects windowBits -8 with
//   Z_STREAM_ERROR (madler/zlib#171). A peer that limits our window to 8 bits
//   (server_max_window_bits=8 in a client's offer, client_max_window_bits=8 in a server's
//   response) must therefore never receive output made with a 9-bit window: its inflater may
//   really be 256 bytes. Declining (websockets, ASP.NET Core) loses compression both ways;
//   failing the handshake (websockets' client) loses the connection; compressing with 9
//   bits anyway (bun) relies on zlib never emitting a distance above 250 with 9 bits, an
//   implementation detail. We accept the limit and send every message uncompressed, which
//   RFC 7692 §6 allows per message ("RSV1 is set for compressed messages and unset for
//   uncompressed messages"), so the peer's window can never be exceeded and its messages
//   to us are still compressed. Our own options cannot ask for 8 bits for our compressor.
//   Decompressing with 8 bits works (inflateInit2(-8) is fine).
//
// * zlib's inflate() has no output limit, so we hand it bounded output buffers and stop as
//   soon as the message would exceed max_size (a deflate bomb reaches ~1000:1).
//
// The decompressor uses the window the peer agreed to, not 15: that is what the
// negotiation is for (memory: 4 KiB instead of 32 KiB at 12 bits). A peer that reaches back
// further than it promised, into an earlier message, gets 1007 ("invalid distance too far
// back"); within one message zlib resolves distances from our output buffer and cannot
// tell, which is harmless.
//
// Memory per connection, measured by tests/proto/deflate_7692_test.cpp (zlib 1.2.13,
// x86-64, every byte zlib allocates, counted through operator new, which our zalloc uses):
//   compressor,   window 12, memLevel 5:  38,832 bytes (2^14 + 2^14 + 6,064 of state)
//   decompressor, window 12:              11,368 bytes (2^12 + 7,272 of state)
//   server defaults, both directions:     50,200 bytes
//   compressor,   window 15, memLevel 5: 153,520 bytes; decompressor, window 15: 40,040
// Streams are created on first use and, when the matching no_context_takeover is in
// force, destroyed after every message, so an idle connection then holds none of this.

#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncws {
namespace {

constexpr std::string_view extension_name = "permessage-deflate";
constexpr std::string_view server_no_context_takeover = "server_no_context_takeover";
constexpr std::string_view client_no_context_takeover = "client_no_context_takeover";
constexpr std::string_view server_max_window_bits = "server_max_window_bits";
constexpr std::string_view client_max_window_bits = "client_max_window_bits";

// RFC 7692 §7.2.1: a sender removes these 4 octets (LEN and NLEN of the empty stored block
// a sync flush ends with); §7.2.2: a receiver appends them before decompressing.
constexpr char sync_flush_tail[4] = {'\x00', '\x00', '\xff', '\xff'};

constexpr std::uint8_t rsv1_bit = 0x4;
constexpr int default_window_bits = 15;
// zlib refuses to compress raw DEFLATE with an 8-bit window (see the file comment).
constexpr int min_compress_window_bits = 9;

// ----- zlib plumbing ------------------------------------------------------------------------

// zlib allocates through operator new rather than calloc, so that an application's global
// allocator (and the tests' byte counter) sees the compression memory too.
voidpf z_alloc(voidpf /*opaque*/, uInt items, uInt size) {
    if (size != 0 && items > std::numeric_limits<std::size_t>::max() / size) {
        return Z_NULL;
    }
    return ::operator new(static_cast<std::size_t>(items) * size, std::nothrow);
}

void z_free(voidpf /*opaque*/, voidpf address) {
    ::operator delete(address);
}

// Resizes `buffer` to `size` with a capacity of exactly `size`: std::string's own growth
// at least doubles the capacity, which would let a bomb's output buffer reach 2 × max_size.
void grow(Bytes& buffer, std::size_t size) {
    if (size <= buffer.capacity()) {
        buffer.resize(size);
        return;
    }
    Bytes bigger;
    bigger.reserve(size);
    bigger.append(buffer);
    bigger.resize(size);
    buffer.swap(bigger);
}

// Resizes `buffer` down to `size`, and gives back the spare capacity if it is larger than
// the data (the payload may wait in the engine's queue for a while).
void trim(Bytes& buffer, std::size_t size) {
    buffer.resize(size);
    if (buffer.capacity() > 4096 && buffer.capacity() - size > size) {
        buffer.shrink_to_fit();
    }
}

// zlib counts in uInt (32 bits): larger buffers go through in slices.
uInt clamp_uint(std::size_t n) {
    return static_cast<uInt>(std::min<std::size_t>(n, std::numeric_limits<uInt>::max()));
}

Bytef* as_bytef(char* p) {
    return reinterpret_cast<Bytef*>(p);
}
const Bytef* as_bytef(const char* p) {
    return reinterpret_cast<const Bytef*>(p);
}

std::string zlib_message(const z_stream& z, const char* fallback) {
    return z.msg != nullptr ? std::string(z.msg) : std::string(fallback);
}

// A raw-DEFLATE compressor. z_stream must not move once initialized (zlib keeps a pointer
// to it), hence the heap allocation by its owner.
struct Deflater {
    z_stream z{};

    Deflater(int level, int window_bits, int mem_level) {
        z.zalloc = z_alloc;
        z.zfree = z_free;
        const int rc =
            deflateInit2(&z, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR) {
            throw std::bad_alloc();
        }
        if (rc != Z_OK) {
            throw std::logic_error("deflateInit2 failed: " + zlib_message(z, "bad parameters"));
        }
    }
    ~Deflater() { deflateEnd(&z); }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;
};

// A raw-DEFLATE decompressor.
struct Inflater {
    z_stream z{};

    explicit Inflater(int window_bits) {
        z.zalloc = z_alloc;
        z.zfree = z_free;
        const int rc = inflateInit2(&z, -window_bits);
        if (rc == Z_MEM_ERROR) {
            throw std::bad_alloc();
        }
        if (rc != Z_OK) {
            throw std::logic_error("inflateInit2 failed: " + zlib_message(z, "bad parameters"));
        }
    }
    ~Inflater() { inflateEnd(&z); }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
};

// ----- parameters ---------------------------------------------------------------------------

// The four parameters as read from an offer or a response.
struct DeflateParameters {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    std::optional<int> server_max_window_bits;
    bool has_client_max_window_bits = false;   // present, with or without a value
    std::optional<int> client_max_window_bits; // its value, if any
};

// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15,
// inclusive". Quoted-string values arrive unquoted from parse_extension_header.
std::optional<int> parse_window_bits(const std::optional<std::string>& value) {
    if (!value) {
        return std::nullopt;
    }
    const std::string& v = *value;
    if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) {
        return v[0] - '0';
    }
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + (v[1] - '0');
    }
    return std::nullopt;
}

std::string describe(const ExtensionParameter& p) {
    return p.value ? p.name + "=" + *p.value : p.name;
}

// Reads the parameters of an offer (`is_offer`) or a response. Returns an empty string on
// success, else what is wrong. RFC 7692 §7.1: each parameter at most once, known names
// only, a value only where one is defined; client_max_window_bits may lack a value in an
// offer only (§7.1.2.2).
std::string read_parameters(const ExtensionParameters& params, bool is_offer,
                            DeflateParameters& out) {
    bool seen_snct = false;
    bool seen_cnct = false;
    bool seen_smwb = false;
    for (const ExtensionParameter& p : params) {
        if (p.name == server_no_context_takeover || p.name == client_no_context_takeover) {
            bool& seen = p.name == server_no_context_takeover ? seen_snct : seen_cnct;
            if (seen) {
                return "duplicate parameter " + p.name;
            }
            seen = true;
            if (p.value) {
                return "parameter " + p.name + " takes no value: " + describe(p);
            }
            (p.name == server_no_context_takeover ? out.server_no_context_takeover
                                                  : out.client_no_context_takeover) = true;
        } else if (p.name == server_max_window_bits) {
            if (seen_smwb) {
                return "duplicate parameter " + p.name;
            }
            seen_smwb = true;
            out.server_max_window_bits = parse_window_bits(p.value);
            if (!out.server_max_window_bits) {
                return "invalid value for " + p.name + " (8 to 15 expected): " + describe(p);
            }
        } else if (p.name == client_max_window_bits) {
            if (out.has_client_max_window_bits) {
                return "duplicate parameter " + p.name;
            }
            out.has_client_max_window_bits = true;
            if (!p.value) {
                if (!is_offer) {
                    return "parameter " + p.name + " needs a value in a response";
                }
                continue;
            }
            out.client_max_window_bits = parse_window_bits(p.value);
            if (!out.client_max_window_bits) {
                return "invalid value for " + p.name + " (8 to 15 expected): " + describe(p);
            }
        } else {
            return "unknown parameter " + describe(p);
        }
    }
    return {};
}

ExtensionParameter flag(std::string_view name) {
    return {std::string(name), std::nullopt};
}

ExtensionParameter number(std::string_view name, int value) {
    return {std::string(name), std::to_string(value)};
}

// Another accepted extension already uses RSV1 (RFC 7692 §5: a PMCE must not be accepted
// together with an extension that conflicts with it on the RSV1 bit).
const Extension* rsv1_user(const std::vector<std::unique_ptr<Extension>>& accepted) {
    for (const auto& extension : accepted) {
        if (extension && (extension->rsv_bits() & rsv1_bit) != 0) {
            return extension.get();
        }
    }
    return nullptr;
}

void check_window(const char* what, const std::optional<int>& bits, int min) {
    if (bits && (*bits < min || *bits > 15)) {
        throw std::invalid_argument(std::string(what) + " must be between " + std::to_string(min) +
                                    " and 15, not " + std::to_string(*bits) +
                                    (min == min_compress_window_bits
                                         ? " (zlib cannot compress with an 8-bit window)"
                                         : ""));
    }
}

void check_codec(int level, int mem_level) {
    if (level < 0 || level > 9) {
        throw std::invalid_argument("compression_level must be between 0 and 9, not " +
                                    std::to_string(level));
    }
    if (mem_level < 1 || mem_level > 9) {
        throw std::invalid_argument("mem_level must be between 1 and 9, not " +
                                    std::to_string(mem_level));
    }
}

// ----- the extension ------------------------------------------------------------------------

// What one side agreed to, from its own point of view.
struct DeflateSettings {
    bool local_no_context_takeover = false;
    bool remote_no_context_takeover = false;
    int local_window_bits = default_window_bits;  // 8: never compress (see file comment)
    int remote_window_bits = default_window_bits; // our inflater's window
    int compression_level = 6;
    int mem_level = 5;
    std::size_t compress_threshold = 0;
};

class PerMessageDeflate final : public Extension {
public:
    PerMessageDeflate(DeflateSettings settings, ExtensionParameters negotiated)
        : settings_(settings), negotiated_(std::move(negotiated)) {}

    std::string_view name() const noexcept override { return extension_name; }
    std::uint8_t rsv_bits() const noexcept override { return rsv1_bit; }
    ExtensionOffer negotiated() const override {
        return {std::string(extension_name), negotiated_};
    }

    void encode(Frame& frame, bool compress) override;
    void decode(Frame& frame, std::size_t max_size) override;

private:
    void deflate_payload(Bytes& payload, bool fin);
    void inflate_payload(Bytes& payload, bool fin, std::size_t max_size);
    void inflate_input(z_stream& z, const char* data, std::size_t size, Bytes& out,
                       std::size_t& produced, std::size_t cap, bool is_tail);
    void restart_inflater(z_stream& z);

    DeflateSettings settings_;
    ExtensionParameters negotiated_;

    std::unique_ptr<Deflater> deflater_; // created on first use
    std::unique_ptr<Inflater> inflater_; // created on first use

    // Whether the message being sent / received is compressed. RFC 7692 §6.1: RSV1 is set
    // on its first frame only, so continuation frames rely on this.
    bool encoding_message_ = false;
    bool decoding_message_ = false;
    // Compressed bytes received so far in the current message.
    std::size_t message_input_ = 0;
    // The peer's DEFLATE stream ended (a block with BFINAL set) and nothing followed yet.
    bool stream_ended_ = false;
    // The last inflate() call that made progress stopped between two DEFLATE blocks.
    bool at_block_boundary_ = true;
};

void PerMessageDeflate::encode(Frame& frame, bool compress) {
    if (is_control(frame.opcode)) {
        return; // RFC 7692 §6.1: never set on control frames (the engine skips them anyway)
    }
    if (frame.opcode != Opcode::continuation) {
        // The decision is per message, on its first frame.
        encoding_message_ = compress && settings_.local_window_bits >= min_compress_window_bits &&
                            frame.payload.size() >= settings_.compress_threshold;
        if (encoding_message_) {
            frame.rsv1 = true;
        }
    }
    if (!encoding_message_) {
        return;
    }
    deflate_payload(frame.payload, frame.fin);
    if (frame.fin) {
        encoding_message_ = false;
        if (settings_.local_no_context_takeover) {
            // RFC 7692 §7.1.1: each message starts with an empty window. Freeing rather
            // than deflateReset() returns the compressor's memory between messages.
            deflater_.reset();
        }
    }
}

void PerMessageDeflate::deflate_payload(Bytes& payload, bool fin) {
    if (!deflater_) {
        deflater_ = std::make_unique<Deflater>(settings_.compression_level,
                                               settings_.local_window_bits, settings_.mem_level);
    }
    z_stream& z = deflater_->z;

    // deflateBound() is for a Z_FINISH stream; a sync flush adds a few bytes. Start at half
    // the input (most messages compress better than 2:1) rather than at the bound, so a
    // large compressible message does not briefly cost its own size again.
    const std::size_t bound =
        static_cast<std::size_t>(deflateBound(&z, clamp_uint(payload.size()))) + 16;
    Bytes out;
    grow(out, std::min(bound, std::max<std::size_t>(payload.size() / 2, 1024)));
    std::size_t produced = 0;
    const char* next = payload.data();
    std::size_t left = payload.size();

    for (;;) {
        if (produced == out.size()) {
            grow(out, out.size() < bound ? std::min(bound, out.size() * 2) : out.size() * 2);
        }
        const uInt in_slice = clamp_uint(left);
        const uInt out_slice = clamp_uint(out.size() - produced);
        z.next_in = const_cast<Bytef*>(as_bytef(next)); // zlib does not write through it
        z.avail_in = in_slice;
        z.next_out = as_bytef(out.data() + produced);
        z.avail_out = out_slice;
        // RFC 7692 §7.2.1: compress, then end with an empty stored block (Z_SYNC_FLUSH),
        // so the peer can decode everything sent so far. Every frame is flushed: a
        // fragmented message is streamed, and each fragment must be decodable on arrival.
        const int flush = in_slice == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        const int rc = deflate(&z, flush);
        next += in_slice - z.avail_in;
        left -= in_slice - z.avail_in;
        produced += out_slice - z.avail_out;
        if (rc == Z_STREAM_ERROR) {
            throw std::logic_error("deflate failed: " + zlib_message(z, "stream error"));
        }
        // Z_BUF_ERROR: nothing to do — no input and nothing pending since the last flush.
        // Otherwise the flush is complete once deflate leaves output space unused.
        if (left == 0 && (rc == Z_BUF_ERROR || z.avail_out != 0)) {
            break;
        }
    }
    trim(out, produced);

    if (fin) {
        // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff at the tail end.
        if (out.size() >= 4 && out.compare(out.size() - 4, 4, sync_flush_tail, 4) == 0) {
            out.resize(out.size() - 4);
        } else if (out.empty()) {
            // Nothing was pending (an empty message, or an empty last fragment): zlib
            // emitted nothing, not even the empty stored block. The stream is byte-aligned
            // after the previous flush, so the block's header byte alone, 0x00, is what
            // remains of "00 00 00 ff ff" once the tail is removed (RFC 7692 §7.2.3.6:
            // an empty message is the single octet 0x00). The peer's inflater needs it to
            // end the message on a block boundary.
            out.push_back('\x00');
        } else {
            throw std::logic_error("deflate output does not end with a sync flush");
        }
    }
    payload = std::move(out);
}

void PerMessageDeflate::decode(Frame& frame, std::size_t max_size) {
    if (is_control(frame.opcode)) {
        return;
    }
    if (frame.opcode == Opcode::continuation) {
        // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
        // control frames and non-first fragments of a data message. An endpoint receiving
        // such a frame MUST _Fail the WebSocket Connection_."
        if (frame.rsv1) {
            throw ProtocolError(static_cast<std::uint16_t>(CloseCode::protocol_error),
                                "RSV1 set on a continuation frame");
        }
        if (!decoding_message_) {
            return;
        }
    } else {
        // RFC 7692 §6: "RSV1 is set for compressed messages and unset for uncompressed
        // messages"; an uncompressed message passes through untouched.
        decoding_message_ = frame.rsv1;
        message_input_ = 0;
        if (!decoding_message_) {
            return;
        }
        frame.rsv1 = false;
    }
    inflate_payload(frame.payload, frame.fin, max_size);
    if (frame.fin) {
        decoding_message_ = false;
        if (settings_.remote_no_context_takeover) {
            // The peer starts every message with an empty window: ours need not survive.
            inflater_.reset();
            stream_ended_ = false;
        }
    }
}

void PerMessageDeflate::inflate_payload(Bytes& payload, bool fin, std::size_t max_size) {
    message_input_ += payload.size();
    if (fin && message_input_ == 0) {
        // A compressed message without a single byte of DEFLATE data (RFC 7692 wants 0x00
        // for an empty message, §7.2.3.6). Feeding only the appended tail would leave the
        // inflater inside a stored block and corrupt the next message; there is nothing to
        // decode, so the message is empty and the window unchanged.
        return;
    }
    if (!inflater_) {
        inflater_ = std::make_unique<Inflater>(settings_.remote_window_bits);
    }
    z_stream& z = inflater_->z;

    // Output is bounded by max_size + 1: one byte more than allowed proves the message is
    // too big without inflating the rest of a bomb.
    const std::size_t cap =
        max_size == std::numeric_limits<std::size_t>::max() ? max_size : max_size + 1;
    Bytes out;
    std::size_t produced = 0;
    grow(out, std::min(cap, std::max<std::size_t>(payload.size() * 4, 1024)));

    inflate_input(z, payload.data(), payload.size(), out, produced, cap, false);
    if (fin) {
        // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the
        // payload of the message" — unless the peer ended its DEFLATE stream with a final
        // block (§7.2.3.4), after which the tail is not part of any stream.
        if (!stream_ended_) {
            inflate_input(z, sync_flush_tail, sizeof sync_flush_tail, out, produced, cap, true);
        }
        // A message that does not end on a block boundary was truncated, or kept its
        // tail: the next message would be decoded from the middle of a block.
        if (!at_block_boundary_) {
            throw ProtocolError(static_cast<std::uint16_t>(CloseCode::invalid_payload),
                                "compressed message does not end on a DEFLATE block boundary");
        }
    }
    trim(out, produced);
    payload = std::move(out);
}

void PerMessageDeflate::inflate_input(z_stream& z, const char* data, std::size_t size, Bytes& out,
                                      std::size_t& produced, std::size_t cap, bool is_tail) {
    std::size_t left = size;
    for (;;) {
        if (produced == out.size()) {
            // Grow geometrically, never beyond the cap (produced == cap has thrown below).
            grow(out, std::min(cap, std::max(out.size() * 2, std::size_t{1024})));
        }
        const uInt in_slice = clamp_uint(left);
        const uInt out_slice = clamp_uint(out.size() - produced);
        z.next_in = const_cast<Bytef*>(as_bytef(data + (size - left)));
        z.avail_in = in_slice;
        z.next_out = as_bytef(out.data() + produced);
        z.avail_out = out_slice;
        const int rc = inflate(&z, Z_BLOCK);
        const std::size_t consumed = in_slice - z.avail_in;
        left -= consumed;
        const std::size_t produced_now = out_slice - z.avail_out;
        produced += produced_now;
        if (consumed != 0 || produced_now != 0) {
            // Z_BLOCK makes inflate() stop at block boundaries and flag them in data_type
            // (bit 7). A call without progress resets data_type, so only these count.
            at_block_boundary_ = (z.data_type & 128) != 0;
        }
        if (consumed != 0) {
            stream_ended_ = false;
        }
        if (produced == cap) {
            throw PayloadTooBig("message exceeds max_size after decompression (more than " +
                                std::to_string(cap - 1) + " bytes)");
        }
        switch (rc) {
        case Z_OK:
        case Z_BUF_ERROR: // no progress possible: input used up, or output full
            if (left == 0 && (z.avail_out != 0 || rc == Z_BUF_ERROR)) {
                return;
            }
            if (rc == Z_BUF_ERROR && z.avail_in != 0 && z.avail_out != 0) {
                throw std::logic_error("inflate made no progress");
            }
            break;
        case Z_STREAM_END:
            // The peer ended its stream with BFINAL (RFC 7692 §7.2.3.4). The tail we were
            // appending is not part of it; any other data starts a new stream.
            restart_inflater(z);
            at_block_boundary_ = true;
            if (is_tail) {
                return;
            }
            stream_ended_ = left == 0;
            if (stream_ended_) {
                return;
            }
            break;
        case Z_DATA_ERROR:
            throw ProtocolError(static_cast<std::uint16_t>(CloseCode::invalid_payload),
                                "invalid compressed data: " + zlib_message(z, "data error"));
        case Z_MEM_ERROR:
            throw std::bad_alloc();
        default: // Z_NEED_DICT cannot happen in raw mode; Z_STREAM_ERROR is a bug here
            throw std::logic_error("inflate failed: " + zlib_message(z, "stream error"));
        }
    }
}

// After a final block the peer's next data continues with the same LZ77 window (RFC 7692
// §7.2.3.4 keeps context takeover), but zlib only continues a stream by starting a new
// one: carry the window over as a preset dictionary (allowed at any time in raw mode).
void PerMessageDeflate::restart_inflater(z_stream& z) {
    if (settings_.remote_no_context_takeover) {
        inflateReset(&z);
        return;
    }
    std::string window(std::size_t{1} << settings_.remote_window_bits, '\0');
    uInt length = 0;
    if (inflateGetDictionary(&z, as_bytef(window.data()), &length) != Z_OK ||
        inflateReset(&z) != Z_OK ||
        inflateSetDictionary(&z, as_bytef(window.data()), length) != Z_OK) {
        throw std::logic_error("cannot restart the inflater");
    }
}

// ----- client factory -----------------------------------------------------------------------

class ClientDeflateFactory final : public ClientExtensionFactory {
public:
    explicit ClientDeflateFactory(const ClientDeflateOptions& options) : options_(options) {
        check_window("server_max_window_bits", options.server_max_window_bits, 8);
        check_window("client_max_window_bits", options.client_max_window_bits,
                     min_compress_window_bits);
        check_codec(options.compression_level, options.mem_level);
    }

    std::string_view name() const noexcept override { return extension_name; }

    std::vector<ExtensionParameters> offers() const override {
        ExtensionParameters offer;
        if (options_.server_no_context_takeover) {
            offer.push_back(flag(server_no_context_takeover));
        }
        if (options_.client_no_context_takeover) {
            offer.push_back(flag(client_no_context_takeover));
        }
        if (options_.server_max_window_bits) {
            offer.push_back(number(server_max_window_bits, *options_.server_max_window_bits));
        }
        if (options_.offer_client_max_window_bits) {
            // RFC 7692 §7.1.2.2: without a value, "the client supports the
            // client_max_window_bits extension parameter in an extension negotiation
            // response"; with one, the client will not use a bigger window.
            offer.push_back(options_.client_max_window_bits
                                ? number(client_max_window_bits, *options_.client_max_window_bits)
                                : flag(client_max_window_bits));
        }
        return {offer};
    }

    std::unique_ptr<Extension>
    accept(const ExtensionParameters& response,
           const std::vector<std::unique_ptr<Extension>>& accepted) const override {
        if (const Extension* other = rsv1_user(accepted)) {
            throw NegotiationError("permessage-deflate conflicts with " +
                                   std::string(other->name()) + " on RSV1");
        }
        DeflateParameters r;
        const std::string error = read_parameters(response, false, r);
        if (!error.empty()) {
            throw NegotiationError("invalid permessage-deflate response: " + error);
        }

        DeflateSettings s;
        // §7.1.1.1: "A server accepts an extension negotiation offer that includes the
        // server_no_context_takeover extension parameter by including [it] in the
        // corresponding extension negotiation response"; it may also add it unasked.
        if (options_.server_no_context_takeover && !r.server_no_context_takeover) {
            throw NegotiationError(
                "permessage-deflate response lacks the server_no_context_takeover we asked for");
        }
        s.remote_no_context_takeover = r.server_no_context_takeover;
        // §7.1.1.2: the server may impose client_no_context_takeover; if we offered it, we
        // keep our word whether or not the response repeats it.
        s.local_no_context_takeover =
            options_.client_no_context_takeover || r.client_no_context_takeover;

        // §7.1.2.1: the server accepts a server_max_window_bits offer "by including the
        // server_max_window_bits extension parameter in the extension negotiation response
        // to send back to the client with the same or smaller value as the offer", and may
        // announce a smaller window unasked.
        if (options_.server_max_window_bits) {
            if (!r.server_max_window_bits) {
                throw NegotiationError("permessage-deflate response lacks the "
                                       "server_max_window_bits we asked for");
            }
            if (*r.server_max_window_bits > *options_.server_max_window_bits) {
                throw NegotiationError(
                    "permessage-deflate response has server_max_window_bits=" +
                    std::to_string(*r.server_max_window_bits) + ", more than the " +
                    std::to_string(*options_.server_max_window_bits) + " we asked for");
            }
        }
        s.remote_window_bits = r.server_max_window_bits.value_or(default_window_bits);

        // §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // client_max_window_bits extension parameter, the corresponding extension
        // negotiation response to the offer MUST NOT include [it]"; otherwise its value
        // may not exceed the one offered.
        s.local_window_bits = options_.client_max_window_bits.value_or(default_window_bits);
        if (r.has_client_max_window_bits) {
            if (!options_.offer_client_max_window_bits) {
                throw NegotiationError("permessage-deflate response has "
                                       "client_max_window_bits, which we did not offer");
            }
            if (*r.client_max_window_bits > s.local_window_bits &&
                options_.client_max_window_bits) {
                throw NegotiationError(
                    "permessage-deflate response has client_max_window_bits=" +
                    std::to_string(*r.client_max_window_bits) + ", more than the " +
                    std::to_string(*options_.client_max_window_bits) + " we offered");
            }
            // 8 bits: we accept and never compress (see the file comment).
            s.local_window_bits = std::min(s.local_window_bits, *r.client_max_window_bits);
        }
        s.compression_level = options_.compression_level;
        s.mem_level = options_.mem_level;
        s.compress_threshold = options_.compress_threshold;
        return std::make_unique<PerMessageDeflate>(s, response);
    }

private:
    ClientDeflateOptions options_;
};

// ----- server factory -----------------------------------------------------------------------

class ServerDeflateFactory final : public ServerExtensionFactory {
public:
    explicit ServerDeflateFactory(const ServerDeflateOptions& options) : options_(options) {
        check_window("server_max_window_bits", options.server_max_window_bits,
                     min_compress_window_bits);
        check_window("client_max_window_bits", options.client_max_window_bits, 8);
        check_codec(options.compression_level, options.mem_level);
        if (options.require_client_max_window_bits && !options.client_max_window_bits) {
            throw std::invalid_argument(
                "require_client_max_window_bits needs client_max_window_bits");
        }
    }

    std::string_view name() const noexcept override { return extension_name; }

    std::optional<ExtensionAcceptance>
    negotiate(const ExtensionParameters& offer,
              const std::vector<std::unique_ptr<Extension>>& accepted) const override {
        if (rsv1_user(accepted) != nullptr) {
            return std::nullopt; // §5: RSV1 already taken (e.g. permessage-deflate itself)
        }
        // RFC 7692 §5: a server MUST decline an offer with "an extension parameter not
        // defined for use in an offer", "an extension parameter with an invalid value", or
        // "multiple extension parameters with the same name".
        DeflateParameters o;
        if (!read_parameters(offer, true, o).empty()) {
            return std::nullopt;
        }
        if (!o.has_client_max_window_bits && options_.require_client_max_window_bits) {
            return std::nullopt;
        }

        DeflateSettings s;
        ExtensionParameters response;
        // §7.1.1.1: accepting server_no_context_takeover means repeating it; the server
        // may also include it unasked.
        s.local_no_context_takeover =
            o.server_no_context_takeover || options_.server_no_context_takeover;
        if (s.local_no_context_takeover) {
            response.push_back(flag(server_no_context_takeover));
        }
        // §7.1.1.2: the server may include client_no_context_takeover in any response. We
        // repeat the client's own so that we know to free our inflater between messages.
        s.remote_no_context_takeover =
            o.client_no_context_takeover || options_.client_no_context_takeover;
        if (s.remote_no_context_takeover) {
            response.push_back(flag(client_no_context_takeover));
        }
        // §7.1.2.1: answer an offered limit with "the same or smaller value"; a server may
        // also announce a limit nobody asked for. An offered 8 is accepted, and we then
        // never compress (see the file comment).
        const int configured = options_.server_max_window_bits.value_or(default_window_bits);
        s.local_window_bits =
            std::min(o.server_max_window_bits.value_or(default_window_bits), configured);
        if (o.server_max_window_bits || s.local_window_bits < default_window_bits) {
            response.push_back(number(server_max_window_bits, s.local_window_bits));
        }
        // §7.1.2.2: only if offered; no larger than an offered value.
        s.remote_window_bits = default_window_bits;
        if (o.has_client_max_window_bits) {
            s.remote_window_bits =
                std::min(o.client_max_window_bits.value_or(default_window_bits),
                         options_.client_max_window_bits.value_or(default_window_bits));
            if (o.client_max_window_bits || options_.client_max_window_bits) {
                response.push_back(number(client_max_window_bits, s.remote_window_bits));
            }
        }
        s.compression_level = options_.compression_level;
        s.mem_level = options_.mem_level;
        s.compress_threshold = options_.compress_threshold;
        return ExtensionAcceptance{response, std::make_unique<PerMessageDeflate>(s, response)};
    }

private:
    ServerDeflateOptions options_;
};

} // namespace

std::shared_ptr<const ClientExtensionFactory>
make_client_deflate(const ClientDeflateOptions& options) {
    return std::make_shared<const ClientDeflateFactory>(options);
}

std::shared_ptr<const ServerExtensionFactory>
make_server_deflate(const ServerDeflateOptions& options) {
    return std::make_shared<const ServerDeflateFactory>(options);
}

} // namespace syncws
