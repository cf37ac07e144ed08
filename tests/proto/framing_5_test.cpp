// RFC 6455 §5.2 base framing, on both sides: payload length encodings sent and received,
// reserved opcodes and bits, and what happens to input after the connection failed.
#include "proto_assertions.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

class Framing_5_2 : public SideTest {};

INSTANTIATE_TEST_SUITE_P(BothSides, Framing_5_2, ::testing::Values(Side::client, Side::server),
                         side_name);

constexpr std::uint16_t protocol_error = 1002;

std::string xor_with(std::string data, const detail::MaskKey& key) {
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>(data[i] ^ static_cast<char>(key[i % 4]));
    return data;
}

// RFC 6455 §5.2: "Payload length: 7 bits, 7+16 bits, or 7+64 bits ... If 0-125, that is the
// payload length. If 126, the following 2 bytes ... If 127, the following 8 bytes".
struct LengthCase {
    std::size_t length;
    std::string header; // of an unmasked binary frame
};

std::vector<LengthCase> length_cases() {
    return {
        {0, bytes({0x82, 0x00})},
        {1, bytes({0x82, 0x01})},
        {125, bytes({0x82, 0x7d})},
        {126, bytes({0x82, 0x7e, 0x00, 0x7e})},
        {127, bytes({0x82, 0x7e, 0x00, 0x7f})},
        {65535, bytes({0x82, 0x7e, 0xff, 0xff})},
        {65536, bytes({0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00})},
        {100000, bytes({0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xa0})},
    };
}

// The header as `sender` writes it: a client sets the MASK bit and appends the key.
std::string header_from(Side sender, std::string header) {
    if (sender == Side::server) return header;
    header[1] = static_cast<char>(header[1] | 0x80);
    return header + bytes({0x37, 0xfa, 0x21, 0x3d});
}

TEST_P(Framing_5_2, SendsEachLengthEncodingWithMinimalBytes) {
    // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
    for (const auto& c : length_cases()) {
        SCOPED_TRACE("length " + std::to_string(c.length));
        auto p = engine();
        const std::string payload = pattern(c.length);
        p->send_binary(BytesView(payload));
        const std::string expected =
            header_from(side(), c.header) +
            (side() == Side::client ? xor_with(payload, test_mask) : payload);
        const std::string out = output(*p);
        EXPECT_EQ(out.size(), expected.size());
        EXPECT_TRUE(out == expected)
            << "output differs (first bytes " << ::testing::PrintToString(out.substr(0, 16)) << ")";
        EXPECT_EQ(p->state(), State::open);
    }
}

TEST_P(Framing_5_2, AnUnbufferedHeaderAndItsPayloadAreTheFrameSendBinaryWrites) {
    // send_unbuffered_header queues only the header; the caller writes the payload after it,
    // masked with the key it was given on a client.
    for (const auto& c : length_cases()) {
        SCOPED_TRACE("length " + std::to_string(c.length));
        auto p = engine();
        const auto frame = p->send_unbuffered_header(Opcode::binary, c.length);
        ASSERT_TRUE(frame.has_value());
        EXPECT_EQ(frame->masked, side() == Side::client);
        const std::string header = header_from(side(), c.header);
        EXPECT_EQ(output(*p), header);
        const std::string payload = pattern(c.length);
        const std::string written =
            header + (frame->masked ? xor_with(payload, frame->mask_key) : payload);

        auto reference = engine(); // the same mask keys
        reference->send_binary(BytesView(payload));
        EXPECT_TRUE(written == output(*reference)) << "differs from send_binary's frame";

        // Whole messages: the next one starts at once.
        p->send_text("next");
        EXPECT_EQ(output(*p), header_from(side(), bytes({0x81, 0x04})) +
                                  (side() == Side::client ? xor_with("next", test_mask) : "next"));
    }
}

TEST_P(Framing_5_2, AnUnbufferedHeaderFollowsTheRulesOfSendText) {
    auto p = engine();
    EXPECT_THROW(p->send_unbuffered_header(Opcode::continuation, 5), std::invalid_argument);
    EXPECT_THROW(p->send_unbuffered_header(Opcode::ping, 5), std::invalid_argument);
    ASSERT_TRUE(p->send_unbuffered_header(Opcode::text, 5).has_value());
    EXPECT_EQ(output(*p), header_from(side(), bytes({0x81, 0x05})));
    p->send_binary(BytesView(std::string("ab")), /*fin=*/false);
    EXPECT_THROW(p->send_unbuffered_header(Opcode::binary, 5), InvalidState)
        << "inside a fragmented message";
    p->send_continuation(BytesView(std::string("c")), true);
    p->send_close();
    EXPECT_THROW(p->send_unbuffered_header(Opcode::binary, 5), InvalidState) << "after close";
}

TEST_P(Framing_5_2, ReceivesEachLengthEncoding) {
    for (const auto& c : length_cases()) {
        SCOPED_TRACE("length " + std::to_string(c.length));
        const std::string payload = pattern(c.length, 7);
        const std::string input = in(Opcode::binary, payload);
        // The builder writes the header this suite expects (so the test covers each encoding).
        ASSERT_EQ(input.substr(0, header_from(peer(), c.header).size()),
                  header_from(peer(), c.header));
        expect_every_way(maker(), input, success({make_frame(Opcode::binary, payload)}));
    }
}

TEST_P(Framing_5_2, ReportsNoFrameUntilItsLastByteArrives) {
    const std::string input = in(Opcode::text, "Hello");
    auto p = engine();
    Outcome first = feed(*p, std::string_view(input).substr(0, input.size() - 1));
    EXPECT_TRUE(first.events.empty());
    EXPECT_TRUE(first.output.empty());
    Outcome last = feed(*p, std::string_view(input).substr(input.size() - 1));
    EXPECT_EQ(frames_of(last.events), std::vector<Frame>{make_frame(Opcode::text, "Hello")});
}

TEST_P(Framing_5_2, ReceivesSeveralFramesFromOneRead) {
    const std::string input = in(Opcode::text, "a") + in(Opcode::binary, "") +
                              in(Opcode::binary, pattern(300)) + in(Opcode::text, "Hel", false) +
                              in(Opcode::continuation, "lo");
    expect_every_way(
        maker(), input,
        success({make_frame(Opcode::text, "a"), make_frame(Opcode::binary, ""),
                 make_frame(Opcode::binary, pattern(300)), make_frame(Opcode::text, "Hel", false),
                 make_frame(Opcode::continuation, "lo")}));
}

TEST_P(Framing_5_2, AcceptsNonMinimalLengthEncodings) {
    // The minimal-length rule binds the sender; a receiver has no close code for it, so the
    // engine accepts such frames (as websockets and Autobahn do).
    struct Case {
        std::string payload;
        LengthEncoding encoding;
    };
    const std::vector<Case> cases = {
        {"", LengthEncoding::bits16},
        {"", LengthEncoding::bits64},
        {"Hello", LengthEncoding::bits16},
        {"Hello", LengthEncoding::bits64},
        {pattern(125), LengthEncoding::bits16},
        {pattern(126), LengthEncoding::bits64},
        {pattern(65535), LengthEncoding::bits64},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("payload of " + std::to_string(c.payload.size()) + " bytes, encoding " +
                     std::to_string(static_cast<int>(c.encoding)));
        for (Opcode opcode : {Opcode::text, Opcode::binary}) {
            const std::string payload =
                opcode == Opcode::text ? std::string(c.payload.size(), 'x') : c.payload;
            const std::string input = wire_frame(peer(), opcode, payload, true, 0, c.encoding);
            expect_every_way(maker(), input, success({make_frame(opcode, payload)}));
        }
    }
}

TEST_P(Framing_5_2, AcceptsNonMinimalLengthOnControlFrames) {
    // A ping of 5 bytes written with a 16-bit length is still a 5-byte control frame.
    const std::string input =
        wire_frame(peer(), Opcode::ping, "Hello", true, 0, LengthEncoding::bits16);
    expect_every_way(
        maker(), input,
        success({make_frame(Opcode::ping, "Hello")}, wire_frame(side(), Opcode::pong, "Hello")));
}

// A 64-bit length field with the given bytes (the rest of the frame as the peer sends it).
std::string header_with_length64(Side sender, std::initializer_list<unsigned> length) {
    std::string header = bytes({0x82, sender == Side::client ? 0xffu : 0x7fu});
    header += bytes(length);
    if (sender == Side::client) header += bytes({0x37, 0xfa, 0x21, 0x3d});
    return header;
}

TEST_P(Framing_5_2, Fails64BitLengthWithMostSignificantBitSet) {
    // RFC 6455 §5.2: "the most significant bit MUST be 0".
    for (const auto& length : {bytes({0x80, 0, 0, 0, 0, 0, 0, 0x05}),
                               bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})}) {
        SCOPED_TRACE(::testing::PrintToString(length));
        std::string input = bytes({0x82, peer() == Side::client ? 0xffu : 0x7fu}) + length;
        if (peer() == Side::client) input += bytes({0x37, 0xfa, 0x21, 0x3d});
        input += "Hello";
        expect_every_way(maker(), input, failure(protocol_error, "most significant bit"));
    }
}

TEST_P(Framing_5_2, FailsOnTheLengthFieldAloneAndSendsTheCloseFrameAtOnce) {
    // The ten bytes up to the length field suffice: no mask key or payload is awaited.
    auto p = engine();
    const std::string header = header_with_length64(peer(), {0x80, 0, 0, 0, 0, 0, 0, 0});
    const Outcome outcome = feed(*p, std::string_view(header).substr(0, 10));
    EXPECT_TRUE(outcome.events.empty());
    // The close frame, byte by byte: FIN+close, length, then 1002 (0x03ea), masked on a client.
    const std::string out = outcome.output;
    ASSERT_GE(out.size(), 8u);
    if (side() == Side::server) {
        EXPECT_EQ(out.substr(0, 4),
                  bytes({0x88, static_cast<unsigned>(out.size() - 2), 0x03, 0xea}));
    } else {
        EXPECT_EQ(out.substr(0, 8), bytes({0x88, 0x80u | static_cast<unsigned>(out.size() - 6),
                                           0x37, 0xfa, 0x21, 0x3d, 0x03 ^ 0x37, 0xea ^ 0xfa}));
    }
    expect_failed(*p, out, "", protocol_error, "most significant bit");
}

TEST_P(Framing_5_2, FailsReservedOpcodes) {
    // RFC 6455 §5.2: "%x3-7 are reserved for further non-control frames", "%xB-F are reserved
    // for further control frames"; §5.2 also says to fail on an unknown opcode.
    for (unsigned opcode : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        SCOPED_TRACE("opcode " + std::to_string(opcode));
        for (std::string payload : {"", "x"}) {
            const std::string input =
                wire_frame(peer(), static_cast<std::uint8_t>(opcode), payload);
            expect_every_way(maker(), input, failure(protocol_error, "opcode"));
        }
    }
}

TEST_P(Framing_5_2, FailsReservedOpcodeInsideAFragmentedMessage) {
    const std::string input = in(Opcode::text, "Hel", false) + wire_frame(peer(), 0x3, "x") +
                              in(Opcode::continuation, "lo");
    expect_every_way(maker(), input,
                     failure(protocol_error, "opcode", {make_frame(Opcode::text, "Hel", false)}));
}

TEST_P(Framing_5_2, FailsReservedBitsWithoutExtension) {
    // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values. If a nonzero value is received and none of the
    // negotiated extensions defines the meaning of such a nonzero value, the receiving
    // endpoint MUST _Fail the WebSocket Connection_."
    for (unsigned rsv : {0x4, 0x2, 0x1, 0x7}) {
        SCOPED_TRACE("rsv " + std::to_string(rsv));
        const auto r = static_cast<std::uint8_t>(rsv);
        expect_every_way(maker(), in(Opcode::text, "Hello", true, r),
                         failure(protocol_error, "reserved bits"));
        expect_every_way(maker(), in(Opcode::binary, "", true, r),
                         failure(protocol_error, "reserved bits"));
        // On a continuation frame, after the first fragment was delivered.
        expect_every_way(
            maker(), in(Opcode::text, "Hel", false) + in(Opcode::continuation, "lo", true, r),
            failure(protocol_error, "reserved bits", {make_frame(Opcode::text, "Hel", false)}));
    }
}

TEST_P(Framing_5_2, IgnoresInputAfterFailureInTheSameRead) {
    // RFC 6455 §7.1.7: once failed, "MUST NOT continue to attempt to process data". The
    // text frame is not reported, the ping not answered, the close not echoed.
    const std::string input = wire_frame(peer(), 0x5, "bad") + in(Opcode::text, "after") +
                              in(Opcode::ping, "ping") + in(Opcode::close, close_payload(1000));
    expect_every_way(maker(), input, failure(protocol_error, "opcode"));
}

TEST_P(Framing_5_2, ReportsFramesBeforeTheFailureInOrder) {
    const std::string input = in(Opcode::text, "one") + in(Opcode::ping, "p") +
                              in(Opcode::binary, "two", true, 0x2) + in(Opcode::text, "three");
    expect_every_way(maker(), input,
                     failure(protocol_error, "reserved bits",
                             {make_frame(Opcode::text, "one"), make_frame(Opcode::ping, "p")},
                             wire_frame(side(), Opcode::pong, "p")));
}

} // namespace
} // namespace syncws::test
