// Base64 (RFC 4648 §4), written out rather than through OpenSSL's EVP_EncodeBlock /
// EVP_DecodeBlock: EVP_DecodeBlock skips leading and trailing whitespace and returns the
// padding bytes as zeros, so it would need as much checking around it as this takes.
#include "base64.hpp"

#include <array>
#include <cstdint>

namespace syncws::detail {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::uint8_t invalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_values() {
    std::array<std::uint8_t, 256> values{};
    for (auto& v : values)
        v = invalid;
    for (std::uint8_t i = 0; i < 64; ++i)
        values[static_cast<unsigned char>(alphabet[i])] = i;
    return values;
}

constexpr std::array<std::uint8_t, 256> values = make_values();

inline std::uint8_t value_of(char c) noexcept {
    return values[static_cast<unsigned char>(c)];
}

} // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t i = 0;
    for (; data.size() - i >= 3; i += 3) {
        const std::uint32_t n =
            std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
        out += alphabet[n >> 18];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    // RFC 4648 §4: a final group of 8 or 16 bits becomes two or three characters
    // followed by "==" or "=".
    const std::size_t rest = data.size() - i;
    if (rest != 0) {
        std::uint32_t n = std::uint32_t{in[i]} << 16;
        if (rest == 2) n |= std::uint32_t{in[i + 1]} << 8;
        out += alphabet[n >> 18];
        out += alphabet[(n >> 12) & 63];
        out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // Padded form only (RFC 4648 §3.2): whole four-character groups. No whitespace or
    // line breaks either (§3.3: "MUST reject ... characters outside the base alphabet").
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') {
        padding = text[text.size() - 2] == '=' ? 2 : 1;
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    const std::size_t data_chars = text.size() - padding;
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < data_chars; ++i) {
        const std::uint8_t v = value_of(text[i]);
        // Also catches '=' before the final padding.
        if (v == invalid) return std::nullopt;
        n = n << 6 | v;
        if (i % 4 == 3) {
            out += static_cast<char>(n >> 16);
            out += static_cast<char>((n >> 8) & 0xFF);
            out += static_cast<char>(n & 0xFF);
            n = 0;
        }
    }
    // The last group: "xx==" carries one byte, "xxx=" two. The pad bits left over are
    // not checked to be zero; RFC 4648 §3.5 lets decoders accept them, as Python's
    // base64.b64decode(validate=True) does for Sec-WebSocket-Key.
    if (padding == 2) {
        out += static_cast<char>(n >> 4);
    } else if (padding == 1) {
        out += static_cast<char>(n >> 10);
        out += static_cast<char>((n >> 2) & 0xFF);
    }
    return out;
}

} // namespace syncws::detail
