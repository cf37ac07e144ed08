// Close frame bodies and close codes (RFC 6455 §5.5.1, §7.4).
#include <syncws/frame.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace syncws {
namespace {

std::string payload(std::uint16_t code, std::string_view reason = {}) {
    std::string out;
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xff));
    out.append(reason);
    return out;
}

// ----- the close code table ----------------------------------------------------------

TEST(Frame, CloseCodeTableForEveryCodeUpTo5000) {
    // RFC 6455 §7.4.1/§7.4.2 and the IANA registry: 1000–1003 and 1007–1014 are defined
    // codes that may be sent; 1004 is reserved, 1005/1006/1015 must never be sent;
    // 1016–2999 are reserved; 3000–4999 belong to libraries and applications.
    int valid = 0;
    for (int code = 0; code <= 5000; ++code) {
        const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                              (code >= 3000 && code <= 4999);
        EXPECT_EQ(is_valid_close_code(static_cast<std::uint16_t>(code)), expected)
            << "code " << code;
        valid += expected;
    }
    EXPECT_EQ(valid, 4 + 8 + 2000);
}

TEST(Frame, CloseCodesAbove5000AreInvalid) {
    for (int code = 5000; code <= 65535; ++code)
        EXPECT_FALSE(is_valid_close_code(static_cast<std::uint16_t>(code))) << "code " << code;
}

TEST(Frame, CloseCodeEnumMatchesTheRfcValues) {
    EXPECT_EQ(static_cast<int>(CloseCode::normal_closure), 1000);
    EXPECT_EQ(static_cast<int>(CloseCode::going_away), 1001);
    EXPECT_EQ(static_cast<int>(CloseCode::protocol_error), 1002);
    EXPECT_EQ(static_cast<int>(CloseCode::unsupported_data), 1003);
    EXPECT_EQ(static_cast<int>(CloseCode::no_status_received), 1005);
    EXPECT_EQ(static_cast<int>(CloseCode::abnormal_closure), 1006);
    EXPECT_EQ(static_cast<int>(CloseCode::invalid_payload), 1007);
    EXPECT_EQ(static_cast<int>(CloseCode::policy_violation), 1008);
    EXPECT_EQ(static_cast<int>(CloseCode::message_too_big), 1009);
    EXPECT_EQ(static_cast<int>(CloseCode::mandatory_extension), 1010);
    EXPECT_EQ(static_cast<int>(CloseCode::internal_error), 1011);
    EXPECT_EQ(static_cast<int>(CloseCode::service_restart), 1012);
    EXPECT_EQ(static_cast<int>(CloseCode::try_again_later), 1013);
    EXPECT_EQ(static_cast<int>(CloseCode::bad_gateway), 1014);
    EXPECT_EQ(static_cast<int>(CloseCode::tls_handshake), 1015);
}

TEST(Frame, IsControl) {
    EXPECT_FALSE(is_control(Opcode::continuation));
    EXPECT_FALSE(is_control(Opcode::text));
    EXPECT_FALSE(is_control(Opcode::binary));
    EXPECT_TRUE(is_control(Opcode::close));
    EXPECT_TRUE(is_control(Opcode::ping));
    EXPECT_TRUE(is_control(Opcode::pong));
}

// ----- close_code_name ----------------------------------------------------------------

TEST(Frame, CloseCodeNamesOfDefinedCodes) {
    EXPECT_EQ(close_code_name(1000), "normal closure");
    EXPECT_EQ(close_code_name(1001), "going away");
    EXPECT_EQ(close_code_name(1002), "protocol error");
    EXPECT_EQ(close_code_name(1003), "unsupported data");
    EXPECT_EQ(close_code_name(1005), "no status received [internal]");
    EXPECT_EQ(close_code_name(1006), "abnormal closure [internal]");
    EXPECT_EQ(close_code_name(1007), "invalid frame payload data");
    EXPECT_EQ(close_code_name(1008), "policy violation");
    EXPECT_EQ(close_code_name(1009), "message too big");
    EXPECT_EQ(close_code_name(1010), "mandatory extension");
    EXPECT_EQ(close_code_name(1011), "internal error");
    EXPECT_EQ(close_code_name(1012), "service restart");
    EXPECT_EQ(close_code_name(1013), "try again later");
    EXPECT_EQ(close_code_name(1014), "bad gateway");
    EXPECT_EQ(close_code_name(1015), "TLS handshake failure [internal]");
}

TEST(Frame, CloseCodeNamesOfRanges) {
    for (int code : {0, 999, 1004, 1016, 2000, 2999, 5000, 65535})
        EXPECT_EQ(close_code_name(static_cast<std::uint16_t>(code)), "unknown") << code;
    for (int code : {4000, 4321, 4999})
        EXPECT_EQ(close_code_name(static_cast<std::uint16_t>(code)), "private use") << code;
}

TEST(Frame, CloseCodeNameOfTheApplicationRange) {
    // RFC 6455 §7.4.2: 3000–3999 are "reserved for use by libraries, frameworks, and
    // applications".
    for (int code : {3000, 3500, 3999})
        EXPECT_EQ(close_code_name(static_cast<std::uint16_t>(code)), "application") << code;
}

// ----- Close::parse ---------------------------------------------------------------------

TEST(Frame, ParseEmptyPayloadIsNoStatus) {
    // RFC 6455 §7.1.5: a close frame without a status code means 1005.
    const auto close = Close::parse("");
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 1005);
    EXPECT_EQ(close->reason, "");
    EXPECT_EQ(*close, Close{});
}

TEST(Frame, ParseCodeOnly) {
    const auto close = Close::parse(std::string("\x03\xe8", 2));
    ASSERT_TRUE(close);
    EXPECT_EQ(*close, (Close{1000, ""}));
}

TEST(Frame, ParseCodeAndReason) {
    const auto close = Close::parse(std::string("\x0f\xa0goodbye", 9));
    ASSERT_TRUE(close);
    EXPECT_EQ(*close, (Close{4000, "goodbye"}));
}

TEST(Frame, ParseUtf8Reason) {
    const std::string reason = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80";
    const auto close = Close::parse(payload(1001, reason));
    ASSERT_TRUE(close);
    EXPECT_EQ(*close, (Close{1001, reason}));
}

TEST(Frame, ParseEveryCode) {
    for (int code = 0; code <= 65535; ++code) {
        const auto c = static_cast<std::uint16_t>(code);
        const auto close = Close::parse(payload(c, "r"));
        if (is_valid_close_code(c)) {
            ASSERT_TRUE(close) << code;
            EXPECT_EQ(*close, (Close{c, "r"}));
        } else {
            EXPECT_FALSE(close) << code;
        }
    }
}

TEST(Frame, ParseRejectsOneBytePayload) {
    // RFC 6455 §5.5.1: the body, if any, starts with a two-byte code.
    EXPECT_FALSE(Close::parse(std::string("\x03", 1)));
    EXPECT_FALSE(Close::parse(std::string("\0", 1)));
}

TEST(Frame, ParseRejectsInvalidUtf8Reason) {
    EXPECT_FALSE(Close::parse(payload(1000, "\xff")));
    EXPECT_FALSE(Close::parse(payload(1000, "ok\xc0\xaf")));       // overlong '/'
    EXPECT_FALSE(Close::parse(payload(1000, "\xed\xa0\x80")));     // surrogate
    EXPECT_FALSE(Close::parse(payload(1000, "\xf4\x90\x80\x80"))); // above U+10FFFF
    EXPECT_FALSE(Close::parse(payload(1000, "cut \xe2\x82")));     // truncated sequence
    EXPECT_TRUE(Close::parse(payload(1000, "\xe2\x82\xac")));      // the euro sign is fine
}

TEST(Frame, ParseAcceptsLongReason) {
    // Length limits belong to the frame, not to parse: 123 bytes of reason is the most a
    // control frame can carry.
    const std::string reason(123, 'x');
    const auto close = Close::parse(payload(1000, reason));
    ASSERT_TRUE(close);
    EXPECT_EQ(close->reason, reason);
}

// ----- Close::serialize -------------------------------------------------------------------

TEST(Frame, SerializeNoStatusIsEmpty) {
    EXPECT_EQ(Close{}.serialize(), "");
    EXPECT_EQ((Close{1005, ""}).serialize(), "");
}

TEST(Frame, SerializeNoStatusWithReasonThrows) {
    EXPECT_THROW((Close{1005, "why"}).serialize(), std::invalid_argument);
}

TEST(Frame, SerializeCodeAndReason) {
    EXPECT_EQ((Close{1000, ""}).serialize(), std::string("\x03\xe8", 2));
    EXPECT_EQ((Close{1001, "bye"}).serialize(), std::string("\x03\xe9"
                                                            "bye",
                                                            5));
    EXPECT_EQ((Close{4999, "x"}).serialize(), std::string("\x13\x87x", 3));
    EXPECT_EQ((Close{3000, ""}).serialize(), std::string("\x0b\xb8", 2));
}

TEST(Frame, SerializeEveryValidCodeRoundTrips) {
    for (int code = 0; code <= 65535; ++code) {
        const auto c = static_cast<std::uint16_t>(code);
        if (c == 1005) continue;
        const Close close{c, "reason"};
        if (is_valid_close_code(c)) {
            const std::string bytes = close.serialize();
            EXPECT_EQ(bytes, payload(c, "reason"));
            EXPECT_EQ(Close::parse(bytes), close);
        } else {
            EXPECT_THROW(close.serialize(), std::invalid_argument) << code;
        }
    }
}

TEST(Frame, SerializeReasonLimit) {
    // RFC 6455 §5.5: at most 125 bytes of payload, 2 of them the code.
    EXPECT_EQ((Close{1000, std::string(123, 'a')}).serialize().size(), 125u);
    EXPECT_THROW((Close{1000, std::string(124, 'a')}).serialize(), std::invalid_argument);
}

TEST(Frame, SerializeUnsendableCodesThrow) {
    for (int code : {0, 999, 1004, 1006, 1015, 1016, 2999, 5000, 65535})
        EXPECT_THROW((Close{static_cast<std::uint16_t>(code), ""}).serialize(),
                     std::invalid_argument)
            << code;
}

// ----- Close::to_string -----------------------------------------------------------------

TEST(Frame, ToString) {
    EXPECT_EQ((Close{1000, "bye"}).to_string(), "1000 (normal closure) bye");
    EXPECT_EQ((Close{1000, ""}).to_string(), "1000 (normal closure)");
    EXPECT_EQ(Close{}.to_string(), "1005 (no status received [internal])");
    EXPECT_EQ((Close{1011, "oops"}).to_string(), "1011 (internal error) oops");
    EXPECT_EQ((Close{4000, "custom"}).to_string(), "4000 (private use) custom");
    EXPECT_EQ((Close{1006, ""}).to_string(), "1006 (abnormal closure [internal])");
}

TEST(Frame, CloseEquality) {
    EXPECT_EQ((Close{1000, "a"}), (Close{1000, "a"}));
    EXPECT_NE((Close{1000, "a"}), (Close{1001, "a"}));
    EXPECT_NE((Close{1000, "a"}), (Close{1000, "b"}));
}

TEST(Frame, FrameEqualityLooksAtEveryField) {
    Frame base;
    base.payload = "x";
    Frame f = base;
    EXPECT_EQ(f, base);
    f.opcode = Opcode::binary;
    EXPECT_NE(f, base);
    f = base;
    f.fin = false;
    EXPECT_NE(f, base);
    f = base;
    f.rsv1 = true;
    EXPECT_NE(f, base);
    f = base;
    f.rsv2 = true;
    EXPECT_NE(f, base);
    f = base;
    f.rsv3 = true;
    EXPECT_NE(f, base);
    f = base;
    f.payload = "y";
    EXPECT_NE(f, base);
}

} // namespace
} // namespace syncws
