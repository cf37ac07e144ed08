// Base64 (RFC 4648 §4) for Sec-WebSocket-Key/Accept and Basic authorization.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace syncws::detail {

std::string base64_encode(std::string_view data);
/// Decodes padded base64; nothing if `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace syncws::detail
