// apply_mask / copy_masked (RFC 6455 §5.3) against the RFC example and a naive byte loop.
#include "frame_codec.hpp"
#include "mask.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace syncws::detail {
namespace {

// RFC 6455 §5.3: "octet i of the transformed data is the XOR of octet i of the original
// data with octet at index i modulo 4 of the masking key".
std::string naive_mask(std::string data, const MaskKey& key, std::size_t key_offset) {
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>(data[i] ^ key[(key_offset + i) % 4]);
    return data;
}

// Deterministic, non-repeating content so a wrong key byte anywhere shows.
std::string pattern(std::size_t size, unsigned seed = 1) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 12345;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

const MaskKey key{0x37, 0xfa, 0x21, 0x3d};

TEST(Mask, Rfc6455HelloExample) {
    // RFC 6455 §5.7: "A single-frame masked text message ... 0x81 0x85 0x37 0xfa 0x21 0x3d
    // 0x7f 0x9f 0x4d 0x51 0x58 (contains "Hello")".
    std::string data = "Hello";
    EXPECT_EQ(apply_mask(data.data(), data.size(), key), 1u);
    EXPECT_EQ(data, "\x7f\x9f\x4d\x51\x58");
    // Masking is its own inverse.
    EXPECT_EQ(apply_mask(data.data(), data.size(), key), 1u);
    EXPECT_EQ(data, "Hello");

    char out[5];
    copy_masked(out, "Hello", 5, key);
    EXPECT_EQ(std::string(out, 5), "\x7f\x9f\x4d\x51\x58");
}

TEST(Mask, ZeroKeyChangesNothing) {
    std::string data = pattern(100);
    const std::string before = data;
    apply_mask(data.data(), data.size(), MaskKey{0, 0, 0, 0}, 3);
    EXPECT_EQ(data, before);
}

TEST(Mask, EveryLengthOffsetAndAlignmentMatchesNaiveLoop) {
    // Room for an offset into the buffer, so the data starts at every alignment.
    std::vector<char> buffer(64 + 16 + 16);
    for (std::size_t key_offset = 0; key_offset < 4; ++key_offset) {
        for (std::size_t length = 0; length <= 64; ++length) {
            for (std::size_t align = 0; align < 16; ++align) {
                const std::string original = pattern(length, static_cast<unsigned>(length));
                const std::string expected = naive_mask(original, key, key_offset);
                // Guard bytes around the data catch writes past either end.
                std::fill(buffer.begin(), buffer.end(), '\x5a');
                char* data = buffer.data() + 8 + align;
                std::copy(original.begin(), original.end(), data);
                const std::size_t next = apply_mask(data, length, key, key_offset);
                ASSERT_EQ(next, (key_offset + length) % 4);
                ASSERT_EQ(std::string(data, length), expected)
                    << "key_offset " << key_offset << " length " << length << " align " << align;
                for (std::size_t i = 0; i < 8 + align; ++i)
                    ASSERT_EQ(buffer[i], '\x5a');
                for (std::size_t i = 8 + align + length; i < buffer.size(); ++i)
                    ASSERT_EQ(buffer[i], '\x5a');
            }
        }
    }
}

TEST(Mask, LargeBuffersMatchNaiveLoop) {
    for (std::size_t length : {1000u, 4093u, 65536u, 1048579u}) {
        for (std::size_t key_offset = 0; key_offset < 4; ++key_offset) {
            const std::string original = pattern(length, 7);
            std::string data = original;
            apply_mask(data.data(), data.size(), key, key_offset);
            ASSERT_EQ(data, naive_mask(original, key, key_offset))
                << "length " << length << " key_offset " << key_offset;
        }
    }
}

TEST(Mask, SplitApplicationEqualsOneShot) {
    // A payload unmasked in pieces as it arrives: the returned offset carries the key on.
    const std::string original = pattern(100, 3);
    const std::string expected = naive_mask(original, key, 0);
    for (std::size_t split = 0; split <= original.size(); ++split) {
        std::string data = original;
        const std::size_t offset = apply_mask(data.data(), split, key, 0);
        EXPECT_EQ(offset, split % 4);
        apply_mask(data.data() + split, data.size() - split, key, offset);
        ASSERT_EQ(data, expected) << "split at " << split;
    }
}

TEST(Mask, ManySmallPiecesEqualOneShot) {
    const std::string original = pattern(300, 5);
    const std::string expected = naive_mask(original, key, 2);
    for (std::size_t piece = 1; piece <= 19; ++piece) {
        std::string data = original;
        std::size_t offset = 2;
        for (std::size_t pos = 0; pos < data.size(); pos += piece) {
            const std::size_t n = std::min(piece, data.size() - pos);
            offset = apply_mask(data.data() + pos, n, key, offset);
        }
        ASSERT_EQ(data, expected) << "pieces of " << piece;
    }
}

TEST(Mask, KeyOffsetIsTakenModuloFour) {
    std::string a = pattern(37);
    std::string b = a;
    apply_mask(a.data(), a.size(), key, 1);
    EXPECT_EQ(apply_mask(b.data(), b.size(), key, 5), (1u + 37u) % 4);
    EXPECT_EQ(a, b);
}

TEST(Mask, CopyMaskedEqualsApplyMask) {
    std::vector<char> out(200 + 16);
    for (std::size_t length = 0; length <= 200; ++length) {
        for (std::size_t align = 0; align < 8; ++align) {
            const std::string original = pattern(length + align, 9).substr(align);
            std::string expected = original;
            apply_mask(expected.data(), expected.size(), key);
            std::fill(out.begin(), out.end(), '\x5a');
            copy_masked(out.data() + align, original.data(), length, key);
            ASSERT_EQ(std::string(out.data() + align, length), expected)
                << "length " << length << " align " << align;
            for (std::size_t i = 0; i < align; ++i)
                ASSERT_EQ(out[i], '\x5a');
            for (std::size_t i = align + length; i < out.size(); ++i)
                ASSERT_EQ(out[i], '\x5a');
        }
    }
}

TEST(Mask, CopyMaskedLeavesInputAlone) {
    const std::string original = pattern(1000);
    const std::string copy = original;
    std::string out(original.size(), '\0');
    copy_masked(out.data(), original.data(), original.size(), key);
    EXPECT_EQ(original, copy);
    EXPECT_EQ(out, naive_mask(original, key, 0));
}

TEST(Mask, SerializedMaskedFramesCarryThePayloadMaskedWithTheirKey) {
    // The writer masks through a bounded buffer: every size around its chunk boundaries,
    // appended after other output, must come out as the header plus the naive mask.
    const MaskKey frame_key = {0x37, 0xfa, 0x21, 0x3d};
    for (const std::size_t size : {0, 1, 3, 4, 5, 125, 4095, 4096, 4097, 8191, 8192, 8193,
                                   70000}) {
        const std::string payload = pattern(size, static_cast<unsigned>(size) + 7);
        std::string out = "earlier output";
        serialize_frame(out, Opcode::binary, true, 0, payload, frame_key);
        std::string expected = "earlier output";
        serialize_frame_header(expected, Opcode::binary, true, 0, size, frame_key);
        expected += naive_mask(payload, frame_key, 0);
        EXPECT_EQ(out, expected) << size << " bytes";
    }
}

} // namespace
} // namespace syncws::detail
