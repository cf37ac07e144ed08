// RFC 6455 §5.1 and §5.3 masking, on both sides: which direction is masked, failing a frame
// masked the wrong way, exact masked output (§5.7's examples) and a fresh key per frame.
#include "proto_assertions.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

class Masking_5_3 : public SideTest {
protected:
    // RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not
    // masked"; "A client MUST close a connection if it detects a masked frame".
    std::string wrong_mask_message() const {
        return is_server() ? "client frame isn't masked" : "server frame is masked";
    }
    // A frame as the peer would send it if it got the masking direction wrong.
    std::string wrongly_masked(Opcode opcode, std::string_view payload, bool fin = true) const {
        return raw_frame(opcode, payload, /*masked=*/side() == Side::client, fin);
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Masking_5_3, ::testing::Values(Side::client, Side::server),
                         side_name);

constexpr std::uint16_t protocol_error = 1002;

// RFC 6455 §5.7: "A single-frame unmasked text message (contains "Hello")" and "A
// single-frame masked text message (contains "Hello")".
const std::string unmasked_hello = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
const std::string masked_hello =
    bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});

TEST_P(Masking_5_3, SendsRfcHelloExample) {
    auto p = engine();
    p->send_text("Hello");
    EXPECT_EQ(output(*p), is_server() ? unmasked_hello : masked_hello);
}

TEST_P(Masking_5_3, ReceivesRfcHelloExample) {
    expect_every_way(maker(), is_server() ? masked_hello : unmasked_hello,
                     success({make_frame(Opcode::text, "Hello")}));
}

TEST_P(Masking_5_3, FailsRfcHelloExampleMaskedTheWrongWay) {
    expect_every_way(maker(), is_server() ? unmasked_hello : masked_hello,
                     failure(protocol_error, wrong_mask_message()));
}

TEST_P(Masking_5_3, AnswersPingWithRfcPongExample) {
    // RFC 6455 §5.7: "Unmasked Ping request and masked Ping response": the pong a client
    // sends is 0x8a 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58.
    const std::string pong =
        is_server() ? bytes({0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})
                    : bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    expect_every_way(maker(), in(Opcode::ping, "Hello"),
                     success({make_frame(Opcode::ping, "Hello")}, pong));
}

TEST_P(Masking_5_3, EchoesCloseMaskedOnlyByTheClient) {
    // 1000 is 0x03 0xe8; masked: 0x03^0x37, 0xe8^0xfa.
    Expected e;
    e.frames = {make_frame(Opcode::close, close_payload(1000))};
    e.output = is_server() ? bytes({0x88, 0x02, 0x03, 0xe8})
                           : bytes({0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x34, 0x12});
    e.state = State::closing;
    expect_every_way(maker(), in(Opcode::close, close_payload(1000)), e);
}

TEST_P(Masking_5_3, FailsEveryKindOfFrameMaskedTheWrongWay) {
    for (Opcode opcode : {Opcode::text, Opcode::binary, Opcode::ping, Opcode::pong}) {
        SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)));
        for (std::string payload : {"", "Hello"})
            expect_every_way(maker(), wrongly_masked(opcode, payload),
                             failure(protocol_error, wrong_mask_message()));
    }
    // A close frame masked the wrong way is not echoed as a normal close: it fails with 1002.
    expect_every_way(maker(), wrongly_masked(Opcode::close, close_payload(1000)),
                     failure(protocol_error, wrong_mask_message()));
    // A continuation frame, after a correctly masked first fragment.
    expect_every_way(
        maker(), in(Opcode::text, "Hel", false) + wrongly_masked(Opcode::continuation, "lo"),
        failure(protocol_error, wrong_mask_message(), {make_frame(Opcode::text, "Hel", false)}));
}

TEST_P(Masking_5_3, ServerUnmasksAnyKeyAndClientRefusesEvery) {
    // RFC 6455 §5.3: the key is "chosen at random by the client"; a server must accept any,
    // including an all-zero key that leaves the payload unchanged.
    const std::vector<detail::MaskKey> keys = {
        {0x00, 0x00, 0x00, 0x00}, {0xff, 0xff, 0xff, 0xff}, {0x01, 0x02, 0x03, 0x04}};
    const std::string payload = pattern(33);
    for (const auto& key : keys) {
        SCOPED_TRACE(::testing::PrintToString(key));
        const std::string input = wire_frame(Side::client, Opcode::binary, payload, true, 0,
                                             LengthEncoding::minimal, key);
        if (is_server())
            expect_every_way(maker(), input, success({make_frame(Opcode::binary, payload)}));
        else
            expect_every_way(maker(), input, failure(protocol_error, wrong_mask_message()));
    }
}

TEST_P(Masking_5_3, UnmasksAtEveryKeyPhaseAcrossReads) {
    // Split at every offset, each read starts at a different byte of the key (§5.3:
    // "octet i ... XOR ... octet at index i modulo 4 of the masking key").
    const std::string payload = pattern(301, 3);
    expect_every_way(maker(),
                     in(Opcode::binary, payload, false) + in(Opcode::continuation, payload),
                     success({make_frame(Opcode::binary, payload, false),
                              make_frame(Opcode::continuation, payload)}));
}

TEST_P(Masking_5_3, TakesAFreshKeyFromTheRandomSourceForEveryFrame) {
    // RFC 6455 §5.3: "The masking key needs to be unpredictable ... the masking key for each
    // frame MUST be chosen" anew; the engine asks the RandomSource for each frame it sends.
    auto calls = std::make_shared<int>(0);
    ProtocolOptions options = test_options();
    options.random = counting_random(calls);
    auto p = engine(options);
    *calls = 0; // whatever the constructor drew does not matter

    p->send_text("Hello");
    p->send_text("Hello");
    p->send_binary(BytesView(pattern(200)));
    p->send_ping(BytesView(std::string("ping")));
    p->send_pong(BytesView(std::string("pong")));
    p->send_text("frag", false);
    p->send_continuation(BytesView(std::string("ment")), true);
    const Outcome o = feed(*p, in(Opcode::ping, "auto")); // answered by the engine
    p->send_close(1000, "bye");

    struct Sent {
        Opcode opcode;
        std::string payload;
        bool fin;
    };
    const std::vector<Sent> sent = {
        {Opcode::text, "Hello", true},
        {Opcode::text, "Hello", true},
        {Opcode::binary, pattern(200), true},
        {Opcode::ping, "ping", true},
        {Opcode::pong, "pong", true},
        {Opcode::text, "frag", false},
        {Opcode::continuation, "ment", true},
        {Opcode::pong, "auto", true},
        {Opcode::close, close_payload(1000, "bye"), true},
    };
    std::string expected;
    for (std::size_t i = 0; i < sent.size(); ++i)
        expected += wire_frame(side(), sent[i].opcode, sent[i].payload, sent[i].fin, 0,
                               LengthEncoding::minimal, counting_key(static_cast<int>(i) + 1));
    // feed() took the output of the commands before it along with the pong.
    const std::string rest = output(*p);
    EXPECT_EQ(o.output + rest, expected);
    EXPECT_EQ(*calls, is_server() ? 0 : static_cast<int>(sent.size()));
    if (!is_server()) {
        // The same text twice gives different bytes: the key really changed.
        const std::string first = wire_frame(side(), Opcode::text, "Hello", true, 0,
                                             LengthEncoding::minimal, counting_key(1));
        EXPECT_NE(expected.substr(0, first.size()), expected.substr(first.size(), first.size()));
    }
}

TEST_P(Masking_5_3, FailureCloseFrameIsMaskedOnlyByTheClient) {
    // The close frame a failure sends follows the same rule as every other frame.
    auto p = engine();
    const Outcome o = feed(*p, wire_frame(peer(), 0x3, ""));
    ASSERT_GE(o.output.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(o.output[0]), 0x88);
    EXPECT_EQ((static_cast<unsigned char>(o.output[1]) & 0x80) != 0, !is_server());
    if (!is_server()) {
        EXPECT_EQ(o.output.substr(2, 4), bytes({0x37, 0xfa, 0x21, 0x3d}));
    }
    expect_failed(*p, o.output, "", protocol_error, "opcode");
}

} // namespace
} // namespace syncws::test
