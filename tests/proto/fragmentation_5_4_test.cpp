// RFC 6455 §5.4 fragmentation, on both sides: receiving fragmented messages (with control
// frames between fragments), the errors of a broken fragment sequence, and sending fragments.
#include "proto_assertions.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

class Fragmentation_5_4 : public SideTest {};

INSTANTIATE_TEST_SUITE_P(BothSides, Fragmentation_5_4,
                         ::testing::Values(Side::client, Side::server), side_name);

constexpr std::uint16_t protocol_error = 1002;

BytesView view(const std::string& s) {
    return BytesView(s);
}

TEST_P(Fragmentation_5_4, ReceivesRfcFragmentedHello) {
    // RFC 6455 §5.7: "A fragmented unmasked text message: 0x01 0x03 0x48 0x65 0x6c (contains
    // "Hel"), 0x80 0x02 0x6c 0x6f (contains "lo")". A server gets it masked.
    const std::string input = is_server()
                                  ? wire_frame(Side::client, Opcode::text, "Hel", false) +
                                        wire_frame(Side::client, Opcode::continuation, "lo")
                                  : bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
    expect_every_way(
        maker(), input,
        success({make_frame(Opcode::text, "Hel", false), make_frame(Opcode::continuation, "lo")}));
}

TEST_P(Fragmentation_5_4, SendsRfcFragmentedHello) {
    auto p = engine();
    p->send_text("Hel", false);
    p->send_continuation(view("lo"), true);
    const std::string expected =
        is_server()
            ? bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f})
            : bytes({0x01, 0x83, 0x37, 0xfa, 0x21, 0x3d, 0x48 ^ 0x37, 0x65 ^ 0xfa, 0x6c ^ 0x21,
                     0x80, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x6c ^ 0x37, 0x6f ^ 0xfa});
    EXPECT_EQ(output(*p), expected);
    EXPECT_EQ(p->state(), State::open);
}

TEST_P(Fragmentation_5_4, FailsContinuationWithoutAMessage) {
    // RFC 6455 §5.4: a fragmented message is "a single frame with the FIN bit clear and an
    // opcode other than 0, followed by zero or more frames with the FIN bit clear and the
    // opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode
    // of 0". A continuation frame outside one is a protocol error.
    for (bool fin : {true, false}) {
        for (std::string payload : {"", "x"}) {
            expect_every_way(maker(), in(Opcode::continuation, payload, fin),
                             failure(protocol_error, "continuation"));
        }
    }
    // After a complete unfragmented message.
    expect_every_way(maker(), in(Opcode::text, "done") + in(Opcode::continuation, "more"),
                     failure(protocol_error, "continuation", {make_frame(Opcode::text, "done")}));
    // After a complete fragmented message.
    expect_every_way(
        maker(),
        in(Opcode::binary, "a", false) + in(Opcode::continuation, "b") +
            in(Opcode::continuation, "c"),
        failure(protocol_error, "continuation",
                {make_frame(Opcode::binary, "a", false), make_frame(Opcode::continuation, "b")}));
}

TEST_P(Fragmentation_5_4, FailsNewMessageWhileAFragmentedOneIsInProgress) {
    // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between the
    // fragments of another message unless an extension has been negotiated".
    struct Case {
        Opcode first;
        Opcode second;
        bool second_fin;
    };
    const std::vector<Case> cases = {
        {Opcode::text, Opcode::text, true},
        {Opcode::text, Opcode::binary, true},
        {Opcode::binary, Opcode::text, false},
        {Opcode::binary, Opcode::binary, false},
    };
    for (const auto& c : cases) {
        expect_every_way(
            maker(), in(c.first, "one", false) + in(c.second, "two", c.second_fin),
            failure(protocol_error, "previous message", {make_frame(c.first, "one", false)}));
    }
    // Also after some continuation frames.
    expect_every_way(maker(),
                     in(Opcode::text, "a", false) + in(Opcode::continuation, "b", false) +
                         in(Opcode::text, "c"),
                     failure(protocol_error, "previous message",
                             {make_frame(Opcode::text, "a", false),
                              make_frame(Opcode::continuation, "b", false)}));
}

TEST_P(Fragmentation_5_4, ReportsControlFramesBetweenFragmentsInOrder) {
    // RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."
    const std::string input = in(Opcode::text, "Hel", false) + in(Opcode::ping, "p1") +
                              in(Opcode::continuation, "l", false) + in(Opcode::pong, "q") +
                              in(Opcode::ping, "") + in(Opcode::continuation, "o") +
                              in(Opcode::text, "next");
    expect_every_way(
        maker(), input,
        success({make_frame(Opcode::text, "Hel", false), make_frame(Opcode::ping, "p1"),
                 make_frame(Opcode::continuation, "l", false), make_frame(Opcode::pong, "q"),
                 make_frame(Opcode::ping, ""), make_frame(Opcode::continuation, "o"),
                 make_frame(Opcode::text, "next")},
                wire_frame(side(), Opcode::pong, "p1") + wire_frame(side(), Opcode::pong, "")));
}

TEST_P(Fragmentation_5_4, AcceptsACloseFrameBetweenFragments) {
    // The close frame ends the connection: it is echoed, and the rest of the message, sent
    // after it, is ignored (RFC 6455 §5.5.1: no data frames after a close frame).
    const std::string close = close_payload(1000, "bye");
    const std::string input =
        in(Opcode::text, "Hel", false) + in(Opcode::close, close) + in(Opcode::continuation, "lo");
    for (const auto& chunks : splits_for(input)) {
        SCOPED_TRACE(describe_split(chunks));
        auto p = engine();
        const Outcome o = run(*p, chunks);
        EXPECT_EQ(frames_of(o.events), (std::vector<Frame>{make_frame(Opcode::text, "Hel", false),
                                                           make_frame(Opcode::close, close)}));
        EXPECT_EQ(o.output, wire_frame(side(), Opcode::close, close));
        EXPECT_EQ(p->state(), State::closing);
        EXPECT_FALSE(p->protocol_error());
        ASSERT_TRUE(p->close_received().has_value());
        EXPECT_EQ(*p->close_received(), (Close{1000, "bye"}));
        EXPECT_EQ(p->eof_to_send(), is_server());
        if (HasFailure()) break;
    }
}

TEST_P(Fragmentation_5_4, ReceivesManyFragments) {
    std::string input = in(Opcode::binary, "a", false);
    std::vector<Frame> frames = {make_frame(Opcode::binary, "a", false)};
    for (int i = 0; i < 20; ++i) {
        const std::string payload = pattern(static_cast<std::size_t>(i), static_cast<unsigned>(i));
        input += in(Opcode::continuation, payload, false);
        frames.push_back(make_frame(Opcode::continuation, payload, false));
    }
    input += in(Opcode::continuation, "z");
    frames.push_back(make_frame(Opcode::continuation, "z"));
    expect_every_way(maker(), input, success(frames));
}

TEST_P(Fragmentation_5_4, ReceivesEmptyFragments) {
    // Nothing forbids empty fragments; a message of only empty fragments is an empty message.
    expect_every_way(
        maker(),
        in(Opcode::text, "", false) + in(Opcode::continuation, "", false) +
            in(Opcode::continuation, "") + in(Opcode::text, "after"),
        success({make_frame(Opcode::text, "", false), make_frame(Opcode::continuation, "", false),
                 make_frame(Opcode::continuation, ""), make_frame(Opcode::text, "after")}));
    expect_every_way(maker(),
                     in(Opcode::binary, "", false) + in(Opcode::continuation, "x", false) +
                         in(Opcode::continuation, ""),
                     success({make_frame(Opcode::binary, "", false),
                              make_frame(Opcode::continuation, "x", false),
                              make_frame(Opcode::continuation, "")}));
}

TEST_P(Fragmentation_5_4, SendsFragmentsWithControlFramesBetween) {
    auto p = engine();
    p->send_binary(view("ab"), false);
    p->send_ping(view("p"));
    p->send_continuation(view("cd"), false);
    p->send_pong(view("q"));
    p->send_continuation(view(""), true);
    p->send_text("next");
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::binary, "ab", false) +
                              wire_frame(side(), Opcode::ping, "p") +
                              wire_frame(side(), Opcode::continuation, "cd", false) +
                              wire_frame(side(), Opcode::pong, "q") +
                              wire_frame(side(), Opcode::continuation, "", true) +
                              wire_frame(side(), Opcode::text, "next"));
}

TEST_P(Fragmentation_5_4, SendsEmptyFragments) {
    auto p = engine();
    p->send_text("", false);
    p->send_continuation(view(""), false);
    p->send_continuation(view(""), true);
    const std::string expected =
        is_server() ? bytes({0x01, 0x00, 0x00, 0x00, 0x80, 0x00})
                    : bytes({0x01, 0x80, 0x37, 0xfa, 0x21, 0x3d, 0x00, 0x80, 0x37, 0xfa, 0x21, 0x3d,
                             0x80, 0x80, 0x37, 0xfa, 0x21, 0x3d});
    EXPECT_EQ(output(*p), expected);
}

TEST_P(Fragmentation_5_4, SendContinuationWithoutAMessageThrowsInvalidState) {
    auto p = engine();
    EXPECT_THROW(p->send_continuation(view("x"), true), InvalidState);
    EXPECT_THROW(p->send_continuation(view("x"), false), InvalidState);
    EXPECT_EQ(output(*p), "");
    // The fragmented message that was never started did not start either.
    p->send_text("ok");
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::text, "ok"));
    // After a fragmented message ended, there is again nothing to continue.
    p->send_text("a", false);
    p->send_continuation(view("b"), true);
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::text, "a", false) +
                              wire_frame(side(), Opcode::continuation, "b"));
    EXPECT_THROW(p->send_continuation(view("c"), true), InvalidState);
    EXPECT_EQ(output(*p), "");
    EXPECT_EQ(p->state(), State::open);
}

TEST_P(Fragmentation_5_4, StartingAMessageDuringAFragmentedOneThrowsInvalidState) {
    auto p = engine();
    p->send_text("a", false);
    EXPECT_THROW(p->send_text("b"), InvalidState);
    EXPECT_THROW(p->send_text("b", false), InvalidState);
    EXPECT_THROW(p->send_binary(view("b")), InvalidState);
    EXPECT_THROW(p->send_binary(view("b"), false), InvalidState);
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::text, "a", false));
    // The refused calls left the message in progress untouched.
    p->send_continuation(view("c"), true);
    p->send_binary(view("d"));
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::continuation, "c") +
                              wire_frame(side(), Opcode::binary, "d"));
}

TEST_P(Fragmentation_5_4, SendContinuationAfterCloseThrowsInvalidState) {
    auto p = engine();
    p->send_text("a", false);
    p->send_close(1000);
    EXPECT_THROW(p->send_continuation(view("b"), true), InvalidState);
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::text, "a", false) +
                              wire_frame(side(), Opcode::close, close_payload(1000)));
}

TEST_P(Fragmentation_5_4, SendingAndReceivingFragmentsAreIndependent) {
    // Our own fragmented message in progress does not make the peer's new message an
    // interleaving, and the peer's does not block our commands.
    auto p = engine();
    p->send_text("mine", false);
    const Outcome o = feed(*p, in(Opcode::text, "theirs", false) + in(Opcode::continuation, "!"));
    EXPECT_EQ(frames_of(o.events), (std::vector<Frame>{make_frame(Opcode::text, "theirs", false),
                                                       make_frame(Opcode::continuation, "!")}));
    EXPECT_FALSE(p->protocol_error());
    const Outcome o2 = feed(*p, in(Opcode::binary, "more", false));
    EXPECT_EQ(o2.events.size(), 1u);
    p->send_continuation(view("!"), true);
    p->send_text("again");
    EXPECT_EQ(o.output + o2.output + output(*p), wire_frame(side(), Opcode::text, "mine", false) +
                                                     wire_frame(side(), Opcode::continuation, "!") +
                                                     wire_frame(side(), Opcode::text, "again"));
    EXPECT_EQ(p->state(), State::open);
}

} // namespace
} // namespace syncws::test
