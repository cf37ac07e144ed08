// Assertions for the RFC 6455 engine suites (framing, masking, fragmentation, control frames,
// UTF-8, limits): a fixture that runs each test on both sides, an encoder of expected wire
// bytes written independently of frame_codec, a reference UTF-8 checker, and
// `expect_every_way`, which feeds an input in every split and checks the whole outcome
// (events, exact output, state, failure details) of every run.
#pragma once

#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace syncws {

// Readable failure messages: gtest would otherwise dump a Frame as raw object bytes.
inline void PrintTo(const Frame& frame, std::ostream* os) {
    *os << "Frame{opcode=" << static_cast<int>(frame.opcode) << " fin=" << frame.fin
        << " rsv=" << frame.rsv1 << frame.rsv2 << frame.rsv3 << " size=" << frame.payload.size();
    if (frame.payload.size() <= 64) *os << " payload=" << ::testing::PrintToString(frame.payload);
    *os << "}";
}

inline void PrintTo(State state, std::ostream* os) {
    switch (state) {
    case State::connecting:
        *os << "CONNECTING";
        return;
    case State::open:
        *os << "OPEN";
        return;
    case State::closing:
        *os << "CLOSING";
        return;
    case State::closed:
        *os << "CLOSED";
        return;
    }
    *os << "State(" << static_cast<int>(state) << ")";
}

inline void PrintTo(Side side, std::ostream* os) {
    *os << (side == Side::client ? "client" : "server");
}

} // namespace syncws

namespace syncws::test {

// ----- both sides -------------------------------------------------------------------------

/// Parameter names for INSTANTIATE_TEST_SUITE_P: "client" / "server".
inline std::string side_name(const ::testing::TestParamInfo<Side>& info) {
    return info.param == Side::client ? "client" : "server";
}

/// Base fixture of the per-topic suites: `side()` is the engine under test; the peer's
/// frames are masked exactly when the peer is a client.
class SideTest : public ::testing::TestWithParam<Side> {
protected:
    Side side() const { return GetParam(); }
    Side peer() const { return peer_of(GetParam()); }
    bool is_server() const { return GetParam() == Side::server; }

    /// A fresh OPEN engine of the side under test.
    std::function<std::unique_ptr<Protocol>()>
    maker(ProtocolOptions options = test_options()) const {
        const Side s = side();
        return [s, options] { return open_engine(s, options); };
    }
    std::unique_ptr<Protocol> engine(ProtocolOptions options = test_options()) const {
        return open_engine(side(), std::move(options));
    }
    /// A frame as the peer sends it.
    std::string in(Opcode opcode, std::string_view payload, bool fin = true,
                   std::uint8_t rsv = 0) const {
        return frame_bytes(peer(), opcode, payload, fin, rsv);
    }
};

// ----- bytes ------------------------------------------------------------------------------

/// Bytes from a list of octets, so literals with NULs read like the RFC's examples.
inline std::string bytes(std::initializer_list<unsigned> octets) {
    std::string out;
    for (unsigned o : octets)
        out.push_back(static_cast<char>(o));
    return out;
}

/// Deterministic, non-repeating content, so a wrong mask byte anywhere shows.
inline std::string pattern(std::size_t size, unsigned seed = 1) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 12345u;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

/// How a frame header writes the payload length (RFC 6455 §5.2).
enum class LengthEncoding { minimal, bits7, bits16, bits64 };

/// A frame on the wire, written byte by byte from RFC 6455 §5.2 without frame_codec, so
/// expected output does not come from the code under test. Masked with `key` when `sender`
/// is a client. `opcode` may be any 4-bit value (reserved ones included).
inline std::string wire_frame(Side sender, std::uint8_t opcode, std::string_view payload,
                              bool fin = true, std::uint8_t rsv = 0,
                              LengthEncoding encoding = LengthEncoding::minimal,
                              const detail::MaskKey& key = test_mask) {
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)));
    const unsigned mask_bit = sender == Side::client ? 0x80 : 0;
    const std::uint64_t n = payload.size();
    if (encoding == LengthEncoding::minimal)
        encoding = n <= 125     ? LengthEncoding::bits7
                   : n <= 65535 ? LengthEncoding::bits16
                                : LengthEncoding::bits64;
    switch (encoding) {
    case LengthEncoding::bits7:
        out.push_back(static_cast<char>(mask_bit | n));
        break;
    case LengthEncoding::bits16:
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
        break;
    default:
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((n >> shift) & 0xff));
        break;
    }
    if (sender == Side::client) {
        for (auto k : key)
            out.push_back(static_cast<char>(k));
        for (std::size_t i = 0; i < payload.size(); ++i)
            out.push_back(static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4])));
    } else {
        out.append(payload);
    }
    return out;
}

inline std::string wire_frame(Side sender, Opcode opcode, std::string_view payload, bool fin = true,
                              std::uint8_t rsv = 0,
                              LengthEncoding encoding = LengthEncoding::minimal,
                              const detail::MaskKey& key = test_mask) {
    return wire_frame(sender, static_cast<std::uint8_t>(opcode), payload, fin, rsv, encoding, key);
}

inline Frame make_frame(Opcode opcode, std::string_view payload, bool fin = true) {
    Frame frame;
    frame.opcode = opcode;
    frame.fin = fin;
    frame.payload = std::string(payload);
    return frame;
}

// ----- reference UTF-8 ----------------------------------------------------------------------

/// Where a byte string stops being a prefix of valid UTF-8, by RFC 3629 §4's grammar.
struct Utf8Verdict {
    /// Index of the first byte after which no continuation can make the text valid, or
    /// npos when every byte is acceptable.
    std::size_t first_bad = std::string_view::npos;
    /// True when the text is valid and complete (no sequence left open).
    bool valid = false;
};

/// A straightforward reading of RFC 3629 §4, kept apart from the engine's DFA.
inline Utf8Verdict reference_utf8(std::string_view s) {
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned b = at(i);
        if (b < 0x80) {
            ++i;
            continue;
        }
        std::size_t tails = 0;
        unsigned lo = 0x80, hi = 0xbf; // range of the second byte
        if (b >= 0xc2 && b <= 0xdf) {
            tails = 1;
        } else if (b == 0xe0) { // E0 80-9F would be overlong
            tails = 2;
            lo = 0xa0;
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            tails = 2;
        } else if (b == 0xed) { // ED A0-BF would be a surrogate
            tails = 2;
            hi = 0x9f;
        } else if (b == 0xf0) { // F0 80-8F would be overlong
            tails = 3;
            lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            tails = 3;
        } else if (b == 0xf4) { // F4 90-BF would be above U+10FFFF
            tails = 3;
            hi = 0x8f;
        } else {
            return {i, false};
        }
        for (std::size_t k = 1; k <= tails; ++k) {
            if (i + k >= s.size()) return {std::string_view::npos, false};
            const unsigned c = at(i + k);
            if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xbfu)) return {i + k, false};
        }
        i += tails + 1;
    }
    return {std::string_view::npos, true};
}

// ----- splits -------------------------------------------------------------------------------

/// `splits_of` for small inputs. For large ones, splitting at every offset is quadratic, so
/// this splits at every offset within 32 bytes of either end (every header boundary and
/// mask phase), at a few offsets in between, and still feeds one byte at a time.
inline std::vector<std::vector<std::string>> splits_for(std::string_view input) {
    constexpr std::size_t small = 4096;
    if (input.size() <= small) return splits_of(input);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i <= 32; ++i)
        cuts.push_back(i);
    for (std::size_t i : {input.size() / 3, input.size() / 2, input.size() / 2 + 1,
                          input.size() / 2 + 2, input.size() / 2 + 3})
        cuts.push_back(i);
    for (std::size_t i = input.size() - 32; i < input.size(); ++i)
        cuts.push_back(i);
    std::vector<std::vector<std::string>> result;
    result.push_back({std::string(input)});
    for (std::size_t cut : cuts)
        result.push_back({std::string(input.substr(0, cut)), std::string(input.substr(cut))});
    std::vector<std::string> one_by_one;
    one_by_one.reserve(input.size());
    for (char c : input)
        one_by_one.emplace_back(1, c);
    result.push_back(std::move(one_by_one));
    return result;
}

/// A short description of a split, for SCOPED_TRACE.
inline std::string describe_split(const std::vector<std::string>& chunks) {
    if (chunks.size() == 1) return "whole input (" + std::to_string(chunks[0].size()) + " bytes)";
    if (chunks.size() == 2)
        return "split at offset " + std::to_string(chunks[0].size()) + " of " +
               std::to_string(chunks[0].size() + chunks[1].size());
    return "fed in " + std::to_string(chunks.size()) + " one-byte chunks";
}

// ----- expected outcomes ----------------------------------------------------------------------

/// What feeding an input must do.
struct Expected {
    /// Every event, in order (all frames: the engines are OPEN from the start).
    std::vector<Frame> frames;
    /// Exact bytes written, before the close frame of a failure if `fail_code` is set.
    std::string output;
    /// The state at the end when the input does not fail the connection.
    State state = State::open;
    /// Nonzero: the engine must fail the connection with this code (1002, 1007, 1009).
    std::uint16_t fail_code = 0;
    /// A substring of the failure's message.
    std::string why;
};

/// Checks `p.protocol_error()` holds a ProtocolError with `code` and `why` in its message
/// (a PayloadTooBig exactly when the code is 1009). Returns the message.
inline std::string expect_protocol_error(const Protocol& p, std::uint16_t code,
                                         std::string_view why) {
    const std::exception_ptr error = p.protocol_error();
    if (!error) {
        ADD_FAILURE() << "protocol_error() is null; expected close code " << code;
        return {};
    }
    try {
        std::rethrow_exception(error);
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.close_code(), code);
        EXPECT_NE(std::string_view(e.what()).find(why), std::string_view::npos)
            << "message \"" << e.what() << "\" lacks \"" << why << "\"";
        EXPECT_EQ(dynamic_cast<const PayloadTooBig*>(&e) != nullptr, code == 1009)
            << "PayloadTooBig must be used for 1009 and only for it";
        return e.what();
    } catch (...) {
        ADD_FAILURE() << "protocol_error() holds something other than a ProtocolError";
    }
    return {};
}

/// The close frame a failure sends: the code, and the error message as the reason (cut to
/// the 123 bytes a close frame has room for).
inline std::string failure_close_frame(Side side, std::uint16_t code, std::string_view message) {
    return wire_frame(side, Opcode::close, close_payload(code, message.substr(0, 123)));
}

/// Checks a failed engine: CLOSING, the close frame sent, the error recorded, a server
/// half-closing at once (RFC 6455 §7.1.7 and §7.1.1) and a client waiting for the server;
/// then checks that input after the failure is ignored. `output` is everything the engine
/// wrote; `before` what it wrote before failing.
inline void expect_failed(Protocol& p, const std::string& output, const std::string& before,
                          std::uint16_t code, std::string_view why) {
    const std::string message = expect_protocol_error(p, code, why);
    EXPECT_EQ(p.state(), State::closing);
    ASSERT_TRUE(p.close_sent().has_value());
    EXPECT_EQ(p.close_sent()->code, code);
    EXPECT_EQ(p.close_sent()->reason, message.substr(0, 123));
    EXPECT_FALSE(p.close_received().has_value());
    EXPECT_EQ(output, before + failure_close_frame(p.side(), code, message));
    EXPECT_FALSE(p.has_output());
    EXPECT_EQ(p.eof_to_send(), p.side() == Side::server);
    EXPECT_TRUE(p.close_expected());

    // RFC 6455 §7.1.7: after failing, the endpoint "MUST NOT continue to attempt to process
    // data (including a responding Close frame)". A ping would be answered and a close frame
    // echoed if input were still processed.
    const Side sender = peer_of(p.side());
    const std::string late = wire_frame(sender, Opcode::text, "late") +
                             wire_frame(sender, Opcode::ping, "late") +
                             wire_frame(sender, Opcode::close, close_payload(1000));
    p.receive_data(BytesView(late));
    EXPECT_FALSE(p.next_event().has_value()) << "input after a failure produced an event";
    EXPECT_FALSE(p.has_output()) << "input after a failure produced output";
    EXPECT_EQ(p.state(), State::closing);
    EXPECT_FALSE(p.close_received().has_value());
}

/// Checks one run's outcome against `expected`.
inline void expect_outcome(Protocol& p, const Outcome& outcome, const Expected& expected) {
    EXPECT_EQ(outcome.events.size(), expected.frames.size()) << "events other than frames";
    EXPECT_EQ(frames_of(outcome.events), expected.frames);
    if (expected.fail_code != 0) {
        expect_failed(p, outcome.output, expected.output, expected.fail_code, expected.why);
        return;
    }
    EXPECT_EQ(outcome.output, expected.output);
    EXPECT_EQ(p.state(), expected.state);
    EXPECT_FALSE(p.protocol_error()) << "unexpected protocol error";
    if (expected.state == State::open) {
        EXPECT_FALSE(p.close_sent().has_value());
        EXPECT_FALSE(p.eof_to_send());
        EXPECT_FALSE(p.close_expected());
    }
}

/// Failures recorded so far in the running test.
inline int failure_count() {
    const auto* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
    int count = 0;
    for (int i = 0; i < result->total_part_count(); ++i)
        if (result->GetTestPartResult(i).failed()) ++count;
    return count;
}

/// Feeds `input` to a fresh engine from `make` whole, split at every offset (see
/// `splits_for` for large inputs) and one byte at a time; every run must match `expected`.
/// Stops at the first split that fails, so one bug gives one screenful.
inline void expect_every_way(const std::function<std::unique_ptr<Protocol>()>& make,
                             std::string_view input, const Expected& expected) {
    const int failures_before = failure_count();
    for (const auto& chunks : splits_for(input)) {
        SCOPED_TRACE(describe_split(chunks));
        auto engine = make();
        const Outcome outcome = run(*engine, chunks);
        expect_outcome(*engine, outcome, expected);
        if (failure_count() != failures_before) return;
    }
}

/// Shorthand: an input that must fail the connection with `code` after reporting `frames`
/// and writing `before`.
inline Expected failure(std::uint16_t code, std::string why, std::vector<Frame> frames = {},
                        std::string before = {}) {
    Expected e;
    e.frames = std::move(frames);
    e.output = std::move(before);
    e.fail_code = code;
    e.why = std::move(why);
    return e;
}

/// Shorthand: an input that must report `frames` and write `output`, staying OPEN.
inline Expected success(std::vector<Frame> frames, std::string output = {}) {
    Expected e;
    e.frames = std::move(frames);
    e.output = std::move(output);
    return e;
}

/// Feeds `input` in one call and returns what came out (for step-by-step tests).
inline Outcome feed(Protocol& p, std::string_view input) {
    return run(p, {std::string(input)});
}

/// A RandomSource that yields a different mask key on each call (call n fills bytes
/// 0x10*n+0 … 0x10*n+3, cycling) and counts calls in `*calls`.
inline RandomSource counting_random(std::shared_ptr<int> calls) {
    return [calls](unsigned char* out, std::size_t size) {
        const int n = ++*calls;
        for (std::size_t i = 0; i < size; ++i)
            out[i] = static_cast<unsigned char>(0x10 * n + static_cast<int>(i % 4));
    };
}

/// The key `counting_random` yields on call `n` (1-based).
inline detail::MaskKey counting_key(int n) {
    const auto b = static_cast<std::uint8_t>(0x10 * n);
    return {b, static_cast<std::uint8_t>(b + 1), static_cast<std::uint8_t>(b + 2),
            static_cast<std::uint8_t>(b + 3)};
}

} // namespace syncws::test
