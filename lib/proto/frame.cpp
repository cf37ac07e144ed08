#include <syncws/frame.hpp>

#include <stdexcept>

#include "utf8.hpp"

namespace syncws {

bool is_valid_close_code(std::uint16_t code) noexcept {
    // RFC 6455 §7.4.1–§7.4.2 and the IANA registry: 1004 is reserved, 1005 and 1006
    // "MUST NOT be set as a status code in a Close control frame", 1015 likewise; 1012–1014
    // were registered later and are sent by real servers. 1016–2999 are reserved for
    // future standards, 3000–4999 belong to libraries and applications.
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1014) return true;
    return code >= 3000 && code <= 4999;
}

std::string_view close_code_name(std::uint16_t code) noexcept {
    switch (static_cast<CloseCode>(code)) {
    case CloseCode::normal_closure: return "normal closure";
    case CloseCode::going_away: return "going away";
    case CloseCode::protocol_error: return "protocol error";
    case CloseCode::unsupported_data: return "unsupported data";
    case CloseCode::no_status_received: return "no status received [internal]";
    case CloseCode::abnormal_closure: return "abnormal closure [internal]";
    case CloseCode::invalid_payload: return "invalid frame payload data";
    case CloseCode::policy_violation: return "policy violation";
    case CloseCode::message_too_big: return "message too big";
    case CloseCode::mandatory_extension: return "mandatory extension";
    case CloseCode::internal_error: return "internal error";
    case CloseCode::service_restart: return "service restart";
    case CloseCode::try_again_later: return "try again later";
    case CloseCode::bad_gateway: return "bad gateway";
    case CloseCode::tls_handshake: return "TLS handshake failure [internal]";
    }
    if (code >= 3000 && code < 4000) return "application";
    if (code >= 4000 && code < 5000) return "private use";
    return "unknown";
}

std::optional<Close> Close::parse(std::string_view payload) {
    if (payload.empty()) return Close{};
    if (payload.size() < 2) return std::nullopt;
    const auto code = static_cast<std::uint16_t>(
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]));
    if (!is_valid_close_code(code)) return std::nullopt;
    const auto reason = payload.substr(2);
    if (!detail::is_valid_utf8(reason)) return std::nullopt;
    return Close{code, std::string(reason)};
}

std::string Close::serialize() const {
    if (code == static_cast<std::uint16_t>(CloseCode::no_status_received)) {
        if (!reason.empty()) throw std::invalid_argument("a close frame without code has no reason");
        return {};
    }
    if (!is_valid_close_code(code))
        throw std::invalid_argument("close code " + std::to_string(code) + " may not be sent");
    // RFC 6455 §5.5: control frame payloads are at most 125 bytes, 2 of them the code.
    if (reason.size() > 123)
        throw std::invalid_argument("close reason longer than 123 bytes");
    std::string out;
    out.reserve(2 + reason.size());
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xff));
    out += reason;
    return out;
}

std::string Close::to_string() const {
    std::string text = std::to_string(code) + " (" + std::string(close_code_name(code)) + ")";
    if (!reason.empty()) text += " " + reason;
    return text;
}

} // namespace syncws
