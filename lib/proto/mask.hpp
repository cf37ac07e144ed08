// Masking of frame payloads (RFC 6455 §5.3).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace syncws::detail {

using MaskKey = std::array<std::uint8_t, 4>;

/// XORs `size` bytes at `data` in place with `key`, starting at byte `key_offset` of the
/// key (0–3, so a payload can be unmasked in pieces as it arrives). Returns the key offset
/// for the byte after the last one: `(key_offset + size) % 4`.
/// Works a machine word at a time; `data` needs no particular alignment.
std::size_t apply_mask(char* data, std::size_t size, const MaskKey& key,
                       std::size_t key_offset = 0) noexcept;

/// Copies `size` bytes from `in` to `out`, masked (the two may not overlap).
void copy_masked(char* out, const char* in, std::size_t size, const MaskKey& key) noexcept;

} // namespace syncws::detail
