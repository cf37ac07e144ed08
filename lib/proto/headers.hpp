// Grammars of handshake header values (RFC 9110 §5.6, RFC 6455 §4.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws::detail {

/// True for an RFC 9110 tchar, the characters of a token.
bool is_tchar(char c) noexcept;
/// True for an RFC 9110 token (tchar+).
bool is_token(std::string_view text) noexcept;
/// ASCII case-insensitive comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;
/// Trims spaces and horizontal tabs at both ends (OWS).
std::string_view trim_ows(std::string_view text) noexcept;

/// Splits `a, b ,c` into {"a","b","c"}; empty elements are skipped (RFC 9110 §5.6.1).
/// Returns nothing if an element is not a token (for Connection, Upgrade,
/// Sec-WebSocket-Protocol).
std::optional<std::vector<std::string>> parse_token_list(std::string_view value);

} // namespace syncws::detail
