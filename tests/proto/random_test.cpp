// default_random_source(): mask keys drawn from a buffered block of CSPRNG output must still
// be fresh for every frame, also across copies of the source and across threads.
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace syncws {
namespace {

std::uint32_t draw_key(const RandomSource& random) {
    std::array<unsigned char, 4> key{};
    random(key.data(), key.size());
    std::uint32_t value = 0;
    std::memcpy(&value, key.data(), key.size());
    return value;
}

// Random 32-bit keys: among a few thousand, a repeat has a probability of about 0.1 %
// (birthday bound); a source that hands out the same block twice repeats hundreds.
std::size_t repeats(const std::vector<std::uint32_t>& keys) {
    return keys.size() - std::set<std::uint32_t>(keys.begin(), keys.end()).size();
}

TEST(DefaultRandomSource, KeysDrawnOneAfterAnotherDoNotRepeat) {
    const RandomSource random = default_random_source();
    std::vector<std::uint32_t> keys;
    for (int i = 0; i < 5000; ++i)
        keys.push_back(draw_key(random));
    EXPECT_LE(repeats(keys), 1u);
}

TEST(DefaultRandomSource, CopiesDoNotRepeatTheirOriginal) {
    // As when one ProtocolOptions is copied into two engines. Drawn from first, so that the
    // original's block is half used when it is copied.
    const RandomSource a = default_random_source();
    std::vector<std::uint32_t> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back(draw_key(a));
    const RandomSource b = a;
    for (int i = 0; i < 2000; ++i) {
        keys.push_back(draw_key(a));
        keys.push_back(draw_key(b));
    }
    EXPECT_LE(repeats(keys), 1u);
}

TEST(DefaultRandomSource, SeparateSourcesDoNotRepeatEachOther) {
    const RandomSource a = default_random_source();
    const RandomSource b = default_random_source();
    std::vector<std::uint32_t> keys;
    for (int i = 0; i < 2000; ++i) {
        keys.push_back(draw_key(a));
        keys.push_back(draw_key(b));
    }
    EXPECT_LE(repeats(keys), 1u);
}

TEST(DefaultRandomSource, ThreadsSharingOneSourceGetDistinctKeys) {
    // One object called from several threads at once, as an application may keep it.
    const RandomSource random = default_random_source();
    constexpr int threads = 4;
    constexpr int per_thread = 1000;
    std::vector<std::vector<std::uint32_t>> drawn(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&drawn, &random, t] {
            for (int i = 0; i < per_thread; ++i)
                drawn[t].push_back(draw_key(random));
        });
    for (auto& w : workers)
        w.join();
    std::vector<std::uint32_t> keys;
    for (const auto& d : drawn)
        keys.insert(keys.end(), d.begin(), d.end());
    EXPECT_LE(repeats(keys), 1u);
}

TEST(DefaultRandomSource, FillsRequestsLargerThanItsBlock) {
    const RandomSource random = default_random_source();
    std::vector<unsigned char> big(5000, 0);
    random(big.data(), big.size());
    // 5000 random bytes hold about 20 zeros; an unfilled tail would be all zeros.
    EXPECT_LT(std::count(big.begin(), big.end(), 0), 100);
    EXPECT_NE(std::count(big.end() - 64, big.end(), 0), 64);
    std::vector<unsigned char> again(5000, 0);
    random(again.data(), again.size());
    EXPECT_NE(big, again);
}

TEST(DefaultRandomSource, EveryByteOfABlockIsUsedOnce) {
    // Odd sizes walk across block boundaries: no byte may come out twice in a row of draws,
    // which a wrong offset (handing out a used or zeroed byte) would show as zero runs.
    const RandomSource random = default_random_source();
    std::vector<unsigned char> all;
    for (int i = 0; i < 300; ++i) {
        unsigned char chunk[7] = {};
        random(chunk, sizeof chunk);
        all.insert(all.end(), chunk, chunk + sizeof chunk);
    }
    // 2100 random bytes: about 8 zeros expected; handing out cleared (used) bytes gives
    // hundreds.
    EXPECT_LT(std::count(all.begin(), all.end(), 0), 60);
}

} // namespace
} // namespace syncws
