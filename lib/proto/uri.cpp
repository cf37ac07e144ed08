// WebSocket URIs (RFC 6455 §3) over the generic syntax of RFC 3986.
//
// Choices where the RFCs leave room, so that the URI we connect to is the URI the caller
// (or a validator that used this parser) saw:
// - IPv6 zone identifiers ("[fe80::1%25eth0]", RFC 6874) are rejected: a Host header cannot
//   carry them and the streams layer has no way to pass a scope id along.
// - A host whose last label is a number must be a dotted-quad IPv4 address. getaddrinfo()
//   reads "127.1", "0x7f.0.0.1" or "010.0.0.1" as IPv4 addresses in other notations, so
//   accepting them as host names would connect somewhere the text does not say.
// - Host names must be ASCII (no IDNA here: give the "xn--" form); %XX escapes in a host
//   name are decoded (RFC 3986 §3.2.2) and must decode to host name characters.
// - Userinfo must be percent-encoded as RFC 3986 §3.2.1 says ("@" as %40); raw non-ASCII
//   bytes are accepted. An empty userinfo ("ws://@host") means no credentials.
// - "[" and "]" are left as they are in the resource name, as browsers do.
#include <syncws/errors.hpp>
#include <syncws/uri.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncws {
namespace {

constexpr std::uint16_t default_port(bool secure) noexcept {
    return secure ? 443 : 80;
}

[[noreturn]] void fail(std::string_view text, const std::string& why) {
    throw InvalidURI(std::string(text), why);
}

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}
constexpr bool is_non_ascii(char c) noexcept {
    return static_cast<unsigned char>(c) >= 0x80;
}

constexpr bool is_unreserved(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) noexcept {
    return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

constexpr char to_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_scheme_char(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = to_lower(c);
    return out;
}

int hex_value(char c) noexcept {
    if (is_digit(c)) return c - '0';
    return to_lower(c) - 'a' + 10;
}

bool all_of(std::string_view s, bool (*pred)(char) noexcept) {
    for (char c : s)
        if (!pred(c)) return false;
    return true;
}

// Renders bytes for an error message: printable ASCII as is, anything else as \xHH, so
// that a message never carries control characters or broken UTF-8.
std::string printable(std::string_view s) {
    constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        if (is_control(c) || is_non_ascii(c)) {
            const auto u = static_cast<unsigned char>(c);
            out += "\\x";
            out += digits[u >> 4];
            out += digits[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string quoted(std::string_view s) {
    return '"' + printable(s) + '"';
}

// RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG.
bool is_escape_at(std::string_view s, std::size_t i) noexcept {
    return i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2]);
}

[[noreturn]] void fail_escape(std::string_view text, std::string_view s, std::size_t i,
                              const char* where) {
    fail(text, "bad percent-escape " + quoted(s.substr(i, 3)) + " in " + where +
                   ": '%' must be followed by two hex digits (write a literal % as %25)");
}

std::string percent_decode(std::string_view text, std::string_view s, const char* where) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (!is_escape_at(s, i)) fail_escape(text, s, i, where);
        out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        i += 2;
    }
    return out;
}

// RFC 3986 §3.3: dec-octet, which has no leading zeros; four of them make an IPv4address.
bool is_ipv4(std::string_view s) {
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (s.empty() || s.front() != '.') return false;
            s.remove_prefix(1);
        }
        std::size_t n = 0;
        int value = 0;
        while (n < s.size() && n < 3 && is_digit(s[n]))
            value = value * 10 + (s[n++] - '0');
        if (n == 0 || value > 255 || (n > 1 && s.front() == '0')) return false;
        s.remove_prefix(n);
    }
    return s.empty();
}

// RFC 4291 §2.2: eight groups of one to four hex digits, one "::" standing for one or
// more groups of zeros, and optionally a dotted-quad IPv4 address as the last 32 bits.
bool is_ipv6(std::string_view s) {
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
        if (i == s.size()) return true;
    }
    for (;;) {
        const std::size_t end = s.find(':', i);
        const std::string_view part = s.substr(i, end - i);
        if (end == std::string_view::npos && part.find('.') != std::string_view::npos) {
            if (!is_ipv4(part)) return false;
            groups += 2;
            break;
        }
        if (part.empty() || part.size() > 4 || !all_of(part, is_hex)) return false;
        ++groups;
        if (end == std::string_view::npos) break;
        i = end + 1;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false;
            compressed = true;
            if (++i == s.size()) break;
        } else if (i == s.size()) {
            return false;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

// The WHATWG URL standard's "ends in a number": such a host is an IPv4 address to every
// resolver, whatever notation it uses, so it must not pass for a host name.
bool ends_in_number(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    const std::string_view last = host.substr(host.rfind('.') + 1);
    if (last.empty()) return false;
    if (all_of(last, is_digit)) return true;
    return last.size() >= 2 && last[0] == '0' && to_lower(last[1]) == 'x' &&
           all_of(last.substr(2), is_hex);
}

// Returns true for wss. RFC 6455 §3: ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]
// and wss-URI likewise; RFC 3986 §3.1: schemes are case-insensitive.
bool parse_scheme(std::string_view text) {
    const std::size_t colon = text.find(':');
    const std::string_view scheme = text.substr(0, colon);
    // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (colon == std::string_view::npos || scheme.empty() || !is_alpha(scheme[0]) ||
        !all_of(scheme, is_scheme_char))
        fail(text, "scheme isn't ws or wss (no scheme found; write ws://host/ or wss://host/)");
    const std::string name = lower(scheme);
    if (name != "ws" && name != "wss")
        fail(text, "scheme isn't ws or wss (found " + quoted(scheme) + ")");
    if (text.substr(colon + 1, 2) != "//")
        fail(text, "missing \"//\" after \"" + std::string(scheme) +
                       ":\": a WebSocket URI needs a host (ws://host/...)");
    return name == "wss";
}

// RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" ).
void parse_userinfo(std::string_view text, std::string_view userinfo, Uri& uri) {
    if (userinfo.empty()) return;
    for (char c : userinfo) {
        if (!(is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '%' || is_non_ascii(c)))
            fail(text, "invalid character " + quoted(std::string_view(&c, 1)) +
                           " in the user info: percent-encode it (\"@\" is %40)");
    }
    const std::size_t colon = userinfo.find(':');
    uri.user = percent_decode(text, userinfo.substr(0, colon), "the user info");
    // RFC 7617 §2: "a user-id containing a colon character is invalid"; the server would
    // split the Basic credentials at that colon and see another user and password.
    if (uri.user->find(':') != std::string::npos)
        fail(text, "the user name contains ':' (%3A), which HTTP Basic authentication "
                   "cannot carry (RFC 7617 §2)");
    if (colon != std::string_view::npos)
        uri.password = percent_decode(text, userinfo.substr(colon + 1), "the user info");
}

// RFC 3986 §3.2.3: port = *DIGIT; an empty port means the scheme's default.
std::uint16_t parse_port(std::string_view text, std::string_view port, bool secure) {
    if (port.empty()) return default_port(secure);
    if (!all_of(port, is_digit)) fail(text, "port " + quoted(port) + " isn't a decimal number");
    long value = 0;
    for (char c : port) {
        value = value * 10 + (c - '0');
        if (value > 65535) break;
    }
    if (value == 0 || value > 65535)
        fail(text, "port " + quoted(port) + " is out of range (1-65535)");
    return static_cast<std::uint16_t>(value);
}

// RFC 3986 §3.2.2: IP-literal = "[" IPv6address "]" (IPvFuture isn't supported).
// Returns what follows the literal.
std::string_view parse_ipv6_literal(std::string_view text, std::string_view hostport, Uri& uri) {
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos)
        fail(text, "unterminated IPv6 literal: '[' without a closing ']'");
    const std::string_view literal = hostport.substr(1, close - 1);
    if (literal.find('%') != std::string_view::npos)
        fail(text, "IPv6 zone identifiers (\"%25...\") aren't supported");
    if (!is_ipv6(literal)) fail(text, "malformed IPv6 address " + quoted(literal));
    uri.host = lower(literal);
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty() && after.front() != ':')
        fail(text, "unexpected " + quoted(after) + " after the IPv6 literal (expected \":port\")");
    return after;
}

// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), or an IPv4address.
void parse_reg_name(std::string_view text, std::string_view host, Uri& uri) {
    const std::string decoded = lower(percent_decode(text, host, "the host"));
    for (char c : decoded) {
        if (is_control(c))
            fail(text, "control character " + quoted(std::string_view(&c, 1)) + " in the host");
        if (is_non_ascii(c)) fail(text, "non-ASCII host name: give its IDNA form (xn--...)");
        if (!is_unreserved(c) && !is_sub_delim(c))
            fail(text, "invalid character " + quoted(std::string_view(&c, 1)) + " in the host");
    }
    if (ends_in_number(decoded) && !is_ipv4(decoded))
        fail(text, "malformed IPv4 address " + quoted(decoded) +
                       ": a host ending in a number must be four decimal numbers 0-255 "
                       "without leading zeros");
    uri.host = decoded;
}

void parse_host_port(std::string_view text, std::string_view hostport, Uri& uri) {
    for (char c : hostport) {
        if (is_control(c))
            fail(text, "control character " + quoted(std::string_view(&c, 1)) + " in the host");
    }
    std::string_view port;
    if (!hostport.empty() && hostport.front() == '[') {
        port = parse_ipv6_literal(text, hostport, uri);
    } else {
        const std::size_t colon = hostport.find(':');
        if (colon != std::string_view::npos &&
            hostport.find(':', colon + 1) != std::string_view::npos)
            fail(text, "an IPv6 address must be enclosed in brackets (ws://[::1]/)");
        const std::string_view host = hostport.substr(0, colon);
        if (host.empty()) fail(text, "empty host");
        parse_reg_name(text, host, uri);
        port = hostport.substr(host.size());
    }
    uri.port = parse_port(text, port.substr(port.empty() ? 0 : 1), uri.secure);
}

// The characters RFC 3986 §3.3/§3.4 do not allow in a path or query (besides "[" and "]",
// which browsers send as they are): RFC 6455 §3's resource name is sent as the request
// target, so they go out percent-encoded.
bool needs_encoding(char c) noexcept {
    return is_control(c) || is_non_ascii(c) || c == ' ' ||
           std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos;
}

// RFC 6455 §3: the resource name is "/" if the path is empty, then the path, then "?" and
// the query if there is one.
std::string resource_name(std::string_view text, std::string_view rest) {
    constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(rest.size() + 1);
    if (rest.empty() || rest.front() != '/') out += '/';
    bool in_query = false;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const char c = rest[i];
        in_query = in_query || c == '?';
        if (c == '%' && !is_escape_at(rest, i))
            fail_escape(text, rest, i, in_query ? "the query" : "the path");
        if (needs_encoding(c)) {
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

} // namespace

Uri parse_uri(std::string_view text) {
    Uri uri;
    uri.secure = parse_scheme(text);
    // RFC 6455 §3: "Fragment identifiers are meaningless in the context of WebSocket URIs
    // and MUST NOT be used on these URIs. [...] the character "#", when not indicating the
    // start of a fragment, MUST be escaped as %23."
    if (text.find('#') != std::string_view::npos)
        fail(text, "URI contains a fragment (#...), which RFC 6455 §3 forbids "
                   "(write a literal # as %23)");
    const std::size_t start = text.find(':') + 3;
    // RFC 3986 §3.2: the authority ends at the next "/", "?" or "#".
    const std::size_t end = std::min(text.find_first_of("/?", start), text.size());
    const std::string_view authority = text.substr(start, end - start);
    // "@" may not appear unencoded in userinfo or host, so the last one ends the userinfo
    // (as browsers split it); parse_userinfo rejects any "@" left before it.
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) parse_userinfo(text, authority.substr(0, at), uri);
    parse_host_port(text, authority.substr(at == std::string_view::npos ? 0 : at + 1), uri);
    uri.resource_name = resource_name(text, text.substr(end));
    return uri;
}

std::optional<Uri> try_parse_uri(std::string_view text) noexcept {
    try {
        return parse_uri(text);
    } catch (...) {
        return std::nullopt;
    }
}

std::string Uri::host_header() const {
    std::string out = host_is_ipv6() ? '[' + host + ']' : host;
    if (port != default_port(secure)) out += ':' + std::to_string(port);
    return out;
}

std::string Uri::to_string() const {
    return (secure ? "wss://" : "ws://") + host_header() + resource_name;
}

} // namespace syncws
