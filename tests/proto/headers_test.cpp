// Grammars of handshake header values: tokens and token lists (RFC 9110 §5.6) and the
// Sec-WebSocket-Extensions header (RFC 6455 §9.1).
#include "headers.hpp"

#include <syncws/errors.hpp>
#include <syncws/extension.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace syncws {
namespace {

using detail::iequals;
using detail::is_tchar;
using detail::is_token;
using detail::parse_token_list;
using detail::trim_ows;
using Tokens = std::vector<std::string>;

// ---------------------------------------------------------------------------------------
// RFC 9110 §5.6

TEST(Headers_RFC9110_5_6, Tchar) {
    const std::string tchars = "!#$%&'*+-.^_`|~0123456789"
                               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int count = 0;
    for (int c = 0; c < 256; ++c) {
        const bool expected = tchars.find(static_cast<char>(c)) != std::string::npos;
        EXPECT_EQ(is_tchar(static_cast<char>(c)), expected) << c;
        count += is_tchar(static_cast<char>(c)) ? 1 : 0;
    }
    EXPECT_EQ(count, 77);
}

TEST(Headers_RFC9110_5_6, Token) {
    EXPECT_TRUE(is_token("websocket"));
    EXPECT_TRUE(is_token("permessage-deflate"));
    EXPECT_TRUE(is_token("x!#$%&'*+-.^_`|~9"));
    EXPECT_FALSE(is_token(""));
    EXPECT_FALSE(is_token("a b"));
    EXPECT_FALSE(is_token("a,b"));
    EXPECT_FALSE(is_token("a=b"));
    EXPECT_FALSE(is_token("\"a\""));
    EXPECT_FALSE(is_token("a/b"));
    EXPECT_FALSE(is_token("caf\xc3\xa9"));
    EXPECT_FALSE(is_token(std::string("a\0", 2)));
}

TEST(Headers_RFC9110_5_6, Iequals) {
    EXPECT_TRUE(iequals("", ""));
    EXPECT_TRUE(iequals("Upgrade", "uPGRADE"));
    EXPECT_TRUE(iequals("Sec-WebSocket-Key", "sec-websocket-key"));
    EXPECT_FALSE(iequals("Upgrade", "Upgrade "));
    EXPECT_FALSE(iequals("a", "b"));
    // ASCII only: '@' and '`' are not the case variants of anything.
    EXPECT_FALSE(iequals("@", "`"));
    EXPECT_FALSE(iequals("[", "{"));
    EXPECT_FALSE(iequals("\xc3\xa9", "\xc3\x89"));
}

TEST(Headers_RFC9110_5_6, TrimOws) {
    EXPECT_EQ(trim_ows(""), "");
    EXPECT_EQ(trim_ows(" \t "), "");
    EXPECT_EQ(trim_ows(" \ta b\t "), "a b");
    EXPECT_EQ(trim_ows("a"), "a");
    // Only SP and HTAB are OWS.
    EXPECT_EQ(trim_ows("\r\na\n"), "\r\na\n");
    EXPECT_EQ(trim_ows("\va"), "\va");
}

TEST(Headers_RFC9110_5_6, TokenList) {
    EXPECT_EQ(parse_token_list("Upgrade"), Tokens({"Upgrade"}));
    EXPECT_EQ(parse_token_list("keep-alive, Upgrade"), Tokens({"keep-alive", "Upgrade"}));
    EXPECT_EQ(parse_token_list("a ,b\t,\tc"), Tokens({"a", "b", "c"}));
    EXPECT_EQ(parse_token_list("chat, superchat"), Tokens({"chat", "superchat"}));
    // RFC 9110 §5.6.1: empty elements are accepted and skipped.
    EXPECT_EQ(parse_token_list(", ,a,,b , "), Tokens({"a", "b"}));
    EXPECT_EQ(parse_token_list(""), Tokens{});
    EXPECT_EQ(parse_token_list(" , "), Tokens{});
}

TEST(Headers_RFC9110_5_6, TokenListRejectsNonTokens) {
    for (const char* value :
         {"a b", "a, b c", "websocket/13", "\"chat\"", "a;b", "a=b", "caf\xc3\xa9", "a,\x01"}) {
        EXPECT_EQ(parse_token_list(value), std::nullopt) << value;
    }
}

// ---------------------------------------------------------------------------------------
// RFC 6455 §9.1: Sec-WebSocket-Extensions

ExtensionOffer offer(std::string name, ExtensionParameters parameters = {}) {
    return ExtensionOffer{std::move(name), std::move(parameters)};
}

ExtensionParameter param(std::string name) {
    return ExtensionParameter{std::move(name), {}};
}

ExtensionParameter param(std::string name, std::string value) {
    return ExtensionParameter{std::move(name), std::move(value)};
}

using Offers = std::vector<ExtensionOffer>;

TEST(Extensions_RFC6455_9_1, ParsesNamesAndParameters) {
    EXPECT_EQ(parse_extension_header("permessage-deflate"), Offers({offer("permessage-deflate")}));
    EXPECT_EQ(parse_extension_header("foo, bar; baz=2"),
              Offers({offer("foo"), offer("bar", {param("baz", "2")})}));
    EXPECT_EQ(parse_extension_header("permessage-deflate; client_max_window_bits; "
                                     "server_max_window_bits=10"),
              Offers({offer("permessage-deflate", {param("client_max_window_bits"),
                                                   param("server_max_window_bits", "10")})}));
}

TEST(Extensions_RFC6455_9_1, QuotedValuesAreUnquoted) {
    // RFC 7692 §7.1 example of two offers, the second with a quoted value.
    EXPECT_EQ(parse_extension_header("permessage-deflate; client_max_window_bits, "
                                     "permessage-deflate; server_max_window_bits=\"10\""),
              Offers({offer("permessage-deflate", {param("client_max_window_bits")}),
                      offer("permessage-deflate", {param("server_max_window_bits", "10")})}));
    // quoted-pair escapes are removed.
    EXPECT_EQ(parse_extension_header(R"(x; a="\1\0"; b="a\-b")"),
              Offers({offer("x", {param("a", "10"), param("b", "a-b")})}));
}

TEST(Extensions_RFC6455_9_1, WhitespaceAroundSeparators) {
    EXPECT_EQ(parse_extension_header(" \tfoo ;\tbar = 1 ; baz= \"2\" ,qux ; quux\t"),
              Offers({offer("foo", {param("bar", "1"), param("baz", "2")}),
                      offer("qux", {param("quux")})}));
}

TEST(Extensions_RFC6455_9_1, EmptyElementsAreSkipped) {
    EXPECT_EQ(parse_extension_header(", foo ,, bar ,"), Offers({offer("foo"), offer("bar")}));
    EXPECT_EQ(parse_extension_header(""), Offers{});
    EXPECT_EQ(parse_extension_header(" , ,"), Offers{});
}

TEST(Extensions_RFC6455_9_1, NamesKeepTheirCase) {
    EXPECT_EQ(parse_extension_header("Foo; Bar=Baz"),
              Offers({offer("Foo", {param("Bar", "Baz")})}));
}

void expect_invalid(std::string_view value, const std::string& why) {
    try {
        parse_extension_header(value);
        ADD_FAILURE() << "no exception for " << value;
    } catch (const InvalidHeader& e) {
        EXPECT_EQ(e.name(), "Sec-WebSocket-Extensions");
        EXPECT_EQ(std::string(e.what()), "Sec-WebSocket-Extensions header: " + why) << value;
    }
}

TEST(Extensions_RFC6455_9_1, MalformedValuesThrowInvalidHeader) {
    expect_invalid(";", "expected an extension name at offset 0 in \";\"");
    expect_invalid("foo bar", "expected ',' or ';' at offset 4 in \"foo bar\"");
    expect_invalid("foo;", "expected a parameter name at offset 4 in \"foo;\"");
    expect_invalid("foo; ;", "expected a parameter name at offset 5 in \"foo; ;\"");
    expect_invalid("foo; a=", "expected a parameter value at offset 7 in \"foo; a=\"");
    expect_invalid("foo; a=,", "expected a parameter value at offset 7 in \"foo; a=,\"");
    expect_invalid("foo; a==1", "expected a parameter value at offset 7 in \"foo; a==1\"");
    expect_invalid("foo; a=1 2", "expected ',' or ';' at offset 9 in \"foo; a=1 2\"");
    expect_invalid("foo; a b", "expected ',' or ';' at offset 7 in \"foo; a b\"");
    expect_invalid("foo; a=\"1", "unterminated quoted string at offset 7 in \"foo; a=\"1\"");
    expect_invalid("foo; a=\"1\\", "unterminated quoted string at offset 7 in \"foo; a=\"1\\\"");
    expect_invalid("foo; a=\"1\"x", "expected ',' or ';' at offset 10 in \"foo; a=\"1\"x\"");
    // RFC 6455 §9.1: the unescaped value MUST be a token.
    expect_invalid("foo; a=\"1 0\"",
                   "quoted parameter value is not a token at offset 12 in \"foo; a=\"1 0\"\"");
    expect_invalid("foo; a=\"\"", "quoted parameter value is not a token at offset 9 in "
                                  "\"foo; a=\"\"\"");
    expect_invalid("foo; a=\"a,b\"",
                   "quoted parameter value is not a token at offset 12 in \"foo; a=\"a,b\"\"");
    expect_invalid("foo; a=\"\x01\"",
                   "control character in quoted string at offset 8 in \"foo; a=\"\x01\"\"");
    expect_invalid("f\xc3\xa9", "expected ',' or ';' at offset 1 in \"f\xc3\xa9\"");
    expect_invalid("\"foo\"", "expected an extension name at offset 0 in \"\"foo\"\"");
    expect_invalid("foo, =1", "expected an extension name at offset 5 in \"foo, =1\"");
}

TEST(Extensions_RFC6455_9_1, Serialize) {
    EXPECT_EQ(serialize_extension_header({}), "");
    EXPECT_EQ(serialize_extension_header({offer("permessage-deflate")}), "permessage-deflate");
    EXPECT_EQ(serialize_extension_header(
                  {offer("permessage-deflate", {param("client_max_window_bits")}),
                   offer("permessage-deflate", {param("server_max_window_bits", "10"),
                                                param("server_no_context_takeover")})}),
              "permessage-deflate; client_max_window_bits, "
              "permessage-deflate; server_max_window_bits=10; server_no_context_takeover");
}

TEST(Extensions_RFC6455_9_1, SerializeRoundTrips) {
    const Offers offers = {offer("a", {param("b"), param("c", "1")}), offer("d"),
                           offer("e", {param("f", "x-y")})};
    EXPECT_EQ(parse_extension_header(serialize_extension_header(offers)), offers);
}

TEST(Extensions_RFC6455_9_1, SerializeRejectsNonTokens) {
    // Non-token values cannot be sent (RFC 6455 §9.1), and CR/LF would inject headers.
    const Offers bad[] = {
        {offer("")},
        {offer("a b")},
        {offer("a\r\nX-Injected: 1")},
        {offer("a", {param("")})},
        {offer("a", {param("b c")})},
        {offer("a", {param("b", "")})},
        {offer("a", {param("b", "1 0")})},
        {offer("a", {param("b", "1\r\nX: y")})},
        {offer("a", {param("b", "\"1\"")})},
    };
    for (const auto& offers : bad) {
        EXPECT_THROW(serialize_extension_header(offers), std::invalid_argument);
    }
}

} // namespace
} // namespace syncws
