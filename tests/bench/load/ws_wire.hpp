// The few RFC 6455 wire pieces the load tools need, written from the RFC rather than taken from
// syncws: ws_load and raw_echo must measure a server, so they share no code with the library
// under test. Header-only; used by ws_load.cpp and raw_echo.cpp.
#pragma once

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace wsload {

enum Opcode : std::uint8_t {
    op_continuation = 0x0,
    op_text = 0x1,
    op_binary = 0x2,
    op_close = 0x8,
    op_ping = 0x9,
    op_pong = 0xA,
};

/// RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
inline std::string accept_key(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string joined(key);
    joined += guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

/// Base64 of arbitrary bytes (the client's Sec-WebSocket-Key is base64 of 16 random bytes).
inline std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// The value of header `name` (case-insensitive) in an HTTP head, trimmed; nullopt if absent.
inline std::optional<std::string_view> header_value(std::string_view head, std::string_view name) {
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
        const std::size_t start = pos + 2;
        const std::size_t end = head.find("\r\n", start);
        const std::string_view line =
            head.substr(start, end == std::string_view::npos ? head.npos : end - start);
        const std::size_t colon = line.find(':');
        if (colon == name.size() &&
            std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            return value;
        }
        pos = end;
    }
    return std::nullopt;
}

/// A parsed frame header (RFC 6455 §5.2).
struct FrameHeader {
    bool fin = false;
    std::uint8_t opcode = 0;
    bool masked = false;
    std::uint8_t mask[4] = {};
    std::uint64_t length = 0;    ///< payload length
    std::size_t header_size = 0; ///< bytes before the payload
};

/// Parses the header at `p`; nullopt while fewer than its bytes are available. RSV bits are
/// ignored: the tools negotiate no extension.
inline std::optional<FrameHeader> parse_header(const std::uint8_t* p, std::size_t n) {
    if (n < 2) return std::nullopt;
    FrameHeader h;
    h.fin = (p[0] & 0x80) != 0;
    h.opcode = p[0] & 0x0F;
    h.masked = (p[1] & 0x80) != 0;
    std::size_t pos = 2;
    const std::uint8_t len7 = p[1] & 0x7F;
    if (len7 < 126) {
        h.length = len7;
    } else {
        const std::size_t extra = len7 == 126 ? 2 : 8;
        if (n < pos + extra) return std::nullopt;
        for (std::size_t i = 0; i < extra; ++i)
            h.length = (h.length << 8) | p[pos + i];
        pos += extra;
    }
    if (h.masked) {
        if (n < pos + 4) return std::nullopt;
        std::memcpy(h.mask, p + pos, 4);
        pos += 4;
    }
    h.header_size = pos;
    return h;
}

/// Largest header: 2 + 8 (64-bit length) + 4 (mask).
inline constexpr std::size_t max_header_size = 14;

/// Writes a header with the shortest length encoding (§5.2 requires the minimal one) and
/// returns its size; `mask` is null for a server frame.
inline std::size_t write_header(std::uint8_t* out, bool fin, std::uint8_t opcode,
                                std::uint64_t length, const std::uint8_t* mask) {
    out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | opcode);
    const std::uint8_t mask_bit = mask ? 0x80 : 0;
    std::size_t pos = 2;
    if (length < 126) {
        out[1] = static_cast<std::uint8_t>(mask_bit | length);
    } else if (length <= 0xFFFF) {
        out[1] = static_cast<std::uint8_t>(mask_bit | 126);
        out[2] = static_cast<std::uint8_t>(length >> 8);
        out[3] = static_cast<std::uint8_t>(length);
        pos = 4;
    } else {
        out[1] = static_cast<std::uint8_t>(mask_bit | 127);
        for (int i = 0; i < 8; ++i)
            out[2 + i] = static_cast<std::uint8_t>(length >> (56 - 8 * i));
        pos = 10;
    }
    if (mask) {
        std::memcpy(out + pos, mask, 4);
        pos += 4;
    }
    return pos;
}

/// dst[i] = src[i] ^ mask[i % 4] (§5.3); dst may equal src. Eight bytes at a time, because
/// masking 16 MiB a byte at a time would make the tools measure themselves.
inline void apply_mask(std::uint8_t* dst, const std::uint8_t* src, std::size_t n,
                       const std::uint8_t mask[4]) {
    std::uint8_t pattern[8];
    for (int i = 0; i < 8; ++i)
        pattern[i] = mask[i % 4];
    std::uint64_t word_mask;
    std::memcpy(&word_mask, pattern, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, src + i, 8);
        word ^= word_mask;
        std::memcpy(dst + i, &word, 8);
    }
    for (; i < n; ++i)
        dst[i] = static_cast<std::uint8_t>(src[i] ^ mask[i % 4]);
}

} // namespace wsload
