// Frame headers: try-parse and serialize (RFC 6455 §5.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <syncws/frame.hpp>

#include "mask.hpp"

namespace syncws::detail {

/// A parsed frame header (at most 14 bytes on the wire).
struct FrameHeader {
    bool fin = true;
    std::uint8_t rsv = 0; ///< RSV1..3 as bits 0x4, 0x2, 0x1
    std::uint8_t opcode = 0;
    bool masked = false;
    MaskKey mask{};
    std::uint64_t payload_length = 0;
    std::size_t header_length = 0;
};

enum class HeaderStatus { need_more, done, error };

struct HeaderParseResult {
    HeaderStatus status = HeaderStatus::need_more;
    FrameHeader header;
    const char* error = nullptr; ///< static text for errors
};

/// Parses a frame header from the start of `input` without looking at the payload.
/// Checks what a header alone can tell: a 64-bit length with its top bit set (§5.2).
/// RSV bits, opcodes, masking direction and control-frame rules are the engine's checks,
/// since they depend on the side and the negotiated extensions.
HeaderParseResult parse_frame_header(std::string_view input) noexcept;

/// Largest header: 2 + 8 (64-bit length) + 4 (mask).
constexpr std::size_t max_frame_header_size = 14;

/// Appends a frame to `out`: header, then the payload masked with `mask` if given.
/// Uses the shortest length encoding (§5.2: "the minimal number of bytes MUST be used").
void serialize_frame(std::string& out, Opcode opcode, bool fin, std::uint8_t rsv,
                     std::string_view payload, const std::optional<MaskKey>& mask);

/// Appends just a header (for writers that send the payload from elsewhere).
void serialize_frame_header(std::string& out, Opcode opcode, bool fin, std::uint8_t rsv,
                            std::uint64_t payload_length, const std::optional<MaskKey>& mask);

} // namespace syncws::detail
