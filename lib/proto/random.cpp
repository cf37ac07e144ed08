#include <syncws/protocol.hpp>

#include <cstring>
#include <stdexcept>

#include <openssl/rand.h>

namespace syncws {

namespace {

void fill_from_openssl(unsigned char* out, std::size_t size) {
    // RAND_bytes takes an int.
    while (size > 0) {
        const int chunk = size > 1024 ? 1024 : static_cast<int>(size);
        if (RAND_bytes(out, chunk) != 1)
            throw std::runtime_error("OpenSSL RAND_bytes failed: no secure randomness");
        out += chunk;
        size -= static_cast<std::size_t>(chunk);
    }
}

// A client draws a 4-byte mask key for every frame it sends. One RAND_bytes call per key
// cost more than the rest of sending a small message (it takes locks and makes a getpid()
// system call to detect forks), so keys are taken from a block drawn at once: the same
// CSPRNG output, only fetched ahead. One block per thread: any number of threads may call
// one source, and the engine layer takes no locks (README, layering).
//
// After fork(), the child's first draws on the forking thread repeat what was left of the
// parent's block (at most 256 bytes). Mask keys are not secrets; they only have to be
// unknown to the application whose payloads they mask (RFC 6455 §10.3), and a
// Sec-WebSocket-Key is a nonce.
void draw_buffered(unsigned char* out, std::size_t size) {
    constexpr std::size_t block_size = 256;
    if (size > block_size / 4) return fill_from_openssl(out, size);
    struct Block {
        unsigned char bytes[block_size] = {};
        std::size_t left = 0;
    };
    thread_local Block block;
    if (block.left < size) {
        fill_from_openssl(block.bytes, block_size);
        block.left = block_size;
    }
    // Used bytes are cleared: nothing drawn stays in memory after it was handed out.
    unsigned char* from = block.bytes + (block_size - block.left);
    std::memcpy(out, from, size);
    std::memset(from, 0, size);
    block.left -= size;
}

} // namespace

RandomSource default_random_source() {
    return draw_buffered;
}

} // namespace syncws
