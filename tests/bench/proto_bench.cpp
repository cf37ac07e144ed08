// Throughput of the engine's byte-level paths: masking, UTF-8 validation, frame headers,
// and whole small frames through ServerProtocol. Absolute figures depend on the machine;
// ratios.py divides them by the memcpy baseline of the same run.
#include "frame_codec.hpp"
#include "mask.hpp"
#include "utf8.hpp"

#include <syncws/protocol.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

using syncws::detail::MaskKey;

constexpr std::size_t kib = 1024;
constexpr std::size_t mib = 1024 * 1024;

const MaskKey key{0x37, 0xfa, 0x21, 0x3d};

std::string filler(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>('a' + i % 26);
    return s;
}

// ----- baseline -------------------------------------------------------------------------

void memcpy_baseline(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const std::string src = filler(size);
    std::string dst(size, '\0');
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), size);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(memcpy_baseline)->Arg(kib)->Arg(mib);

// ----- masking (RFC 6455 §5.3) ----------------------------------------------------------

void apply_mask(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    std::string data = filler(size);
    for (auto _ : state) {
        syncws::detail::apply_mask(data.data(), size, key, 0);
        benchmark::DoNotOptimize(data.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(apply_mask)->Arg(kib)->Arg(mib);

void copy_masked(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const std::string src = filler(size);
    std::string dst(size, '\0');
    for (auto _ : state) {
        syncws::detail::copy_masked(dst.data(), src.data(), size, key);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(copy_masked)->Arg(kib)->Arg(mib);

// ----- UTF-8 validation (RFC 6455 §8.1) -------------------------------------------------

// `sample` repeated to `size` bytes, cut on a code point boundary.
std::string repeat_text(std::string_view sample, std::size_t size) {
    std::string text;
    while (text.size() + sample.size() <= size)
        text += sample;
    std::size_t rest = size - text.size();
    while (rest > 0 && (static_cast<unsigned char>(sample[rest]) & 0xC0) == 0x80)
        --rest;
    text += sample.substr(0, rest);
    return text;
}

void validate(benchmark::State& state, const std::string& text) {
    if (!syncws::detail::is_valid_utf8(text)) {
        state.SkipWithError("sample text is not valid UTF-8");
        return;
    }
    std::size_t non_ascii = 0;
    for (unsigned char c : text)
        non_ascii += c >= 0x80;
    for (auto _ : state) {
        syncws::detail::Utf8Validator validator;
        benchmark::DoNotOptimize(validator.feed(text));
        benchmark::DoNotOptimize(validator.complete());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.SetLabel(std::to_string(non_ascii * 100 / text.size()) + "% non-ASCII bytes");
}

void utf8_ascii(benchmark::State& state) {
    validate(state, repeat_text("The quick brown fox jumps over the lazy dog. {\"id\": 12345} ",
                                static_cast<std::size_t>(state.range(0))));
}
BENCHMARK(utf8_ascii)->Arg(mib);

// Chat-like text mixing 1-, 2-, 3- and 4-byte sequences: Latin with accents, Greek,
// Cyrillic, CJK, Korean and emoji, with the spaces and punctuation real text has.
constexpr std::string_view mixed_sample =
    "Grüße aus Köln, naïve café crème brûlée! Καλημέρα κόσμε. Привет, мир! "
    "你好，世界。こんにちは、世界！안녕하세요 세계. Emoji: 🙂🚀🎉👍 "
    "Zażółć gęślą jaźń. Ünïcödé tëxt — “quotes” … 日本語のテキスト 🌍🔥 ";

void utf8_mixed(benchmark::State& state) {
    validate(state, repeat_text(mixed_sample, static_cast<std::size_t>(state.range(0))));
}
BENCHMARK(utf8_mixed)->Arg(mib);

void utf8_cjk(benchmark::State& state) {
    // Worst case for the ASCII fast path: almost no ASCII at all.
    validate(state, repeat_text("日本語のテキストと中文文本和한국어텍스트。",
                                static_cast<std::size_t>(state.range(0))));
}
BENCHMARK(utf8_cjk)->Arg(mib);

// ----- frame headers (RFC 6455 §5.2) ----------------------------------------------------

std::string masked_frame(std::size_t payload_size) {
    std::string frame;
    syncws::detail::serialize_frame(frame, syncws::Opcode::binary, true, 0, filler(payload_size),
                                    key);
    return frame;
}

void parse_frame_header(benchmark::State& state) {
    const std::string frame = masked_frame(32);
    for (auto _ : state) {
        auto result = syncws::detail::parse_frame_header(frame);
        benchmark::DoNotOptimize(result);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(parse_frame_header);

void serialize_frame(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const bool masked = state.range(1) != 0;
    const std::string payload = filler(size);
    const std::optional<MaskKey> mask = masked ? std::optional<MaskKey>(key) : std::nullopt;
    std::string out;
    out.reserve(size + syncws::detail::max_frame_header_size);
    for (auto _ : state) {
        out.clear();
        syncws::detail::serialize_frame(out, syncws::Opcode::binary, true, 0, payload, mask);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(serialize_frame)->ArgNames({"size", "masked"})->ArgsProduct({{32, mib}, {0, 1}});

// ----- the whole engine -----------------------------------------------------------------

void engine_small_frames(benchmark::State& state) {
    // Many masked 32-byte binary frames (38 bytes on the wire) in one read, as a client
    // streaming small messages would send them.
    constexpr std::size_t frame_count = 1000;
    const std::string one = masked_frame(32);
    std::string input;
    for (std::size_t i = 0; i < frame_count; ++i)
        input += one;

    syncws::ServerProtocol server({}, {}, syncws::State::open);
    for (auto _ : state) {
        server.receive_data(input);
        std::size_t frames = 0;
        while (auto event = server.next_event()) {
            benchmark::DoNotOptimize(*event);
            ++frames;
        }
        if (frames != frame_count || server.has_output()) {
            state.SkipWithError("the engine did not report every frame, or answered");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frame_count));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
BENCHMARK(engine_small_frames);

// The same frames taken with next_event(Event&), which hands each payload buffer back to the
// engine for a later frame: no allocation per frame.
void engine_small_frames_reused(benchmark::State& state) {
    constexpr std::size_t frame_count = 1000;
    const std::string one = masked_frame(32);
    std::string input;
    for (std::size_t i = 0; i < frame_count; ++i)
        input += one;

    syncws::ServerProtocol server({}, {}, syncws::State::open);
    syncws::Event event;
    for (auto _ : state) {
        server.receive_data(input);
        std::size_t frames = 0;
        while (server.next_event(event)) {
            benchmark::DoNotOptimize(event);
            ++frames;
        }
        const auto* frame = std::get_if<syncws::Frame>(&event);
        if (frames != frame_count || server.has_output() || !frame || frame->payload.size() != 32) {
            state.SkipWithError("the engine did not report every frame, or answered");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frame_count));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
BENCHMARK(engine_small_frames_reused);

} // namespace

BENCHMARK_MAIN();
