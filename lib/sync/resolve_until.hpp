// Name resolution that gives up at a deadline: getaddrinfo() cannot be given one.
#pragma once

#include "resolve.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws::detail {

/// Looks `host`:`port` up, blocking; `net::resolve` unless a test substitutes one.
using Lookup =
    std::function<std::vector<net::Endpoint>(const std::string& host, std::uint16_t port)>;

/// Resolves `host`:`port` with `lookup` (getaddrinfo() when empty) and gives up at
/// `deadline` with `Timeout` "DNS lookup for host timed out after N ms". A name with a
/// deadline is looked up on a thread of its own that the caller waits for until the
/// deadline; past it, the lookup goes on in the background until the resolver's own
/// timeouts end it (getaddrinfo() cannot be interrupted), and its result is dropped. IP
/// literals, lookups without a deadline, and lookups for which no thread can be started
/// run on the caller's thread; a name whose deadline has passed is not looked up. Throws
/// what `lookup` throws (`NetworkError` for DNS).
/// Thread safety: reentrant; `lookup` may run after this returns.
std::vector<net::Endpoint> resolve_until(std::string_view host, std::uint16_t port,
                                         net::Deadline deadline, Lookup lookup = {});

} // namespace syncws::detail
