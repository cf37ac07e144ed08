// Proxies: HTTP CONNECT (RFC 9110 §9.3.6), SOCKS5 (RFC 1928, RFC 1929), and the environment
// variables curl, Python requests and websockets read.
//
// Choices where the conventions differ:
// - An explicitly empty variable counts as unset (curl); the lower-case one is read first.
// - no_proxy entries match the domain itself and every name under it, with or without a
//   leading dot (curl ≥ 7.86 and Python agree); IP entries match IP literal hosts only: no
//   name is resolved to decide whether to use a proxy.
// - socks5:// sends the first address the resolver returns, as curl does: one SOCKS
//   connection carries one CONNECT, so trying the next address would mean a new connection.
#include "proxy.hpp"

#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <system_error>
#include <utility>
#include <vector>

namespace syncws::net {

namespace {

// An HTTP response head to CONNECT is a status line and a few headers; anything larger is
// not a proxy talking (DESIGN.md's HTTP head limit).
constexpr std::size_t max_connect_head = 8 * 1024;

constexpr char to_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_host_char(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '.' || c == '_';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = to_lower(c);
    return out;
}

int hex_value(char c) noexcept {
    return is_digit(c) ? c - '0' : to_lower(c) - 'a' + 10;
}

// Bytes for an error message: printable ASCII as is, anything else as \xHH.
std::string printable(std::string_view s) {
    constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            out += "\\x";
            out += digits[u >> 4];
            out += digits[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string hex_byte(unsigned char b) {
    constexpr char digits[] = "0123456789abcdef";
    return std::string("0x") + digits[b >> 4] + digits[b & 0xf];
}

std::string_view scheme_name(ProxyScheme scheme) noexcept {
    switch (scheme) {
    case ProxyScheme::http:
        return "http";
    case ProxyScheme::https:
        return "https";
    case ProxyScheme::socks5:
        return "socks5";
    case ProxyScheme::socks5h:
        return "socks5h";
    }
    return "http";
}

// ----- parsing ------------------------------------------------------------------------------

// Where "://" ends a scheme (RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" /
// "." )), or npos. Text before a "://" that is no scheme ("u:p://x@h") may be a password.
std::size_t scheme_separator(std::string_view url) {
    const std::size_t sep = url.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::string_view::npos;
    for (std::size_t i = 0; i < sep; ++i) {
        const char c = to_lower(url[i]);
        const bool alpha = c >= 'a' && c <= 'z';
        if (!alpha && (i == 0 || (!is_digit(c) && c != '+' && c != '-' && c != '.')))
            return std::string_view::npos;
    }
    return sep;
}

// The URL with its password replaced, for error messages: a proxy URL from the environment
// often carries one, and messages end up in logs. The credentials end at the last "@" of the
// whole URL, not of the authority: an unencoded "/", "?" or "#" in a password ends the
// authority early ("u:p#ss@h"), and the password must not show then either.
std::string redacted(std::string_view url) {
    const std::size_t sep = scheme_separator(url);
    const std::size_t start = sep == std::string_view::npos ? 0 : sep + 3;
    const std::size_t at = url.rfind('@');
    if (at == std::string_view::npos || at < start) return printable(url);
    const std::size_t colon = url.find(':', start);
    if (colon == std::string_view::npos || colon > at) return printable(url);
    return printable(url.substr(0, colon + 1)) + "***" + printable(url.substr(at));
}

[[noreturn]] void fail(std::string_view url, const std::string& why) {
    throw InvalidProxyURL(redacted(url), why);
}

// RFC 3986 §2.1 percent-decoding of the userinfo. `what` names the part, never its value:
// it may be a password.
std::string percent_decode(std::string_view url, std::string_view s, const char* what) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
            fail(url, std::string("bad percent-escape in the ") + what +
                          ": '%' must be followed by two hex digits (write a literal % as %25)");
        }
        out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        i += 2;
    }
    return out;
}

std::uint16_t default_port(ProxyScheme scheme) noexcept {
    switch (scheme) {
    case ProxyScheme::http:
        return 80;
    case ProxyScheme::https:
        return 443;
    case ProxyScheme::socks5:
    case ProxyScheme::socks5h:
        return 1080;
    }
    return 80;
}

// "1" to "65535"; nullopt for anything else.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

// ----- no_proxy -----------------------------------------------------------------------------

// An IP address in network byte order: 4 or 16 bytes.
struct IpAddress {
    int family = AF_UNSPEC;
    unsigned char bytes[16] = {};
    std::size_t size() const noexcept { return family == AF_INET ? 4 : 16; }
};

std::optional<IpAddress> parse_ip(std::string_view text) {
    const std::string bare(strip_brackets(text));
    IpAddress ip;
    if (::inet_pton(AF_INET, bare.c_str(), ip.bytes) == 1) {
        ip.family = AF_INET;
        return ip;
    }
    if (::inet_pton(AF_INET6, bare.c_str(), ip.bytes) == 1) {
        ip.family = AF_INET6;
        return ip;
    }
    return std::nullopt;
}

// True if the first `bits` bits of `a` and `b` are equal.
bool prefix_equal(const IpAddress& a, const IpAddress& b, unsigned bits) {
    if (a.family != b.family || bits > a.size() * 8) return false;
    const std::size_t whole = bits / 8;
    if (std::memcmp(a.bytes, b.bytes, whole) != 0) return false;
    const unsigned rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

// Name without a trailing dot ("example.com." is the same name, fully qualified).
std::string_view without_trailing_dot(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return s;
}

// One no_proxy entry against the host. `host` is lower-case, without brackets or trailing
// dot; `host_ip` is set for IP literals.
bool entry_matches(std::string_view entry, std::string_view host,
                   const std::optional<IpAddress>& host_ip, std::uint16_t port) {
    if (entry == "*") return true;
    // Split off ":port": "[v6]:port", "name:port", "v4:port"; a bare IPv6 entry has no port.
    std::string_view name = entry;
    std::string_view port_text;
    if (entry.front() == '[') {
        const std::size_t close = entry.find(']');
        if (close == std::string_view::npos) return false;
        name = entry.substr(1, close - 1);
        const std::string_view after = entry.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            port_text = after.substr(1);
        }
    } else if (entry.find(':') == entry.rfind(':') && entry.find(':') != std::string_view::npos) {
        name = entry.substr(0, entry.find(':'));
        port_text = entry.substr(entry.find(':') + 1);
    }
    if (!port_text.empty()) {
        const auto entry_port = parse_port(port_text);
        if (!entry_port || *entry_port != port) return false;
    }
    if (name.empty()) return false;

    // "10.0.0.0/8", "fd00::/8": curl's CIDR entries.
    if (const std::size_t slash = name.find('/'); slash != std::string_view::npos) {
        if (!host_ip) return false;
        const auto network = parse_ip(name.substr(0, slash));
        const std::string_view bits_text = name.substr(slash + 1);
        if (!network || bits_text.empty() || bits_text.size() > 3) return false;
        unsigned bits = 0;
        for (char c : bits_text) {
            if (!is_digit(c)) return false;
            bits = bits * 10 + static_cast<unsigned>(c - '0');
        }
        return prefix_equal(*host_ip, *network, bits);
    }
    if (const auto entry_ip = parse_ip(name)) {
        return host_ip &&
               prefix_equal(*host_ip, *entry_ip, static_cast<unsigned>(8 * entry_ip->size()));
    }
    if (host_ip) return false;
    // A domain matches itself and every name under it, with or without the leading dot.
    if (name.front() == '.') name.remove_prefix(1);
    const std::string domain = lower(without_trailing_dot(name));
    if (domain.empty()) return false;
    if (host == domain) return true;
    return host.size() > domain.size() && host.substr(host.size() - domain.size()) == domain &&
           host[host.size() - domain.size() - 1] == '.';
}

// ----- reading from the proxy ---------------------------------------------------------------

// Blocks until `stream` has bytes or `deadline` passes.
void wait_for_answer(Stream& stream, Deadline deadline, const std::string& waiting_for) {
    if (!stream.wait_readable(deadline)) throw Timeout("timed out waiting for " + waiting_for);
}

// Reads exactly `n` bytes: the SOCKS5 messages have known lengths, so nothing of the tunnel
// is read along.
std::string read_exactly(Stream& stream, std::size_t n, Deadline deadline,
                         const std::string& waiting_for, const std::string& closed) {
    std::string out(n, '\0');
    std::size_t have = 0;
    while (have < n) {
        wait_for_answer(stream, deadline, waiting_for);
        const std::size_t r = stream.read_some(out.data() + have, n - have);
        // A proxy that hangs up mid-way may be restarting or overloaded: it may pass.
        if (r == 0) throw ProxyError(closed);
        have += r;
    }
    return out;
}

// Reads one HTTP response head, one byte at a time, up to and including its blank line.
// A larger read could take bytes the proxy sent after the head (the target's first bytes,
// RFC 9110 §9.3.6: the tunnel starts right after the header section) and a Stream cannot
// give them back. Such a head is a few dozen bytes, read once per connection. `budget` is
// what is left of max_connect_head for all the heads of one answer (interim 1xx included),
// so that an endless series of 1xx heads ends too.
std::string read_head(Stream& stream, Deadline deadline, const std::string& who,
                      const std::string& what, std::size_t& budget) {
    std::string head;
    for (;;) {
        if (budget == 0) {
            throw SecurityLimit(who + "'s answer to " + what + " exceeds " +
                                std::to_string(max_connect_head) + " bytes");
        }
        wait_for_answer(stream, deadline, who + " to answer " + what);
        char c = 0;
        if (stream.read_some(&c, 1) == 0) {
            throw ProxyError(who + " closed the connection " +
                             (head.empty() ? "without answering " : "while answering ") + what);
        }
        --budget;
        head += c;
        if (c != '\n') continue;
        // RFC 9112 §2.2: a recipient may take a bare LF as a line terminator.
        if (head == "\n" || head == "\r\n") {
            head.clear(); // an empty line before the status line is ignored
            continue;
        }
        const std::size_t n = head.size();
        if ((n >= 2 && head[n - 2] == '\n') || (n >= 3 && head.compare(n - 3, 3, "\n\r\n") == 0))
            return head;
    }
}

unsigned byte(char c) noexcept {
    return static_cast<unsigned char>(c);
}

// RFC 4648 §4, with padding.
std::string base64(std::string_view in) {
    constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = byte(in[i]) << 16 | byte(in[i + 1]) << 8 | byte(in[i + 2]);
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += table[v >> 6 & 63];
        out += table[v & 63];
    }
    if (i < in.size()) {
        unsigned v = byte(in[i]) << 16;
        if (i + 1 < in.size()) v |= byte(in[i + 1]) << 8;
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += i + 1 < in.size() ? table[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

bool has_credentials(const ProxyConfig& proxy) noexcept {
    return proxy.user.has_value() || proxy.password.has_value();
}

// A host that can go into a request line or a SOCKS5 request as it is. `who` names the
// proxy.
void check_target_host(std::string_view host, const std::string& who) {
    const std::string_view bare = strip_brackets(host);
    if (bare.empty()) {
        throw InvalidURI(InvalidURI::WholeMessage{}, std::string(host),
                         "cannot ask " + who + " to connect: the host is empty");
    }
    for (char c : bare) {
        if (!is_host_char(c) && c != ':') {
            throw InvalidURI(InvalidURI::WholeMessage{}, printable(host),
                             "cannot ask " + who + " to connect to \"" + printable(host) +
                                 "\": the host has characters a proxy request cannot carry");
        }
    }
}

constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

// The final head of a refusal as a Response: status, reason and header fields (RFC 9112 §4,
// §5), for the caller to read Retry-After or Proxy-Authenticate. The status line is valid
// (checked by the caller). Lenient: a line without a colon is skipped, and an obs-fold
// continuation line joins the previous value with a space (RFC 9112 §5.2).
Response refusal_response(std::string_view head, int status) {
    Response response;
    response.status = status;
    std::vector<Headers::Field> fields;
    bool status_line = true;
    while (!head.empty()) {
        const std::size_t eol = head.find('\n');
        std::string_view line = head.substr(0, eol);
        head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (status_line) {
            // "HTTP/1.1 503 Service Unavailable": the reason starts at offset 13.
            if (line.size() > 13) response.reason = std::string(line.substr(13));
            status_line = false;
            continue;
        }
        if (line.empty()) break;
        if (is_ows(line.front())) {
            while (!line.empty() && is_ows(line.front()))
                line.remove_prefix(1);
            while (!line.empty() && is_ows(line.back()))
                line.remove_suffix(1);
            if (!fields.empty() && !line.empty()) fields.back().second.append(" ").append(line);
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && is_ows(value.front()))
            value.remove_prefix(1);
        while (!value.empty() && is_ows(value.back()))
            value.remove_suffix(1);
        fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    response.headers = Headers(std::move(fields));
    return response;
}

// RFC 1928 §6: the REP field.
struct SocksReply {
    const char* text;
    std::errc code; // meaningful when `network` is set
    bool network;   // the target failed: a NetworkError, as a direct connection would give
};

SocksReply socks_reply(unsigned char rep) {
    switch (rep) {
    case 0x01:
        return {"general SOCKS server failure", std::errc{}, false};
    case 0x02:
        return {"connection not allowed by ruleset", std::errc{}, false};
    case 0x03:
        return {"network unreachable", std::errc::network_unreachable, true};
    case 0x04:
        return {"host unreachable", std::errc::host_unreachable, true};
    case 0x05:
        return {"connection refused", std::errc::connection_refused, true};
    case 0x06:
        return {"TTL expired", std::errc::timed_out, true};
    case 0x07:
        return {"command not supported", std::errc{}, false};
    case 0x08:
        return {"address type not supported", std::errc{}, false};
    default:
        return {"unknown reply code", std::errc{}, false};
    }
}

// RFC 1928 §5: ATYP and DST.ADDR for `host`.
std::string socks_address(std::string_view host, std::uint16_t port, const ProxyConfig& proxy,
                          const Resolver& resolver, Deadline deadline) {
    std::optional<IpAddress> ip = parse_ip(host);
    if (!ip) {
        const std::string_view name = strip_brackets(host);
        if (proxy.scheme == ProxyScheme::socks5h) {
            // ATYP 3: "the first octet of the address field contains the number of octets of
            // name that follow".
            if (name.size() > 255) {
                throw InvalidHandshake("cannot ask SOCKS5 proxy " + proxy.address() +
                                       " to connect to a host name of " +
                                       std::to_string(name.size()) +
                                       " bytes: SOCKS5 allows at most 255");
            }
            return std::string(1, '\x03') + static_cast<char>(name.size()) + std::string(name);
        }
        // socks5://: resolved here, as a direct connection would.
        const Endpoint first = resolve(resolver, host, port, deadline).front();
        ip.emplace();
        ip->family = first.family;
        if (first.family == AF_INET6) {
            std::memcpy(ip->bytes,
                        &reinterpret_cast<const sockaddr_in6*>(&first.address)->sin6_addr, 16);
        } else {
            std::memcpy(ip->bytes, &reinterpret_cast<const sockaddr_in*>(&first.address)->sin_addr,
                        4);
        }
    }
    // ATYP 1 (IPv4, 4 octets) or 4 (IPv6, 16 octets), network order.
    std::string out(1, ip->family == AF_INET ? '\x01' : '\x04');
    out.append(reinterpret_cast<const char*>(ip->bytes), ip->size());
    return out;
}

} // namespace

// ----- ProxyConfig --------------------------------------------------------------------------

std::string ProxyConfig::address() const {
    return host_port(host, port);
}

std::string ProxyConfig::to_string() const {
    return std::string(scheme_name(scheme)) + "://" + address();
}

ProxyConfig parse_proxy_url(std::string_view url) {
    ProxyConfig config;
    std::string_view rest = url;
    if (url.find("://") != std::string_view::npos &&
        scheme_separator(url) == std::string_view::npos)
        fail(url, "the text before \"://\" is not a scheme");
    if (const std::size_t sep = scheme_separator(url); sep != std::string_view::npos) {
        const std::string scheme = lower(url.substr(0, sep));
        if (scheme == "http") {
            config.scheme = ProxyScheme::http;
        } else if (scheme == "https") {
            config.scheme = ProxyScheme::https;
        } else if (scheme == "socks5") {
            config.scheme = ProxyScheme::socks5;
        } else if (scheme == "socks5h") {
            config.scheme = ProxyScheme::socks5h;
        } else {
            fail(url, "unknown scheme \"" + printable(scheme) +
                          "\" (syncws supports http://, https://, socks5:// and socks5h://)");
        }
        rest = url.substr(sep + 3);
    }
    config.port = default_port(config.scheme);

    const std::size_t authority_end = rest.find_first_of("/?#");
    // RFC 3986 §3.2: the authority ends at the first "/", "?" or "#", so these must be
    // percent-encoded in the userinfo. An "@" after that point means they were not: say so
    // rather than "no path" (the message shows no part of the password either way).
    if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos &&
                                                authority_end != std::string_view::npos &&
                                                at > authority_end) {
        fail(url, "\"@\" after the host: a '/', '?' or '#' in the user name or password must be "
                  "percent-encoded (%2F, %3F, %23)");
    }
    const std::string_view after =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    if (!after.empty() && after != "/") fail(url, "a proxy URL has no path, query or fragment");
    std::string_view authority = rest.substr(0, authority_end);

    // RFC 3986 §3.2.1: userinfo = *( unreserved / pct-encoded / sub-delims / ":" ), up to the
    // last "@" (a raw "@" in a password is common enough in the wild to tolerate).
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        if (!userinfo.empty()) {
            const std::size_t colon = userinfo.find(':');
            config.user = percent_decode(url, userinfo.substr(0, colon), "user name");
            if (colon != std::string_view::npos)
                config.password = percent_decode(url, userinfo.substr(colon + 1), "password");
        }
    }

    std::string_view host = authority;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) fail(url, "unterminated IPv6 literal (missing ']')");
        host = authority.substr(1, close - 1);
        const std::string_view tail = authority.substr(close + 1);
        if (!tail.empty() && tail.front() != ':')
            fail(url, "unexpected \"" + printable(tail) + "\" after the IPv6 literal");
        if (!parse_ip(host) || host.find(':') == std::string_view::npos)
            fail(url, "malformed IPv6 literal \"" + printable(host) + "\"");
        has_port = !tail.empty();
        if (has_port) port_text = tail.substr(1);
    } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
        if (authority.find(':', colon + 1) != std::string_view::npos)
            fail(url, "an IPv6 address must be in brackets (\"[::1]:3128\")");
        host = authority.substr(0, colon);
        port_text = authority.substr(colon + 1);
        has_port = true;
    }
    if (host.empty()) fail(url, "missing host");
    for (char c : host) {
        if (!is_host_char(c) && c != ':')
            fail(url, "invalid character '" + printable(std::string_view(&c, 1)) + "' in host");
    }
    // RFC 3986 §3.2.3: an empty port ("host:") means the scheme's default.
    if (has_port && !port_text.empty()) {
        const auto port = parse_port(port_text);
        if (!port) fail(url, "bad port \"" + printable(port_text) + "\": must be 1 to 65535");
        config.port = *port;
    }
    config.host = lower(host);

    if (config.is_socks()) {
        // RFC 1929 §2: ULEN and PLEN are one octet each, and UNAME is "1 to 255" octets.
        if (config.user && config.user->empty())
            fail(url, "empty SOCKS5 user name (RFC 1929 needs 1 to 255 bytes)");
        if (config.user && config.user->size() > 255)
            fail(url, "SOCKS5 user name longer than 255 bytes");
        if (config.password && config.password->size() > 255)
            fail(url, "SOCKS5 password longer than 255 bytes");
    } else if (config.user && config.user->find(':') != std::string::npos) {
        // RFC 7617 §2: "a user-id containing a colon character is invalid", since Basic
        // credentials are user-id ":" password.
        fail(url, "the user name contains ':' (%3A), which HTTP Basic authentication cannot "
                  "carry (RFC 7617)");
    }
    return config;
}

// ----- the environment ----------------------------------------------------------------------

std::optional<std::string> proxy_from_environment(bool secure, std::string_view host,
                                                  std::uint16_t port, const EnvLookup& getenv) {
    const auto raw = [&](const char* name) { return getenv ? getenv(name) : std::getenv(name); };
    const auto lookup = [&](const char* name) {
        const char* value = raw(name);
        return value == nullptr ? std::string_view() : std::string_view(value);
    };
    const bool cgi = raw("REQUEST_METHOD") != nullptr;
    const char* const secure_names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    const char* const plain_names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    std::string_view chosen;
    for (const char* name : secure ? secure_names : plain_names) {
        // httpoxy (CVE-2016-5385): a CGI server turns a "Proxy:" request header into
        // HTTP_PROXY; only the lower-case name is the operator's.
        if (cgi && std::strcmp(name, "HTTP_PROXY") == 0) continue;
        chosen = lookup(name);
        if (!chosen.empty()) break;
    }
    if (chosen.empty()) return std::nullopt;
    std::string_view no_proxy = lookup("no_proxy");
    if (no_proxy.empty()) no_proxy = lookup("NO_PROXY");
    if (bypass_proxy(no_proxy, host, port)) return std::nullopt;
    return std::string(chosen);
}

bool bypass_proxy(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    const std::string name = lower(without_trailing_dot(strip_brackets(host)));
    const std::optional<IpAddress> host_ip = parse_ip(name);
    std::size_t i = 0;
    while (i < no_proxy.size()) {
        const std::size_t end = no_proxy.find_first_of(", \t", i);
        const std::string_view entry = no_proxy.substr(i, end - i);
        if (!entry.empty() && entry_matches(entry, name, host_ip, port)) return true;
        if (end == std::string_view::npos) break;
        i = end + 1;
    }
    return false;
}

// ----- HTTP CONNECT -------------------------------------------------------------------------

void http_connect(Stream& stream, std::string_view host, std::uint16_t port,
                  const ProxyConfig& proxy, Deadline deadline) {
    const std::string who = "proxy " + proxy.address();
    check_target_host(host, who);
    // RFC 9110 §9.3.6: the request target is the authority-form "host:port" (RFC 9112
    // §3.2.3), IPv6 literals in brackets; §7.2: Host carries the same authority.
    const std::string target = host_port(host, port);
    std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
    if (has_credentials(proxy)) {
        // RFC 7617 §2: user-id ":" password, base64-encoded.
        request += "Proxy-Authorization: Basic " +
                   base64(proxy.user.value_or("") + ":" + proxy.password.value_or("")) + "\r\n";
    }
    request += "\r\n";
    stream.write_all(request.data(), request.size());

    const std::string what = "CONNECT to " + target;
    std::size_t budget = max_connect_head;
    for (;;) {
        const std::string head = read_head(stream, deadline, who, what, budget);
        const std::string_view line = std::string_view(head).substr(0, head.find_first_of("\r\n"));
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
        const bool valid = line.size() >= 12 && line.compare(0, 5, "HTTP/") == 0 &&
                           is_digit(line[5]) && line[6] == '.' && is_digit(line[7]) &&
                           line[8] == ' ' && is_digit(line[9]) && is_digit(line[10]) &&
                           is_digit(line[11]) && (line.size() == 12 || line[12] == ' ');
        const int status =
            valid ? (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0') : 0;
        // RFC 9110 §15: "All valid status codes are within the range of 100 to 599". §15.2.2:
        // 101 switches to the protocols an Upgrade header field asked for, and CONNECT asks
        // for none; taking it as an interim answer would read the bytes that follow, the
        // tunnel's or anyone's, as the next head.
        if (!valid || status < 100 || status > 599 || status == 101) {
            throw InvalidHandshake(who + " sent an invalid answer to " + what + ": \"" +
                                   printable(line.substr(0, 200)) + "\"");
        }
        // RFC 9110 §15.2: a client must accept interim 1xx responses before the final one.
        if (status < 200) continue;
        // RFC 9110 §9.3.6: "Any 2xx (Successful) response indicates that the sender (and all
        // inbound proxies) will switch to tunnel mode immediately after the response header
        // section"; a client "MUST ignore any Content-Length or Transfer-Encoding" in it.
        if (status < 300) return;
        std::string message = who + " refused " + what + ": " + printable(line.substr(9, 200));
        if (status == 407) {
            message += has_credentials(proxy)
                           ? " (the proxy rejected the credentials of the proxy URL)"
                           : " (the proxy URL has no credentials: http://user:password@host)";
        }
        throw ProxyError(message, refusal_response(head, status));
    }
}

// ----- SOCKS5 -------------------------------------------------------------------------------

void socks5_connect(Stream& stream, std::string_view host, std::uint16_t port,
                    const ProxyConfig& proxy, Deadline deadline, const Resolver& resolver) {
    const std::string who = "SOCKS5 proxy " + proxy.address();
    check_target_host(host, who);
    const std::string target = host_port(host, port);
    const bool credentials = has_credentials(proxy);
    // Before anything is sent: a name too long to send, or one that does not resolve, fails
    // without bothering the proxy.
    const std::string address = socks_address(host, port, proxy, resolver, deadline);
    const auto read = [&](std::size_t n, const std::string& step) {
        return read_exactly(stream, n, deadline, who + " to answer " + step,
                            who + " closed the connection instead of answering " + step);
    };

    // RFC 1928 §3: VER 5, NMETHODS, METHODS. 0x00 is "no authentication required", 0x02
    // "username/password" (RFC 1929); 0x02 is offered only with credentials to give.
    const std::string greeting =
        credentials ? std::string("\x05\x02\x00\x02", 4) : std::string("\x05\x01\x00", 3);
    stream.write_all(greeting.data(), greeting.size());
    const std::string choice = read(2, "the greeting");
    if (choice[0] != '\x05') {
        throw InvalidHandshake(who + " is not a SOCKS5 proxy: it answered version " +
                               hex_byte(static_cast<unsigned char>(choice[0])) +
                               (choice[0] == 'H' ? " ('H': an HTTP proxy? use http://)" : ""));
    }
    const auto method = static_cast<unsigned char>(choice[1]);
    if (method == 0xff) {
        // RFC 1928 §3: X'FF' NO ACCEPTABLE METHODS.
        throw InvalidHandshake(
            who + " accepts none of the authentication methods offered (" +
            (credentials ? "none, username/password)" : "none; the proxy URL has no credentials)"));
    }
    if (method == 0x02 && credentials) {
        // RFC 1929 §2: VER 1, ULEN, UNAME, PLEN, PASSWD (parse_proxy_url checked the lengths).
        const std::string user = proxy.user.value_or("");
        const std::string password = proxy.password.value_or("");
        std::string auth = "\x01";
        auth += static_cast<char>(user.size());
        auth += user;
        auth += static_cast<char>(password.size());
        auth += password;
        stream.write_all(auth.data(), auth.size());
        // "A STATUS field of X'00' indicates success. If the server returns a `failure'
        // (STATUS value other than X'00') status, it MUST close the connection." The version
        // byte is not checked: some servers answer 5 instead of 1.
        const std::string status = read(2, "the user name and password");
        if (status[1] != '\0') {
            throw InvalidHandshake(who + " rejected the user name and password (status " +
                                   hex_byte(static_cast<unsigned char>(status[1])) + ")");
        }
    } else if (method != 0x00) {
        throw InvalidHandshake(who + " chose authentication method " + hex_byte(method) +
                               ", which was not offered");
    }

    // RFC 1928 §4: VER 5, CMD 1 (CONNECT), RSV 0, ATYP, DST.ADDR, DST.PORT (network order).
    std::string request("\x05\x01\x00", 3);
    request += address;
    request += static_cast<char>(port >> 8);
    request += static_cast<char>(port & 0xff);
    stream.write_all(request.data(), request.size());

    // RFC 1928 §6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT. REP is read first: a proxy may
    // close the connection after a failure without sending the rest.
    const std::string step = "CONNECT to " + target;
    const std::string head = read(2, step);
    if (head[0] != '\x05') {
        throw InvalidHandshake(who + " sent an invalid reply to " + step + ": version " +
                               hex_byte(static_cast<unsigned char>(head[0])));
    }
    if (const auto rep = static_cast<unsigned char>(head[1]); rep != 0) {
        const SocksReply reply = socks_reply(rep);
        if (reply.network) {
            throw NetworkError(std::make_error_code(reply.code),
                               who + " cannot connect to " + target + " (reply " + hex_byte(rep) +
                                   ": " + reply.text + ")");
        }
        std::string message =
            who + " refused " + step + ": " + reply.text + " (reply " + hex_byte(rep) + ")";
        // A general failure may pass, like an HTTP proxy's 5xx; the other refusals will not.
        if (rep == 0x01) throw ProxyError(message);
        throw InvalidHandshake(message);
    }
    const std::string rest = read(2, step);
    std::size_t address_size = 0;
    switch (rest[1]) {
    case '\x01':
        address_size = 4;
        break;
    case '\x04':
        address_size = 16;
        break;
    case '\x03':
        address_size = static_cast<unsigned char>(read(1, step)[0]);
        break;
    default:
        throw InvalidHandshake(who + " sent an invalid reply to " + step + ": address type " +
                               hex_byte(static_cast<unsigned char>(rest[1])));
    }
    read(address_size + 2, step); // BND.ADDR and BND.PORT: of no use to a client
}

void open_tunnel(Stream& stream, std::string_view host, std::uint16_t port,
                 const ProxyConfig& proxy, Deadline deadline, const Resolver& resolver) {
    if (proxy.is_socks()) {
        socks5_connect(stream, host, port, proxy, deadline, resolver);
    } else {
        http_connect(stream, host, port, proxy, deadline);
    }
}

} // namespace syncws::net
