// RFC 6455 §5.5 control frames, on both sides: the 125-byte payload limit (received and
// sent), no fragmentation, no reserved bits.
#include "proto_assertions.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

class Control_5_5 : public SideTest {};

INSTANTIATE_TEST_SUITE_P(BothSides, Control_5_5, ::testing::Values(Side::client, Side::server),
                         side_name);

constexpr std::uint16_t protocol_error = 1002;

const std::vector<Opcode> control_opcodes = {Opcode::close, Opcode::ping, Opcode::pong};

// A valid payload of `size` bytes for a control frame (a close frame needs a code first).
std::string control_payload(Opcode opcode, std::size_t size) {
    if (opcode == Opcode::close) return close_payload(1000, std::string(size - 2, 'r'));
    return pattern(size, 5);
}

TEST_P(Control_5_5, AcceptsPingAndPongOf125Bytes) {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less";
    // §5.5.2: the pong has "identical Application data".
    const std::string payload = pattern(125, 9);
    expect_every_way(
        maker(), in(Opcode::ping, payload),
        success({make_frame(Opcode::ping, payload)}, wire_frame(side(), Opcode::pong, payload)));
    expect_every_way(maker(), in(Opcode::pong, payload),
                     success({make_frame(Opcode::pong, payload)}));
}

TEST_P(Control_5_5, AcceptsCloseOf125Bytes) {
    const std::string payload = control_payload(Opcode::close, 125);
    Expected e =
        success({make_frame(Opcode::close, payload)}, wire_frame(side(), Opcode::close, payload));
    e.state = State::closing;
    expect_every_way(maker(), in(Opcode::close, payload), e);
}

TEST_P(Control_5_5, FailsControlFramesOf126Bytes) {
    for (Opcode opcode : control_opcodes) {
        SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)));
        const std::string payload = control_payload(opcode, 126);
        expect_every_way(maker(), in(opcode, payload), failure(protocol_error, "125 bytes"));
        // The same length in a 64-bit field, and a far larger one.
        expect_every_way(maker(),
                         wire_frame(peer(), opcode, payload, true, 0, LengthEncoding::bits64),
                         failure(protocol_error, "125 bytes"));
        expect_every_way(maker(), in(opcode, control_payload(opcode, 65535)),
                         failure(protocol_error, "125 bytes"));
    }
}

TEST_P(Control_5_5, FailsOversizedControlFrameFromItsHeaderAlone) {
    // The header announces 126 bytes: no payload needs to arrive before the engine fails.
    for (Opcode opcode : control_opcodes) {
        SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)));
        const std::string payload = control_payload(opcode, 126);
        const std::string frame = in(opcode, payload);
        const std::string header = frame.substr(0, frame.size() - payload.size());
        ASSERT_EQ(header.size(), is_server() ? 8u : 4u);
        expect_every_way(maker(), header, failure(protocol_error, "125 bytes"));
    }
}

TEST_P(Control_5_5, FailsFragmentedControlFrames) {
    // RFC 6455 §5.5: control frames "MUST NOT be fragmented" (§5.4: "Control frames ...
    // MUST NOT be fragmented").
    for (Opcode opcode : control_opcodes) {
        SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)));
        const std::string payload = control_payload(opcode, 2);
        expect_every_way(maker(), in(opcode, payload, false),
                         failure(protocol_error, "fragmented control frame"));
        if (opcode != Opcode::close)
            expect_every_way(maker(), in(opcode, "", false),
                             failure(protocol_error, "fragmented control frame"));
        // Inside a fragmented data message, where control frames are otherwise allowed.
        expect_every_way(maker(), in(Opcode::binary, "a", false) + in(opcode, payload, false),
                         failure(protocol_error, "fragmented control frame",
                                 {make_frame(Opcode::binary, "a", false)}));
    }
}

TEST_P(Control_5_5, FailsControlFramesWithReservedBits) {
    // RFC 6455 §5.2: RSV bits must be 0 without an extension defining them; extensions act
    // on data frames, so a control frame never has them.
    for (Opcode opcode : control_opcodes) {
        for (unsigned rsv : {0x4, 0x2, 0x1}) {
            SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)) + " rsv " +
                         std::to_string(rsv));
            expect_every_way(
                maker(),
                in(opcode, control_payload(opcode, 2), true, static_cast<std::uint8_t>(rsv)),
                failure(protocol_error, "reserved bits"));
        }
    }
}

TEST_P(Control_5_5, SendsPingAndPongExactly) {
    auto p = engine();
    p->send_ping(BytesView(std::string("Hello")));
    p->send_pong(BytesView(std::string()));
    const std::string expected = is_server()
                                     ? bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x8a, 0x00})
                                     : bytes({0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
                                              0x51, 0x58, 0x8a, 0x80, 0x37, 0xfa, 0x21, 0x3d});
    EXPECT_EQ(output(*p), expected);
}

TEST_P(Control_5_5, SendPingOrPongOver125BytesThrowsAndLeavesTheEngineUsable) {
    auto p = engine();
    const std::string too_long = pattern(126);
    const std::string longest = pattern(125);
    EXPECT_THROW(p->send_ping(BytesView(too_long)), std::invalid_argument);
    EXPECT_THROW(p->send_pong(BytesView(too_long)), std::invalid_argument);
    EXPECT_THROW(p->send_ping(BytesView(pattern(70000))), std::invalid_argument);
    EXPECT_FALSE(p->has_output());
    EXPECT_EQ(p->state(), State::open);
    EXPECT_FALSE(p->close_sent().has_value());

    p->send_ping(BytesView(longest));
    p->send_pong(BytesView(longest));
    p->send_text("still open");
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::ping, longest) +
                              wire_frame(side(), Opcode::pong, longest) +
                              wire_frame(side(), Opcode::text, "still open"));
    // And it still answers the peer.
    expect_outcome(*p, feed(*p, in(Opcode::ping, "x")),
                   success({make_frame(Opcode::ping, "x")}, wire_frame(side(), Opcode::pong, "x")));
}

TEST_P(Control_5_5, SendPingOrPongWhenNotOpenThrowsInvalidState) {
    auto p = engine();
    p->send_close(1000);
    EXPECT_THROW(p->send_ping(BytesView(std::string("x"))), InvalidState);
    EXPECT_THROW(p->send_pong(BytesView(std::string("x"))), InvalidState);
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::close, close_payload(1000)));
}

} // namespace
} // namespace syncws::test
