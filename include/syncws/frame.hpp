// WebSocket frames, opcodes and close codes (RFC 6455 §5, §7.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <syncws/bytes.hpp>

namespace syncws {

/// Frame opcodes (RFC 6455 §5.2, §11.8). Values 3–7 and 11–15 are reserved and never
/// appear in a valid frame.
enum class Opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

/// True for close, ping and pong (RFC 6455 §5.5: opcodes with the high bit set).
constexpr bool is_control(Opcode op) noexcept {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

/// Status codes of a close frame (RFC 6455 §7.4.1, IANA registry).
///
/// 1005, 1006 and 1015 are never sent on the wire: they describe a close without a
/// status, a connection lost without a close frame, and a TLS handshake failure.
enum class CloseCode : std::uint16_t {
    normal_closure = 1000,
    going_away = 1001,
    protocol_error = 1002,
    unsupported_data = 1003,
    no_status_received = 1005,
    abnormal_closure = 1006,
    invalid_payload = 1007,
    policy_violation = 1008,
    message_too_big = 1009,
    mandatory_extension = 1010,
    internal_error = 1011,
    service_restart = 1012,
    try_again_later = 1013,
    bad_gateway = 1014,
    tls_handshake = 1015,
};

/// True if `code` may appear in a close frame on the wire (RFC 6455 §7.4): 1000–1003,
/// 1007–1014 and the application range 3000–4999.
bool is_valid_close_code(std::uint16_t code) noexcept;

/// The body of a close frame: a status code and a UTF-8 reason (RFC 6455 §5.5.1).
///
/// A close frame without a body is represented by code 1005 (`no_status_received`) and an
/// empty reason, as RFC 6455 §7.1.5 specifies.
struct Close {
    std::uint16_t code = static_cast<std::uint16_t>(CloseCode::no_status_received);
    std::string reason;

    /// Parses a close frame payload. Returns nothing if the payload is invalid: one byte
    /// long, a code that `is_valid_close_code` rejects, or a reason that is not UTF-8.
    /// Never throws on bad input (it only allocates for the reason).
    static std::optional<Close> parse(std::string_view payload);

    /// The close frame payload: empty for 1005, else the code in network order and the
    /// reason. Throws `std::invalid_argument` if the code cannot be sent or the payload
    /// would exceed 125 bytes.
    std::string serialize() const;

    /// "1000 (normal closure) bye" style text for messages and logs.
    std::string to_string() const;

    friend bool operator==(const Close& a, const Close& b) {
        return a.code == b.code && a.reason == b.reason;
    }
    friend bool operator!=(const Close& a, const Close& b) { return !(a == b); }
};

/// A short English name for a close code ("normal closure", "going away", …), or
/// "application" / "private use" / "unknown" for codes without one.
std::string_view close_code_name(std::uint16_t code) noexcept;

/// One frame as the engine reports it: unmasked, with its flags (RFC 6455 §5.2).
///
/// Data frames arrive as the peer sent them (a message may span several frames,
/// continuation frames carry `Opcode::continuation`); after an extension decoded them,
/// `payload` holds the decoded bytes and `rsv1` is cleared.
struct Frame {
    Opcode opcode = Opcode::text;
    bool fin = true;
    bool rsv1 = false;
    bool rsv2 = false;
    bool rsv3 = false;
    Bytes payload;

    friend bool operator==(const Frame& a, const Frame& b) {
        return a.opcode == b.opcode && a.fin == b.fin && a.rsv1 == b.rsv1 && a.rsv2 == b.rsv2 &&
               a.rsv3 == b.rsv3 && a.payload == b.payload;
    }
    friend bool operator!=(const Frame& a, const Frame& b) { return !(a == b); }
};

} // namespace syncws
