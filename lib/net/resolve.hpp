// Name resolution and socket address formatting.
#pragma once

#include "stream.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace syncws::net {

/// One address that `resolve` found: ready for `socket()` + `connect()`/`bind()`.
struct Endpoint {
    int family = AF_UNSPEC;
    sockaddr_storage address{};
    socklen_t length = 0;

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&address); }
    /// "127.0.0.1:80" or "[::1]:80".
    std::string to_string() const;
};

/// Resolves `host` (a name, an IPv4 literal, or an IPv6 literal with or without brackets)
/// and `port` to TCP endpoints, IPv4 and IPv6, in the order getaddrinfo() prefers.
/// `passive` asks for addresses to bind (an empty host is then the wildcard).
///
/// getaddrinfo() has no timeout, so resolution is not bounded by any deadline.
/// Throws: `NetworkError` "DNS lookup failed for host: <gai_strerror text>".
/// Thread safety: reentrant.
std::vector<Endpoint> resolve(std::string_view host, std::uint16_t port, bool passive = false);

/// What the connecting calls use to resolve a name before a deadline. Bounding
/// getaddrinfo() takes a thread, which this layer does not start: the runtime passes one
/// that does (lib/sync/resolve_until.hpp). Empty: `resolve`, unbounded.
using Resolver = std::function<std::vector<Endpoint>(std::string_view host,
                                                     std::uint16_t port, Deadline deadline)>;

/// `resolver(host, port, deadline)`, or `resolve(host, port)` if `resolver` is empty.
std::vector<Endpoint> resolve(const Resolver& resolver, std::string_view host,
                              std::uint16_t port, Deadline deadline);

/// True if `host` is an IPv4 or IPv6 literal (IPv6 with or without brackets).
bool is_ip_literal(std::string_view host);

/// `host` without the brackets of an IPv6 literal ("[::1]" → "::1").
std::string_view strip_brackets(std::string_view host);

/// "host:port", bracketing IPv6 literals: for messages.
std::string host_port(std::string_view host, std::uint16_t port);

/// Formats a socket address: "127.0.0.1:80", "[::1]:80", a Unix socket path, or "" for an
/// unnamed Unix socket.
std::string format_address(const sockaddr* address, socklen_t length);

} // namespace syncws::net
