// Masking of frame payloads (RFC 6455 §5.3):
//
//   "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet i of the
//    original data ("original-octet-i") with octet at index i modulo 4 of the masking key
//    ("masking-key-octet-j")."
//
// Byte-at-a-time XOR runs at a few hundred MB/s; a word of eight key bytes repeated in
// memory order does eight at a time, and two words per step let the compiler keep two
// loads and stores in flight. Loads and stores go through memcpy, so neither the buffer's
// alignment nor the aliasing rules matter; compilers turn them into plain moves.
#include "mask.hpp"

#include <cstring>

namespace syncws::detail {
namespace {

// The key as it repeats over the payload from key byte `key_offset`, eight bytes long, in
// memory order: XOR with a word loaded from the payload masks those eight bytes whatever
// the machine's byte order.
inline std::uint64_t key_word(const MaskKey& key, std::size_t key_offset) noexcept {
    unsigned char bytes[8];
    for (std::size_t i = 0; i < 8; ++i)
        bytes[i] = key[(key_offset + i) % 4];
    std::uint64_t word;
    std::memcpy(&word, bytes, sizeof word);
    return word;
}

inline std::uint64_t load64(const char* p) noexcept {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    return word;
}

inline void store64(char* p, std::uint64_t word) noexcept {
    std::memcpy(p, &word, sizeof word);
}

// Masks whole words from `in` to `out` (which may be the same buffer) and returns how many
// bytes it did: `size` rounded down to a multiple of 8. Eight bytes are a multiple of the
// four-byte key, so the key offset is unchanged afterwards.
inline std::size_t mask_words(char* out, const char* in, std::size_t size,
                              std::uint64_t key) noexcept {
    std::size_t i = 0;
    for (; size - i >= 32; i += 32) {
        const std::uint64_t a = load64(in + i) ^ key;
        const std::uint64_t b = load64(in + i + 8) ^ key;
        const std::uint64_t c = load64(in + i + 16) ^ key;
        const std::uint64_t d = load64(in + i + 24) ^ key;
        store64(out + i, a);
        store64(out + i + 8, b);
        store64(out + i + 16, c);
        store64(out + i + 24, d);
    }
    for (; size - i >= 8; i += 8)
        store64(out + i, load64(in + i) ^ key);
    return i;
}

} // namespace

std::size_t apply_mask(char* data, std::size_t size, const MaskKey& key,
                       std::size_t key_offset) noexcept {
    key_offset %= 4;
    std::size_t i = 0;
    // Byte by byte up to an 8-byte boundary, so the word stores below do not straddle
    // cache lines; a short payload is done here entirely.
    const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(data) % 8;
    if (misalignment != 0) {
        const std::size_t head = size < 8 - misalignment ? size : 8 - misalignment;
        for (; i < head; ++i)
            data[i] = static_cast<char>(data[i] ^ key[(key_offset + i) % 4]);
    }
    const std::size_t offset = (key_offset + i) % 4;
    i += mask_words(data + i, data + i, size - i, key_word(key, offset));
    for (; i < size; ++i)
        data[i] = static_cast<char>(data[i] ^ key[(key_offset + i) % 4]);
    return (key_offset + size) % 4;
}

void copy_masked(char* out, const char* in, std::size_t size, const MaskKey& key) noexcept {
    std::size_t i = mask_words(out, in, size, key_word(key, 0));
    for (; i < size; ++i)
        out[i] = static_cast<char>(in[i] ^ key[i % 4]);
}

} // namespace syncws::detail
