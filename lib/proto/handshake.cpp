#include "handshake.hpp"

#include "base64.hpp"
#include "sha1.hpp"

namespace syncws::detail {

std::string generate_key(const RandomSource& random) {
    // RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded".
    unsigned char nonce[16];
    random(nonce, sizeof nonce);
    return base64_encode({reinterpret_cast<const char*>(nonce), sizeof nonce});
}

std::string accept_key(std::string_view key) {
    // RFC 6455 §4.2.2, item 5.4: the GUID is fixed by the RFC.
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input;
    input.reserve(key.size() + guid.size());
    input.append(key);
    input.append(guid);
    const Sha1Digest digest = sha1(input);
    return base64_encode({reinterpret_cast<const char*>(digest.data()), digest.size()});
}

} // namespace syncws::detail
