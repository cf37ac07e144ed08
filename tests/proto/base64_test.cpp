// base64_encode / base64_decode: RFC 4648 §10 vectors, the RFC 6455 key, strict decoding.
#include "base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace syncws::detail {
namespace {

// RFC 4648 §10 "Test Vectors".
const std::pair<const char*, const char*> rfc4648_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64, Rfc4648Vectors) {
    for (const auto& [plain, encoded] : rfc4648_vectors) {
        EXPECT_EQ(base64_encode(plain), encoded);
        EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
}

TEST(Base64, Rfc6455SampleKey) {
    // RFC 6455 §4.1/§1.3: the sample nonce and its key.
    EXPECT_EQ(base64_decode("dGhlIHNhbXBsZSBub25jZQ=="),
              std::optional<std::string>("the sample nonce"));
    EXPECT_EQ(base64_encode("the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    // §1.3: the accept value is base64 of a SHA-1 digest (20 bytes).
    const auto accept = base64_decode("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT_TRUE(accept.has_value());
    EXPECT_EQ(accept->size(), 20u);
    EXPECT_EQ(base64_encode(*accept), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Base64, WholeAlphabetAndEveryByte) {
    // "+" and "/" (not the URL-safe "-" and "_") and all 256 byte values round-trip.
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += static_cast<char>(b);
    for (std::size_t len = 0; len <= all.size(); ++len) {
        const std::string data = all.substr(all.size() - len);
        const std::string encoded = base64_encode(data);
        EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4);
        EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(data)) << encoded;
    }
    EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
    EXPECT_EQ(base64_decode("+/+/"), std::optional<std::string>("\xfb\xff\xbf"));
}

TEST(Base64, InvalidInputs) {
    const char* invalid[] = {
        "Zg",           // unpadded
        "Zg=",          // short padding
        "Zm9",          // length not a multiple of 4
        "Z",            // one character
        "====",         // only padding
        "Z===",         // a lone character cannot make a byte
        "=Zg=",         // padding first
        "Zg==Zg==",     // padding in the middle
        "Zm=v",         // '=' inside the last group
        "Zm9v\n",       // trailing newline
        "Zm9v YmFy",    // space
        " Zm9v",        // leading space
        "Zm9v\r\nYmFy", // line break
        "Zm9-",         // URL-safe alphabet
        "Zm9_",         // URL-safe alphabet
        "Zm9*",         // outside the alphabet
        "Zm9\x80",      // non-ASCII
    };
    for (const char* text : invalid)
        EXPECT_FALSE(base64_decode(text).has_value()) << '"' << text << '"';
    EXPECT_FALSE(base64_decode(std::string("Zm9\0", 4)).has_value());
}

TEST(Base64, NonZeroPadBitsAreAccepted) {
    // RFC 4648 §3.5 lets decoders reject these; like Python's b64decode(validate=True) we
    // do not, so a client whose key has stray pad bits still connects.
    EXPECT_EQ(base64_decode("Zh=="), std::optional<std::string>("f"));
    EXPECT_EQ(base64_decode("Zm9="), std::optional<std::string>("fo"));
}

} // namespace
} // namespace syncws::detail
