// Running an engine's opening handshake over a stream, on the calling thread, before the
// connection's I/O thread exists.
#pragma once

#include "stream.hpp"

#include <syncws/protocol.hpp>

#include <optional>
#include <string>
#include <vector>

namespace syncws::detail {

struct HandshakeResult {
    std::optional<Request> request;   // server: the client's request
    std::optional<Response> response; // client: the server's response
    std::vector<Event> early;         // events after it (frames from the same read)
};

/// Whether the peer's bytes are probably there already when the handshake starts.
enum class PeerBytes {
    awaited,    // a client: the server answers only after our request
    likely_in,  // a server whose listener defers accept() until the request is in
};

/// Writes the engine's output and feeds it the stream's bytes until the peer's handshake
/// event arrives, the engine gives up, or `deadline` passes. With `PeerBytes::likely_in`
/// the first read takes what is there without waiting first: one system call, not two.
/// Throws: `Timeout` ("timed out during <what>"), `NetworkError`, `TlsError`.
HandshakeResult run_handshake(Protocol& engine, net::Stream& stream, net::Deadline deadline,
                              const std::string& what, PeerBytes peer_bytes);

/// Writes whatever output the engine has; half-closes if the engine says so.
void flush_engine(Protocol& engine, net::Stream& stream);

/// Moves every pending event of `engine` into `events`.
void drain_events(Protocol& engine, std::vector<Event>& events);

} // namespace syncws::detail
