// Utf8Validator: the sequences of Markus Kuhn's UTF-8 decoder stress test and of
// Autobahn|Testsuite case 6 (RFC 3629 §4, RFC 6455 §8.1), each checked one-shot, byte by
// byte (fail-fast at the exact byte) and split at every offset.
#include "utf8.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace syncws::detail {
namespace {

// "ce ba e1" -> the bytes CE BA E1.
std::string from_hex(std::string_view hex) {
    std::string out;
    int nibbles = 0;
    unsigned value = 0;
    for (char c : hex) {
        if (c == ' ') continue;
        const unsigned digit = c <= '9' ? static_cast<unsigned>(c - '0')
                                        : static_cast<unsigned>((c | 0x20) - 'a' + 10);
        value = value << 4 | digit;
        if (++nibbles == 2) {
            out += static_cast<char>(value);
            nibbles = 0;
            value = 0;
        }
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        if (!out.empty()) out += ' ';
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

// UTF-8 encoding of any value below 2^21, surrogates included (to build invalid input).
std::string encode(std::uint32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | cp >> 18);
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

// ----- an independent reference: decode, then ask whether any completion is valid -----

struct Reference {
    std::optional<std::size_t> fail_at; ///< first byte after which no completion is valid
    bool complete = false;              ///< valid and ends on a code point boundary
};

// Written from RFC 3629 §3 directly, without byte classes: a sequence is its lead byte's
// length, continuation bytes 10xxxxxx, and a code point in [minimum for the length,
// U+10FFFF] outside U+D800–U+DFFF. After k of its bytes the code point lies in an interval;
// the prefix is still extendable iff that interval holds an allowed code point.
Reference reference_validate(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char lead = s[i];
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (lead < 0x80) {
            len = 1;
            cp = lead;
        } else if ((lead & 0xE0) == 0xC0) {
            len = 2;
            cp = lead & 0x1Fu;
        } else if ((lead & 0xF0) == 0xE0) {
            len = 3;
            cp = lead & 0x0Fu;
        } else if ((lead & 0xF8) == 0xF0) {
            len = 4;
            cp = lead & 0x07u;
        } else {
            return {i, false};
        }
        static constexpr std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
        for (std::size_t k = 1; k <= len; ++k) {
            if (k > 1) {
                if (i + k - 1 >= n) return {std::nullopt, false};
                const unsigned char b = s[i + k - 1];
                if ((b & 0xC0) != 0x80) return {i + k - 1, false};
                cp = cp << 6 | (b & 0x3Fu);
            }
            const unsigned rest_bits = 6 * static_cast<unsigned>(len - k);
            const std::uint32_t lo = std::max(cp << rest_bits, minimum[len]);
            const std::uint32_t hi =
                std::min(cp << rest_bits | ((1u << rest_bits) - 1), std::uint32_t{0x10FFFF});
            const bool all_surrogates = lo >= 0xD800 && hi <= 0xDFFF;
            if (lo > hi || all_surrogates) return {i + k - 1, false};
        }
        i += len;
    }
    return {std::nullopt, true};
}

// ----- the table --------------------------------------------------------------------------

enum class Outcome { valid, truncated, invalid };

struct Utf8Case {
    std::string name;
    std::string bytes;
    Outcome outcome;
    std::size_t fail_at; ///< for `invalid`: index of the byte at which feed() turns false
};

std::ostream& operator<<(std::ostream& os, const Utf8Case& c) {
    return os << c.name << " [" << to_hex(c.bytes) << "]";
}

Utf8Case valid(std::string name, std::string_view hex) {
    return {std::move(name), from_hex(hex), Outcome::valid, 0};
}
Utf8Case truncated(std::string name, std::string_view hex) {
    return {std::move(name), from_hex(hex), Outcome::truncated, 0};
}
Utf8Case invalid(std::string name, std::string_view hex, std::size_t fail_at) {
    return {std::move(name), from_hex(hex), Outcome::invalid, fail_at};
}

constexpr std::string_view kosme = "ce ba e1 bd b9 cf 83 ce bc ce b5"; // κόσμε, 11 bytes

std::vector<Utf8Case> literal_cases() {
    const std::string k(kosme);
    std::string ascii40;
    for (int i = 0; i < 40; ++i)
        ascii40 += " 61";
    return {
        // Autobahn 6.1, 6.2, 6.3, 6.4, 6.5, 6.6: text, and fail-fast inside it.
        valid("empty", ""),
        valid("hello_mu_utf8", "48 65 6c 6c 6f 2d c2 b5 40 c3 9f c3 b6 c3 a4 c3 bc c3 a0 c3 a1 "
                               "2d 55 54 46 2d 38 21 21"),
        valid("kosme", kosme),
        invalid("kosme_surrogate_edited", k + " ed a0 80 65 64 69 74 65 64", 12),
        invalid("kosme_above_10ffff_edited", k + " f4 90 80 80 65 64 69 74 65 64", 12),
        invalid("kosme_f5_edited", k + " f5 90 80 80 65 64 69 74 65 64", 11),
        truncated("kosme_prefix_1", "ce"),
        valid("kosme_prefix_2", "ce ba"),
        truncated("kosme_prefix_3", "ce ba e1"),
        truncated("kosme_prefix_4", "ce ba e1 bd"),
        valid("kosme_prefix_5", "ce ba e1 bd b9"),
        truncated("kosme_prefix_6", "ce ba e1 bd b9 cf"),
        truncated("kosme_prefix_10", "ce ba e1 bd b9 cf 83 ce bc ce"),

        // Kuhn 2.1 / Autobahn 6.7, 6.8: first code point of each length.
        valid("first_1_byte_u0000", "00"),
        valid("first_2_byte_u0080", "c2 80"),
        valid("first_3_byte_u0800", "e0 a0 80"),
        valid("first_4_byte_u10000", "f0 90 80 80"),
        invalid("first_5_byte_u200000", "f8 88 80 80 80", 0),
        invalid("first_6_byte_u4000000", "fc 84 80 80 80 80", 0),
        // Kuhn 2.2 / Autobahn 6.9, 6.10: last code point of each length.
        valid("last_1_byte_u007f", "7f"),
        valid("last_2_byte_u07ff", "df bf"),
        valid("last_3_byte_uffff", "ef bf bf"),
        invalid("last_4_byte_u1fffff", "f7 bf bf bf", 0),
        invalid("last_5_byte_u3ffffff", "fb bf bf bf bf", 0),
        invalid("last_6_byte_u7fffffff", "fd bf bf bf bf bf", 0),
        // Kuhn 2.3 / Autobahn 6.11: other boundaries.
        valid("u_d7ff", "ed 9f bf"),
        valid("u_e000", "ee 80 80"),
        valid("u_fffd", "ef bf bd"),
        valid("u_10ffff", "f4 8f bf bf"),
        invalid("u_110000", "f4 90 80 80", 1),
        invalid("u_13ffff", "f4 bf bf bf", 1),
        invalid("u_140000", "f5 80 80 80", 0),
        valid("all_boundaries",
              "00 7f c2 80 df bf e0 a0 80 ef bf bf f0 90 80 80 f4 8f bf bf ee 80 80 ef bf bd"),

        // Kuhn 3.1 / Autobahn 6.12: unexpected continuation bytes.
        invalid("continuation_80", "80", 0),
        invalid("continuation_bf", "bf", 0),
        invalid("continuation_80_bf", "80 bf", 0),
        invalid("continuation_80_bf_80", "80 bf 80", 0),
        invalid("continuation_80_bf_80_bf", "80 bf 80 bf", 0),
        invalid("continuation_80_bf_80_bf_80", "80 bf 80 bf 80", 0),
        invalid("continuation_80_bf_80_bf_80_bf", "80 bf 80 bf 80 bf", 0),
        invalid("continuation_80_bf_80_bf_80_bf_80", "80 bf 80 bf 80 bf 80", 0),
        invalid("ascii_then_continuation", "41 42 43 80", 3),
        invalid("two_byte_then_extra_continuation", "c2 80 80", 2),
        invalid("three_byte_then_extra_continuation", "e1 80 80 80", 3),
        invalid("four_byte_then_extra_continuation", "f1 80 80 80 80", 4),

        // Kuhn 3.2 / Autobahn 6.13: lonely start bytes followed by a space (all of them
        // one by one are generated below).
        invalid("lonely_2_byte_starts",
                "c0 20 c1 20 c2 20 c3 20 c4 20 c5 20 c6 20 c7 20 c8 20 c9 20 ca 20 cb 20 cc 20 "
                "cd 20 ce 20 cf 20 d0 20 d1 20 d2 20 d3 20 d4 20 d5 20 d6 20 d7 20 d8 20 d9 20 "
                "da 20 db 20 dc 20 dd 20 de 20 df 20",
                0),
        invalid("lonely_3_byte_starts",
                "e0 20 e1 20 e2 20 e3 20 e4 20 e5 20 e6 20 e7 20 e8 20 e9 20 ea 20 eb 20 ec 20 "
                "ed 20 ee 20 ef 20",
                1),
        invalid("lonely_4_byte_starts", "f0 20 f1 20 f2 20 f3 20 f4 20 f5 20 f6 20 f7 20", 1),
        invalid("lonely_5_byte_starts", "f8 20 f9 20 fa 20 fb 20", 0),
        invalid("lonely_6_byte_starts", "fc 20 fd 20", 0),

        // Kuhn 3.3 / Autobahn 6.14: sequences with the last byte missing. Those that are
        // already impossible fail at once; the others are only incomplete.
        invalid("missing_last_2_byte_u0000", "c0", 0),
        invalid("missing_last_3_byte_u0000", "e0 80", 1),
        invalid("missing_last_4_byte_u0000", "f0 80 80", 1),
        invalid("missing_last_5_byte_u0000", "f8 80 80 80", 0),
        invalid("missing_last_6_byte_u0000", "fc 80 80 80 80", 0),
        truncated("missing_last_2_byte_u07ff", "df"),
        truncated("missing_last_3_byte_uffff", "ef bf"),
        invalid("missing_last_4_byte_u1fffff", "f7 bf bf", 0),
        invalid("missing_last_5_byte_u3ffffff", "fb bf bf bf", 0),
        invalid("missing_last_6_byte_u7fffffff", "fd bf bf bf bf", 0),
        truncated("missing_last_2_byte_u0080", "c2"),
        truncated("missing_last_3_byte_u0800", "e0 a0"),
        truncated("missing_last_3_byte_ud7ff", "ed 9f"),
        truncated("missing_last_4_byte_u10000", "f0 90 80"),
        truncated("missing_last_4_byte_u10ffff", "f4 8f bf"),
        truncated("missing_two_4_byte_u40000", "f1 80"),
        truncated("missing_three_4_byte_u100000", "f4"),
        truncated("ascii_then_missing_last",
                  "41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50 e2 82"),
        // Kuhn 3.4 / Autobahn 6.15: their concatenation.
        invalid("missing_last_concatenated",
                "c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf "
                "bf bf bf",
                0),
        invalid("missing_last_concatenated_valid_starts", "df ef bf", 1),

        // Kuhn 3.5 / Autobahn 6.16: bytes that never appear in UTF-8.
        invalid("impossible_fe", "fe", 0),
        invalid("impossible_ff", "ff", 0),
        invalid("impossible_fe_fe_ff_ff", "fe fe ff ff", 0),
        invalid("ascii_then_impossible_fe", "41 fe", 1),

        // Kuhn 4.1 / Autobahn 6.17: overlong '/'.
        invalid("overlong_slash_2", "c0 af", 0),
        invalid("overlong_slash_3", "e0 80 af", 1),
        invalid("overlong_slash_4", "f0 80 80 af", 1),
        invalid("overlong_slash_5", "f8 80 80 80 af", 0),
        invalid("overlong_slash_6", "fc 80 80 80 80 af", 0),
        // Kuhn 4.2 / Autobahn 6.18: the largest overlong form of each length.
        invalid("max_overlong_2_u007f", "c1 bf", 0),
        invalid("max_overlong_3_u07ff", "e0 9f bf", 1),
        invalid("max_overlong_4_uffff", "f0 8f bf bf", 1),
        invalid("max_overlong_5_u1fffff", "f8 87 bf bf bf", 0),
        invalid("max_overlong_6_u3ffffff", "fc 83 bf bf bf bf", 0),
        // Kuhn 4.3 / Autobahn 6.19: overlong NUL.
        invalid("overlong_nul_2", "c0 80", 0),
        invalid("overlong_nul_3", "e0 80 80", 1),
        invalid("overlong_nul_4", "f0 80 80 80", 1),
        invalid("overlong_nul_5", "f8 80 80 80 80", 0),
        invalid("overlong_nul_6", "fc 80 80 80 80 80", 0),

        // Kuhn 5.1 / Autobahn 6.20: single UTF-16 surrogates.
        invalid("surrogate_ud800", "ed a0 80", 1),
        invalid("surrogate_udb7f", "ed ad bf", 1),
        invalid("surrogate_udb80", "ed ae 80", 1),
        invalid("surrogate_udbff", "ed af bf", 1),
        invalid("surrogate_udc00", "ed b0 80", 1),
        invalid("surrogate_udf80", "ed be 80", 1),
        invalid("surrogate_udfff", "ed bf bf", 1),
        invalid("ascii_then_surrogate", "61 62 ed a0 80", 3),
        // Kuhn 5.2 / Autobahn 6.21: paired surrogates (CESU-8 style).
        invalid("paired_ud800_udc00", "ed a0 80 ed b0 80", 1),
        invalid("paired_ud800_udfff", "ed a0 80 ed bf bf", 1),
        invalid("paired_udb7f_udc00", "ed ad bf ed b0 80", 1),
        invalid("paired_udb7f_udfff", "ed ad bf ed bf bf", 1),
        invalid("paired_udb80_udc00", "ed ae 80 ed b0 80", 1),
        invalid("paired_udb80_udfff", "ed ae 80 ed bf bf", 1),
        invalid("paired_udbff_udc00", "ed af bf ed b0 80", 1),
        invalid("paired_udbff_udfff", "ed af bf ed bf bf", 1),
        // Kuhn 5.3 / Autobahn 6.22: noncharacters are valid UTF-8.
        valid("nonchar_ufffe", "ef bf be"),
        valid("nonchar_uffff", "ef bf bf"),
        valid("nonchar_ufdd0", "ef b7 90"),
        valid("nonchar_ufdef", "ef b7 af"),
        valid("nonchar_u1fffe_u1ffff", "f0 9f bf be f0 9f bf bf"),
        valid("nonchar_u10fffe_u10ffff", "f4 8f bf be f4 8f bf bf"),
        // Autobahn 6.23: U+FFFD and friends.
        valid("replacement_character", "ef bf bd"),
        valid("replacement_characters", "ef bf bd ef bf bd ef bf bd"),

        // The second-byte rules one by one, at both ends of each range.
        invalid("e0_9f", "e0 9f 80", 1),
        valid("e0_a0", "e0 a0 80"),
        valid("ed_9f", "ed 9f 80"),
        invalid("ed_a0", "ed a0 80", 1),
        invalid("f0_8f", "f0 8f 80 80", 1),
        valid("f0_90", "f0 90 80 80"),
        valid("f4_8f", "f4 8f 80 80"),
        invalid("f4_90", "f4 90 80 80", 1),
        invalid("e1_ascii", "e1 41 80", 1),
        invalid("e1_80_ascii", "e1 80 41", 2),
        invalid("f1_80_80_ascii", "f1 80 80 41", 3),
        invalid("f1_80_80_c2", "f1 80 80 c2", 3),
        invalid("c2_c2", "c2 c2 80", 1),
        // A sequence cut short by a long ASCII run: the ASCII fast path must not skip it.
        invalid("e2_then_ascii_run", "e2" + ascii40, 1),
        invalid("e2_82_then_ascii_run", "e2 82" + ascii40, 2),
        invalid("f0_9f_98_then_ascii_run", "f0 9f 98" + ascii40, 3),
        invalid("ascii_run_c3_ascii_run", ascii40 + " c3" + ascii40, 41),

        // Typical text: European, CJK, emoji.
        valid("mixed_text", "48 c3 a9 6c 6c c3 b6 20 e4 b8 96 e7 95 8c 20 f0 9f 98 80 21"),
    };
}

// Every lead byte alone and followed by a space: the space makes every lead fail, at 0 for
// bytes that can never start a sequence and at 1 for the others.
std::vector<Utf8Case> generated_cases() {
    std::vector<Utf8Case> cases;
    for (unsigned b = 0x80; b <= 0xFF; ++b) {
        const bool never_leads = b < 0xC2 || b > 0xF4;
        const std::string hex = to_hex(std::string(1, static_cast<char>(b)));
        const std::string name = "byte_" + hex.substr(0, 2);
        if (never_leads) {
            cases.push_back(invalid(name + "_alone", hex, 0));
        } else {
            cases.push_back(truncated(name + "_alone", hex));
        }
        cases.push_back(invalid(name + "_space", hex + " 20", never_leads ? 0 : 1));
    }
    return cases;
}

std::vector<Utf8Case> all_cases() {
    auto cases = literal_cases();
    for (auto& c : generated_cases())
        cases.push_back(std::move(c));
    return cases;
}

// ----- checks --------------------------------------------------------------------------------

class Utf8Sequences : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Sequences, ReferenceAgreesWithTable) {
    // Guards the table itself against typos, with an independent decoder.
    const auto& c = GetParam();
    const Reference ref = reference_validate(c.bytes);
    if (c.outcome == Outcome::invalid) {
        ASSERT_TRUE(ref.fail_at.has_value());
        EXPECT_EQ(*ref.fail_at, c.fail_at);
    } else {
        EXPECT_FALSE(ref.fail_at.has_value());
        EXPECT_EQ(ref.complete, c.outcome == Outcome::valid);
    }
}

TEST_P(Utf8Sequences, OneShot) {
    const auto& c = GetParam();
    Utf8Validator v;
    EXPECT_EQ(v.feed(c.bytes), c.outcome != Outcome::invalid);
    EXPECT_EQ(v.complete(), c.outcome == Outcome::valid);
    EXPECT_EQ(v.failed(), c.outcome == Outcome::invalid);
    EXPECT_EQ(is_valid_utf8(c.bytes), c.outcome == Outcome::valid);
}

TEST_P(Utf8Sequences, ByteByByteFailsAtTheFirstImpossibleByte) {
    const auto& c = GetParam();
    Utf8Validator v;
    std::optional<std::size_t> first_false;
    for (std::size_t i = 0; i < c.bytes.size(); ++i) {
        const bool ok = v.feed(c.bytes.data() + i, 1);
        if (!ok && !first_false) first_false = i;
        // Once failed, it stays failed.
        if (first_false) {
            EXPECT_FALSE(ok) << "at byte " << i;
        }
    }
    if (c.outcome == Outcome::invalid) {
        ASSERT_TRUE(first_false.has_value());
        EXPECT_EQ(*first_false, c.fail_at);
        EXPECT_TRUE(v.failed());
    } else {
        EXPECT_FALSE(first_false.has_value()) << "failed at byte " << *first_false;
        EXPECT_EQ(v.complete(), c.outcome == Outcome::valid);
    }
    EXPECT_TRUE(v.feed("", 0) == (c.outcome != Outcome::invalid));
}

// The validator on `prefix + bytes + (nothing)`, split in two at every offset.
void check_split_everywhere(const Utf8Case& c, const std::string& prefix) {
    const std::string input = prefix + c.bytes;
    for (std::size_t k = 0; k <= input.size(); ++k) {
        SCOPED_TRACE("split at " + std::to_string(k));
        Utf8Validator v;
        const bool first = v.feed(std::string_view(input).substr(0, k));
        const bool second = v.feed(std::string_view(input).substr(k));
        if (c.outcome == Outcome::invalid) {
            // The first call fails exactly when it holds the impossible byte.
            EXPECT_EQ(first, k <= prefix.size() + c.fail_at);
            EXPECT_FALSE(second);
            EXPECT_TRUE(v.failed());
        } else {
            EXPECT_TRUE(first);
            EXPECT_TRUE(second);
            EXPECT_EQ(v.complete(), c.outcome == Outcome::valid);
        }
    }
}

TEST_P(Utf8Sequences, SplitAtEveryOffset) {
    check_split_everywhere(GetParam(), "");
}

TEST_P(Utf8Sequences, SplitAtEveryOffsetAfterAsciiAndText) {
    // Long enough for the 32- and 16-byte paths, and with multi-byte text before the case,
    // so the case lands at different places within a block.
    for (std::size_t ascii = 0; ascii < 40; ascii += 13) {
        const std::string prefix = std::string(ascii, 'a') +
                                   from_hex("c3 a9 e4 b8 96 f0 9f 98 80") + std::string(ascii, 'b');
        check_split_everywhere(GetParam(), prefix);
    }
}

std::string case_name(const ::testing::TestParamInfo<Utf8Case>& info) {
    return std::to_string(info.index) + "_" + info.param.name;
}

INSTANTIATE_TEST_SUITE_P(KuhnAndAutobahn, Utf8Sequences, ::testing::ValuesIn(all_cases()),
                         case_name);

// ----- exhaustive and bulk checks against the reference -----------------------------------

void expect_matches_reference(std::string_view bytes) {
    const Reference ref = reference_validate(bytes);
    Utf8Validator v;
    const bool ok = v.feed(bytes);
    ASSERT_EQ(ok, !ref.fail_at.has_value()) << to_hex(bytes);
    ASSERT_EQ(v.complete(), ref.complete) << to_hex(bytes);
    if (ref.fail_at) {
        // Fail-fast: the bytes before the impossible one are accepted.
        Utf8Validator before;
        ASSERT_TRUE(before.feed(bytes.substr(0, *ref.fail_at))) << to_hex(bytes);
        ASSERT_FALSE(before.feed(bytes.substr(*ref.fail_at, 1))) << to_hex(bytes);
    }
}

TEST(Utf8Exhaustive, EveryStringOfUpToThreeBytes) {
    std::string s;
    for (unsigned a = 0; a < 256; ++a) {
        s.assign(1, static_cast<char>(a));
        expect_matches_reference(s);
        for (unsigned b = 0; b < 256; ++b) {
            s.assign({static_cast<char>(a), static_cast<char>(b)});
            expect_matches_reference(s);
            // Three bytes: the third only matters after a lead byte.
            if (a < 0xC0) continue;
            for (unsigned c = 0; c < 256; ++c) {
                s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
                expect_matches_reference(s);
            }
        }
    }
}

TEST(Utf8Exhaustive, FourBytesOverRepresentativeBytes) {
    // Both ends of every byte class, so every DFA transition is taken in every position.
    const unsigned char picks[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                   0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                   0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF};
    std::string s(4, '\0');
    for (unsigned char a : picks)
        for (unsigned char b : picks)
            for (unsigned char c : picks)
                for (unsigned char d : picks) {
                    s[0] = static_cast<char>(a);
                    s[1] = static_cast<char>(b);
                    s[2] = static_cast<char>(c);
                    s[3] = static_cast<char>(d);
                    expect_matches_reference(s);
                }
}

TEST(Utf8Exhaustive, EveryCodePointIsValidAndEverySurrogateIsNot) {
    std::string all;
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            const std::string s = encode(cp);
            Utf8Validator v;
            EXPECT_TRUE(v.feed(s.data(), 1));
            EXPECT_FALSE(v.feed(s.data() + 1, 1)) << std::hex << cp;
            continue;
        }
        all += encode(cp);
    }
    EXPECT_TRUE(is_valid_utf8(all));
    // And overlong encodings of every code point below each length's minimum.
    for (std::uint32_t cp = 0; cp < 0x10000; ++cp) {
        std::string overlong;
        if (cp < 0x80) {
            overlong += static_cast<char>(0xC0 | cp >> 6);
            overlong += static_cast<char>(0x80 | (cp & 0x3F));
            EXPECT_FALSE(is_valid_utf8(overlong)) << std::hex << cp;
        }
        if (cp < 0x800) {
            overlong.assign({static_cast<char>(0xE0), static_cast<char>(0x80 | cp >> 6),
                             static_cast<char>(0x80 | (cp & 0x3F))});
            EXPECT_FALSE(is_valid_utf8(overlong)) << std::hex << cp;
        }
        overlong.assign({static_cast<char>(0xF0), static_cast<char>(0x80 | cp >> 12),
                         static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                         static_cast<char>(0x80 | (cp & 0x3F))});
        EXPECT_FALSE(is_valid_utf8(overlong)) << std::hex << cp;
    }
}

TEST(Utf8Random, ChunkedFeedingMatchesOneShot) {
    // Random mixes of valid code points with an occasional bad byte, fed in random chunks.
    std::mt19937 rng(12345);
    const std::uint32_t samples[] = {0x41,   0x7F,   0xE9,    0x7FF,   0x800,   0x4E16,
                                     0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
    for (int round = 0; round < 2000; ++round) {
        std::string text;
        const int count = static_cast<int>(rng() % 80);
        for (int i = 0; i < count; ++i) {
            const unsigned pick = rng() % 16;
            if (pick < 11) {
                text += encode(samples[pick]);
            } else if (pick < 15) {
                text.append(rng() % 20, 'x');
            } else if (rng() % 4 == 0) {
                // A stray byte of the upper half: continuation, lead or never valid.
                text += static_cast<char>(0x80 | rng() % 0x80);
            }
        }
        if (rng() % 3 == 0 && !text.empty()) text.pop_back(); // maybe cut a code point
        const Reference ref = reference_validate(text);
        Utf8Validator v;
        std::size_t pos = 0;
        std::optional<std::size_t> failed_in_chunk_ending_at;
        while (pos < text.size()) {
            const std::size_t n = std::min<std::size_t>(rng() % 40, text.size() - pos);
            const bool ok = v.feed(text.data() + pos, n);
            pos += n;
            if (!ok && !failed_in_chunk_ending_at) failed_in_chunk_ending_at = pos;
            if (ok && ref.fail_at) {
                ASSERT_LE(pos, *ref.fail_at) << to_hex(text);
            }
        }
        ASSERT_EQ(v.failed(), ref.fail_at.has_value()) << to_hex(text);
        ASSERT_EQ(v.complete(), ref.complete) << to_hex(text);
        if (ref.fail_at) {
            ASSERT_GT(*failed_in_chunk_ending_at, *ref.fail_at);
        }
    }
}

// ----- long inputs: the 16-byte SIMD blocks and the DFA at their edges ------------------

// Multi-byte text of every length class, `n` code points, deterministic.
std::string long_text(std::size_t n, unsigned seed) {
    const std::uint32_t samples[] = {0x41,  0xE9,   0x7FF,   0x800,   0x4E16,  0xD7FF,
                                     0xE000, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF};
    std::mt19937 rng(seed);
    std::string text;
    for (std::size_t i = 0; i < n; ++i)
        text += encode(samples[rng() % std::size(samples)]);
    return text;
}

TEST(Utf8Long, EveryOneByteCorruptionOfLongTextMatchesTheReference) {
    const std::string text = long_text(120, 1); // about 300 bytes: many blocks
    ASSERT_TRUE(is_valid_utf8(text));
    const unsigned char bad[] = {0x41, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xF8, 0xFF};
    for (std::size_t i = 0; i < text.size(); ++i) {
        for (const unsigned char b : bad) {
            std::string s = text;
            s[i] = static_cast<char>(b);
            expect_matches_reference(s);
        }
    }
}

TEST(Utf8Long, EveryCaseAtEveryPlaceOfABlock) {
    // Each Kuhn and Autobahn sequence inside long text, at each of the 16 offsets of a block
    // and across the boundary of two.
    const std::string before = long_text(20, 2);
    const std::string after = long_text(30, 3);
    for (const auto& c : all_cases()) {
        for (std::size_t pad = 0; pad < 20; ++pad)
            expect_matches_reference(before + std::string(pad, 'p') + c.bytes + after);
    }
}

TEST(Utf8Long, EveryPrefixOfLongText) {
    // Cut anywhere, a valid text is a valid but possibly incomplete prefix.
    const std::string text = long_text(150, 4);
    for (std::size_t n = 0; n <= text.size(); ++n)
        expect_matches_reference(std::string_view(text).substr(0, n));
}

TEST(Utf8Long, RandomLongTextInRandomChunksMatchesTheReference) {
    std::mt19937 rng(777);
    for (int round = 0; round < 500; ++round) {
        std::string text = long_text(rng() % 300, static_cast<unsigned>(round));
        if (rng() % 2 == 0 && !text.empty()) // a stray byte of the upper half somewhere
            text[rng() % text.size()] = static_cast<char>(0x80 | rng() % 0x80);
        const Reference ref = reference_validate(text);
        Utf8Validator v;
        std::size_t pos = 0;
        while (pos < text.size()) {
            const std::size_t n = std::min<std::size_t>(rng() % 200, text.size() - pos);
            const bool ok = v.feed(text.data() + pos, n);
            pos += n;
            // Fail-fast at the piece's granularity: no piece past the bad byte is accepted.
            if (ok && ref.fail_at) {
                ASSERT_LE(pos, *ref.fail_at) << to_hex(text);
            }
            if (!ok) {
                ASSERT_TRUE(ref.fail_at) << to_hex(text);
            }
        }
        ASSERT_EQ(v.failed(), ref.fail_at.has_value()) << to_hex(text);
        ASSERT_EQ(v.complete(), ref.complete) << to_hex(text);
    }
}

TEST(Utf8Validator, ResetAfterFailure) {
    Utf8Validator v;
    EXPECT_FALSE(v.feed(from_hex("c0 af")));
    EXPECT_TRUE(v.failed());
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(v.feed("abc"));
    v.reset();
    EXPECT_FALSE(v.failed());
    EXPECT_TRUE(v.complete());
    EXPECT_TRUE(v.feed("abc"));
    EXPECT_TRUE(v.complete());
}

TEST(Utf8Validator, ResetMidSequence) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(from_hex("e2 82")));
    EXPECT_FALSE(v.complete());
    v.reset();
    EXPECT_TRUE(v.complete());
    // The pending sequence is forgotten: a continuation byte is now unexpected.
    EXPECT_FALSE(v.feed(from_hex("ac")));
}

TEST(Utf8Validator, LongAsciiWithOneBadByteAnywhere) {
    const std::string ascii(200, 'a');
    for (std::size_t i = 0; i < ascii.size(); ++i) {
        std::string s = ascii;
        s[i] = static_cast<char>(0xFF);
        EXPECT_FALSE(is_valid_utf8(s)) << i;
        Utf8Validator v;
        EXPECT_TRUE(v.feed(s.data(), i));
        EXPECT_FALSE(v.feed(s.data() + i, s.size() - i));
    }
    EXPECT_TRUE(is_valid_utf8(ascii));
}

} // namespace
} // namespace syncws::detail
