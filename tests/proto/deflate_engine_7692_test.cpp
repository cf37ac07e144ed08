// permessage-deflate through the engine (RFC 7692 §7.2.3): negotiated by a real opening
// handshake, then literal bytes in and out, on both sides.
#include "proto_support.hpp"

#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

namespace syncws::test {
namespace {

struct Pair {
    std::unique_ptr<ClientProtocol> client;
    std::unique_ptr<ServerProtocol> server;
};

// A client and a server that negotiated permessage-deflate with default options.
Pair negotiated_pair(std::optional<std::size_t> client_max_size = 1024 * 1024) {
    ClientHandshakeOptions ch;
    ch.extensions.push_back(make_client_deflate());
    ServerHandshakeOptions sh;
    sh.extensions.push_back(make_server_deflate());
    Pair p{std::make_unique<ClientProtocol>(parse_uri("ws://example.com/"), ch,
                                            test_options(client_max_size)),
           std::make_unique<ServerProtocol>(sh, test_options(16 * 1024 * 1024))};
    p.client->send_request(p.client->connect());
    p.server->receive_data(BytesView(output(*p.client)));
    auto events = drain(*p.server);
    EXPECT_EQ(events.size(), 1u);
    p.server->send_response(p.server->accept(std::get<Request>(events.at(0))));
    p.client->receive_data(BytesView(output(*p.server)));
    drain(*p.client);
    EXPECT_EQ(p.client->state(), State::open);
    EXPECT_EQ(p.server->state(), State::open);
    return p;
}

TEST(DeflateEngine_7692, NegotiatedOnBothSides) {
    auto p = negotiated_pair();
    ASSERT_EQ(p.client->extensions().size(), 1u);
    ASSERT_EQ(p.server->extensions().size(), 1u);
    EXPECT_EQ(p.client->extensions()[0]->name(), "permessage-deflate");
    EXPECT_EQ(p.server->extensions()[0]->name(), "permessage-deflate");
}

TEST(DeflateEngine_7692, ServerSendsTheRfcBytes) {
    // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" compressed, then again with the sliding
    // window carried over (context takeover).
    auto p = negotiated_pair();
    p.server->send_text("Hello");
    EXPECT_EQ(output(*p.server), std::string("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9));
    p.server->send_text("Hello");
    EXPECT_EQ(output(*p.server), std::string("\xc1\x05\xf2\x00\x11\x00\x00", 7));
}

TEST(DeflateEngine_7692, ClientDecodesTheRfcBytesSplitAnywhere) {
    const std::string first("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
    const std::string second("\xc1\x05\xf2\x00\x11\x00\x00", 7);
    // RFC 7692 §7.2.3.1 fragmented: "Hel" and "lo" compressed as two frames of one message.
    const std::string fragmented("\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00", 11);
    for (const auto& input : {first + second, fragmented}) {
        for (const auto& chunks : splits_of(input)) {
            auto p = negotiated_pair();
            const Outcome o = run(*p.client, chunks);
            std::string text;
            for (const auto& f : frames_of(o.events)) {
                EXPECT_FALSE(f.rsv1) << "the extension clears RSV1 it handled";
                text += f.payload;
            }
            EXPECT_EQ(text, input == fragmented ? "Hello" : "HelloHello");
            EXPECT_EQ(o.state, State::open);
            EXPECT_EQ(o.output, "");
        }
    }
}

TEST(DeflateEngine_7692, RoundTripsBothWays) {
    auto p = negotiated_pair();
    for (std::size_t size : {0u, 1u, 125u, 126u, 5000u, 70000u}) {
        std::string text;
        for (std::size_t i = 0; i < size; ++i)
            text += static_cast<char>('a' + i % 7);
        p.client->send_text(text);
        p.server->receive_data(BytesView(output(*p.client)));
        auto at_server = frames_of(drain(*p.server));
        ASSERT_EQ(at_server.size(), 1u) << size;
        EXPECT_EQ(at_server[0].payload, text);
        p.server->send_binary(BytesView(text));
        p.client->receive_data(BytesView(output(*p.server)));
        auto at_client = frames_of(drain(*p.client));
        ASSERT_EQ(at_client.size(), 1u) << size;
        EXPECT_EQ(at_client[0].payload, text);
        EXPECT_EQ(at_client[0].opcode, Opcode::binary);
    }
}

TEST(DeflateEngine_7692, PerMessageSwitchSendsUncompressed) {
    auto p = negotiated_pair();
    p.server->send_text("Hello", true, /*compress=*/false);
    EXPECT_EQ(output(*p.server), std::string("\x81\x05Hello", 7)) << "RSV1 clear, raw payload";
}

TEST(DeflateEngine_7692, NoUnbufferedFramesOnceAnExtensionIsNegotiated) {
    // The extension may transform any payload: only the engine can write it.
    auto p = negotiated_pair();
    EXPECT_FALSE(p.server->send_unbuffered_header(Opcode::binary, 1 << 20).has_value());
    EXPECT_EQ(output(*p.server), "");
    p.server->send_text("Hello", true, /*compress=*/false);
    EXPECT_EQ(output(*p.server), std::string("\x81\x05Hello", 7)) << "nothing half-started";
}

TEST(DeflateEngine_7692, MaxSizeAppliesToTheDecodedMessage) {
    // A 2 MiB message of one letter compresses to a few KiB: the client (max_size 1 MiB)
    // must fail with 1009 while inflating, not accept it for its small wire size.
    auto p = negotiated_pair(1024 * 1024);
    p.server->send_text(std::string(2 * 1024 * 1024, 'a'));
    const std::string wire = output(*p.server);
    ASSERT_LT(wire.size(), 64u * 1024u);
    p.client->receive_data(BytesView(wire));
    EXPECT_TRUE(frames_of(drain(*p.client)).empty());
    EXPECT_EQ(p.client->state(), State::closing);
    ASSERT_TRUE(p.client->close_sent());
    EXPECT_EQ(p.client->close_sent()->code, 1009);
    EXPECT_THROW(std::rethrow_exception(p.client->protocol_error()), PayloadTooBig);
}

TEST(DeflateEngine_7692, CorruptDataFailsWith1007) {
    auto p = negotiated_pair();
    // BTYPE 11 is reserved in DEFLATE (RFC 1951 §3.2.3): the stream is invalid.
    p.client->receive_data(BytesView(std::string("\xc1\x03\xff\xff\xff", 5)));
    EXPECT_EQ(p.client->state(), State::closing);
    ASSERT_TRUE(p.client->close_sent());
    EXPECT_EQ(p.client->close_sent()->code, 1007);
}

TEST(DeflateEngine_7692, CompressedInvalidUtf8FailsWith1007) {
    auto p = negotiated_pair();
    p.server->send_binary(BytesView(std::string("\xce\xba\xff", 3)));
    std::string wire = output(*p.server);
    wire[0] = static_cast<char>(0xc1); // the same compressed bytes, now claiming text
    p.client->receive_data(BytesView(wire));
    EXPECT_TRUE(frames_of(drain(*p.client)).empty());
    ASSERT_TRUE(p.client->close_sent());
    EXPECT_EQ(p.client->close_sent()->code, 1007);
}

TEST(DeflateEngine_7692, ControlFramesAreNeverCompressed) {
    auto p = negotiated_pair();
    p.server->send_ping(BytesView(std::string("ping")));
    EXPECT_EQ(output(*p.server), std::string("\x89\x04ping", 6));
    // A ping with RSV1 set fails the connection: RSV1 belongs to data frames only.
    p.client->receive_data(BytesView(std::string("\xc9\x00", 2)));
    ASSERT_TRUE(p.client->close_sent());
    EXPECT_EQ(p.client->close_sent()->code, 1002);
}

} // namespace
} // namespace syncws::test
