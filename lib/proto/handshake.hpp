// Opening-handshake keys (RFC 6455 §4.1, §4.2.2).
#pragma once

#include <string>
#include <string_view>

#include <syncws/protocol.hpp>

namespace syncws::detail {

/// A fresh Sec-WebSocket-Key: 16 random bytes, base64-encoded.
std::string generate_key(const RandomSource& random);
/// Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)).
std::string accept_key(std::string_view key);

} // namespace syncws::detail
