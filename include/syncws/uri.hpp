// WebSocket URIs (RFC 6455 §3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncws {

/// A parsed `ws://` or `wss://` URI (RFC 6455 §3).
///
/// Thread safety: a value type.
struct Uri {
    /// True for `wss://`.
    bool secure = false;
    /// Host name, IPv4 literal, or IPv6 literal *without* brackets ("::1").
    std::string host;
    /// Port: explicit, or 80 for ws and 443 for wss.
    std::uint16_t port = 80;
    /// Path and query, percent-encoded, never empty ("/" at least): the "resource name"
    /// sent as the request target (RFC 6455 §3).
    std::string resource_name = "/";
    /// Userinfo, percent-decoded; the client sends them as HTTP Basic credentials.
    std::optional<std::string> user;
    std::optional<std::string> password;

    /// True if `host` is an IPv6 literal (it contains a colon).
    bool host_is_ipv6() const { return host.find(':') != std::string::npos; }
    /// The `Host` header value: host (bracketed if IPv6) and the port unless it is the
    /// default for the scheme (RFC 6455 §4.1, item 4).
    std::string host_header() const;
    /// The URI without userinfo, normalized (scheme and host lower-case).
    std::string to_string() const;
};

/// Parses a WebSocket URI.
///
/// Accepts `ws` and `wss` (case-insensitive), host names, IPv4 literals, bracketed IPv6
/// literals, an optional port (1–65535), path and query; `%XX` escapes are kept in the
/// resource name and characters that may not appear in a request target (spaces, non-ASCII)
/// are percent-encoded.
///
/// Throws: `InvalidURI` naming what is wrong — another scheme, a fragment (forbidden by
/// RFC 6455 §3), an empty host, a bad port, a malformed IPv6 literal or escape.
/// Thread safety: reentrant.
Uri parse_uri(std::string_view text);

/// Parses `text`; returns nothing instead of throwing, for validating user input.
std::optional<Uri> try_parse_uri(std::string_view text) noexcept;

} // namespace syncws
