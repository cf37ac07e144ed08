// Helpers for engine tests: deterministic randomness, frame builders, chunked feeding.
#pragma once

#include "frame_codec.hpp"

#include <syncws/protocol.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace syncws::test {

/// The mask key every engine built by these helpers uses: RFC 6455 §5.7's example.
inline constexpr detail::MaskKey test_mask{0x37, 0xfa, 0x21, 0x3d};

/// A RandomSource that always yields the bytes of `test_mask`, cycling, so masked output
/// and Sec-WebSocket-Key are exact.
inline RandomSource fixed_random() {
    return [](unsigned char* out, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i)
            out[i] = test_mask[i % 4];
    };
}

inline ProtocolOptions test_options(std::optional<std::size_t> max_size = 1024 * 1024) {
    ProtocolOptions options;
    options.max_size = max_size;
    options.random = fixed_random();
    return options;
}

/// Bytes of one frame as `sender` would put it on the wire: masked with `test_mask` when
/// a client sends it.
inline std::string frame_bytes(Side sender, Opcode opcode, std::string_view payload,
                               bool fin = true, std::uint8_t rsv = 0) {
    std::string out;
    std::optional<detail::MaskKey> mask;
    if (sender == Side::client) mask = test_mask;
    detail::serialize_frame(out, opcode, fin, rsv, payload, mask);
    return out;
}

/// A frame with an explicit masking choice (for tests of the wrong direction).
inline std::string raw_frame(Opcode opcode, std::string_view payload, bool masked, bool fin = true,
                             std::uint8_t rsv = 0) {
    std::string out;
    std::optional<detail::MaskKey> mask;
    if (masked) mask = test_mask;
    detail::serialize_frame(out, opcode, fin, rsv, payload, mask);
    return out;
}

inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
    std::string out;
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xff));
    out.append(reason);
    return out;
}

/// The other side of `side`.
inline Side peer_of(Side side) {
    return side == Side::client ? Side::server : Side::client;
}

/// An engine of `side`, already OPEN, with deterministic randomness.
inline std::unique_ptr<Protocol> open_engine(Side side, ProtocolOptions options = test_options()) {
    if (side == Side::client)
        return std::make_unique<ClientProtocol>(Uri{}, ClientHandshakeOptions{}, std::move(options),
                                                State::open);
    return std::make_unique<ServerProtocol>(ServerHandshakeOptions{}, std::move(options),
                                            State::open);
}

/// Every pending event. Alternates the two forms of `next_event` so that every engine test
/// runs both, and the recycling form always hands the engine back a buffer full of stale
/// bytes (a frame built in a reused buffer must not show them).
inline std::vector<Event> drain(Protocol& p) {
    std::vector<Event> events;
    Event reused =
        Frame{Opcode::binary, true,  false,
              false,          false, std::string(40, '#') + " stale bytes of an earlier frame"};
    for (bool by_reference = false;; by_reference = !by_reference) {
        if (by_reference) {
            if (!p.next_event(reused)) break;
            events.push_back(reused);
        } else {
            auto event = p.next_event();
            if (!event) break;
            events.push_back(std::move(*event));
        }
    }
    return events;
}

inline std::string output(Protocol& p) {
    Bytes out;
    p.take_output(out);
    return out;
}

inline std::vector<Frame> frames_of(const std::vector<Event>& events) {
    std::vector<Frame> frames;
    for (const auto& e : events)
        if (const auto* f = std::get_if<Frame>(&e)) frames.push_back(*f);
    return frames;
}

/// Every way the tests split an input: whole, split in two at each offset, one byte at a
/// time. Each element is a list of chunks to feed in order.
inline std::vector<std::vector<std::string>> splits_of(std::string_view input) {
    std::vector<std::vector<std::string>> result;
    result.push_back({std::string(input)});
    for (std::size_t i = 1; i < input.size(); ++i)
        result.push_back({std::string(input.substr(0, i)), std::string(input.substr(i))});
    std::vector<std::string> bytes;
    for (char c : input)
        bytes.emplace_back(1, c);
    if (input.size() > 2) result.push_back(std::move(bytes));
    return result;
}

/// What an engine did with some input: every event, every output byte, in order.
struct Outcome {
    std::vector<Event> events;
    std::string output;
    State state;
    std::uint16_t close_code_sent = 0; // 0 if none
    bool eof_to_send = false;
};

inline Outcome run(Protocol& p, const std::vector<std::string>& chunks) {
    Outcome outcome;
    for (const auto& chunk : chunks) {
        p.receive_data(BytesView(chunk));
        for (auto& e : drain(p))
            outcome.events.push_back(std::move(e));
        outcome.output += output(p);
    }
    outcome.state = p.state();
    if (p.close_sent()) outcome.close_code_sent = p.close_sent()->code;
    outcome.eof_to_send = p.eof_to_send();
    return outcome;
}

/// Feeds `input` to a fresh engine from `make` in every split of `splits_of`, and checks
/// with `check` that each run has the same outcome. Returns the outcome of the whole-input
/// run. `check` receives the split index for messages.
inline Outcome feed_every_way(const std::function<std::unique_ptr<Protocol>()>& make,
                              std::string_view input,
                              const std::function<void(const Outcome&, std::size_t)>& check) {
    const auto all = splits_of(input);
    Outcome first;
    for (std::size_t i = 0; i < all.size(); ++i) {
        auto engine = make();
        Outcome outcome = run(*engine, all[i]);
        check(outcome, i);
        if (i == 0) first = std::move(outcome);
    }
    return first;
}

} // namespace syncws::test
