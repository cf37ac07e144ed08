// sha1: the FIPS 180 examples, every padding case against libcrypto's, and the RFC 6455
// accept key built on it.
#include "handshake.hpp"
#include "sha1.hpp"

#include <openssl/sha.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

namespace syncws::detail {
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0xf];
    }
    return out;
}

std::string sha1_hex(std::string_view data) {
    const Sha1Digest digest = sha1(data);
    return hex(digest.data(), digest.size());
}

TEST(Sha1, Fips180Examples) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, EveryLengthAroundTheBlockEdgesMatchesLibcrypto) {
    // 55/56 and 119/120 bytes are where the length stops fitting in the last block.
    std::string data;
    for (std::size_t n = 0; n <= 200; ++n) {
        unsigned char expected[SHA_DIGEST_LENGTH];
        SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected);
        EXPECT_EQ(sha1_hex(data), hex(expected, sizeof expected)) << n << " bytes";
        data += static_cast<char>(n * 37 + 11);
    }
}

TEST(Sha1, Rfc6455AcceptKey) {
    // RFC 6455 §1.3's example.
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

} // namespace
} // namespace syncws::detail
