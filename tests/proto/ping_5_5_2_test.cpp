// Ping and pong (RFC 6455 §5.5.2, §5.5.3): automatic answers, events, and the rules around
// the closing handshake and fragmented messages.
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace syncws::test {
namespace {

class Ping_5_5_2 : public ::testing::TestWithParam<Side> {
protected:
    Side side() const { return GetParam(); }
    Side peer() const { return peer_of(GetParam()); }
    bool is_server() const { return GetParam() == Side::server; }
    std::unique_ptr<Protocol> make() const { return open_engine(GetParam()); }
    auto maker() const {
        return [side = GetParam()] { return open_engine(side); };
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Ping_5_5_2, ::testing::Values(Side::client, Side::server),
                         SideName());

TEST_P(Ping_5_5_2, PingIsAnsweredWithSamePayload) {
    // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
    // response ... A Pong frame sent in response to a Ping frame must have identical
    // "Application data" as found in the message body of the Ping frame being replied to."
    for (const std::size_t size : {0u, 1u, 5u, 124u, 125u}) {
        SCOPED_TRACE("payload of " + std::to_string(size) + " bytes");
        const std::string payload = pattern(size, static_cast<unsigned>(size));
        const std::string input = wire(peer(), fin_bit | op_ping, payload);
        const std::string pong = wire(side(), fin_bit | op_pong, payload);
        feed_every_way(maker(), input, [&](const Outcome& o, std::size_t split) {
            EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::ping, payload)}))
                << "split " << split;
            EXPECT_EQ(o.output, pong) << "split " << split << ": " << hex(o.output);
            EXPECT_EQ(o.state, State::open);
            EXPECT_FALSE(o.eof_to_send);
        });
        if (HasFailure()) return;
    }
}

TEST_P(Ping_5_5_2, PingExactBytes) {
    // RFC 6455 §5.7: "Unmasked Ping request and masked Ping response": 0x89 0x05 "Hello" and
    // 0x8a 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58.
    const std::string unmasked_ping("\x89\x05Hello", 7);
    const std::string masked_ping("\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    const std::string unmasked_pong("\x8a\x05Hello", 7);
    const std::string masked_pong("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    feed_every_way(maker(), is_server() ? masked_ping : unmasked_ping,
                   [&](const Outcome& o, std::size_t split) {
                       EXPECT_EQ(o.output, is_server() ? unmasked_pong : masked_pong)
                           << "split " << split << ": " << hex(o.output);
                       EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::ping, "Hello")}));
                   });
}

TEST_P(Ping_5_5_2, EmptyAndLongestPingExactBytes) {
    const std::string longest(125, 'p');
    auto p = make();
    p->receive_data(wire(peer(), fin_bit | op_ping, ""));
    EXPECT_EQ(output(*p), is_server() ? std::string("\x8a\x00", 2)
                                      : std::string("\x8a\x80\x37\xfa\x21\x3d", 6));
    p->receive_data(wire(peer(), fin_bit | op_ping, longest));
    const std::string out = output(*p);
    ASSERT_EQ(out.size(), is_server() ? 127u : 131u);
    EXPECT_EQ(out.substr(0, 2), is_server() ? "\x8a\x7d" : "\x8a\xfd");
    EXPECT_EQ(out, wire(side(), fin_bit | op_pong, longest));
    EXPECT_TRUE(
        frames_are(drain(*p), {make_frame(Opcode::ping, ""), make_frame(Opcode::ping, longest)}));
}

TEST_P(Ping_5_5_2, SeveralPingsAreAnsweredInOrder) {
    const std::string input = wire(peer(), fin_bit | op_ping, "1") +
                              wire(peer(), fin_bit | op_ping, "22") +
                              wire(peer(), fin_bit | op_ping, "333");
    feed_every_way(maker(), input, [&](const Outcome& o, std::size_t) {
        EXPECT_EQ(o.output, wire(side(), fin_bit | op_pong, "1") +
                                wire(side(), fin_bit | op_pong, "22") +
                                wire(side(), fin_bit | op_pong, "333"));
        EXPECT_TRUE(
            frames_are(o.events, {make_frame(Opcode::ping, "1"), make_frame(Opcode::ping, "22"),
                                  make_frame(Opcode::ping, "333")}));
    });
}

TEST_P(Ping_5_5_2, PongIsSurfacedAndNotAnswered) {
    // RFC 6455 §5.5.3: "A response to an unsolicited Pong frame is not expected."
    for (const std::size_t size : {0u, 7u, 125u}) {
        const std::string payload = pattern(size, 7);
        feed_every_way(maker(), wire(peer(), fin_bit | op_pong, payload),
                       [&](const Outcome& o, std::size_t split) {
                           EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::pong, payload)}))
                               << "split " << split;
                           EXPECT_EQ(o.output, "") << hex(o.output);
                           EXPECT_EQ(o.state, State::open);
                       });
    }
}

TEST_P(Ping_5_5_2, NoPongAfterOurCloseFrame) {
    // RFC 6455 §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further
    // data frames"; §5.5.2 answers pings only "until it receives a Close frame" or sends one
    // (nothing may follow our close frame on the wire).
    for_every_split(
        [this] {
            auto p = make();
            p->send_close(1000, "");
            output(*p);
            return p;
        },
        wire(peer(), fin_bit | op_ping, "still there?"),
        [&](Protocol& p, const Outcome& o) {
            EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::ping, "still there?")}));
            EXPECT_EQ(o.output, "") << hex(o.output);
            EXPECT_EQ(p.state(), State::closing);
        });
}

TEST_P(Ping_5_5_2, PingAfterReceivedCloseIsIgnored) {
    // The peer's close ends its stream: a ping after it isn't processed, or answered.
    const std::string input = close_wire(peer(), 1000, "") + wire(peer(), fin_bit | op_ping, "x");
    feed_every_way(maker(), input, [&](const Outcome& o, std::size_t) {
        EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::close, close_payload(1000))}));
        EXPECT_EQ(o.output, close_wire(side(), 1000, ""));
    });
}

TEST_P(Ping_5_5_2, UnsolicitedSendPong) {
    // RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited. This serves as a
    // unidirectional heartbeat."
    auto p = make();
    p->send_pong(std::string("beat"));
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_pong, "beat"));
    p->send_pong(std::string());
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_pong, ""));
    p->send_pong(std::string(125, 'x'));
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_pong, std::string(125, 'x')));
    EXPECT_TRUE(drain(*p).empty());
    EXPECT_EQ(p->state(), State::open);
}

TEST_P(Ping_5_5_2, SendPingExactBytes) {
    auto p = make();
    p->send_ping(std::string("Hello"));
    EXPECT_EQ(output(*p), is_server()
                              ? std::string("\x89\x05Hello", 7)
                              : std::string("\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
}

TEST_P(Ping_5_5_2, ControlPayloadLimitOnSend) {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    auto p = make();
    EXPECT_THROW(p->send_ping(std::string(126, 'x')), std::invalid_argument);
    EXPECT_THROW(p->send_pong(std::string(126, 'x')), std::invalid_argument);
    EXPECT_FALSE(p->has_output());
    EXPECT_EQ(p->state(), State::open);
}

TEST_P(Ping_5_5_2, PingDuringFragmentedMessage) {
    // RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."
    const std::string input = wire(peer(), op_text, "Hel") +
                              wire(peer(), fin_bit | op_ping, "mid") + wire(peer(), op_cont, "l") +
                              wire(peer(), fin_bit | op_pong, "pp") +
                              wire(peer(), fin_bit | op_cont, "o");
    feed_every_way(maker(), input, [&](const Outcome& o, std::size_t split) {
        EXPECT_TRUE(frames_are(
            o.events, {make_frame(Opcode::text, "Hel", false), make_frame(Opcode::ping, "mid"),
                       make_frame(Opcode::continuation, "l", false), make_frame(Opcode::pong, "pp"),
                       make_frame(Opcode::continuation, "o")}))
            << "split " << split;
        EXPECT_EQ(o.output, wire(side(), fin_bit | op_pong, "mid")) << hex(o.output);
        EXPECT_EQ(o.state, State::open);
    });
}

TEST_P(Ping_5_5_2, PingWhileSendingFragmentedMessage) {
    // Our own fragmented message in progress does not stop the pong, and the pong goes out
    // between our fragments.
    auto p = make();
    p->send_text("ab", false);
    p->receive_data(wire(peer(), fin_bit | op_ping, "?"));
    p->send_continuation(std::string("cd"), true);
    EXPECT_EQ(output(*p), wire(side(), op_text, "ab") + wire(side(), fin_bit | op_pong, "?") +
                              wire(side(), fin_bit | op_cont, "cd"));
}

TEST_P(Ping_5_5_2, InvalidPings) {
    // RFC 6455 §5.5: control frames are at most 125 bytes and not fragmented.
    {
        const std::string why = "control frame payload longer than 125 bytes";
        for_every_split(maker(), wire(peer(), fin_bit | op_ping, std::string(126, 'x')),
                        [&](Protocol& p, const Outcome& o) {
                            EXPECT_TRUE(o.events.empty());
                            EXPECT_EQ(o.output, close_wire(side(), 1002, why)) << hex(o.output);
                            EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
                        });
    }
    {
        const std::string why = "fragmented control frame";
        for_every_split(maker(), wire(peer(), op_ping, "x"), [&](Protocol& p, const Outcome& o) {
            EXPECT_TRUE(o.events.empty());
            EXPECT_EQ(o.output, close_wire(side(), 1002, why)) << hex(o.output);
            EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
        });
    }
}

TEST_P(Ping_5_5_2, PingCommandsNeedOpen) {
    auto p = make();
    p->receive_eof();
    EXPECT_THROW(p->send_ping(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_pong(std::string("x")), InvalidState);
}

} // namespace
} // namespace syncws::test
