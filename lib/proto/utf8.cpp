// Incremental, fail-fast UTF-8 validation (RFC 3629 §4, as RFC 6455 §8.1 requires).
//
// The validator is a DFA whose states say what the next byte must be. RFC 3629 §4:
//
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//            %xF4 %x80-8F 2( UTF8-tail )
//
// The second-byte ranges after E0, ED, F0 and F4 are what rule out overlong forms,
// surrogates and code points above U+10FFFF, so with them every impossible sequence is
// rejected at the first byte that makes it impossible (RFC 6455 §8.1: "fail the
// WebSocket connection" as soon as invalid data is seen, which Autobahn 6.4 checks).
//
// The DFA is "shift-based": each byte maps to one 64-bit row holding the next state for
// every current state in 6-bit fields, and a state is the bit offset of its field. One
// step is `row[byte] >> state`, so the chain from one byte to the next is a single
// shift rather than a dependent table load, which is what makes multi-byte text fast.
// (Validating the two halves of a long input as two interleaved chains was tried and
// gained nothing: the loop is then bound by instruction throughput, about 1.2 cycles per
// byte, not by the chain.)
#include "utf8.hpp"

#include <array>
#include <cstring>

namespace syncws::detail {
namespace {

// States, numbered as stored in Utf8Validator::state_ (accept and reject are fixed there).
enum : std::uint8_t {
    s_accept = Utf8Validator::accept_state, // on a code point boundary
    s_reject = Utf8Validator::reject_state, // invalid; stays here
    s_tail1,                                // one UTF8-tail (80-BF) left
    s_tail2,                                // two UTF8-tails left
    s_tail3,                                // three UTF8-tails left (after F1-F3)
    s_e0,                                   // after E0: A0-BF, then a tail
    s_ed,                                   // after ED: 80-9F, then a tail
    s_f0,                                   // after F0: 90-BF, then two tails
    s_f4,                                   // after F4: 80-8F, then two tails
    state_count,
};

// Byte classes: bytes that behave alike in every state.
enum : std::uint8_t {
    c_ascii,   // 00-7F
    c_80_8f,   // continuation, low
    c_90_9f,   // continuation, middle
    c_a0_bf,   // continuation, high
    c_invalid, // C0-C1 (always overlong), F5-FF (beyond U+10FFFF or not UTF-8 at all)
    c_lead2,   // C2-DF
    c_e0,      // E0
    c_lead3,   // E1-EC, EE-EF
    c_ed,      // ED
    c_f0,      // F0
    c_lead4,   // F1-F3
    c_f4,      // F4
    class_count,
};

constexpr int field_bits = 6;
static_assert(state_count * field_bits <= 64, "every state's field must fit in a row");

constexpr std::uint8_t byte_class(unsigned b) {
    if (b < 0x80) return c_ascii;
    if (b < 0x90) return c_80_8f;
    if (b < 0xA0) return c_90_9f;
    if (b < 0xC0) return c_a0_bf;
    if (b < 0xC2) return c_invalid;
    if (b < 0xE0) return c_lead2;
    if (b == 0xE0) return c_e0;
    if (b == 0xED) return c_ed;
    if (b < 0xF0) return c_lead3;
    if (b == 0xF0) return c_f0;
    if (b < 0xF4) return c_lead4;
    if (b == 0xF4) return c_f4;
    return c_invalid;
}

constexpr std::uint8_t next_state(std::uint8_t state, std::uint8_t cls) {
    const bool tail = cls == c_80_8f || cls == c_90_9f || cls == c_a0_bf;
    switch (state) {
    case s_accept:
        switch (cls) {
        case c_ascii:
            return s_accept;
        case c_lead2:
            return s_tail1;
        case c_e0:
            return s_e0;
        case c_lead3:
            return s_tail2;
        case c_ed:
            return s_ed;
        case c_f0:
            return s_f0;
        case c_lead4:
            return s_tail3;
        case c_f4:
            return s_f4;
        default:
            return s_reject;
        }
    case s_tail1:
        return tail ? s_accept : s_reject;
    case s_tail2:
        return tail ? s_tail1 : s_reject;
    case s_tail3:
        return tail ? s_tail2 : s_reject;
    // E0 80-9F would encode below U+0800: overlong.
    case s_e0:
        return cls == c_a0_bf ? s_tail1 : s_reject;
    // ED A0-BF would encode U+D800-U+DFFF: surrogates are not characters (RFC 3629 §3).
    case s_ed:
        return cls == c_80_8f || cls == c_90_9f ? s_tail1 : s_reject;
    // F0 80-8F would encode below U+10000: overlong.
    case s_f0:
        return cls == c_90_9f || cls == c_a0_bf ? s_tail2 : s_reject;
    // F4 90-BF would encode above U+10FFFF.
    case s_f4:
        return cls == c_80_8f ? s_tail2 : s_reject;
    default:
        return s_reject;
    }
}

constexpr std::array<std::uint64_t, 256> make_rows() {
    std::array<std::uint64_t, 256> rows{};
    for (unsigned b = 0; b < 256; ++b) {
        std::uint64_t row = 0;
        for (std::uint8_t s = 0; s < state_count; ++s) {
            const std::uint64_t next = next_state(s, byte_class(b));
            row |= (next * field_bits) << (s * field_bits);
        }
        rows[b] = row;
    }
    return rows;
}

constexpr std::array<std::uint64_t, 256> rows = make_rows();

constexpr std::uint64_t accept_offset = s_accept * field_bits;
constexpr std::uint64_t reject_offset = s_reject * field_bits;

// One DFA step. `state` is the current offset in its low 6 bits and leftovers of the row
// above them: `& 63` keeps the shift defined, and since x86 and ARM shifts mask the count
// anyway it costs nothing, so the byte-to-byte chain stays one shift long.
inline std::uint64_t step(std::uint64_t state, unsigned char byte) noexcept {
    return rows[byte] >> (state & 63);
}

constexpr std::uint64_t high_bits = 0x8080808080808080ULL;

inline std::uint64_t load64(const unsigned char* p) noexcept {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    return word;
}

} // namespace

bool Utf8Validator::feed(const char* data, std::size_t size) noexcept {
    std::uint64_t offset = std::uint64_t{state_} * field_bits;
    if (offset == reject_offset) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    const unsigned char* const end = p + size;

    while (end - p >= 16) {
        // ASCII fast path: only on a code point boundary, 32 then 16 bytes at a time.
        if ((offset & 63) == accept_offset) {
            while (end - p >= 32 &&
                   ((load64(p) | load64(p + 8) | load64(p + 16) | load64(p + 24)) & high_bits) == 0)
                p += 32;
            if (end - p < 16) break;
            if (((load64(p) | load64(p + 8)) & high_bits) == 0) {
                p += 16;
                continue;
            }
        }
        // Multi-byte text: a block through the DFA, then look for ASCII again.
        for (int i = 0; i < 16; i += 4) {
            offset = step(offset, p[i]);
            offset = step(offset, p[i + 1]);
            offset = step(offset, p[i + 2]);
            offset = step(offset, p[i + 3]);
        }
        p += 16;
        // The reject state is absorbing, so checking once per block still stops at the
        // first block that holds the bad byte.
        if ((offset & 63) == reject_offset) break;
    }
    while (p != end && (offset & 63) != reject_offset)
        offset = step(offset, *p++);

    offset &= 63;
    state_ = static_cast<std::uint8_t>(offset / field_bits);
    return offset != reject_offset;
}

bool is_valid_utf8(std::string_view text) noexcept {
    Utf8Validator validator;
    return validator.feed(text) && validator.complete();
}

} // namespace syncws::detail
