// The closing handshake (RFC 6455 §5.5.1, §7): echo, who closes TCP, invalid close frames,
// abnormal closure, fail(), and commands after the close.
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace syncws::test {
namespace {

class Close_7 : public ::testing::TestWithParam<Side> {
protected:
    Side side() const { return GetParam(); }
    Side peer() const { return peer_of(GetParam()); }
    bool is_server() const { return GetParam() == Side::server; }
    std::unique_ptr<Protocol> make() const { return open_engine(GetParam()); }
    auto maker() const {
        return [side = GetParam()] { return open_engine(side); };
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Close_7, ::testing::Values(Side::client, Side::server),
                         SideName());

std::vector<std::uint16_t> valid_codes() {
    std::vector<std::uint16_t> codes;
    for (int c = 1000; c <= 1003; ++c)
        codes.push_back(static_cast<std::uint16_t>(c));
    for (int c = 1007; c <= 1014; ++c)
        codes.push_back(static_cast<std::uint16_t>(c));
    for (int c = 3000; c <= 4999; ++c)
        codes.push_back(static_cast<std::uint16_t>(c));
    return codes;
}

// ----- receiving a close ------------------------------------------------------------------

TEST_P(Close_7, EchoesEveryValidCodeWithItsReason) {
    // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a
    // Close frame, the endpoint MUST send a Close frame in response ... typically echoing
    // the status code it received."
    for (const std::uint16_t code : valid_codes()) {
        SCOPED_TRACE("code " + std::to_string(code));
        const std::string input = close_wire(peer(), code, "bye");
        const std::string echo = close_wire(side(), code, "bye");
        feed_every_way(maker(), input, [&](const Outcome& o, std::size_t split) {
            EXPECT_TRUE(
                frames_are(o.events, {make_frame(Opcode::close, close_payload(code, "bye"))}))
                << "split " << split;
            EXPECT_EQ(o.output, echo) << "split " << split << ": " << hex(o.output);
            EXPECT_EQ(o.state, State::closing) << "split " << split;
            EXPECT_EQ(o.close_code_sent, code) << "split " << split;
            EXPECT_EQ(o.eof_to_send, is_server()) << "split " << split;
        });
        if (HasFailure()) return;
    }
}

TEST_P(Close_7, EchoExactBytes) {
    // Literal bytes, so the test does not rely on the helpers' encoder alone.
    const std::string from_server = std::string("\x88\x05\x03\xe8"
                                                "bye",
                                                7);
    const std::string from_client =
        std::string("\x88\x85\x37\xfa\x21\x3d\x34\x12\x43\x44\x52", 11); // 1000 "bye" masked
    ASSERT_EQ(close_wire(Side::server, 1000, "bye"), from_server);
    ASSERT_EQ(close_wire(Side::client, 1000, "bye"), from_client);
    auto engine = make();
    engine->receive_data(is_server() ? from_client : from_server);
    EXPECT_EQ(output(*engine), is_server() ? from_server : from_client);
}

TEST_P(Close_7, ReceivedCloseIsRecordedOnBothObservers) {
    for_every_split(maker(), close_wire(peer(), 4321, "done"), [&](Protocol& p, const Outcome&) {
        ASSERT_TRUE(p.close_received());
        EXPECT_EQ(*p.close_received(), (Close{4321, "done"}));
        ASSERT_TRUE(p.close_sent());
        EXPECT_EQ(*p.close_sent(), (Close{4321, "done"}));
        EXPECT_TRUE(p.close_received_then_sent());
        EXPECT_EQ(p.close_code(), 4321);
        EXPECT_FALSE(p.protocol_error());
        EXPECT_TRUE(p.close_expected());
    });
}

TEST_P(Close_7, EofAfterTheClosingHandshake) {
    // RFC 6455 §7.1.1: "the server MUST close the underlying TCP connection immediately; the
    // client SHOULD wait for the server to close the connection".
    auto p = make();
    p->receive_data(close_wire(peer(), 1001, ""));
    EXPECT_TRUE(frames_are(drain(*p), {make_frame(Opcode::close, close_payload(1001))}));
    EXPECT_TRUE(p->has_output());
    EXPECT_FALSE(p->eof_to_send()) << "EOF must wait until the echo is handed out";
    EXPECT_EQ(output(*p), close_wire(side(), 1001, ""));
    EXPECT_EQ(p->eof_to_send(), is_server());
    EXPECT_TRUE(p->close_expected());
    EXPECT_EQ(p->state(), State::closing);

    p->receive_eof();
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_TRUE(p->eof_to_send()) << "both sides half-close once the peer did";
    EXPECT_FALSE(p->close_expected());
    EXPECT_FALSE(p->has_output());
    EXPECT_EQ(p->close_code(), 1001);
    EXPECT_FALSE(p->protocol_error());
    EXPECT_TRUE(drain(*p).empty());
}

TEST(Close_7_Sides, ServerQueuesEofAtOnceAfterEcho) {
    auto server = open_engine(Side::server);
    server->receive_data(close_wire(Side::client, 1000, ""));
    EXPECT_EQ(output(*server), close_wire(Side::server, 1000, ""));
    EXPECT_TRUE(server->eof_to_send());
    // It still waits for the client's FIN.
    EXPECT_TRUE(server->close_expected());
    EXPECT_EQ(server->state(), State::closing);
}

TEST(Close_7_Sides, ClientWaitsForServerEof) {
    auto client = open_engine(Side::client);
    client->receive_data(close_wire(Side::server, 1000, ""));
    EXPECT_EQ(output(*client), close_wire(Side::client, 1000, ""));
    EXPECT_FALSE(client->eof_to_send());
    EXPECT_TRUE(client->close_expected());
    EXPECT_EQ(client->state(), State::closing);
    client->receive_eof();
    EXPECT_EQ(client->state(), State::closed);
    EXPECT_TRUE(client->eof_to_send());
    EXPECT_FALSE(client->close_expected());
    EXPECT_EQ(client->close_code(), 1000);
}

TEST_P(Close_7, EmptyCloseMeansNoStatus) {
    // RFC 6455 §7.1.5: "If this Close control frame contains no status code, _The WebSocket
    // Connection Close Code_ is considered to be 1005."
    const std::string input = wire(peer(), fin_bit | op_close, "");
    for_every_split(maker(), input, [&](Protocol& p, const Outcome& o) {
        EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::close, "")}));
        EXPECT_EQ(o.output, wire(side(), fin_bit | op_close, "")) << hex(o.output);
        ASSERT_TRUE(p.close_received());
        EXPECT_EQ(p.close_received()->code, 1005);
        EXPECT_EQ(p.close_received()->reason, "");
        EXPECT_EQ(p.close_code(), 1005);
        EXPECT_EQ(p.state(), State::closing);
        p.receive_eof();
        EXPECT_EQ(p.close_code(), 1005);
        EXPECT_EQ(p.state(), State::closed);
        EXPECT_FALSE(p.protocol_error());
    });
}

TEST_P(Close_7, DataAfterReceivedCloseIsIgnored) {
    // RFC 6455 §1.4: after sending a Close frame the peer sends no more data; anything that
    // follows is not processed.
    const std::string input = close_wire(peer(), 1000, "") +
                              wire(peer(), fin_bit | op_text, "late") +
                              wire(peer(), fin_bit | op_ping, "p") + "\xff\xff garbage";
    for_every_split(maker(), input, [&](Protocol& p, const Outcome& o) {
        EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::close, close_payload(1000))}));
        EXPECT_EQ(o.output, close_wire(side(), 1000, "")) << hex(o.output);
        EXPECT_FALSE(p.protocol_error());
        // Later reads too.
        p.receive_data(wire(peer(), fin_bit | op_text, "later"));
        EXPECT_TRUE(drain(p).empty());
        EXPECT_FALSE(p.has_output());
    });
}

TEST_P(Close_7, DataBeforePeerCloseIsStillDeliveredInClosing) {
    // After our close frame, the peer may still send data it sent before seeing it.
    auto p = make();
    p->send_close(1000, "");
    EXPECT_EQ(output(*p), close_wire(side(), 1000, ""));
    const std::string input =
        wire(peer(), fin_bit | op_text, "in flight") + close_wire(peer(), 1000, "");
    for_every_split(
        [this] {
            auto e = make();
            e->send_close(1000, "");
            output(*e);
            return e;
        },
        input,
        [&](Protocol& e, const Outcome& o) {
            EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::text, "in flight"),
                                              make_frame(Opcode::close, close_payload(1000))}));
            EXPECT_EQ(o.output, "") << hex(o.output);
            EXPECT_EQ(e.state(), State::closing);
        });
}

// ----- invalid close frames ----------------------------------------------------------------

TEST_P(Close_7, InvalidCodesFailWith1002) {
    // RFC 6455 §7.4: codes outside the table, and 1005/1006/1015 which "MUST NOT be set as a
    // status code in a Close control frame", are protocol errors.
    for (const int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        const auto c = static_cast<std::uint16_t>(code);
        SCOPED_TRACE("code " + std::to_string(code));
        const std::string why = "invalid close code " + std::to_string(code);
        for_every_split(maker(), close_wire(peer(), c, "x"), [&](Protocol& p, const Outcome& o) {
            EXPECT_TRUE(o.events.empty()) << describe(o.events);
            EXPECT_EQ(o.output, close_wire(side(), 1002, why)) << hex(o.output);
            EXPECT_EQ(o.state, State::closing);
            EXPECT_EQ(o.eof_to_send, is_server());
            EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
            EXPECT_FALSE(p.close_received());
            ASSERT_TRUE(p.close_sent());
            EXPECT_EQ(*p.close_sent(), (Close{1002, why}));
            EXPECT_FALSE(p.close_received_then_sent());
            EXPECT_TRUE(p.close_expected());
            p.receive_eof();
            EXPECT_EQ(p.state(), State::closed);
            EXPECT_EQ(p.close_code(), 1006);
        });
        if (HasFailure()) return;
    }
}

TEST_P(Close_7, OneBytePayloadFailsWith1002) {
    const std::string why = "close frame with a 1-byte payload";
    for_every_split(maker(), wire(peer(), fin_bit | op_close, "\x03"),
                    [&](Protocol& p, const Outcome& o) {
                        EXPECT_TRUE(o.events.empty());
                        EXPECT_EQ(o.output, close_wire(side(), 1002, why)) << hex(o.output);
                        EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
                        EXPECT_FALSE(p.close_received());
                    });
}

TEST_P(Close_7, ReasonNotUtf8FailsWith1007) {
    // RFC 6455 §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails the connection (1007).
    const std::string why = "close reason isn't valid UTF-8";
    for (const std::string reason : {"\xff", "ok\xc0\xaf", "\xed\xa0\x80", "cut \xe2\x82"}) {
        SCOPED_TRACE(hex(reason));
        for_every_split(maker(), close_wire(peer(), 1000, reason),
                        [&](Protocol& p, const Outcome& o) {
                            EXPECT_TRUE(o.events.empty());
                            EXPECT_EQ(o.output, close_wire(side(), 1007, why)) << hex(o.output);
                            EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1007, why));
                            EXPECT_FALSE(p.close_received());
                        });
    }
}

// ----- abnormal closure ----------------------------------------------------------------------

TEST_P(Close_7, EofWithoutCloseIs1006) {
    // RFC 6455 §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame
    // was received by the endpoint ... _The WebSocket Connection Close Code_ is considered
    // to be 1006."
    auto p = make();
    p->receive_data(wire(peer(), fin_bit | op_text, "hi"));
    EXPECT_TRUE(frames_are(drain(*p), {make_frame(Opcode::text, "hi")}));
    p->receive_eof();
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_EQ(p->close_code(), 1006);
    EXPECT_FALSE(p->close_received());
    EXPECT_FALSE(p->close_sent());
    EXPECT_FALSE(p->has_output()) << "nothing is sent to a peer that is gone";
    EXPECT_TRUE(p->eof_to_send());
    EXPECT_FALSE(p->close_expected());
    EXPECT_TRUE(
        protocol_error_is(p->protocol_error(), 1006, "connection closed without a close frame"));
    EXPECT_TRUE(drain(*p).empty());
}

TEST_P(Close_7, EofInTheMiddleOfAFrameIs1006) {
    const std::string frame = wire(peer(), fin_bit | op_text, "hello");
    for (std::size_t cut = 1; cut < frame.size(); ++cut) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        auto p = make();
        p->receive_data(frame.substr(0, cut));
        EXPECT_TRUE(drain(*p).empty());
        p->receive_eof();
        EXPECT_EQ(p->state(), State::closed);
        EXPECT_EQ(p->close_code(), 1006);
        EXPECT_TRUE(protocol_error_is(p->protocol_error(), 1006,
                                      "connection closed in the middle of a frame"));
    }
}

TEST_P(Close_7, EofAfterOurCloseWithoutAnswerIs1006) {
    auto p = make();
    p->send_close(1000, "bye");
    output(*p);
    p->receive_eof();
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_EQ(p->close_code(), 1006);
    EXPECT_TRUE(
        protocol_error_is(p->protocol_error(), 1006, "connection closed without a close frame"));
}

TEST_P(Close_7, ReceiveAfterEofIsMisuse) {
    auto p = make();
    p->receive_eof();
    EXPECT_THROW(p->receive_data(std::string("x")), InvalidState);
    EXPECT_THROW(p->receive_eof(), InvalidState);
}

// ----- fail() ----------------------------------------------------------------------------

TEST_P(Close_7, FailInOpenSendsCloseFrame) {
    // RFC 6455 §7.1.7: "_Fail the WebSocket Connection_ ... the endpoint MAY send a Close
    // frame with an appropriate status code"; the server then closes TCP first (§7.1.1).
    auto p = make();
    p->fail(1008, "policy");
    EXPECT_EQ(output(*p), close_wire(side(), 1008, "policy"));
    EXPECT_EQ(p->state(), State::closing);
    ASSERT_TRUE(p->close_sent());
    EXPECT_EQ(*p->close_sent(), (Close{1008, "policy"}));
    EXPECT_FALSE(p->protocol_error()) << "fail() is our decision, not a peer error";
    EXPECT_EQ(p->eof_to_send(), is_server());
    EXPECT_TRUE(p->close_expected());
    // Input is no longer processed, not even the peer's close.
    p->receive_data(wire(peer(), fin_bit | op_ping, "x") + close_wire(peer(), 1000, ""));
    EXPECT_TRUE(drain(*p).empty());
    EXPECT_FALSE(p->has_output());
    p->receive_eof();
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_TRUE(p->eof_to_send());
}

TEST_P(Close_7, FailTruncatesReasonTo123BytesOnUtf8Boundary) {
    struct Case {
        std::string reason;
        std::size_t kept;
    };
    const std::string e_acute = "\xc3\xa9";      // 2 bytes
    const std::string euro = "\xe2\x82\xac";     // 3 bytes
    const std::string grin = "\xf0\x9f\x98\x80"; // 4 bytes
    const std::vector<Case> cases = {
        {std::string(200, 'a'), 123},
        {std::string(123, 'a'), 123},
        {std::string(123, 'a') + e_acute, 123},
        {std::string(122, 'a') + e_acute + "zz", 122},
        {std::string(121, 'a') + e_acute + "zz", 123},
        {std::string(121, 'a') + euro, 121},
        {std::string(122, 'a') + euro, 122},
        {std::string(120, 'a') + euro, 123},
        {std::string(120, 'a') + grin, 120},
        {std::string(121, 'a') + grin, 121},
        {std::string(119, 'a') + grin + "z", 123},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE("reason of " + std::to_string(c.reason.size()) + " bytes");
        auto p = make();
        p->fail(1011, c.reason);
        const std::string kept = c.reason.substr(0, c.kept);
        EXPECT_EQ(output(*p), close_wire(side(), 1011, kept));
        ASSERT_TRUE(p->close_sent());
        EXPECT_EQ(p->close_sent()->reason, kept);
    }
}

TEST_P(Close_7, FailWithUnsendableCodeSends1011) {
    auto p = make();
    p->fail(1005, "x");
    EXPECT_EQ(output(*p), close_wire(side(), 1011, "x"));
}

TEST_P(Close_7, FailWith1006SendsNoCloseFrame) {
    // 1006 means "closed without a close frame": the connection is dropped.
    auto p = make();
    p->fail(1006, "gone");
    EXPECT_FALSE(p->has_output());
    EXPECT_FALSE(p->close_sent());
    EXPECT_EQ(p->state(), State::closing);
    EXPECT_THROW(p->send_text("x"), InvalidState);
    EXPECT_FALSE(p->has_output());
    // Both sides drop the connection: EOF now, then wait for the peer's.
    EXPECT_TRUE(p->eof_to_send());
    EXPECT_TRUE(p->close_expected());
    p->receive_data(wire(peer(), fin_bit | op_ping, "x"));
    EXPECT_TRUE(drain(*p).empty()) << "input is no longer processed";
}

TEST_P(Close_7, FailAfterSendCloseDoesNothingMore) {
    auto p = make();
    p->send_close(1000, "bye");
    output(*p);
    p->fail(1002, "late failure");
    EXPECT_FALSE(p->has_output()) << "only one close frame may be sent";
    ASSERT_TRUE(p->close_sent());
    EXPECT_EQ(*p->close_sent(), (Close{1000, "bye"}));
    EXPECT_EQ(p->state(), State::closing);
}

TEST_P(Close_7, FailAfterReceivedCloseDoesNothingMore) {
    auto p = make();
    p->receive_data(close_wire(peer(), 1000, ""));
    output(*p);
    p->fail(1002, "late failure");
    EXPECT_FALSE(p->has_output());
    EXPECT_EQ(*p->close_sent(), (Close{1000, ""}));
    EXPECT_EQ(p->state(), State::closing);
}

TEST_P(Close_7, FailWhenClosedDoesNothing) {
    auto p = make();
    p->receive_data(close_wire(peer(), 1000, ""));
    output(*p);
    p->receive_eof();
    ASSERT_EQ(p->state(), State::closed);
    p->fail(1011, "x");
    EXPECT_FALSE(p->has_output());
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_TRUE(p->eof_to_send());
    EXPECT_EQ(p->close_code(), 1000);
}

// ----- send_close ------------------------------------------------------------------------

TEST_P(Close_7, SendCloseThenPeerCloseCompletesTheHandshake) {
    auto p = make();
    p->send_close(1000, "bye");
    EXPECT_EQ(output(*p), close_wire(side(), 1000, "bye"));
    EXPECT_EQ(p->state(), State::closing);
    EXPECT_TRUE(p->close_expected());
    EXPECT_FALSE(p->eof_to_send()) << "nobody half-closes before the handshake completes";
    EXPECT_FALSE(p->close_received());

    p->receive_data(close_wire(peer(), 1001, "ok"));
    EXPECT_TRUE(frames_are(drain(*p), {make_frame(Opcode::close, close_payload(1001, "ok"))}));
    EXPECT_FALSE(p->has_output()) << "a close is not echoed twice";
    ASSERT_TRUE(p->close_received());
    EXPECT_EQ(*p->close_received(), (Close{1001, "ok"}));
    EXPECT_EQ(*p->close_sent(), (Close{1000, "bye"}));
    EXPECT_FALSE(p->close_received_then_sent());
    EXPECT_EQ(p->state(), State::closing);
    EXPECT_EQ(p->eof_to_send(), is_server());
    EXPECT_TRUE(p->close_expected());
    p->receive_eof();
    EXPECT_EQ(p->state(), State::closed);
    EXPECT_EQ(p->close_code(), 1001);
    EXPECT_FALSE(p->protocol_error());
    EXPECT_TRUE(p->eof_to_send());
}

TEST_P(Close_7, SendCloseWithoutStatus) {
    auto p = make();
    p->send_close();
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_close, ""));
    ASSERT_TRUE(p->close_sent());
    EXPECT_EQ(*p->close_sent(), Close{});
}

TEST_P(Close_7, SendCloseExactBytes) {
    auto p = make();
    p->send_close(1000, "");
    EXPECT_EQ(output(*p), is_server() ? std::string("\x88\x02\x03\xe8", 4)
                                      : std::string("\x88\x82\x37\xfa\x21\x3d\x34\x12", 8));
}

TEST_P(Close_7, SendCloseInvalidArgumentsLeaveEngineOpen) {
    for (const int code : {0, 999, 1004, 1006, 1015, 1016, 2999, 5000, 65535}) {
        auto p = make();
        EXPECT_THROW(p->send_close(static_cast<std::uint16_t>(code), "x"), std::invalid_argument)
            << code;
        EXPECT_EQ(p->state(), State::open);
        EXPECT_FALSE(p->has_output());
        EXPECT_FALSE(p->close_sent());
    }
    {
        auto p = make();
        EXPECT_THROW(p->send_close(1005, "reason without code"), std::invalid_argument);
        EXPECT_EQ(p->state(), State::open);
    }
    auto p = make();
    EXPECT_THROW(p->send_close(1000, std::string(124, 'r')), std::invalid_argument);
    EXPECT_EQ(p->state(), State::open);
    EXPECT_FALSE(p->has_output());
    EXPECT_FALSE(p->close_sent());
    // Still usable.
    p->send_text("still open");
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_text, "still open"));
    p->send_close(1000, std::string(123, 'r'));
    EXPECT_EQ(output(*p), close_wire(side(), 1000, std::string(123, 'r')));
}

TEST_P(Close_7, SendingAfterSendCloseIsInvalidState) {
    auto p = make();
    p->send_close(1000, "");
    output(*p);
    EXPECT_THROW(p->send_text("x"), InvalidState);
    EXPECT_THROW(p->send_binary(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_continuation(std::string("x"), true), InvalidState);
    EXPECT_THROW(p->send_ping(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_pong(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_close(), InvalidState);
    EXPECT_THROW(p->send_close(1000, ""), InvalidState);
    EXPECT_FALSE(p->has_output());
}

TEST_P(Close_7, SendingAfterReceivedCloseIsInvalidState) {
    auto p = make();
    p->receive_data(close_wire(peer(), 1000, ""));
    output(*p);
    EXPECT_THROW(p->send_text("x"), InvalidState);
    EXPECT_THROW(p->send_binary(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_ping(std::string("x")), InvalidState);
    EXPECT_THROW(p->send_close(1000, ""), InvalidState);
    EXPECT_FALSE(p->has_output());
    p->receive_eof();
    EXPECT_THROW(p->send_text("x"), InvalidState);
    EXPECT_THROW(p->send_close(), InvalidState);
}

TEST_P(Close_7, CloseReceivedThenSent) {
    {
        auto p = make();
        p->receive_data(close_wire(peer(), 1000, ""));
        EXPECT_TRUE(p->close_received_then_sent());
    }
    {
        auto p = make();
        p->send_close(1000, "");
        p->receive_data(close_wire(peer(), 1000, ""));
        EXPECT_FALSE(p->close_received_then_sent());
    }
    {
        auto p = make();
        EXPECT_FALSE(p->close_received_then_sent());
    }
}

TEST_P(Close_7, CloseDuringFragmentedMessage) {
    // A close frame may arrive between fragments (RFC 6455 §5.4: control frames may be
    // injected in the middle of a fragmented message).
    const std::string input = wire(peer(), op_text, "part") + close_wire(peer(), 1000, "");
    for_every_split(maker(), input, [&](Protocol&, const Outcome& o) {
        EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::text, "part", false),
                                          make_frame(Opcode::close, close_payload(1000))}));
        EXPECT_EQ(o.output, close_wire(side(), 1000, ""));
    });
}

} // namespace
} // namespace syncws::test
