// Proxies without a proxy: URL parsing, the environment through a fake getenv, no_proxy
// matching, and the CONNECT and SOCKS5 exchanges byte for byte against a scripted peer on a
// loopback TCP pair.
#include "net_test_util.hpp"
#include "proxy.hpp"
#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <future>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <system_error>

namespace syncws::test {
namespace {

// ----- parse_proxy_url ----------------------------------------------------------------------

TEST(ParseProxyUrl, SchemesAndDefaultPorts) {
    const auto http = net::parse_proxy_url("http://proxy.example:3128");
    EXPECT_EQ(http.scheme, net::ProxyScheme::http);
    EXPECT_EQ(http.host, "proxy.example");
    EXPECT_EQ(http.port, 3128);
    EXPECT_FALSE(http.user);
    EXPECT_FALSE(http.password);
    EXPECT_FALSE(http.is_socks());

    EXPECT_EQ(net::parse_proxy_url("http://p").port, 80);
    const auto https = net::parse_proxy_url("HTTPS://Proxy.Example/");
    EXPECT_EQ(https.scheme, net::ProxyScheme::https);
    EXPECT_EQ(https.host, "proxy.example");
    EXPECT_EQ(https.port, 443);
    const auto socks = net::parse_proxy_url("socks5://10.0.0.1");
    EXPECT_EQ(socks.scheme, net::ProxyScheme::socks5);
    EXPECT_EQ(socks.port, 1080);
    EXPECT_TRUE(socks.is_socks());
    const auto socksh = net::parse_proxy_url("SOCKS5H://h:9050");
    EXPECT_EQ(socksh.scheme, net::ProxyScheme::socks5h);
    EXPECT_EQ(socksh.port, 9050);
    // "host:" is the default port (RFC 3986 §3.2.3).
    EXPECT_EQ(net::parse_proxy_url("socks5h://h:").port, 1080);
}

TEST(ParseProxyUrl, WithoutSchemeIsHttp) {
    const auto p = net::parse_proxy_url("proxy.example:3128");
    EXPECT_EQ(p.scheme, net::ProxyScheme::http);
    EXPECT_EQ(p.host, "proxy.example");
    EXPECT_EQ(p.port, 3128);
    EXPECT_EQ(net::parse_proxy_url("corp-proxy").port, 80);
}

TEST(ParseProxyUrl, Credentials) {
    const auto p = net::parse_proxy_url("http://us%40er:p%3As%25s@h:1/");
    ASSERT_TRUE(p.user);
    ASSERT_TRUE(p.password);
    EXPECT_EQ(*p.user, "us@er");
    EXPECT_EQ(*p.password, "p:s%s");
    EXPECT_EQ(p.host, "h");

    const auto user_only = net::parse_proxy_url("socks5://alice@h");
    EXPECT_EQ(user_only.user, "alice");
    EXPECT_FALSE(user_only.password);
    const auto empty_password = net::parse_proxy_url("http://alice:@h");
    EXPECT_EQ(empty_password.password, "");
    const auto none = net::parse_proxy_url("http://@h");
    EXPECT_FALSE(none.user);
    EXPECT_FALSE(none.password);
    // The last "@" ends the userinfo: a raw "@" in a password is tolerated.
    const auto raw_at = net::parse_proxy_url("http://u:p@ss@h:8");
    EXPECT_EQ(raw_at.password, "p@ss");
    EXPECT_EQ(raw_at.host, "h");
}

TEST(ParseProxyUrl, IpLiterals) {
    const auto v6 = net::parse_proxy_url("http://[::1]:8080");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 8080);
    EXPECT_EQ(v6.address(), "[::1]:8080");
    EXPECT_EQ(net::parse_proxy_url("socks5h://[fd00::1]").to_string(), "socks5h://[fd00::1]:1080");
    EXPECT_EQ(net::parse_proxy_url("http://127.0.0.1:3128").address(), "127.0.0.1:3128");
}

TEST(ParseProxyUrl, ToStringDropsCredentials) {
    EXPECT_EQ(net::parse_proxy_url("https://u:secret@Proxy:8443").to_string(),
              "https://proxy:8443");
}

std::string parse_error(const std::string& url) {
    try {
        net::parse_proxy_url(url);
    } catch (const InvalidURI& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ParseProxyUrl, ErrorsSayWhatIsWrong) {
    EXPECT_TRUE(contains(parse_error("socks4://h:1080"), "unknown scheme \"socks4\""));
    EXPECT_TRUE(contains(parse_error("ftp://h"), "unknown scheme \"ftp\""));
    EXPECT_TRUE(contains(parse_error("http://"), "missing host"));
    EXPECT_TRUE(contains(parse_error("http://:3128"), "missing host"));
    EXPECT_TRUE(contains(parse_error("http://u:p@"), "missing host"));
    EXPECT_TRUE(contains(parse_error(""), "missing host"));
    EXPECT_TRUE(contains(parse_error("http://h:0"), "bad port \"0\""));
    EXPECT_TRUE(contains(parse_error("http://h:65536"), "bad port \"65536\""));
    EXPECT_TRUE(contains(parse_error("http://h:80a"), "bad port \"80a\""));
    EXPECT_TRUE(contains(parse_error("http://h:-1"), "bad port"));
    EXPECT_TRUE(contains(parse_error("http://::1:80"), "brackets"));
    EXPECT_TRUE(contains(parse_error("http://[::1"), "unterminated IPv6"));
    EXPECT_TRUE(contains(parse_error("http://[nope]:80"), "malformed IPv6"));
    EXPECT_TRUE(contains(parse_error("http://[::1]x"), "after the IPv6 literal"));
    EXPECT_TRUE(contains(parse_error("http://h/path"), "no path, query or fragment"));
    EXPECT_TRUE(contains(parse_error("http://h?x=1"), "no path, query or fragment"));
    EXPECT_TRUE(contains(parse_error("http://h h"), "invalid character ' ' in host"));
    EXPECT_TRUE(contains(parse_error("http://u%2:p@h"), "bad percent-escape in the user name"));
    EXPECT_TRUE(contains(parse_error("socks5://" + std::string(256, 'u') + ":p@h"),
                         "user name longer than 255 bytes"));
    EXPECT_TRUE(contains(parse_error("socks5://u:" + std::string(256, 'p') + "@h"),
                         "password longer than 255 bytes"));
    // Over 255 bytes is fine for HTTP Basic.
    EXPECT_NO_THROW(net::parse_proxy_url("http://" + std::string(300, 'u') + ":p@h"));
    EXPECT_TRUE(contains(parse_error("u:p://x@h"), "the text before \"://\" is not a scheme"));
    EXPECT_TRUE(contains(parse_error("1http://h"), "not a scheme"));
}

TEST(ParseProxyUrl, ErrorsAreInvalidProxyUrlWithTheirOwnWording) {
    try {
        net::parse_proxy_url("socks4://u:secret@h:1080");
        ADD_FAILURE() << "no error";
    } catch (const InvalidProxyURL& e) {
        EXPECT_STREQ(e.what(), "bad proxy URL \"socks4://u:***@h:1080\": unknown scheme "
                               "\"socks4\" (syncws supports http://, https://, socks5:// and "
                               "socks5h://)");
        EXPECT_EQ(e.uri(), "socks4://u:***@h:1080");
    }
}

TEST(ParseProxyUrl, Socks5UserNameMustNotBeEmpty) {
    // RFC 1929 §2: UNAME is 1 to 255 octets.
    EXPECT_EQ(parse_error("socks5://:pw@h"),
              "bad proxy URL \"socks5://:***@h\": empty SOCKS5 user name (RFC 1929 needs 1 to "
              "255 bytes)");
    EXPECT_TRUE(contains(parse_error("socks5h://:@h"), "empty SOCKS5 user name"));
    EXPECT_TRUE(contains(parse_error("socks5h://%41%42:@h"), "(no error)"));
    // Nothing at all before "@" is no credentials; HTTP Basic allows an empty user-id.
    EXPECT_FALSE(net::parse_proxy_url("socks5://@h").user);
    EXPECT_EQ(net::parse_proxy_url("http://:pw@h").user, "");
}

TEST(ParseProxyUrl, HttpUserNameMustNotHoldAColon) {
    // RFC 7617 §2: "a user-id containing a colon character is invalid".
    EXPECT_EQ(parse_error("http://a%3Ab:pw@h"),
              "bad proxy URL \"http://a%3Ab:***@h\": the user name contains ':' (%3A), which "
              "HTTP Basic authentication cannot carry (RFC 7617)");
    EXPECT_TRUE(contains(parse_error("https://a%3a@h"), "the user name contains ':'"));
    // RFC 1929 has lengths, not a separator.
    EXPECT_EQ(net::parse_proxy_url("socks5://a%3Ab:pw@h").user, "a:b");
}

TEST(ParseProxyUrl, ErrorsNeverShowThePassword) {
    const std::string bad_port = parse_error("http://alice:s3cret@h:99999");
    EXPECT_TRUE(contains(bad_port, "http://alice:***@h:99999")) << bad_port;
    EXPECT_EQ(bad_port.find("s3cret"), std::string::npos) << bad_port;
    const std::string bad_escape = parse_error("http://alice:s3cret%zz@h");
    EXPECT_TRUE(contains(bad_escape, "bad percent-escape in the password")) << bad_escape;
    EXPECT_EQ(bad_escape.find("s3cret"), std::string::npos) << bad_escape;
}

TEST(ParseProxyUrl, UnencodedDelimitersInThePasswordNeverShowIt) {
    // RFC 3986 §3.2: "/", "?" and "#" end the authority, so that "@h" looks like a path,
    // query or fragment. The password must not show in the message all the same.
    struct Case {
        const char* url;
        const char* password;
        const char* shown;
    };
    const Case cases[] = {
        {"http://u:p#ss@h:1", "p#ss", "\"http://u:***@h:1\""},
        {"u:p#ss@h", "p#ss", "\"u:***@h\""},
        {"http://u:pa/ss@h", "pa/ss", "\"http://u:***@h\""},
        {"u:pa/ss@h", "pa/ss", "\"u:***@h\""},
        {"socks5h://u:p?s@h", "p?s", "\"socks5h://u:***@h\""},
        {"u:p?s@h", "p?s", "\"u:***@h\""},
        {"http://u:a/b?c#d@e@h/", "a/b?c#d@e", "\"http://u:***@h/\""},
    };
    for (const Case& c : cases) {
        try {
            net::parse_proxy_url(c.url);
            ADD_FAILURE() << c.url << ": no error";
        } catch (const InvalidProxyURL& e) {
            const std::string what = e.what();
            EXPECT_TRUE(contains(what, c.shown)) << what;
            EXPECT_TRUE(contains(what, "must be percent-encoded (%2F, %3F, %23)")) << what;
            EXPECT_EQ(what.find(c.password), std::string::npos) << what;
            EXPECT_EQ(e.uri().find(c.password), std::string::npos) << e.uri();
        }
    }
    // Encoded, the same credentials work.
    const auto encoded = net::parse_proxy_url("http://u:p%23s%2Fs%3F@h:1");
    EXPECT_EQ(encoded.password, "p#s/s?");
    EXPECT_EQ(encoded.host, "h");
    // A scheme-like prefix that is not one is not taken for the scheme: "p://x" is a password.
    const std::string not_scheme = parse_error("u:p://x@h");
    EXPECT_EQ(not_scheme.find("p://x"), std::string::npos) << not_scheme;
    EXPECT_TRUE(contains(not_scheme, "\"u:***@h\"")) << not_scheme;
}

// ----- no_proxy -----------------------------------------------------------------------------

TEST(BypassProxy, NamesAndDomains) {
    EXPECT_TRUE(net::bypass_proxy("example.com", "example.com", 443));
    EXPECT_TRUE(net::bypass_proxy("example.com", "www.example.com", 443));
    EXPECT_TRUE(net::bypass_proxy(".example.com", "example.com", 443));
    EXPECT_TRUE(net::bypass_proxy(".example.com", "a.b.example.com", 443));
    EXPECT_FALSE(net::bypass_proxy("example.com", "badexample.com", 443));
    EXPECT_FALSE(net::bypass_proxy(".example.com", "badexample.com", 443));
    EXPECT_FALSE(net::bypass_proxy("www.example.com", "example.com", 443));
    EXPECT_FALSE(net::bypass_proxy("example.com", "example.org", 443));
    // Case-insensitive, trailing dots ignored.
    EXPECT_TRUE(net::bypass_proxy("Example.COM", "WWW.example.com", 80));
    EXPECT_TRUE(net::bypass_proxy("example.com.", "example.com", 80));
    EXPECT_TRUE(net::bypass_proxy("example.com", "example.com.", 80));
}

TEST(BypassProxy, ListsAndWildcard) {
    EXPECT_TRUE(net::bypass_proxy("*", "anything.example", 1));
    EXPECT_TRUE(net::bypass_proxy("a.example, b.example ,c.example", "c.example", 1));
    EXPECT_TRUE(net::bypass_proxy("a.example b.example", "b.example", 1));
    EXPECT_TRUE(net::bypass_proxy(",,b.example,", "b.example", 1));
    EXPECT_FALSE(net::bypass_proxy("a.example,b.example", "c.example", 1));
    EXPECT_FALSE(net::bypass_proxy("", "c.example", 1));
    // "*" only alone: "*.example.com" is not a glob (curl and Python agree).
    EXPECT_FALSE(net::bypass_proxy("*.example.com", "a.example.com", 1));
}

TEST(BypassProxy, Ports) {
    EXPECT_TRUE(net::bypass_proxy("example.com:8080", "example.com", 8080));
    EXPECT_FALSE(net::bypass_proxy("example.com:8080", "example.com", 443));
    EXPECT_TRUE(net::bypass_proxy(".example.com:443", "a.example.com", 443));
    EXPECT_TRUE(net::bypass_proxy("10.1.2.3:80", "10.1.2.3", 80));
    EXPECT_FALSE(net::bypass_proxy("10.1.2.3:80", "10.1.2.3", 81));
    EXPECT_TRUE(net::bypass_proxy("[::1]:80", "::1", 80));
    EXPECT_FALSE(net::bypass_proxy("[::1]:80", "::1", 81));
    EXPECT_FALSE(net::bypass_proxy("example.com:notaport", "example.com", 80));
}

TEST(BypassProxy, IpAddressesAndNetworks) {
    EXPECT_TRUE(net::bypass_proxy("127.0.0.1", "127.0.0.1", 80));
    EXPECT_FALSE(net::bypass_proxy("127.0.0.1", "127.0.0.2", 80));
    EXPECT_FALSE(net::bypass_proxy("0.0.1", "127.0.0.1", 80)); // not a domain suffix
    EXPECT_TRUE(net::bypass_proxy("::1", "::1", 80));
    EXPECT_TRUE(net::bypass_proxy("::1", "[::1]", 80));
    EXPECT_TRUE(net::bypass_proxy("[::1]", "::1", 80));
    EXPECT_TRUE(net::bypass_proxy("0:0::1", "::1", 80)); // compared as addresses
    EXPECT_TRUE(net::bypass_proxy("10.0.0.0/8", "10.200.3.4", 80));
    EXPECT_FALSE(net::bypass_proxy("10.0.0.0/8", "11.0.0.1", 80));
    EXPECT_TRUE(net::bypass_proxy("192.168.1.0/25", "192.168.1.127", 80));
    EXPECT_FALSE(net::bypass_proxy("192.168.1.0/25", "192.168.1.128", 80));
    EXPECT_TRUE(net::bypass_proxy("fd00::/8", "fd12:3456::1", 80));
    EXPECT_FALSE(net::bypass_proxy("fd00::/8", "fe80::1", 80));
    EXPECT_FALSE(net::bypass_proxy("10.0.0.0/8", "::1", 80));
    EXPECT_FALSE(net::bypass_proxy("10.0.0.0/33", "10.0.0.1", 80));
    // IP entries never match names, names never match IP literals: nothing is resolved.
    EXPECT_FALSE(net::bypass_proxy("127.0.0.1", "localhost", 80));
    EXPECT_FALSE(net::bypass_proxy("localhost", "127.0.0.1", 80));
    EXPECT_TRUE(net::bypass_proxy("localhost", "localhost", 80));
}

// ----- proxy_from_environment ---------------------------------------------------------------

struct FakeEnvironment {
    std::map<std::string, std::string> variables;
    net::EnvLookup lookup() const {
        return [this](const char* name) -> const char* {
            const auto it = variables.find(name);
            return it == variables.end() ? nullptr : it->second.c_str();
        };
    }
    std::optional<std::string> proxy(bool secure, const std::string& host = "example.com",
                                     std::uint16_t port = 443) const {
        return net::proxy_from_environment(secure, host, port, lookup());
    }
};

TEST(ProxyFromEnvironment, SchemeSelectsTheVariable) {
    FakeEnvironment env;
    env.variables = {{"http_proxy", "http://plain:1"}, {"https_proxy", "http://secure:2"}};
    EXPECT_EQ(env.proxy(false), "http://plain:1");
    EXPECT_EQ(env.proxy(true), "http://secure:2");
    // wss:// never falls back to http_proxy.
    env.variables = {{"http_proxy", "http://plain:1"}};
    EXPECT_EQ(env.proxy(true), std::nullopt);
    env.variables = {{"https_proxy", "http://secure:2"}};
    EXPECT_EQ(env.proxy(false), std::nullopt);
    EXPECT_EQ(FakeEnvironment{}.proxy(false), std::nullopt);
}

TEST(ProxyFromEnvironment, LowerCaseFirstThenUpperCaseThenAllProxy) {
    FakeEnvironment env;
    env.variables = {{"https_proxy", "http://lower:1"},
                     {"HTTPS_PROXY", "http://upper:2"},
                     {"all_proxy", "socks5://all:3"},
                     {"ALL_PROXY", "socks5://ALL:4"}};
    EXPECT_EQ(env.proxy(true), "http://lower:1");
    env.variables.erase("https_proxy");
    EXPECT_EQ(env.proxy(true), "http://upper:2");
    env.variables.erase("HTTPS_PROXY");
    EXPECT_EQ(env.proxy(true), "socks5://all:3");
    EXPECT_EQ(env.proxy(false), "socks5://all:3");
    env.variables.erase("all_proxy");
    EXPECT_EQ(env.proxy(true), "socks5://ALL:4");
    // An empty variable counts as unset.
    env.variables = {{"http_proxy", ""}, {"HTTP_PROXY", "http://upper:2"}};
    EXPECT_EQ(env.proxy(false), "http://upper:2");
}

TEST(ProxyFromEnvironment, NoProxyBypasses) {
    FakeEnvironment env;
    env.variables = {{"https_proxy", "http://p:1"}, {"no_proxy", "internal.example,10.0.0.0/8"}};
    EXPECT_EQ(env.proxy(true, "svc.internal.example"), std::nullopt);
    EXPECT_EQ(env.proxy(true, "10.2.3.4"), std::nullopt);
    EXPECT_EQ(env.proxy(true, "example.com"), "http://p:1");
    env.variables = {{"https_proxy", "http://p:1"}, {"NO_PROXY", "*"}};
    EXPECT_EQ(env.proxy(true, "example.com"), std::nullopt);
    // The lower-case one wins, as for the proxies.
    env.variables = {{"https_proxy", "http://p:1"}, {"no_proxy", "a.example"}, {"NO_PROXY", "*"}};
    EXPECT_EQ(env.proxy(true, "b.example"), "http://p:1");
    EXPECT_EQ(env.proxy(true, "a.example"), std::nullopt);
    // With a port.
    env.variables = {{"http_proxy", "http://p:1"}, {"no_proxy", "example.com:8080"}};
    EXPECT_EQ(env.proxy(false, "example.com", 8080), std::nullopt);
    EXPECT_EQ(env.proxy(false, "example.com", 80), "http://p:1");
}

TEST(ProxyFromEnvironment, UpperCaseHttpProxyIgnoredUnderCgi) {
    // httpoxy: in a CGI program, HTTP_PROXY comes from the client's "Proxy:" header.
    FakeEnvironment env;
    env.variables = {{"HTTP_PROXY", "http://attacker:1"}, {"REQUEST_METHOD", "GET"}};
    EXPECT_EQ(env.proxy(false), std::nullopt);
    env.variables["ALL_PROXY"] = "http://operator:2";
    EXPECT_EQ(env.proxy(false), "http://operator:2");
    env.variables["http_proxy"] = "http://operator:3";
    EXPECT_EQ(env.proxy(false), "http://operator:3");
    // Not under CGI, and not for the other variables.
    env.variables = {{"HTTP_PROXY", "http://p:1"}};
    EXPECT_EQ(env.proxy(false), "http://p:1");
    env.variables = {{"HTTPS_PROXY", "http://p:1"}, {"REQUEST_METHOD", "GET"}};
    EXPECT_EQ(env.proxy(true), "http://p:1");
}

TEST(ProxyFromEnvironment, DefaultReadsTheProcessEnvironment) {
    // The process's own environment, read but not changed: whatever it holds, the default
    // lookup must agree with a lookup through ::getenv.
    const auto direct = net::proxy_from_environment(true, "example.com", 443);
    const auto through = net::proxy_from_environment(true, "example.com", 443,
                                                     [](const char* n) { return ::getenv(n); });
    EXPECT_EQ(direct, through);
}

// ----- a scripted peer ----------------------------------------------------------------------

std::string hex(std::string_view bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if (!out.empty()) out += ' ';
        out += digits[u >> 4];
        out += digits[u & 0xf];
    }
    return out;
}

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values)
        out += static_cast<char>(v);
    return out;
}

// A TCP pair: the test drives `client` with the code under test while `script` plays the
// proxy on `server` on another thread. The destructor aborts both so that no side can be
// left waiting, then joins the script.
class Scripted {
public:
    template <class F> explicit Scripted(F script) : pair_(tcp_pair()) {
        peer_ = run_async([this, script] { script(*pair_.server); });
    }
    ~Scripted() {
        pair_.client->abort();
        pair_.server->abort();
        if (peer_.valid()) peer_.wait();
    }
    net::Stream& client() { return *pair_.client; }
    /// Waits for the script to finish and rethrows what it threw.
    void join() {
        ASSERT_TRUE(finishes(peer_));
        peer_.get();
    }

private:
    StreamPair pair_;
    std::future<void> peer_;
};

// The peer expects exactly `expected` next.
void expect_bytes(net::Stream& stream, std::string_view expected) {
    EXPECT_EQ(hex(read_exactly(stream, expected.size())), hex(expected));
}

const net::ProxyConfig http_proxy = net::parse_proxy_url("http://127.0.0.1:3128");
const net::ProxyConfig http_proxy_auth = net::parse_proxy_url("http://user:pass@127.0.0.1:3128");

// ----- http_connect -------------------------------------------------------------------------

TEST(HttpConnect, RequestBytesAndLeftoverTunnelBytes) {
    // The 200 head and the target's first bytes arrive in one segment: the bytes after the
    // blank line belong to the tunnel and must still be there after http_connect.
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        write_string(s, "HTTP/1.1 200 Connection established\r\n\r\nHELLO from the target");
        s.shutdown_write(); // a lost byte shows as a short read, not a hang
    });
    net::http_connect(peer.client(), "example.com", 443, http_proxy, in(generous));
    EXPECT_EQ(read_exactly(peer.client(), 21), "HELLO from the target");
    peer.join();
}

TEST(HttpConnect, BasicCredentials) {
    Scripted peer([](net::Stream& s) {
        // RFC 7617: base64("user:pass") = "dXNlcjpwYXNz".
        expect_bytes(s, "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n"
                        "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
        write_string(s, "HTTP/1.1 200 OK\r\n\r\n");
    });
    net::http_connect(peer.client(), "example.com", 80, http_proxy_auth, in(generous));
    peer.join();
}

TEST(HttpConnect, Base64PaddingAndDecodedCredentials) {
    // "a:b" has no padding, "ab:c" two... base64 of "us@er:p:ss" = "dXNAZXI6cDpzcw==".
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
                        "Proxy-Authorization: Basic dXNAZXI6cDpzcw==\r\n\r\n");
        write_string(s, "HTTP/1.0 200 OK\r\n\r\n");
    });
    net::http_connect(peer.client(), "h", 1,
                      net::parse_proxy_url("http://us%40er:p%3Ass@127.0.0.1:3128"), in(generous));
    peer.join();
    Scripted peer2([](net::Stream& s) {
        // "user:" (no password) = "dXNlcjo=".
        expect_bytes(s, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
                        "Proxy-Authorization: Basic dXNlcjo=\r\n\r\n");
        write_string(s, "HTTP/1.1 200 OK\r\n\r\n");
    });
    net::http_connect(peer2.client(), "h", 1, net::parse_proxy_url("http://user@127.0.0.1:3128"),
                      in(generous));
    peer2.join();
}

TEST(HttpConnect, Ipv6TargetInBrackets) {
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
        write_string(s, "HTTP/1.1 200 OK\r\n\r\n");
    });
    net::http_connect(peer.client(), "2001:db8::1", 8443, http_proxy, in(generous));
    peer.join();
}

TEST(HttpConnect, HeadersInterimResponsesAndByteByByte) {
    // A 100 before the final answer, headers (Content-Length ignored in a 2xx, RFC 9110
    // §9.3.6), bare LF line ends, every byte in its own segment; then tunnel bytes.
    const std::string answer = "HTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 200 Connection established\n"
                               "Proxy-Agent: test\nContent-Length: 100\n\n"
                               "tunnel";
    Scripted peer([&](net::Stream& s) {
        read_exactly(s, 59);
        for (char c : answer)
            s.write_all(&c, 1);
        s.shutdown_write();
    });
    net::http_connect(peer.client(), "example.com", 443, http_proxy, in(generous));
    EXPECT_EQ(read_exactly(peer.client(), 6), "tunnel");
    peer.join();
}

std::string http_connect_error(const std::string& answer, bool close_after = false,
                               const net::ProxyConfig& proxy = http_proxy) {
    Scripted peer([&](net::Stream& s) {
        read_exactly(s, 59);
        write_string(s, answer);
        if (close_after) s.shutdown_write();
    });
    try {
        net::http_connect(peer.client(), "example.com", 443, proxy, in(generous));
    } catch (const SecurityLimit& e) {
        return std::string("SecurityLimit: ") + e.what();
    } catch (const InvalidStatus& e) {
        return std::string("InvalidStatus: ") + e.what();
    } catch (const ProxyError& e) {
        return std::string("ProxyError(") +
               (e.response() ? std::to_string(e.response()->status) : "no response") +
               "): " + e.what();
    } catch (const InvalidHandshake& e) {
        return std::string("InvalidHandshake: ") + e.what();
    } catch (const std::exception& e) {
        return std::string("other: ") + e.what();
    }
    return "(no error)";
}

TEST(HttpConnect, RefusalsNameProxyTargetAndStatus) {
    EXPECT_EQ(http_connect_error("HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n"),
              "ProxyError(407): proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 407 "
              "Proxy Authentication Required (the proxy URL has no credentials: "
              "http://user:password@host)");
    Scripted peer([&](net::Stream& s) {
        read_exactly(s, 59 + 41);
        write_string(s, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
    });
    try {
        net::http_connect(peer.client(), "example.com", 443, http_proxy_auth, in(generous));
        ADD_FAILURE() << "no error";
    } catch (const ProxyError& e) {
        EXPECT_TRUE(contains(e.what(), "407 Proxy Authentication Required (the proxy rejected "
                                       "the credentials"));
    }
    EXPECT_EQ(http_connect_error("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"),
              "ProxyError(502): proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 502 "
              "Bad Gateway");
    EXPECT_EQ(http_connect_error("HTTP/1.1 403\r\n\r\n"),
              "ProxyError(403): proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 403");
    EXPECT_EQ(http_connect_error("HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n"),
              "ProxyError(301): proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 301 "
              "Moved");
}

// The ProxyError http_connect threw for `answer`.
std::optional<ProxyError> proxy_error(const std::string& answer) {
    Scripted peer([&](net::Stream& s) {
        read_exactly(s, 59);
        write_string(s, answer);
    });
    try {
        net::http_connect(peer.client(), "example.com", 443, http_proxy, in(generous));
    } catch (const ProxyError& e) {
        return e;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not a ProxyError: " << e.what();
    }
    return std::nullopt;
}

TEST(HttpConnect, RefusalCarriesTheResponse) {
    // Interim 1xx heads are not kept; bare LF, OWS around values, an obs-fold line (RFC 9112
    // §5.2) and a line without a colon (skipped); no body is read.
    const auto e = proxy_error("HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                               "HTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 7 \r\n"
                               "Proxy-Agent:\tsquid\n"
                               "X-Folded: a\r\n"
                               " \tb\r\n"
                               "no colon here\r\n"
                               "Content-Length: 4\r\n"
                               "\r\nbody");
    ASSERT_TRUE(e);
    ASSERT_TRUE(e->response());
    EXPECT_EQ(e->response()->status, 503);
    EXPECT_EQ(e->response()->reason, "Service Unavailable");
    const Headers expected{{"Retry-After", "7"},
                           {"Proxy-Agent", "squid"},
                           {"X-Folded", "a b"},
                           {"Content-Length", "4"}};
    EXPECT_TRUE(e->response()->headers == expected);
    EXPECT_EQ(e->response()->body, "");
    EXPECT_STREQ(e->what(), "proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 503 "
                            "Service Unavailable");

    const auto bare = proxy_error("HTTP/1.0 429\r\n\r\n");
    ASSERT_TRUE(bare && bare->response());
    EXPECT_EQ(bare->response()->status, 429);
    EXPECT_EQ(bare->response()->reason, "");
    EXPECT_TRUE(bare->response()->headers.empty());
}

TEST(HttpConnect, RefusalKeepsEveryField) {
    std::string answer = "HTTP/1.1 502 Bad Gateway\r\n";
    for (int i = 0; i < 40; ++i)
        answer += "X-" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
    const auto e = proxy_error(answer + "\r\n");
    ASSERT_TRUE(e && e->response());
    const Headers& headers = e->response()->headers;
    ASSERT_EQ(headers.size(), 40u);
    EXPECT_EQ(headers.begin()->first, "X-0");
    EXPECT_EQ((headers.end() - 1)->first, "X-39");
    EXPECT_EQ((headers.end() - 1)->second, "39");
}

TEST(HttpConnect, InvalidAnswers) {
    EXPECT_EQ(http_connect_error("SSH-2.0-OpenSSH_9.2\r\n\r\n"),
              "InvalidHandshake: proxy 127.0.0.1:3128 sent an invalid answer to CONNECT to "
              "example.com:443: \"SSH-2.0-OpenSSH_9.2\"");
    EXPECT_TRUE(contains(http_connect_error("HTTP/1.1 2000 OK\r\n\r\n"), "invalid answer"));
    // Not interim: outside 100-599 (RFC 9110 §15).
    EXPECT_TRUE(contains(http_connect_error("HTTP/1.1 099 Huh\r\n\r\n"), "invalid answer"));
    EXPECT_TRUE(contains(http_connect_error("HTTP/1.1 600 Huh\r\n\r\n"), "invalid answer"));
    EXPECT_TRUE(contains(http_connect_error("\x05\xff\r\n\r\n"), "\"\\x05\\xFF\""));
    // Closing before the answer is complete may pass (a restarting proxy): a ProxyError
    // without a response.
    EXPECT_EQ(http_connect_error("", true),
              "ProxyError(no response): proxy 127.0.0.1:3128 closed the connection without "
              "answering CONNECT to example.com:443");
    EXPECT_EQ(http_connect_error("HTTP/1.1 200 OK\r\nVia: x\r\n", true),
              "ProxyError(no response): proxy 127.0.0.1:3128 closed the connection while "
              "answering CONNECT to example.com:443");
    const std::string huge = "HTTP/1.1 200 OK\r\n" + std::string(9000, 'x') + "\r\n\r\n";
    EXPECT_EQ(http_connect_error(huge), "SecurityLimit: proxy 127.0.0.1:3128's answer to CONNECT "
                                        "to example.com:443 exceeds 8192 bytes");
    // The limit covers interim heads too, or a stream of them would never end.
    std::string interims;
    for (int i = 0; i < 400; ++i)
        interims += "HTTP/1.1 100 Continue\r\n\r\n";
    EXPECT_EQ(http_connect_error(interims), "SecurityLimit: proxy 127.0.0.1:3128's answer to "
                                            "CONNECT to example.com:443 exceeds 8192 bytes");
}

TEST(HttpConnect, SwitchingProtocolsIsAnInvalidAnswer) {
    // 101 is not an interim answer to CONNECT: the bytes after it would be read as a head.
    EXPECT_EQ(http_connect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"
                                 "HTTP/1.1 200 OK\r\n\r\n"),
              "InvalidHandshake: proxy 127.0.0.1:3128 sent an invalid answer to CONNECT to "
              "example.com:443: \"HTTP/1.1 101 Switching Protocols\"");
    // Other 1xx are interim (RFC 9110 §15.2), as before.
    EXPECT_EQ(http_connect_error("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                                 "HTTP/1.1 200 OK\r\n\r\n"),
              "(no error)");
}

TEST(HttpConnect, DeadlineIsTimeout) {
    std::promise<void> done;
    Scripted peer([released = done.get_future().share()](net::Stream& s) {
        read_exactly(s, 59);
        released.wait(); // never answers
    });
    const auto start = std::chrono::steady_clock::now();
    try {
        net::http_connect(peer.client(), "example.com", 443, http_proxy, in(100ms));
        ADD_FAILURE() << "no timeout";
    } catch (const Timeout& e) {
        EXPECT_STREQ(e.what(), "timed out waiting for proxy 127.0.0.1:3128 to answer CONNECT to "
                               "example.com:443");
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    done.set_value();
}

TEST(HttpConnect, RejectsHostsThatCouldInjectHeaders) {
    auto pair = tcp_pair();
    try {
        net::http_connect(*pair.client, "evil\r\nX: y", 80, http_proxy, in(generous));
        ADD_FAILURE() << "no error";
    } catch (const InvalidURI& e) {
        EXPECT_STREQ(e.what(), "cannot ask proxy 127.0.0.1:3128 to connect to "
                               "\"evil\\x0D\\x0AX: y\": the host has characters a proxy "
                               "request cannot carry");
        EXPECT_EQ(e.uri(), "evil\\x0D\\x0AX: y");
    }
    try {
        net::http_connect(*pair.client, "", 80, http_proxy, in(generous));
        ADD_FAILURE() << "no error";
    } catch (const InvalidURI& e) {
        EXPECT_STREQ(e.what(), "cannot ask proxy 127.0.0.1:3128 to connect: the host is empty");
    }
    EXPECT_THROW(net::socks5_connect(*pair.client, "a b", 80,
                                     net::parse_proxy_url("socks5h://127.0.0.1:1080"),
                                     in(generous)),
                 InvalidURI);
    pair.client->shutdown_write();
    EXPECT_EQ(read_to_end(*pair.server), ""); // nothing was sent
}

// ----- socks5_connect -----------------------------------------------------------------------

const net::ProxyConfig socks5 = net::parse_proxy_url("socks5://127.0.0.1:1080");
const net::ProxyConfig socks5h = net::parse_proxy_url("socks5h://127.0.0.1:1080");
const net::ProxyConfig socks5h_auth = net::parse_proxy_url("socks5h://user:pass@127.0.0.1:1080");

const std::string no_auth_greeting = bytes({5, 1, 0});
const std::string auth_greeting = bytes({5, 2, 0, 2});
const std::string ok_reply_v4 = bytes({5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0xd2});

TEST(Socks5Connect, Ipv4WithoutAuthentication) {
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, no_auth_greeting);
        write_string(s, bytes({5, 0}));
        // VER CMD RSV ATYP=1 127.0.0.1 port 443.
        expect_bytes(s, bytes({5, 1, 0, 1, 127, 0, 0, 1, 0x01, 0xbb}));
        write_string(s, ok_reply_v4 + "TAIL");
        s.shutdown_write();
    });
    net::socks5_connect(peer.client(), "127.0.0.1", 443, socks5, in(generous));
    EXPECT_EQ(read_exactly(peer.client(), 4), "TAIL");
    peer.join();
}

TEST(Socks5Connect, DomainNameWithSocks5hAndAuthentication) {
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, auth_greeting);
        write_string(s, bytes({5, 2}));
        // RFC 1929: VER 1, ULEN, UNAME, PLEN, PASSWD.
        expect_bytes(s, bytes({1, 4}) + "user" + bytes({4}) + "pass");
        write_string(s, bytes({1, 0}));
        expect_bytes(s, bytes({5, 1, 0, 3, 11}) + "example.com" + bytes({0x1f, 0x90}));
        // A bound address of type 3 (a name): read exactly, then the tunnel.
        write_string(s, bytes({5, 0, 0, 3, 5}) + "proxy" + bytes({0, 80}) + "TAIL");
        s.shutdown_write();
    });
    net::socks5_connect(peer.client(), "example.com", 8080, socks5h_auth, in(generous));
    EXPECT_EQ(read_exactly(peer.client(), 4), "TAIL");
    peer.join();
}

TEST(Socks5Connect, CredentialsOfferedButNotNeeded) {
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, auth_greeting);
        write_string(s, bytes({5, 0})); // "no authentication required"
        expect_bytes(s, bytes({5, 1, 0, 3, 1}) + "h" + bytes({0, 1}));
        // Bound address IPv6: 16 bytes.
        write_string(s, bytes({5, 0, 0, 4}) + std::string(16, '\0') + bytes({0, 0}) + "T");
        s.shutdown_write();
    });
    net::socks5_connect(peer.client(), "h", 1, socks5h_auth, in(generous));
    EXPECT_EQ(read_exactly(peer.client(), 1), "T");
    peer.join();
}

TEST(Socks5Connect, Ipv6Literal) {
    Scripted peer([](net::Stream& s) {
        expect_bytes(s, no_auth_greeting);
        write_string(s, bytes({5, 0}));
        expect_bytes(s, bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
                               0, 0, 0, 0, 0,    0,    0,    0,    1, 0, 80}));
        write_string(s, ok_reply_v4);
    });
    // IP literals go as addresses with socks5h too.
    net::socks5_connect(peer.client(), "[2001:db8::1]", 80, socks5h, in(generous));
    peer.join();
}

TEST(Socks5Connect, Socks5ResolvesLocally) {
    const net::Endpoint first = net::resolve("localhost", 9).front();
    std::string address;
    if (first.family == AF_INET) {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(&first.address);
        address = bytes({1}) + std::string(reinterpret_cast<const char*>(&in4->sin_addr), 4);
    } else {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&first.address);
        address = bytes({4}) + std::string(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
    }
    Scripted peer([&](net::Stream& s) {
        expect_bytes(s, no_auth_greeting);
        write_string(s, bytes({5, 0}));
        expect_bytes(s, bytes({5, 1, 0}) + address + bytes({0, 9}));
        write_string(s, ok_reply_v4);
    });
    net::socks5_connect(peer.client(), "localhost", 9, socks5, in(generous));
    peer.join();
}

TEST(Socks5Connect, DomainOver255BytesRejectedBeforeSending) {
    auto pair = tcp_pair();
    const std::string name = std::string(250, 'a') + ".test"; // 255: the longest allowed
    const std::string too_long = std::string(251, 'a') + ".test";
    try {
        net::socks5_connect(*pair.client, too_long, 80, socks5h, in(generous));
        ADD_FAILURE() << "no error";
    } catch (const InvalidHandshake& e) {
        EXPECT_TRUE(contains(e.what(), "host name of 256 bytes: SOCKS5 allows at most 255"));
    }
    pair.client->shutdown_write();
    EXPECT_EQ(read_to_end(*pair.server), ""); // nothing was sent
    Scripted peer([&](net::Stream& s) {
        expect_bytes(s, no_auth_greeting);
        write_string(s, bytes({5, 0}));
        expect_bytes(s, bytes({5, 1, 0, 3, 255}) + name + bytes({0, 80}));
        write_string(s, ok_reply_v4);
    });
    net::socks5_connect(peer.client(), name, 80, socks5h, in(generous));
    peer.join();
}

// What socks5_connect threw, as "Class: what()" (and the code of a NetworkError).
std::string describe(const std::function<void()>& f) {
    try {
        f();
    } catch (const NetworkError& e) {
        return std::string("NetworkError(") + e.code().message() + "): " + e.what();
    } catch (const ProxyError& e) {
        return std::string(e.response() ? "ProxyError(with a response): " : "ProxyError: ") +
               e.what();
    } catch (const InvalidHandshake& e) {
        return std::string("InvalidHandshake: ") + e.what();
    } catch (const Timeout& e) {
        return std::string("Timeout: ") + e.what();
    } catch (const std::exception& e) {
        return std::string("other: ") + e.what();
    }
    return "(no error)";
}

std::string socks_error(const std::string& after_greeting, bool with_auth = false,
                        std::size_t read_after = 0) {
    Scripted peer([&](net::Stream& s) {
        read_exactly(s, with_auth ? 4 : 3);
        write_string(s, after_greeting.substr(0, 2));
        if (read_after > 0) {
            read_exactly(s, read_after);
            write_string(s, after_greeting.substr(2));
        }
        s.shutdown_write();
    });
    return describe([&] {
        net::socks5_connect(peer.client(), "example.com", 443, with_auth ? socks5h_auth : socks5h,
                            in(generous));
    });
}

TEST(Socks5Connect, EveryReplyCodeIsReadable) {
    const std::string prefix = "SOCKS5 proxy 127.0.0.1:1080 ";
    const std::map<int, std::string> expected = {
        // A general failure may pass, like an HTTP proxy's 5xx.
        {1, "ProxyError: " + prefix +
                "refused CONNECT to example.com:443: general SOCKS server failure (reply 0x01)"},
        {2, "InvalidHandshake: " + prefix +
                "refused CONNECT to example.com:443: connection not allowed by ruleset (reply "
                "0x02)"},
        {3, "NetworkError(" + std::make_error_code(std::errc::network_unreachable).message() +
                "): " + prefix +
                "cannot connect to example.com:443 (reply 0x03: network "
                "unreachable): " +
                std::make_error_code(std::errc::network_unreachable).message()},
        {4, "NetworkError(" + std::make_error_code(std::errc::host_unreachable).message() +
                "): " + prefix +
                "cannot connect to example.com:443 (reply 0x04: host "
                "unreachable): " +
                std::make_error_code(std::errc::host_unreachable).message()},
        {5, "NetworkError(" + std::make_error_code(std::errc::connection_refused).message() +
                "): " + prefix +
                "cannot connect to example.com:443 (reply 0x05: connection "
                "refused): " +
                std::make_error_code(std::errc::connection_refused).message()},
        {6, "NetworkError(" + std::make_error_code(std::errc::timed_out).message() +
                "): " + prefix + "cannot connect to example.com:443 (reply 0x06: TTL expired): " +
                std::make_error_code(std::errc::timed_out).message()},
        {7, "InvalidHandshake: " + prefix +
                "refused CONNECT to example.com:443: command not supported (reply 0x07)"},
        {8, "InvalidHandshake: " + prefix +
                "refused CONNECT to example.com:443: address type not supported (reply 0x08)"},
        {9, "InvalidHandshake: " + prefix +
                "refused CONNECT to example.com:443: unknown reply code (reply 0x09)"},
        {0xff, "InvalidHandshake: " + prefix +
                   "refused CONNECT to example.com:443: unknown reply code (reply 0xff)"},
    };
    for (const auto& [code, message] : expected) {
        // Only VER and REP, then the proxy closes: the reason must not be lost to the EOF.
        const std::string request = bytes({5, 1, 0, 3, 11}) + "example.com" + bytes({1, 0xbb});
        EXPECT_EQ(socks_error(bytes({5, 0, 5, code}), false, request.size()), message)
            << "reply " << code;
    }
}

TEST(Socks5Connect, NetworkErrorCodes) {
    Scripted peer([](net::Stream& s) {
        read_exactly(s, 3);
        write_string(s, bytes({5, 0}));
        read_exactly(s, 18);
        write_string(s, bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));
    });
    try {
        net::socks5_connect(peer.client(), "example.com", 443, socks5h, in(generous));
        ADD_FAILURE() << "no error";
    } catch (const NetworkError& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused);
    }
}

TEST(Socks5Connect, AuthenticationFailures) {
    EXPECT_EQ(socks_error(bytes({5, 0xff})),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 accepts none of the authentication "
              "methods offered (none; the proxy URL has no credentials)");
    EXPECT_EQ(socks_error(bytes({5, 0xff}), true),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 accepts none of the authentication "
              "methods offered (none, username/password)");
    EXPECT_EQ(socks_error(bytes({5, 2, 1, 1}), true, 11),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 rejected the user name and password "
              "(status 0x01)");
    // Username/password chosen although not offered (no credentials), or GSSAPI.
    EXPECT_EQ(socks_error(bytes({5, 2})),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 chose authentication method 0x02, "
              "which was not offered");
    EXPECT_EQ(socks_error(bytes({5, 1}), true),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 chose authentication method 0x01, "
              "which was not offered");
}

TEST(Socks5Connect, NotASocksProxy) {
    EXPECT_EQ(socks_error("HTTP/1.1 400 Bad Request\r\n\r\n"),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 is not a SOCKS5 proxy: it answered "
              "version 0x48 ('H': an HTTP proxy? use http://)");
    EXPECT_EQ(socks_error(bytes({4, 0})),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 is not a SOCKS5 proxy: it answered "
              "version 0x04");
}

TEST(Socks5Connect, MalformedOrTruncatedReplies) {
    const std::size_t request = 18; // for example.com:443
    EXPECT_EQ(socks_error(bytes({5, 0, 4, 0}), false, request),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 sent an invalid reply to CONNECT "
              "to example.com:443: version 0x04");
    EXPECT_EQ(socks_error(bytes({5, 0, 5, 0, 0, 2}), false, request),
              "InvalidHandshake: SOCKS5 proxy 127.0.0.1:1080 sent an invalid reply to CONNECT "
              "to example.com:443: address type 0x02");
    // Hanging up mid-way may pass: a ProxyError without a response.
    EXPECT_EQ(socks_error(bytes({5, 0, 5, 0, 0, 1, 127}), false, request),
              "ProxyError: SOCKS5 proxy 127.0.0.1:1080 closed the connection instead of "
              "answering CONNECT to example.com:443");
    EXPECT_EQ(socks_error(bytes({5})),
              "ProxyError: SOCKS5 proxy 127.0.0.1:1080 closed the connection instead of "
              "answering the greeting");
    EXPECT_EQ(socks_error(bytes({5, 2}), true, 11),
              "ProxyError: SOCKS5 proxy 127.0.0.1:1080 closed the connection instead of "
              "answering the user name and password");
}

TEST(Socks5Connect, DeadlineIsTimeout) {
    std::promise<void> done;
    Scripted peer([released = done.get_future().share()](net::Stream& s) {
        read_exactly(s, 3);
        write_string(s, bytes({5, 0}));
        read_exactly(s, 18);
        released.wait(); // never answers the CONNECT
    });
    EXPECT_EQ(describe([&] {
                  net::socks5_connect(peer.client(), "example.com", 443, socks5h, in(100ms));
              }),
              "Timeout: timed out waiting for SOCKS5 proxy 127.0.0.1:1080 to answer CONNECT to "
              "example.com:443");
    done.set_value();
}

TEST(Socks5Connect, PassedDeadlineIsTimeoutAtOnce) {
    Scripted peer([](net::Stream& s) { read_exactly(s, 3); });
    EXPECT_EQ(describe([&] {
                  net::socks5_connect(peer.client(), "example.com", 443, socks5h,
                                      std::chrono::steady_clock::now() - 1s);
              }),
              "Timeout: timed out waiting for SOCKS5 proxy 127.0.0.1:1080 to answer the greeting");
}

TEST(OpenTunnel, DispatchesOnTheScheme) {
    Scripted http([](net::Stream& s) {
        expect_bytes(s, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n");
        write_string(s, "HTTP/1.1 200 OK\r\n\r\n");
    });
    net::open_tunnel(http.client(), "h", 1, net::parse_proxy_url("https://127.0.0.1"),
                     in(generous));
    http.join();
    Scripted socks([](net::Stream& s) {
        expect_bytes(s, no_auth_greeting);
        write_string(s, bytes({5, 0}));
        expect_bytes(s, bytes({5, 1, 0, 3, 1}) + "h" + bytes({0, 1}));
        write_string(s, ok_reply_v4);
    });
    net::open_tunnel(socks.client(), "h", 1, socks5h, in(generous));
    socks.join();
}

} // namespace
} // namespace syncws::test
