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
//
// Long runs of multi-byte text go 16 bytes at a time through SSSE3 where the CPU has it
// (checked at run time: the library is built for baseline x86-64). That is the "lookup"
// algorithm of Keiser and Lemire ("Validating UTF-8 in less than one instruction per
// byte", 2021): every error is a property of two consecutive bytes, found with three
// 16-entry table lookups (the first byte's high and low nibble, the second byte's high
// nibble) whose error bits are ANDed, plus one rule for the third and fourth bytes of a
// sequence. The DFA still does the edges: the start of a sequence left open by the
// previous piece, and the sequence a block boundary leaves open at the end.
#include "utf8.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define SYNCWS_UTF8_SSSE3 1
#include <immintrin.h>
#endif

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

#if SYNCWS_UTF8_SSSE3

// Error bits of a pair of bytes (prev, next); a pair is invalid when the three lookups
// share a bit.
constexpr std::uint8_t too_short = 1 << 0;      // lead, then no continuation
constexpr std::uint8_t too_long = 1 << 1;       // ASCII, then a continuation
constexpr std::uint8_t overlong_3 = 1 << 2;     // E0 80-9F
constexpr std::uint8_t too_large = 1 << 3;      // F4 90-BF, F5-FF then a continuation
constexpr std::uint8_t surrogate = 1 << 4;      // ED A0-BF
constexpr std::uint8_t overlong_2 = 1 << 5;     // C0-C1 then a continuation
constexpr std::uint8_t too_large_1000 = 1 << 6; // F5-FF 80-8F
constexpr std::uint8_t overlong_4 = 1 << 6;     // F0 80-8F (same bit: leads never overlap)
constexpr std::uint8_t two_conts = 1 << 7;      // continuation, continuation
// The errors decided by the high nibbles alone: every low nibble must let them through.
constexpr std::uint8_t carry = too_short | too_long | two_conts;

__attribute__((target("ssse3"))) inline __m128i table16(const std::uint8_t (&t)[16]) {
    return _mm_setr_epi8(static_cast<char>(t[0]), static_cast<char>(t[1]), static_cast<char>(t[2]),
                         static_cast<char>(t[3]), static_cast<char>(t[4]), static_cast<char>(t[5]),
                         static_cast<char>(t[6]), static_cast<char>(t[7]), static_cast<char>(t[8]),
                         static_cast<char>(t[9]), static_cast<char>(t[10]),
                         static_cast<char>(t[11]), static_cast<char>(t[12]),
                         static_cast<char>(t[13]), static_cast<char>(t[14]),
                         static_cast<char>(t[15]));
}

constexpr std::uint8_t first_high[16] = {
    // 0x: ASCII
    too_long, too_long, too_long, too_long, too_long, too_long, too_long, too_long,
    // 8x-Bx: continuation
    two_conts, two_conts, two_conts, two_conts,
    // Cx, Dx: two-byte leads (C0, C1 overlong)
    too_short | overlong_2, too_short,
    // Ex: three-byte leads
    too_short | overlong_3 | surrogate,
    // Fx: four-byte leads and the bytes that are never UTF-8
    too_short | too_large | too_large_1000 | overlong_4};

constexpr std::uint8_t first_low[16] = {carry | overlong_3 | overlong_2 | overlong_4, // x0
                                        carry | overlong_2,                           // x1
                                        carry,
                                        carry,
                                        carry | too_large,                  // x4
                                        carry | too_large | too_large_1000, // x5..xF: beyond F4
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000 | surrogate, // xD (ED)
                                        carry | too_large | too_large_1000,
                                        carry | too_large | too_large_1000};

constexpr std::uint8_t second_high[16] = {
    // 0x-7x: ASCII
    too_short, too_short, too_short, too_short, too_short, too_short, too_short, too_short,
    // 8x
    too_long | overlong_2 | two_conts | overlong_3 | too_large_1000 | overlong_4,
    // 9x
    too_long | overlong_2 | two_conts | overlong_3 | too_large,
    // Ax, Bx
    too_long | overlong_2 | two_conts | surrogate | too_large,
    too_long | overlong_2 | two_conts | surrogate | too_large,
    // Cx-Fx: leads
    too_short, too_short, too_short, too_short};

// Validates whole 16-byte blocks from a code point boundary. Sequences may be left open
// at the end (the caller re-checks them); everything else must be valid.
__attribute__((target("ssse3"))) bool blocks_valid(const unsigned char* p,
                                                   std::size_t blocks) noexcept {
    const __m128i t_first_high = table16(first_high);
    const __m128i t_first_low = table16(first_low);
    const __m128i t_second_high = table16(second_high);
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i high_bit = _mm_set1_epi8(static_cast<char>(0x80));
    __m128i previous = _mm_setzero_si128();
    __m128i error = _mm_setzero_si128();
    for (std::size_t i = 0; i < blocks; ++i, p += 16) {
        // ASCII runs: 64 bytes per test, as long as nothing is left open before them.
        if (_mm_movemask_epi8(previous) == 0) {
            while (blocks - i >= 4) {
                const auto* q = reinterpret_cast<const __m128i*>(p);
                const __m128i any = _mm_or_si128(
                    _mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
                    _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3)));
                if (_mm_movemask_epi8(any) != 0) break;
                i += 4;
                p += 64;
            }
            if (i == blocks) break;
        }
        const __m128i input = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        if (_mm_movemask_epi8(input) == 0 && _mm_movemask_epi8(previous) == 0) {
            previous = input; // all ASCII after a block that left nothing open
            continue;
        }
        const __m128i prev1 = _mm_alignr_epi8(input, previous, 15);
        const __m128i errors_of_pairs = _mm_and_si128(
            _mm_and_si128(
                _mm_shuffle_epi8(t_first_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble)),
                _mm_shuffle_epi8(t_first_low, _mm_and_si128(prev1, nibble))),
            _mm_shuffle_epi8(t_second_high, _mm_and_si128(_mm_srli_epi16(input, 4), nibble)));
        // A continuation after a continuation is right exactly where it is the third byte
        // of a sequence (two back is E0-FF) or the fourth (three back is F0-FF).
        const __m128i prev2 = _mm_alignr_epi8(input, previous, 14);
        const __m128i prev3 = _mm_alignr_epi8(input, previous, 13);
        const __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8(static_cast<char>(0xE0 - 0x80)));
        const __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8(static_cast<char>(0xF0 - 0x80)));
        const __m128i must_continue = _mm_and_si128(_mm_or_si128(third, fourth), high_bit);
        error = _mm_or_si128(error, _mm_xor_si128(errors_of_pairs, must_continue));
        previous = input;
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) == 0xFFFF;
}

#endif

// Where SSSE3 blocks pay off: long enough that the DFA's start-up is amortised.
constexpr std::size_t simd_minimum = 64;

bool has_ssse3() noexcept {
#if SYNCWS_UTF8_SSSE3
    // The answer never changes: asked once.
    static const bool supported = __builtin_cpu_supports("ssse3") != 0;
    return supported;
#else
    return false;
#endif
}

} // namespace

bool Utf8Validator::feed(const char* data, std::size_t size) noexcept {
    std::uint64_t offset = std::uint64_t{state_} * field_bits;
    if (offset == reject_offset) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    const unsigned char* const end = p + size;

#if SYNCWS_UTF8_SSSE3
    if (size >= simd_minimum && has_ssse3()) {
        // Finish a sequence the previous piece left open, with the DFA.
        while (p != end && (offset & 63) != accept_offset && (offset & 63) != reject_offset)
            offset = step(offset, *p++);
        if ((offset & 63) == reject_offset) {
            state_ = reject_state;
            return false;
        }
        const std::size_t blocks = static_cast<std::size_t>(end - p) / 16;
        if (blocks > 0) {
            if (!blocks_valid(p, blocks)) {
                state_ = reject_state;
                return false;
            }
            p += blocks * 16;
            // A sequence still open at the last block's end is re-checked from its lead by
            // the DFA below, with the bytes that follow.
            for (int back = 1; back <= 3; ++back) {
                const unsigned char byte = p[-back];
                if (byte < 0x80) break;    // ASCII: nothing open
                if (byte < 0xC0) continue; // a continuation: look further back
                const int length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
                if (length > back) p -= back;
                break;
            }
        }
    }
#endif

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
