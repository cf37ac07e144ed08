#include <syncws/protocol.hpp>

#include <stdexcept>

#include <openssl/rand.h>

namespace syncws {

RandomSource default_random_source() {
    return [](unsigned char* out, std::size_t size) {
        // RAND_bytes takes an int; mask keys and handshake keys are a few bytes.
        while (size > 0) {
            const int chunk = size > 1024 ? 1024 : static_cast<int>(size);
            if (RAND_bytes(out, chunk) != 1)
                throw std::runtime_error("OpenSSL RAND_bytes failed: no secure randomness");
            out += chunk;
            size -= static_cast<std::size_t>(chunk);
        }
    };
}

} // namespace syncws
