// WebSocket URIs (RFC 6455 §3, RFC 3986).
#include <syncws/errors.hpp>
#include <syncws/uri.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace {

using namespace std::literals;
using syncws::InvalidURI;
using syncws::parse_uri;
using syncws::try_parse_uri;
using syncws::Uri;

// Prints a URI with its non-printable bytes escaped, for test names in failure messages.
void print_text(std::string_view text, std::ostream* os) {
    constexpr char digits[] = "0123456789ABCDEF";
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f)
            *os << "\\x" << digits[u >> 4] << digits[u & 0xf];
        else
            *os << c;
    }
}

// ---------------------------------------------------------------------------------------
// Valid URIs: every field of the result.

struct ValidCase {
    std::string_view text;
    bool secure;
    std::string_view host;
    std::uint16_t port;
    std::string_view resource_name;
    std::optional<std::string_view> user = std::nullopt;
    std::optional<std::string_view> password = std::nullopt;

    friend void PrintTo(const ValidCase& c, std::ostream* os) { print_text(c.text, os); }
};

std::optional<std::string> str(std::optional<std::string_view> s) {
    if (!s) return std::nullopt;
    return std::string(*s);
}

class Uri_3_Valid : public testing::TestWithParam<ValidCase> {};

TEST_P(Uri_3_Valid, ParsesEveryField) {
    const ValidCase& c = GetParam();
    const Uri uri = parse_uri(c.text);
    EXPECT_EQ(uri.secure, c.secure);
    EXPECT_EQ(uri.host, c.host);
    EXPECT_EQ(uri.port, c.port);
    EXPECT_EQ(uri.resource_name, c.resource_name);
    EXPECT_EQ(uri.user, str(c.user));
    EXPECT_EQ(uri.password, str(c.password));
}

// to_string() is a URI that parses back to the same thing (less the userinfo), and is
// already normalized.
TEST_P(Uri_3_Valid, ToStringRoundTrips) {
    const Uri uri = parse_uri(GetParam().text);
    const std::string normalized = uri.to_string();
    const Uri again = parse_uri(normalized);
    EXPECT_EQ(again.secure, uri.secure);
    EXPECT_EQ(again.host, uri.host);
    EXPECT_EQ(again.port, uri.port);
    EXPECT_EQ(again.resource_name, uri.resource_name);
    EXPECT_FALSE(again.user.has_value());
    EXPECT_FALSE(again.password.has_value());
    EXPECT_EQ(again.to_string(), normalized);
}

TEST_P(Uri_3_Valid, TryParseReturnsTheSame) {
    const ValidCase& c = GetParam();
    const std::optional<Uri> uri = try_parse_uri(c.text);
    ASSERT_TRUE(uri.has_value());
    EXPECT_EQ(uri->secure, c.secure);
    EXPECT_EQ(uri->host, c.host);
    EXPECT_EQ(uri->port, c.port);
    EXPECT_EQ(uri->resource_name, c.resource_name);
    EXPECT_EQ(uri->user, str(c.user));
    EXPECT_EQ(uri->password, str(c.password));
}

const ValidCase valid_cases[] = {
    // Schemes and default ports (RFC 6455 §3: 80 for ws, 443 for wss).
    {"ws://localhost/"sv, false, "localhost"sv, 80, "/"sv},
    {"wss://example.com/chat"sv, true, "example.com"sv, 443, "/chat"sv},
    {"WS://Example.COM/Path"sv, false, "example.com"sv, 80, "/Path"sv},
    {"WsS://EXAMPLE.com:443/"sv, true, "example.com"sv, 443, "/"sv},
    {"wss://example.com:80/"sv, true, "example.com"sv, 80, "/"sv},
    // Ports: explicit, empty (RFC 3986 §3.2.3: means the default), leading zeros, bounds.
    {"ws://example.com:8080/a/b?x=1&y=2"sv, false, "example.com"sv, 8080, "/a/b?x=1&y=2"sv},
    {"ws://h:/"sv, false, "h"sv, 80, "/"sv},
    {"wss://h:/"sv, true, "h"sv, 443, "/"sv},
    {"ws://h:"sv, false, "h"sv, 80, "/"sv},
    {"ws://h:1/"sv, false, "h"sv, 1, "/"sv},
    {"ws://h:65535/"sv, false, "h"sv, 65535, "/"sv},
    {"ws://h:0080/"sv, false, "h"sv, 80, "/"sv},
    // Empty path, query only (RFC 6455 §3: the resource name is "/" then "?" query).
    {"ws://example.com"sv, false, "example.com"sv, 80, "/"sv},
    {"ws://h?x=1"sv, false, "h"sv, 80, "/?x=1"sv},
    {"ws://h:8080?x"sv, false, "h"sv, 8080, "/?x"sv},
    {"ws://h/?"sv, false, "h"sv, 80, "/?"sv},
    {"ws://h/path?q=/a?b"sv, false, "h"sv, 80, "/path?q=/a?b"sv},
    // Host names: RFC 3986 reg-name characters, trailing dot, escapes decoded.
    {"ws://my_host-1.example./"sv, false, "my_host-1.example."sv, 80, "/"sv},
    {"ws://a!$&'()*+,;=~b/"sv, false, "a!$&'()*+,;=~b"sv, 80, "/"sv},
    {"ws://ex%41mple.com/"sv, false, "example.com"sv, 80, "/"sv},
    {"ws://1.2.3.4.example/"sv, false, "1.2.3.4.example"sv, 80, "/"sv},
    {"ws://example.123abc/"sv, false, "example.123abc"sv, 80, "/"sv},
    {"ws://0x7g/"sv, false, "0x7g"sv, 80, "/"sv},
    // IPv4 literals.
    {"ws://127.0.0.1:9000/"sv, false, "127.0.0.1"sv, 9000, "/"sv},
    {"ws://0.0.0.0/"sv, false, "0.0.0.0"sv, 80, "/"sv},
    {"wss://255.255.255.255/"sv, true, "255.255.255.255"sv, 443, "/"sv},
    {"ws://10.20.199.249/"sv, false, "10.20.199.249"sv, 80, "/"sv},
    // IPv6 literals (RFC 3986 §3.2.2, RFC 4291 §2.2), stored without brackets, lower-case.
    {"ws://[::1]:8080/x"sv, false, "::1"sv, 8080, "/x"sv},
    {"wss://[2001:db8::1]/"sv, true, "2001:db8::1"sv, 443, "/"sv},
    {"ws://[2001:DB8::A]"sv, false, "2001:db8::a"sv, 80, "/"sv},
    {"ws://[::]/"sv, false, "::"sv, 80, "/"sv},
    {"ws://[1::]:81/"sv, false, "1::"sv, 81, "/"sv},
    {"ws://[::]:/"sv, false, "::"sv, 80, "/"sv},
    {"ws://[1:2:3:4:5:6:7:8]/"sv, false, "1:2:3:4:5:6:7:8"sv, 80, "/"sv},
    {"ws://[1:2:3:4:5:6:7::]/"sv, false, "1:2:3:4:5:6:7::"sv, 80, "/"sv},
    {"ws://[::2:3:4:5:6:7:8]/"sv, false, "::2:3:4:5:6:7:8"sv, 80, "/"sv},
    {"ws://[fe80::1:abcd]?q"sv, false, "fe80::1:abcd"sv, 80, "/?q"sv},
    {"ws://[::ffff:192.0.2.1]/"sv, false, "::ffff:192.0.2.1"sv, 80, "/"sv},
    {"ws://[1:2:3:4:5:6:1.2.3.4]/"sv, false, "1:2:3:4:5:6:1.2.3.4"sv, 80, "/"sv},
    {"ws://[1::2:0.0.0.0]/"sv, false, "1::2:0.0.0.0"sv, 80, "/"sv},
    // Userinfo, percent-decoded; user without password; password with colons.
    {"ws://user@h/"sv, false, "h"sv, 80, "/"sv, "user"sv},
    {"ws://user:pass@h/"sv, false, "h"sv, 80, "/"sv, "user"sv, "pass"sv},
    {"ws://user%40x:p%3Ass@h/"sv, false, "h"sv, 80, "/"sv, "user@x"sv, "p:ss"sv},
    {"ws://:pw@h/"sv, false, "h"sv, 80, "/"sv, ""sv, "pw"sv},
    {"ws://u:@h/"sv, false, "h"sv, 80, "/"sv, "u"sv, ""sv},
    {"ws://u:p:q@h/"sv, false, "h"sv, 80, "/"sv, "u"sv, "p:q"sv},
    {"ws://us%C3%A9r:p%c3%a9!$&'()*+,;=-._~@h/"sv, false, "h"sv, 80, "/"sv, "us\xC3\xA9r"sv,
     "p\xC3\xA9!$&'()*+,;=-._~"sv},
    {"ws://\xC3\xA9:\xC3\xA9@h/"sv, false, "h"sv, 80, "/"sv, "\xC3\xA9"sv, "\xC3\xA9"sv},
    {"wss://u:p@[::1]:9443/x?y"sv, true, "::1"sv, 9443, "/x?y"sv, "u"sv, "p"sv},
    {"ws://@h/"sv, false, "h"sv, 80, "/"sv},
    // "@" after the authority is not userinfo.
    {"ws://h/a@b"sv, false, "h"sv, 80, "/a@b"sv},
    {"ws://u@h?x@y"sv, false, "h"sv, 80, "/?x@y"sv, "u"sv},
    // Resource names: escapes kept as written, request-target-invalid bytes encoded.
    {"ws://h/caf\xC3\xA9"sv, false, "h"sv, 80, "/caf%C3%A9"sv},
    {"ws://h/a b?c d"sv, false, "h"sv, 80, "/a%20b?c%20d"sv},
    {"ws://h/%41%2f%Ab"sv, false, "h"sv, 80, "/%41%2f%Ab"sv},
    {"ws://h/\"<>\\^`{|}"sv, false, "h"sv, 80, "/%22%3C%3E%5C%5E%60%7B%7C%7D"sv},
    {"ws://h/\x01\x1f\x7f\xff?\t"sv, false, "h"sv, 80, "/%01%1F%7F%FF?%09"sv},
    {"ws://h/a\0b"sv, false, "h"sv, 80, "/a%00b"sv},
    {"ws://h/[x]"sv, false, "h"sv, 80, "/[x]"sv},
    {"ws://h/p@q:r!$&'()*+,;=-._~"sv, false, "h"sv, 80, "/p@q:r!$&'()*+,;=-._~"sv},
};

INSTANTIATE_TEST_SUITE_P(Table, Uri_3_Valid, testing::ValuesIn(valid_cases));

// ---------------------------------------------------------------------------------------
// Invalid URIs: InvalidURI, with a message that names the problem.

struct InvalidCase {
    std::string_view text;
    std::string_view reason; // a substring of what() after "isn't a valid WebSocket URI: "

    friend void PrintTo(const InvalidCase& c, std::ostream* os) { print_text(c.text, os); }
};

class Uri_3_Invalid : public testing::TestWithParam<InvalidCase> {};

TEST_P(Uri_3_Invalid, ThrowsInvalidURIWithTheReason) {
    const InvalidCase& c = GetParam();
    try {
        parse_uri(c.text);
        ADD_FAILURE() << "parse_uri didn't throw";
    } catch (const InvalidURI& e) {
        EXPECT_EQ(e.uri(), c.text);
        const std::string prefix = std::string(c.text) + " isn't a valid WebSocket URI: ";
        const std::string what = e.what();
        ASSERT_EQ(what.substr(0, prefix.size()), prefix);
        EXPECT_NE(what.find(c.reason, prefix.size()), std::string::npos)
            << "reason: " << what.substr(prefix.size());
    }
}

TEST_P(Uri_3_Invalid, TryParseReturnsNothing) {
    EXPECT_FALSE(try_parse_uri(GetParam().text).has_value());
}

const InvalidCase invalid_cases[] = {
    // Scheme (RFC 6455 §3: ws or wss, RFC 3986 §3.1: case-insensitive).
    {"http://h/"sv, R"(scheme isn't ws or wss (found "http"))"sv},
    {"HTTPS://h/"sv, R"(scheme isn't ws or wss (found "HTTPS"))"sv},
    {"wss+x://h/"sv, R"(scheme isn't ws or wss (found "wss+x"))"sv},
    {"localhost:8080"sv, R"(scheme isn't ws or wss (found "localhost"))"sv},
    {"example.com/x"sv, "scheme isn't ws or wss (no scheme found"sv},
    {""sv, "scheme isn't ws or wss (no scheme found"sv},
    {"://h/"sv, "scheme isn't ws or wss (no scheme found"sv},
    {"1ws://h/"sv, "scheme isn't ws or wss (no scheme found"sv},
    {"w s://h/"sv, "scheme isn't ws or wss (no scheme found"sv},
    {"/a:b"sv, "scheme isn't ws or wss (no scheme found"sv},
    // The authority.
    {"ws:h/"sv, R"(missing "//" after "ws:")"sv},
    {"WSS:/h/"sv, R"(missing "//" after "WSS:")"sv},
    {"wss:"sv, R"(missing "//" after "wss:")"sv},
    // Fragments (RFC 6455 §3).
    {"ws://h/x#frag"sv, "URI contains a fragment (#...), which RFC 6455 §3 forbids"sv},
    {"ws://h/#"sv, "fragment"sv},
    {"ws://h#f"sv, "fragment"sv},
    {"ws://u#@h/"sv, "fragment"sv},
    // Empty host.
    {"ws:///path"sv, "empty host"sv},
    {"ws://"sv, "empty host"sv},
    {"ws://:80/"sv, "empty host"sv},
    {"ws://u@/"sv, "empty host"sv},
    {"ws://?x"sv, "empty host"sv},
    // Ports (RFC 3986 §3.2.3: *DIGIT; TCP: 1-65535).
    {"ws://h:abc/"sv, R"(port "abc" isn't a decimal number)"sv},
    {"ws://h:-1/"sv, R"(port "-1" isn't a decimal number)"sv},
    {"ws://h:+80/"sv, R"(port "+80" isn't a decimal number)"sv},
    {"ws://h:8 0/"sv, R"(port "8 0" isn't a decimal number)"sv},
    {"ws://[::1]:x/"sv, R"(port "x" isn't a decimal number)"sv},
    {"ws://h:0/"sv, R"(port "0" is out of range (1-65535))"sv},
    {"ws://h:000/"sv, R"(port "000" is out of range (1-65535))"sv},
    {"ws://h:65536/"sv, R"(port "65536" is out of range (1-65535))"sv},
    {"wss://h:99999999999999999999999/"sv,
     R"(port "99999999999999999999999" is out of range (1-65535))"sv},
    // IPv6 literals.
    {"ws://[::1:80/"sv, "unterminated IPv6 literal: '[' without a closing ']'"sv},
    {"ws://[::1"sv, "unterminated IPv6 literal"sv},
    {"ws://[::1]x/"sv, R"(unexpected "x" after the IPv6 literal (expected ":port"))"sv},
    {"ws://[::1]]/"sv, R"(unexpected "]" after the IPv6 literal)"sv},
    {"ws://[fe80::1%25eth0]/"sv, R"(IPv6 zone identifiers ("%25...") aren't supported)"sv},
    {"ws://[]/"sv, R"(malformed IPv6 address "")"sv},
    {"ws://[:::]/"sv, R"(malformed IPv6 address ":::")"sv},
    {"ws://[1::2::3]/"sv, "malformed IPv6 address"sv},
    {"ws://[1:2:3:4:5:6:7:8:9]/"sv, "malformed IPv6 address"sv},
    {"ws://[1:2:3:4:5:6:7]/"sv, "malformed IPv6 address"sv},
    {"ws://[1:2:3:4::5:6:7:8]/"sv, "malformed IPv6 address"sv},
    {"ws://[12345::]/"sv, "malformed IPv6 address"sv},
    {"ws://[g::1]/"sv, "malformed IPv6 address"sv},
    {"ws://[:1::]/"sv, "malformed IPv6 address"sv},
    {"ws://[1:]/"sv, "malformed IPv6 address"sv},
    {"ws://[1::2:]/"sv, "malformed IPv6 address"sv},
    {"ws://[::1.2.3]/"sv, "malformed IPv6 address"sv},
    {"ws://[::1.2.3.256]/"sv, "malformed IPv6 address"sv},
    {"ws://[::01.2.3.4]/"sv, "malformed IPv6 address"sv},
    {"ws://[::1.2.3.4.5]/"sv, "malformed IPv6 address"sv},
    {"ws://[::1.2.3.4:5]/"sv, "malformed IPv6 address"sv},
    {"ws://[1:2:3:4:5:6:7:1.2.3.4]/"sv, "malformed IPv6 address"sv},
    {"ws://[1.2.3.4]/"sv, "malformed IPv6 address"sv},
    {"ws://[v1.x]/"sv, "malformed IPv6 address"sv},
    {"ws://[::1 ]/"sv, "malformed IPv6 address"sv},
    {"ws://::1/"sv, "an IPv6 address must be enclosed in brackets (ws://[::1]/)"sv},
    {"ws://fe80::1:8080/"sv, "must be enclosed in brackets"sv},
    // Host characters (RFC 3986 §3.2.2 reg-name).
    {"ws://exa mple.com/"sv, R"(invalid character " " in the host)"sv},
    {"ws://a\\b/"sv, R"(invalid character "\" in the host)"sv},
    {"ws://a[b]/"sv, R"(invalid character "[" in the host)"sv},
    {"ws://]/"sv, R"(invalid character "]" in the host)"sv},
    {"ws://a<b/"sv, R"(invalid character "<" in the host)"sv},
    {"ws://h%2Fx/"sv, R"(invalid character "/" in the host)"sv},
    {"ws://h%25/"sv, R"(invalid character "%" in the host)"sv},
    {"ws://h\n/"sv, R"(control character "\x0A" in the host)"sv},
    {"ws://h\x7f"sv, R"(control character "\x7F" in the host)"sv},
    {"ws://[::1\t]/"sv, R"(control character "\x09" in the host)"sv},
    {"ws://u@h:80\r/"sv, R"(control character "\x0D" in the host)"sv},
    {"ws://h%00/"sv, R"(control character "\x00" in the host)"sv},
    {"ws://h%7f/"sv, R"(control character "\x7F" in the host)"sv},
    {"ws://b\xC3\xBC"
     "cher.example/"sv,
     "non-ASCII host name: give its IDNA form (xn--...)"sv},
    {"ws://b%C3%BCcher.example/"sv, "non-ASCII host name"sv},
    // Hosts that resolvers read as IPv4 addresses must be dotted quads.
    {"ws://127.1/"sv, R"(malformed IPv4 address "127.1": a host ending in a number)"sv},
    {"ws://0x7f.0.0.1/"sv, R"(malformed IPv4 address "0x7f.0.0.1")"sv},
    {"ws://0x7F000001/"sv, R"(malformed IPv4 address "0x7f000001")"sv},
    {"ws://2130706433/"sv, R"(malformed IPv4 address "2130706433")"sv},
    {"ws://010.0.0.1/"sv, R"(malformed IPv4 address "010.0.0.1")"sv},
    {"ws://1.2.3.256/"sv, "malformed IPv4 address"sv},
    {"ws://1.2.3.4./"sv, "malformed IPv4 address"sv},
    {"ws://1.2.3.4.5/"sv, "malformed IPv4 address"sv},
    {"ws://1..3.4/"sv, "malformed IPv4 address"sv},
    {"ws://example.0x/"sv, "malformed IPv4 address"sv},
    // Percent-escapes (RFC 3986 §2.1: "%" HEXDIG HEXDIG).
    {"ws://h/%"sv, R"(bad percent-escape "%" in the path: '%' must be followed by two hex)"sv},
    {"ws://h/%4"sv, R"(bad percent-escape "%4" in the path)"sv},
    {"ws://h/%zz/x"sv, R"(bad percent-escape "%zz" in the path)"sv},
    {"ws://h/p?q=%g1"sv, R"(bad percent-escape "%g1" in the query)"sv},
    {"ws://h?%1"sv, R"(bad percent-escape "%1" in the query)"sv},
    {"ws://h/%\xC3\xA9"sv, R"(bad percent-escape "%\xC3\xA9" in the path)"sv},
    {"ws://h%2/"sv, R"(bad percent-escape "%2" in the host)"sv},
    {"ws://u%4@h/"sv, R"(bad percent-escape "%4" in the user info)"sv},
    {"ws://u:%x@h/"sv, R"(bad percent-escape "%x" in the user info)"sv},
    // Userinfo (RFC 3986 §3.2.1, RFC 7617 §2).
    {"ws://a@b@h/"sv, R"(invalid character "@" in the user info: percent-encode it)"sv},
    {"ws://u p@h/"sv, R"(invalid character " " in the user info)"sv},
    {"ws://u\\@h/"sv, R"(invalid character "\" in the user info)"sv},
    {"ws://u\n@h/"sv, R"(invalid character "\x0A" in the user info)"sv},
    {"ws://a%3Ab:c@h/"sv, "the user name contains ':' (%3A), which HTTP Basic authentication"sv},
};

INSTANTIATE_TEST_SUITE_P(Table, Uri_3_Invalid, testing::ValuesIn(invalid_cases));

// ---------------------------------------------------------------------------------------

TEST(Uri_3, TryParseIsNoexcept) {
    static_assert(noexcept(try_parse_uri("ws://h/")));
    EXPECT_TRUE(try_parse_uri("ws://h/").has_value());
    EXPECT_FALSE(try_parse_uri("http://h/").has_value());
}

// std::runtime_error keeps what() as a C string, so a NUL byte cuts the message short;
// uri() still has the whole text.
TEST(Uri_3, NulByteInTheHost) {
    const std::string_view text = "ws://h\0x/"sv;
    try {
        parse_uri(text);
        ADD_FAILURE() << "parse_uri didn't throw";
    } catch (const InvalidURI& e) {
        EXPECT_EQ(e.uri(), text);
    }
    EXPECT_FALSE(try_parse_uri(text).has_value());
}

TEST(Uri_3, InvalidURIIsASyncwsError) {
    EXPECT_THROW(parse_uri("ftp://h/"), syncws::Error);
}

// RFC 6455 §4.1, item 4: the Host header carries the port unless it is the default.
TEST(Uri_4_1, HostHeader) {
    EXPECT_EQ(parse_uri("ws://h/").host_header(), "h");
    EXPECT_EQ(parse_uri("ws://h:80/").host_header(), "h");
    EXPECT_EQ(parse_uri("ws://h:443/").host_header(), "h:443");
    EXPECT_EQ(parse_uri("wss://h/").host_header(), "h");
    EXPECT_EQ(parse_uri("wss://h:443/").host_header(), "h");
    EXPECT_EQ(parse_uri("wss://h:80/").host_header(), "h:80");
    EXPECT_EQ(parse_uri("WS://Example.COM:8080/").host_header(), "example.com:8080");
    EXPECT_EQ(parse_uri("wss://127.0.0.1:8443/").host_header(), "127.0.0.1:8443");
    EXPECT_EQ(parse_uri("ws://[::1]/").host_header(), "[::1]");
    EXPECT_EQ(parse_uri("ws://[::1]:8080/x").host_header(), "[::1]:8080");
    EXPECT_EQ(parse_uri("wss://[2001:DB8::1]:443/").host_header(), "[2001:db8::1]");
    EXPECT_EQ(parse_uri("ws://u:p@h:81/").host_header(), "h:81");
}

TEST(Uri_3, HostIsIpv6) {
    EXPECT_TRUE(parse_uri("ws://[::1]/").host_is_ipv6());
    EXPECT_FALSE(parse_uri("ws://127.0.0.1/").host_is_ipv6());
    EXPECT_FALSE(parse_uri("ws://localhost/").host_is_ipv6());
}

TEST(Uri_3, ToStringNormalizes) {
    EXPECT_EQ(parse_uri("WS://User:Pw@Example.COM:80/a%20b?q").to_string(),
              "ws://example.com/a%20b?q");
    EXPECT_EQ(parse_uri("wss://[2001:DB8::1]:443").to_string(), "wss://[2001:db8::1]/");
    EXPECT_EQ(parse_uri("wss://[::1]:8443?x").to_string(), "wss://[::1]:8443/?x");
    EXPECT_EQ(parse_uri("ws://h:/").to_string(), "ws://h/");
    EXPECT_EQ(parse_uri("ws://h:0443").to_string(), "ws://h:443/");
    EXPECT_EQ(parse_uri("ws://h/a b/\xC3\xA9").to_string(), "ws://h/a%20b/%C3%A9");
    EXPECT_EQ(parse_uri("ws://ex%41mple/%41").to_string(), "ws://example/%41");
}

TEST(Uri_3, ToStringOfAnAggregate) {
    Uri uri;
    uri.host = "example.com";
    EXPECT_EQ(uri.to_string(), "ws://example.com/");
    uri.secure = true;
    uri.port = 443;
    uri.resource_name = "/chat?room=1";
    uri.user = "u";
    uri.password = "p";
    EXPECT_EQ(uri.to_string(), "wss://example.com/chat?room=1");
    uri.host = "::1";
    uri.port = 9000;
    EXPECT_EQ(uri.to_string(), "wss://[::1]:9000/chat?room=1");
}

} // namespace
