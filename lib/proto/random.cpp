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
// system call to detect forks), so keys are taken from a block drawn at once. The bytes are
// the same CSPRNG output, only fetched ahead: just as unpredictable to the application
// whose payloads are masked (RFC 6455 §10.3).
//
// The engine holds no locks (README, layering), so neither does this: a copy starts with
// an empty block of its own rather than sharing one, and so never repeats its original's
// bytes. Each engine calls its own copy from one thread at a time.
class BufferedRandom {
public:
    BufferedRandom() = default;
    BufferedRandom(const BufferedRandom&) {}
    BufferedRandom& operator=(const BufferedRandom&) = delete;

    void operator()(unsigned char* out, std::size_t size) {
        if (size > block_size / 4) return fill_from_openssl(out, size);
        if (left_ < size) {
            fill_from_openssl(block_, block_size);
            left_ = block_size;
        }
        // Used bytes are cleared: nothing drawn stays in memory after it was handed out.
        unsigned char* from = block_ + (block_size - left_);
        std::memcpy(out, from, size);
        std::memset(from, 0, size);
        left_ -= size;
    }

private:
    static constexpr std::size_t block_size = 256;
    unsigned char block_[block_size] = {};
    std::size_t left_ = 0;
};

} // namespace

RandomSource default_random_source() {
    return BufferedRandom();
}

} // namespace syncws
