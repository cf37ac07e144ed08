// Fuzzes parse_uri() (RFC 6455 §3) with arbitrary text: URIs come from users and from
// redirects (a server's Location header), so they are untrusted input too.
//
// Contract: parse_uri throws only InvalidURI; try_parse_uri agrees with it. A parsed Uri
// has a host, a non-zero port and a resource name starting with '/', and its to_string()
// parses back to the same Uri (without the userinfo, which to_string() drops).
#include <syncws/errors.hpp>
#include <syncws/uri.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace {

// A broken contract aborts, so libFuzzer (or the standalone runner) reports the input.
// (__builtin_LINE rather than std::source_location, which clang 14 lacks.)
void check(bool condition, int line = __builtin_LINE()) {
    if (!condition) {
        std::fprintf(stderr, "uri_fuzz.cpp:%d: check failed\n", line);
        __builtin_trap();
    }
}

bool same_endpoint(const syncws::Uri& a, const syncws::Uri& b) {
    return a.secure == b.secure && a.host == b.host && a.port == b.port &&
           a.resource_name == b.resource_name;
}

void check_invariants(const syncws::Uri& uri) {
    check(!uri.host.empty());
    check(uri.port != 0);
    check(!uri.resource_name.empty() && uri.resource_name.front() == '/');
    // The resource name goes on the request line: no space, control or non-ASCII byte.
    for (const char c : uri.resource_name) {
        const auto byte = static_cast<unsigned char>(c);
        check(byte > 0x20 && byte < 0x7f);
    }
    check(!uri.host_header().empty());

    const std::string text = uri.to_string();
    syncws::Uri again;
    try {
        again = syncws::parse_uri(text);
    } catch (const syncws::InvalidURI&) {
        check(false); // a normalized URI must parse
    }
    check(same_endpoint(uri, again));
    // Normalization is idempotent.
    check(again.to_string() == text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        std::optional<syncws::Uri> parsed;
        try {
            parsed = syncws::parse_uri(text);
        } catch (const syncws::InvalidURI&) {
            // The documented failure; try_parse_uri must agree.
        }
        const std::optional<syncws::Uri> tried = syncws::try_parse_uri(text);
        check(parsed.has_value() == tried.has_value());
        if (parsed) {
            check(same_endpoint(*parsed, *tried));
            check(parsed->user == tried->user && parsed->password == tried->password);
            check_invariants(*parsed);
        }
    } catch (...) {
        __builtin_trap(); // anything but InvalidURI is a bug
    }
    return 0;
}
