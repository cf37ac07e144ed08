// A client engine and a server engine talking to each other in memory: the handshake,
// messages of every size both ways, fragmentation, ping/pong and the closing handshake.
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <string>

namespace syncws::test {
namespace {

/// Concatenates the payloads of data frames into messages: {opcode of first frame, bytes}.
std::vector<std::pair<Opcode, std::string>> messages_of(const std::vector<Event>& events) {
    std::vector<std::pair<Opcode, std::string>> messages;
    bool in_message = false;
    for (const auto& e : events) {
        const auto* f = std::get_if<Frame>(&e);
        if (!f || is_control(f->opcode)) continue;
        if (!in_message) messages.emplace_back(f->opcode, "");
        messages.back().second += f->payload;
        in_message = !f->fin;
    }
    return messages;
}

TEST(ProtocolPair, Handshake) {
    ProtocolPair pair;
    const Response response = pair.handshake();
    EXPECT_EQ(response.status, 101);
    EXPECT_EQ(pair.client.state(), State::open);
    EXPECT_EQ(pair.server.state(), State::open);
    EXPECT_FALSE(pair.client.handshake_error());
    EXPECT_FALSE(pair.server.handshake_error());
    EXPECT_EQ(pair.client_sent, "GET /chat HTTP/1.1\r\n"
                                "Host: example.com\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: N/ohPTf6IT03+iE9N/ohPQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n"
                                "\r\n");
    EXPECT_EQ(pair.server_sent, "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: 7Ubo2JRe6fIuZAdGHq7kDA4XEQ0=\r\n"
                                "\r\n");
    const auto server_events = pair.new_server_events();
    ASSERT_EQ(server_events.size(), 1u);
    EXPECT_EQ(std::get<Request>(server_events[0]).target, "/chat");
    const auto client_events = pair.new_client_events();
    ASSERT_EQ(client_events.size(), 1u);
    EXPECT_EQ(std::get<Response>(client_events[0]).status, 101);
    EXPECT_FALSE(pair.client_eof_delivered);
    EXPECT_FALSE(pair.server_eof_delivered);
}

TEST(ProtocolPair, SubprotocolNegotiated) {
    ClientHandshakeOptions client_options;
    client_options.subprotocols = {"v2.chat", "v1.chat"};
    ServerHandshakeOptions server_options;
    server_options.subprotocols = {"v1.chat", "v2.chat"};
    ProtocolPair pair(client_options, server_options);
    pair.handshake();
    EXPECT_EQ(pair.client.subprotocol(), "v1.chat");
    EXPECT_EQ(pair.server.subprotocol(), "v1.chat");
    EXPECT_NE(pair.client_sent.find("Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n"),
              std::string::npos);
    EXPECT_NE(pair.server_sent.find("Sec-WebSocket-Protocol: v1.chat\r\n"), std::string::npos);
}

TEST(ProtocolPair, NoCommonSubprotocol) {
    ClientHandshakeOptions client_options;
    client_options.subprotocols = {"a"};
    ServerHandshakeOptions server_options;
    server_options.subprotocols = {"b"};
    ProtocolPair pair(client_options, server_options);
    pair.handshake();
    EXPECT_EQ(pair.client.state(), State::open);
    EXPECT_EQ(pair.client.subprotocol(), "");
    EXPECT_EQ(pair.server.subprotocol(), "");
}

TEST(ProtocolPair, RefusedHandshakeEndsWithBothClosed) {
    ServerHandshakeOptions server_options;
    server_options.origins = {"https://allowed.example"};
    ProtocolPair pair({}, server_options);
    pair.handshake();
    EXPECT_EQ(pair.server.state(), State::closed);
    EXPECT_EQ(pair.client.state(), State::closed);
    EXPECT_TRUE(error_is<InvalidHeader>(pair.server.handshake_error(), "Origin header: missing"));
    EXPECT_TRUE(error_is<InvalidStatus>(
        pair.client.handshake_error(), "server rejected WebSocket connection: HTTP 403",
        [](const InvalidStatus& e) {
            EXPECT_EQ(e.response().body, "Failed to open a WebSocket connection: "
                                         "Origin header: missing.\n");
        }));
    EXPECT_TRUE(pair.server_eof_delivered);
    EXPECT_TRUE(pair.client_eof_delivered);
}

TEST(ProtocolPair, MessagesOfEverySizeBothWays) {
    ProtocolPair pair;
    pair.handshake();
    pair.new_client_events();
    pair.new_server_events();
    // Around each length encoding boundary (RFC 6455 §5.2: 7-bit, 16-bit, 64-bit).
    const std::size_t sizes[] = {0,     1,     2,     3,      4,      5,     124,
                                 125,   126,   127,   128,    1000,   65534, 65535,
                                 65536, 65537, 70000, 131072, 199999, 200000};
    unsigned seed = 1;
    for (const std::size_t size : sizes) {
        SCOPED_TRACE("size " + std::to_string(size));
        const std::string text = text_pattern(size, seed++);
        const std::string binary = pattern(size, seed++);

        std::size_t before = pair.client_sent.size();
        pair.client.send_text(text);
        pair.pump();
        EXPECT_EQ(pair.client_sent.size() - before, size + 2 + 4 +
                                                        (size < 126      ? 0
                                                         : size <= 65535 ? 2
                                                                         : 8))
            << "shortest length encoding, masked";
        EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::text, text)}));

        before = pair.server_sent.size();
        pair.server.send_binary(binary);
        pair.pump();
        EXPECT_EQ(pair.server_sent.size() - before, size + 2 +
                                                        (size < 126      ? 0
                                                         : size <= 65535 ? 2
                                                                         : 8));
        EXPECT_EQ(pair.server_sent.substr(before), wire(Side::server, fin_bit | op_binary, binary));
        EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::binary, binary)}));

        pair.client.send_binary(binary);
        pair.server.send_text(text);
        pair.pump();
        EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::binary, binary)}));
        EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::text, text)}));
        if (HasFailure()) return;
    }
    EXPECT_EQ(pair.client.state(), State::open);
    EXPECT_EQ(pair.server.state(), State::open);
}

TEST(ProtocolPair, ClientFramesAreMaskedExactly) {
    ProtocolPair pair;
    pair.handshake();
    const std::size_t before = pair.client_sent.size();
    pair.client.send_text("Hello");
    pair.pump();
    // RFC 6455 §5.7: "A single-frame masked text message".
    EXPECT_EQ(pair.client_sent.substr(before),
              std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
}

TEST(ProtocolPair, ManyMessagesInOneRead) {
    ProtocolPair pair;
    pair.handshake();
    pair.new_server_events();
    std::vector<Frame> expected;
    for (int i = 0; i < 100; ++i) {
        const std::string text = "message " + std::to_string(i);
        pair.client.send_text(text);
        expected.push_back(make_frame(Opcode::text, text));
    }
    pair.pump();
    EXPECT_TRUE(frames_are(pair.new_server_events(), expected));
}

TEST(ProtocolPair, FragmentedMessages) {
    ProtocolPair pair;
    pair.handshake();
    pair.new_client_events();
    pair.new_server_events();
    // RFC 6455 §5.4: a message split into frames; continuation frames carry opcode 0.
    const std::string big = text_pattern(100000, 9);
    pair.client.send_text(std::string_view(big).substr(0, 10), false);
    pair.client.send_continuation(std::string(big.substr(10, 70000)), false);
    pair.client.send_continuation(std::string(), false);
    pair.client.send_continuation(std::string(big.substr(70010)), true);
    pair.pump();
    const auto server_events = pair.new_server_events();
    EXPECT_TRUE(
        frames_are(server_events, {make_frame(Opcode::text, big.substr(0, 10), false),
                                   make_frame(Opcode::continuation, big.substr(10, 70000), false),
                                   make_frame(Opcode::continuation, "", false),
                                   make_frame(Opcode::continuation, big.substr(70010))}));
    const auto messages = messages_of(server_events);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].first, Opcode::text);
    EXPECT_EQ(messages[0].second, big);

    // The other way, binary, with a ping in the middle.
    const std::string data = pattern(3000, 4);
    pair.server.send_binary(std::string(data.substr(0, 1000)), false);
    pair.server.send_ping(std::string("mid"));
    pair.server.send_continuation(std::string(data.substr(1000)), true);
    pair.pump();
    const auto client_events = pair.new_client_events();
    EXPECT_TRUE(frames_are(client_events, {make_frame(Opcode::binary, data.substr(0, 1000), false),
                                           make_frame(Opcode::ping, "mid"),
                                           make_frame(Opcode::continuation, data.substr(1000))}));
    EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::pong, "mid")}));
    const auto client_messages = messages_of(client_events);
    ASSERT_EQ(client_messages.size(), 1u);
    EXPECT_EQ(client_messages[0].second, data);
}

TEST(ProtocolPair, FragmentationMisuse) {
    ProtocolPair pair;
    pair.handshake();
    EXPECT_THROW(pair.client.send_continuation(std::string("x"), true), InvalidState);
    pair.client.send_text("a", false);
    EXPECT_THROW(pair.client.send_text("b"), InvalidState);
    EXPECT_THROW(pair.client.send_binary(std::string("b")), InvalidState);
    pair.client.send_continuation(std::string("z"), true);
    EXPECT_THROW(pair.client.send_continuation(std::string("x"), true), InvalidState);
    pair.pump();
    EXPECT_EQ(messages_of(pair.server_events).back().second, "az");
    EXPECT_FALSE(pair.server.protocol_error());
}

TEST(ProtocolPair, PingPong) {
    ProtocolPair pair;
    pair.handshake();
    pair.new_client_events();
    pair.new_server_events();
    pair.client.send_ping(std::string("1234"));
    pair.pump();
    EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::ping, "1234")}));
    EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::pong, "1234")}));

    pair.server.send_ping(std::string());
    pair.pump();
    EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::ping, "")}));
    EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::pong, "")}));

    pair.server.send_pong(std::string("beat"));
    pair.pump();
    EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::pong, "beat")}));
    EXPECT_TRUE(pair.new_server_events().empty()) << "an unsolicited pong gets no answer";
}

/// Checks both engines ended CLOSED after a clean closing handshake with `code`.
void expect_clean_close(ProtocolPair& pair, std::uint16_t code, bool client_started) {
    EXPECT_EQ(pair.client.state(), State::closed);
    EXPECT_EQ(pair.server.state(), State::closed);
    EXPECT_TRUE(pair.client_eof_delivered);
    EXPECT_TRUE(pair.server_eof_delivered);
    EXPECT_EQ(pair.client.close_code(), code);
    EXPECT_EQ(pair.server.close_code(), code);
    EXPECT_FALSE(pair.client.protocol_error());
    EXPECT_FALSE(pair.server.protocol_error());
    EXPECT_EQ(pair.client.close_received_then_sent(), !client_started);
    EXPECT_EQ(pair.server.close_received_then_sent(), client_started);
    EXPECT_FALSE(pair.client.close_expected());
    EXPECT_FALSE(pair.server.close_expected());
    EXPECT_FALSE(pair.client.has_output());
    EXPECT_FALSE(pair.server.has_output());
}

TEST(ProtocolPair, ClientStartsTheClosingHandshake) {
    ProtocolPair pair;
    pair.handshake();
    pair.client.send_close(1000, "bye");
    // Step by step, as a runtime would see it.
    Bytes bytes;
    pair.client.take_output(bytes);
    EXPECT_EQ(bytes, close_wire(Side::client, 1000, "bye"));
    pair.server.receive_data(bytes);
    EXPECT_TRUE(
        frames_are(drain(pair.server), {make_frame(Opcode::close, close_payload(1000, "bye"))}));
    pair.server.take_output(bytes);
    EXPECT_EQ(bytes, close_wire(Side::server, 1000, "bye"));
    EXPECT_TRUE(pair.server.eof_to_send()) << "the server closes TCP first (RFC 6455 §7.1.1)";
    pair.client.receive_data(bytes);
    EXPECT_TRUE(
        frames_are(drain(pair.client), {make_frame(Opcode::close, close_payload(1000, "bye"))}));
    EXPECT_FALSE(pair.client.has_output());
    EXPECT_FALSE(pair.client.eof_to_send());
    EXPECT_TRUE(pair.client.close_expected());
    pair.client.receive_eof();
    EXPECT_TRUE(pair.client.eof_to_send());
    EXPECT_EQ(pair.client.state(), State::closed);
    pair.server.receive_eof();
    EXPECT_EQ(pair.server.state(), State::closed);
    pair.client_eof_delivered = pair.server_eof_delivered = true;
    expect_clean_close(pair, 1000, true);
    EXPECT_EQ(*pair.client.close_sent(), (Close{1000, "bye"}));
    EXPECT_EQ(*pair.server.close_received(), (Close{1000, "bye"}));
}

TEST(ProtocolPair, ServerStartsTheClosingHandshake) {
    ProtocolPair pair;
    pair.handshake();
    pair.server.send_close(1001, "going away");
    pair.pump();
    expect_clean_close(pair, 1001, false);
    EXPECT_EQ(*pair.client.close_received(), (Close{1001, "going away"}));
    EXPECT_EQ(*pair.server.close_received(), (Close{1001, "going away"}));
}

TEST(ProtocolPair, CloseCodesBothWays) {
    for (const int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                           3000, 3999, 4000, 4999}) {
        for (const bool client_starts : {true, false}) {
            SCOPED_TRACE("code " + std::to_string(code) +
                         (client_starts ? " from client" : " from server"));
            ProtocolPair pair;
            pair.handshake();
            const auto c = static_cast<std::uint16_t>(code);
            if (client_starts)
                pair.client.send_close(c, "reason");
            else
                pair.server.send_close(c, "reason");
            pair.pump();
            expect_clean_close(pair, c, client_starts);
        }
    }
}

TEST(ProtocolPair, CloseWithoutStatus) {
    ProtocolPair pair;
    pair.handshake();
    pair.client.send_close();
    pair.pump();
    expect_clean_close(pair, 1005, true);
    EXPECT_EQ(*pair.server.close_received(), Close{});
}

TEST(ProtocolPair, SimultaneousClose) {
    // RFC 6455 §7.1.3 allows both ends to start the closing handshake at once.
    ProtocolPair pair;
    pair.handshake();
    pair.client.send_close(1000, "c");
    pair.server.send_close(1001, "s");
    pair.pump();
    EXPECT_EQ(pair.client.state(), State::closed);
    EXPECT_EQ(pair.server.state(), State::closed);
    EXPECT_EQ(pair.client.close_code(), 1001);
    EXPECT_EQ(pair.server.close_code(), 1000);
    EXPECT_FALSE(pair.client.close_received_then_sent());
    EXPECT_FALSE(pair.server.close_received_then_sent());
}

TEST(ProtocolPair, MessagesBeforeCloseArriveInOrder) {
    ProtocolPair pair;
    pair.handshake();
    pair.new_server_events();
    pair.client.send_text("last words");
    pair.client.send_close(1000, "");
    pair.pump();
    EXPECT_TRUE(
        frames_are(pair.new_server_events(), {make_frame(Opcode::text, "last words"),
                                              make_frame(Opcode::close, close_payload(1000))}));
    expect_clean_close(pair, 1000, true);
}

TEST(ProtocolPair, ProtocolErrorClosesBothEnds) {
    // The server sends a frame the client must reject (a masked one): the client fails the
    // connection with 1002 and both sides end up CLOSED.
    ProtocolPair pair;
    pair.handshake();
    pair.client.receive_data(raw_frame(Opcode::text, "masked", true));
    pair.pump();
    EXPECT_EQ(pair.client.state(), State::closed);
    EXPECT_EQ(pair.server.state(), State::closed);
    EXPECT_TRUE(protocol_error_is(pair.client.protocol_error(), 1002, "server frame is masked"));
    EXPECT_EQ(pair.server.close_code(), 1002);
    EXPECT_EQ(*pair.server.close_received(), (Close{1002, "server frame is masked"}));
}

TEST(ProtocolPair, MaxSizeEnforcedByTheReceiver) {
    ProtocolPair pair({}, {}, test_options(), test_options(1000));
    pair.handshake();
    pair.client.send_binary(pattern(1000));
    pair.pump();
    EXPECT_EQ(pair.server.state(), State::open);
    pair.client.send_binary(pattern(1001));
    pair.pump();
    EXPECT_TRUE(
        protocol_error_is(pair.server.protocol_error(), 1009,
                          "message of at least 1001 bytes exceeds the limit of 1000 bytes"));
    EXPECT_EQ(pair.client.close_code(), 1009);
    EXPECT_EQ(pair.client.state(), State::closed);
    EXPECT_EQ(pair.server.state(), State::closed);
}

} // namespace
} // namespace syncws::test
