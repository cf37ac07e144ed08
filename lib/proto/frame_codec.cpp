#include "frame_codec.hpp"

#include <cstring>

namespace syncws::detail {

HeaderParseResult parse_frame_header(std::string_view input) noexcept {
    HeaderParseResult result;
    if (input.size() < 2) return result;
    const auto* p = reinterpret_cast<const unsigned char*>(input.data());
    FrameHeader& h = result.header;
    h.fin = (p[0] & 0x80) != 0;
    h.rsv = static_cast<std::uint8_t>((p[0] >> 4) & 0x7);
    h.opcode = p[0] & 0x0f;
    h.masked = (p[1] & 0x80) != 0;
    std::size_t pos = 2;
    const std::uint8_t len7 = p[1] & 0x7f;
    if (len7 == 126) {
        if (input.size() < pos + 2) return result;
        h.payload_length = (std::uint64_t{p[2]} << 8) | p[3];
        pos += 2;
    } else if (len7 == 127) {
        if (input.size() < pos + 8) return result;
        std::uint64_t length = 0;
        for (std::size_t i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
        // RFC 6455 §5.2: "the most significant bit MUST be 0".
        if (length >> 63) {
            result.status = HeaderStatus::error;
            result.error = "64-bit payload length with the most significant bit set";
            return result;
        }
        h.payload_length = length;
        pos += 8;
    } else {
        h.payload_length = len7;
    }
    // Non-minimal length encodings are accepted: RFC 6455 §5.2 puts "the minimal number of
    // bytes MUST be used" on the sender only, and no close code covers it.
    if (h.masked) {
        if (input.size() < pos + 4) return result;
        std::memcpy(h.mask.data(), p + pos, 4);
        pos += 4;
    }
    h.header_length = pos;
    result.status = HeaderStatus::done;
    return result;
}

void serialize_frame_header(std::string& out, Opcode opcode, bool fin, std::uint8_t rsv,
                            std::uint64_t payload_length, const std::optional<MaskKey>& mask) {
    char header[max_frame_header_size];
    std::size_t n = 0;
    header[n++] = static_cast<char>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) |
                                    static_cast<std::uint8_t>(opcode));
    const char mask_bit = mask ? static_cast<char>(0x80) : 0;
    if (payload_length < 126) {
        header[n++] = static_cast<char>(mask_bit | static_cast<char>(payload_length));
    } else if (payload_length <= 0xffff) {
        header[n++] = static_cast<char>(mask_bit | 126);
        header[n++] = static_cast<char>(payload_length >> 8);
        header[n++] = static_cast<char>(payload_length & 0xff);
    } else {
        header[n++] = static_cast<char>(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            header[n++] = static_cast<char>((payload_length >> shift) & 0xff);
    }
    if (mask) {
        std::memcpy(header + n, mask->data(), 4);
        n += 4;
    }
    out.append(header, n);
}

void serialize_frame(std::string& out, Opcode opcode, bool fin, std::uint8_t rsv,
                     std::string_view payload, const std::optional<MaskKey>& mask) {
    serialize_frame_header(out, opcode, fin, rsv, payload.size(), mask);
    if (!mask) {
        out.append(payload);
        return;
    }
    const std::size_t start = out.size();
    out.resize(start + payload.size());
    copy_masked(out.data() + start, payload.data(), payload.size(), *mask);
}

} // namespace syncws::detail
