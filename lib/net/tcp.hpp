// TCP client connections.
#pragma once

#include "resolve.hpp"
#include "socket.hpp"

#include <cstdint>
#include <memory>
#include <string_view>

namespace syncws::net {

/// Connects to `host`:`port` over TCP: resolves the name (IPv4 and IPv6) with `resolver`,
/// then tries each address in turn, each with what is left of the one `deadline`. The
/// socket gets TCP_NODELAY (WebSocket frames are small and latency-bound) and
/// close-on-exec, and is in blocking mode when returned.
///
/// Throws: `NetworkError` "DNS lookup failed for host: …"; `NetworkError` "cannot connect to
/// host:port …" with the last address's errno (refused, unreachable); `Timeout` "timed out
/// connecting to host:port after N ms" when the deadline passes; what `resolver` throws
/// (the runtime's: `Timeout` "DNS lookup for host timed out after N ms"). Name resolution is
/// bounded only if `resolver` bounds it: getaddrinfo() has no timeout.
/// Thread safety: reentrant.
std::unique_ptr<SocketStream> connect_tcp(std::string_view host, std::uint16_t port,
                                          Deadline deadline, const Resolver& resolver = {});

} // namespace syncws::net
