// SHA-1 (FIPS 180-4) for Sec-WebSocket-Accept, and nothing that needs it to be secure.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace syncws::detail {

using Sha1Digest = std::array<std::uint8_t, 20>;

/// The SHA-1 digest of `data`. Written here rather than taken from libcrypto: OpenSSL 3
/// looks the algorithm up in its provider store on every one-shot call, which cost a
/// server more than the hashing itself at every handshake.
Sha1Digest sha1(std::string_view data) noexcept;

} // namespace syncws::detail
