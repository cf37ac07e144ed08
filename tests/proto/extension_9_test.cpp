// Extensions (RFC 6455 §9) through the real handshake, with fake extensions: "x-rot" XORs
// payloads with a negotiated key and marks frames with RSV1; "x-tag-a" / "x-tag-b" append a
// byte on the way out and remove it on the way in, so their order shows on the wire.
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/extension.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <charconv>
#include <memory>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

using CallLog = std::vector<std::string>;

std::string xor_with(std::string_view data, std::uint8_t key) {
    std::string out(data);
    for (auto& c : out)
        c = static_cast<char>(static_cast<unsigned char>(c) ^ key);
    return out;
}

std::optional<std::uint8_t> parse_key(const ExtensionParameters& parameters) {
    if (parameters.size() != 1 || parameters[0].name != "key" || !parameters[0].value)
        return std::nullopt;
    const std::string& v = *parameters[0].value;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc{} || end != v.data() + v.size() || value > 255) return std::nullopt;
    return static_cast<std::uint8_t>(value);
}

ExtensionParameters key_parameters(unsigned key) {
    return {{"key", std::to_string(key)}};
}

// ----- x-rot ---------------------------------------------------------------------------------

class RotExtension final : public Extension {
public:
    RotExtension(std::uint8_t key, std::shared_ptr<CallLog> log)
        : key_(key), log_(std::move(log)) {}

    std::string_view name() const noexcept override { return "x-rot"; }
    std::uint8_t rsv_bits() const noexcept override { return 0x4; }

    void decode(Frame& frame, std::size_t max_size) override {
        if (log_) log_->push_back("decode x-rot " + std::to_string(max_size));
        if (!frame.rsv1) return;
        frame.payload = xor_with(frame.payload, key_);
        frame.rsv1 = false;
        if (frame.payload == "poison") throw ProtocolError(1007, "x-rot: poisoned frame");
        if (frame.payload == "huge") throw PayloadTooBig("x-rot: decoded frame too big");
        if (frame.payload == "crash") throw std::runtime_error("x-rot: internal bug");
    }

    void encode(Frame& frame, bool compress) override {
        if (log_) log_->push_back("encode x-rot");
        if (!compress) return;
        frame.payload = xor_with(frame.payload, key_);
        frame.rsv1 = true;
    }

    ExtensionOffer negotiated() const override { return {"x-rot", key_parameters(key_)}; }

private:
    std::uint8_t key_;
    std::shared_ptr<CallLog> log_;
};

class ClientRotFactory final : public ClientExtensionFactory {
public:
    explicit ClientRotFactory(std::vector<ExtensionParameters> offers,
                              std::shared_ptr<CallLog> log = {})
        : offers_(std::move(offers)), log_(std::move(log)) {}

    std::string_view name() const noexcept override { return "x-rot"; }
    std::vector<ExtensionParameters> offers() const override { return offers_; }

    std::unique_ptr<Extension>
    accept(const ExtensionParameters& response,
           const std::vector<std::unique_ptr<Extension>>&) const override {
        // RFC 6455 §9.1: the server's answer must be one the client can honour; here, one
        // of the offers exactly.
        bool offered = false;
        for (const auto& o : offers_)
            offered = offered || o == response;
        const auto key = parse_key(response);
        if (!offered || !key)
            throw NegotiationError("x-rot: unexpected parameters " +
                                   serialize_extension_header({{"x-rot", response}}));
        return std::make_unique<RotExtension>(*key, log_);
    }

private:
    std::vector<ExtensionParameters> offers_;
    std::shared_ptr<CallLog> log_;
};

class ServerRotFactory final : public ServerExtensionFactory {
public:
    explicit ServerRotFactory(std::shared_ptr<CallLog> log = {}) : log_(std::move(log)) {}

    std::string_view name() const noexcept override { return "x-rot"; }

    std::optional<ExtensionAcceptance>
    negotiate(const ExtensionParameters& offer,
              const std::vector<std::unique_ptr<Extension>>&) const override {
        if (log_) log_->push_back("negotiate " + serialize_extension_header({{"x-rot", offer}}));
        if (!offer.empty() && offer[0].name == "refuse") throw NegotiationError("x-rot: refused");
        const auto key = parse_key(offer);
        if (!key) return std::nullopt; // decline; the engine tries the next offer
        return ExtensionAcceptance{key_parameters(*key),
                                   std::make_unique<RotExtension>(*key, log_)};
    }

private:
    std::shared_ptr<CallLog> log_;
};

// ----- x-tag-a / x-tag-b --------------------------------------------------------------------

class TagExtension final : public Extension {
public:
    TagExtension(char tag, std::shared_ptr<CallLog> log) : tag_(tag), log_(std::move(log)) {
        name_ = std::string("x-tag-") + static_cast<char>(tag_ - 'A' + 'a');
    }

    std::string_view name() const noexcept override { return name_; }

    void decode(Frame& frame, std::size_t) override {
        if (log_) log_->push_back("decode " + name_);
        if (frame.payload.empty() || frame.payload.back() != tag_)
            throw ProtocolError(1007, name_ + ": missing tag");
        frame.payload.pop_back();
    }

    void encode(Frame& frame, bool) override {
        if (log_) log_->push_back("encode " + name_);
        frame.payload.push_back(tag_);
    }

    ExtensionOffer negotiated() const override { return {name_, {}}; }

private:
    char tag_;
    std::string name_;
    std::shared_ptr<CallLog> log_;
};

class ClientTagFactory final : public ClientExtensionFactory {
public:
    ClientTagFactory(char tag, std::shared_ptr<CallLog> log)
        : tag_(tag), name_(TagExtension(tag, nullptr).name()), log_(std::move(log)) {}
    std::string_view name() const noexcept override { return name_; }
    std::vector<ExtensionParameters> offers() const override { return {{}}; }
    std::unique_ptr<Extension>
    accept(const ExtensionParameters&,
           const std::vector<std::unique_ptr<Extension>>&) const override {
        return std::make_unique<TagExtension>(tag_, log_);
    }

private:
    char tag_;
    std::string name_;
    std::shared_ptr<CallLog> log_;
};

class ServerTagFactory final : public ServerExtensionFactory {
public:
    ServerTagFactory(char tag, std::shared_ptr<CallLog> log)
        : tag_(tag), name_(TagExtension(tag, nullptr).name()), log_(std::move(log)) {}
    std::string_view name() const noexcept override { return name_; }
    std::optional<ExtensionAcceptance>
    negotiate(const ExtensionParameters&,
              const std::vector<std::unique_ptr<Extension>>&) const override {
        return ExtensionAcceptance{{}, std::make_unique<TagExtension>(tag_, log_)};
    }

private:
    char tag_;
    std::string name_;
    std::shared_ptr<CallLog> log_;
};

// ----- engines with x-rot negotiated ----------------------------------------------------------

constexpr std::uint8_t rot_key = 42;

ClientHandshakeOptions
client_rot(std::vector<ExtensionParameters> offers = {key_parameters(rot_key)},
           std::shared_ptr<CallLog> log = {}) {
    ClientHandshakeOptions options;
    options.extensions.push_back(std::make_shared<ClientRotFactory>(std::move(offers), log));
    return options;
}

ServerHandshakeOptions server_rot(std::shared_ptr<CallLog> log = {}) {
    ServerHandshakeOptions options;
    options.extensions.push_back(std::make_shared<ServerRotFactory>(std::move(log)));
    return options;
}

/// An engine of `side` that negotiated x-rot with key 42 through a real handshake, its
/// output taken.
std::unique_ptr<Protocol> rot_engine(Side side, ProtocolOptions options = test_options()) {
    if (side == Side::client) {
        auto client = client_with_rfc_key(client_rot(), std::move(options));
        client->receive_data(response_101("Sec-WebSocket-Extensions: x-rot; key=42\r\n"));
        drain(*client);
        EXPECT_EQ(client->state(), State::open);
        return client;
    }
    auto server = std::make_unique<ServerProtocol>(server_rot(), std::move(options));
    server->receive_data(rfc_request("Sec-WebSocket-Extensions: x-rot; key=42\r\n"));
    const auto events = drain(*server);
    EXPECT_EQ(events.size(), 1u);
    if (events.size() == 1) server->send_response(server->accept(std::get<Request>(events[0])));
    output(*server);
    EXPECT_EQ(server->state(), State::open);
    return server;
}

class Extension_9 : public ::testing::TestWithParam<Side> {
protected:
    Side side() const { return GetParam(); }
    Side peer() const { return peer_of(GetParam()); }
    auto rot_maker(ProtocolOptions options = test_options()) const {
        return [side = GetParam(), options] { return rot_engine(side, options); };
    }
    auto plain_maker() const {
        return [side = GetParam()] { return open_engine(side); };
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Extension_9, ::testing::Values(Side::client, Side::server),
                         SideName());

// ----- negotiation -----------------------------------------------------------------------------

TEST(Extension_9_Negotiation, OfferAndAnswerHeaders) {
    ProtocolPair pair(client_rot(), server_rot());
    const Response response = pair.handshake();
    EXPECT_EQ(pair.client_sent.substr(0, pair.client_sent.find("\r\n\r\n") + 4),
              "GET /chat HTTP/1.1\r\n"
              "Host: example.com\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: N/ohPTf6IT03+iE9N/ohPQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Extensions: x-rot; key=42\r\n"
              "\r\n");
    EXPECT_EQ(pair.server_sent, "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: 7Ubo2JRe6fIuZAdGHq7kDA4XEQ0=\r\n"
                                "Sec-WebSocket-Extensions: x-rot; key=42\r\n"
                                "\r\n");
    EXPECT_EQ(response.headers.get("Sec-WebSocket-Extensions"), "x-rot; key=42");
    ASSERT_EQ(pair.client.state(), State::open);
    ASSERT_EQ(pair.server.state(), State::open);
    for (const Protocol* p :
         {static_cast<const Protocol*>(&pair.client), static_cast<const Protocol*>(&pair.server)}) {
        ASSERT_EQ(p->extensions().size(), 1u);
        EXPECT_EQ(p->extensions()[0]->name(), "x-rot");
        EXPECT_EQ(p->extensions()[0]->negotiated(), (ExtensionOffer{"x-rot", key_parameters(42)}));
    }
}

TEST(Extension_9_Negotiation, NoExtensionOfferedNoneAnswered) {
    ProtocolPair pair({}, server_rot());
    pair.handshake();
    EXPECT_EQ(pair.client_sent.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_EQ(pair.server_sent.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_TRUE(pair.client.extensions().empty());
    EXPECT_TRUE(pair.server.extensions().empty());
}

TEST(Extension_9_Negotiation, ServerWithoutTheExtensionIgnoresTheOffer) {
    ProtocolPair pair(client_rot(), {});
    pair.handshake();
    EXPECT_NE(pair.client_sent.find("Sec-WebSocket-Extensions: x-rot; key=42"), std::string::npos);
    EXPECT_EQ(pair.server_sent.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_EQ(pair.client.state(), State::open);
    EXPECT_TRUE(pair.client.extensions().empty());
    EXPECT_TRUE(pair.server.extensions().empty());
}

TEST(Extension_9_Negotiation, ServerDeclinesAnOfferAndTheNextIsTried) {
    // RFC 7692 §5 style: several offers of one extension, most preferred first; the server
    // declines key=300 (not a byte) and accepts key=7.
    auto log = std::make_shared<CallLog>();
    ProtocolPair pair(client_rot({key_parameters(300), key_parameters(7)}), server_rot(log));
    pair.handshake();
    EXPECT_NE(pair.client_sent.find("Sec-WebSocket-Extensions: x-rot; key=300, x-rot; key=7\r\n"),
              std::string::npos);
    EXPECT_NE(pair.server_sent.find("Sec-WebSocket-Extensions: x-rot; key=7\r\n"),
              std::string::npos);
    EXPECT_EQ(*log, (CallLog{"negotiate x-rot; key=300", "negotiate x-rot; key=7"}));
    ASSERT_EQ(pair.client.extensions().size(), 1u);
    ASSERT_EQ(pair.server.extensions().size(), 1u);
    EXPECT_EQ(pair.client.extensions()[0]->negotiated(),
              (ExtensionOffer{"x-rot", key_parameters(7)}));
    EXPECT_EQ(pair.server.extensions()[0]->negotiated(),
              (ExtensionOffer{"x-rot", key_parameters(7)}));
    // And the key is the one used.
    pair.client.send_text("abc");
    Bytes wire_bytes;
    pair.client.take_output(wire_bytes);
    EXPECT_EQ(wire_bytes, wire(Side::client, fin_bit | rsv1_bit | op_text, xor_with("abc", 7)));
}

TEST(Extension_9_Negotiation, ServerDeclinesEveryOffer) {
    ProtocolPair pair(client_rot({key_parameters(300), {{"key", std::nullopt}}}), server_rot());
    pair.handshake();
    EXPECT_EQ(pair.server_sent.find("Sec-WebSocket-Extensions"), std::string::npos);
    EXPECT_EQ(pair.client.state(), State::open);
    EXPECT_TRUE(pair.client.extensions().empty());
    EXPECT_TRUE(pair.server.extensions().empty());
}

TEST(Extension_9_Negotiation, ServerFactoryRefusesWith400) {
    auto server = std::make_unique<ServerProtocol>(server_rot(), test_options());
    server->receive_data(rfc_request("Sec-WebSocket-Extensions: x-rot; refuse\r\n"));
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    const Response response = server->accept(std::get<Request>(events[0]));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, "Failed to open a WebSocket connection: x-rot: refused.\n");
    EXPECT_TRUE(error_is<NegotiationError>(server->handshake_error(), "x-rot: refused"));
}

TEST(Extension_9_Negotiation, MalformedOfferIs400) {
    auto server = std::make_unique<ServerProtocol>(server_rot(), test_options());
    server->receive_data(rfc_request("Sec-WebSocket-Extensions: x-rot;;\r\n"));
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    const Response response = server->accept(std::get<Request>(events[0]));
    EXPECT_EQ(response.status, 400);
    EXPECT_TRUE(error_is<InvalidHeader>(
        server->handshake_error(),
        "Sec-WebSocket-Extensions header: expected a parameter name at offset 6 in \"x-rot;;\""));
}

TEST(Extension_9_Negotiation, ClientRefusesAnswerWithParametersItDidNotOffer) {
    // RFC 6455 §9.1: the server answers with what it accepted; parameters the client never
    // offered fail the handshake (the factory throws NegotiationError).
    for_every_split([] { return client_with_rfc_key(client_rot()); },
                    response_101("Sec-WebSocket-Extensions: x-rot; key=43\r\n"),
                    [](Protocol& p, const Outcome& o) {
                        EXPECT_EQ(p.state(), State::closed);
                        EXPECT_TRUE(error_is<NegotiationError>(
                            p.handshake_error(), "x-rot: unexpected parameters x-rot; key=43"));
                        EXPECT_TRUE(o.eof_to_send);
                        EXPECT_TRUE(p.extensions().empty());
                    });
}

TEST(Extension_9_Negotiation, ClientRefusesTheSameExtensionTwice) {
    auto client = client_with_rfc_key(client_rot({key_parameters(1), key_parameters(2)}));
    client->receive_data(response_101("Sec-WebSocket-Extensions: x-rot; key=1, x-rot; key=2\r\n"));
    EXPECT_EQ(client->state(), State::closed);
    EXPECT_TRUE(error_is<NegotiationError>(
        client->handshake_error(),
        "server accepted extension 'x-rot', which wasn't offered (or twice)"));
}

TEST(Extension_9_Negotiation, AnswerOverSeveralHeaderLines) {
    auto log = std::make_shared<CallLog>();
    ClientHandshakeOptions options;
    options.extensions.push_back(std::make_shared<ClientTagFactory>('A', log));
    options.extensions.push_back(std::make_shared<ClientTagFactory>('B', log));
    auto client = client_with_rfc_key(options);
    client->receive_data(response_101("Sec-WebSocket-Extensions: x-tag-a\r\n"
                                      "Sec-WebSocket-Extensions: x-tag-b\r\n"));
    ASSERT_EQ(client->state(), State::open);
    ASSERT_EQ(client->extensions().size(), 2u);
    EXPECT_EQ(client->extensions()[0]->name(), "x-tag-a");
    EXPECT_EQ(client->extensions()[1]->name(), "x-tag-b");
}

// ----- the pipeline ------------------------------------------------------------------------------

TEST(Extension_9_Pipeline, EncodeAndDecodeOrderWithTwoExtensions) {
    // extension.hpp: encode in negotiation order, decode in reverse order (RFC 6455 §9: the
    // extensions are applied as a stack).
    auto client_log = std::make_shared<CallLog>();
    auto server_log = std::make_shared<CallLog>();
    ClientHandshakeOptions client_options;
    client_options.extensions.push_back(std::make_shared<ClientTagFactory>('A', client_log));
    client_options.extensions.push_back(std::make_shared<ClientTagFactory>('B', client_log));
    ServerHandshakeOptions server_options;
    // The server's own order doesn't matter: answers follow the client's offers.
    server_options.extensions.push_back(std::make_shared<ServerTagFactory>('B', server_log));
    server_options.extensions.push_back(std::make_shared<ServerTagFactory>('A', server_log));
    ProtocolPair pair(client_options, server_options);
    pair.handshake();
    EXPECT_NE(pair.client_sent.find("Sec-WebSocket-Extensions: x-tag-a, x-tag-b\r\n"),
              std::string::npos);
    EXPECT_NE(pair.server_sent.find("Sec-WebSocket-Extensions: x-tag-a, x-tag-b\r\n"),
              std::string::npos);
    for (const Protocol* p :
         {static_cast<const Protocol*>(&pair.client), static_cast<const Protocol*>(&pair.server)}) {
        ASSERT_EQ(p->extensions().size(), 2u);
        EXPECT_EQ(p->extensions()[0]->name(), "x-tag-a");
        EXPECT_EQ(p->extensions()[1]->name(), "x-tag-b");
    }

    pair.new_client_events();
    pair.new_server_events();
    const std::size_t sent_before = pair.client_sent.size();
    pair.client.send_text("hi");
    pair.pump();
    EXPECT_EQ(pair.client_sent.substr(sent_before), wire(Side::client, fin_bit | op_text, "hiAB"));
    EXPECT_EQ(*client_log, (CallLog{"encode x-tag-a", "encode x-tag-b"}));
    EXPECT_EQ(*server_log, (CallLog{"decode x-tag-b", "decode x-tag-a"}));
    EXPECT_TRUE(frames_are(pair.new_server_events(), {make_frame(Opcode::text, "hi")}));

    client_log->clear();
    server_log->clear();
    const std::size_t server_before = pair.server_sent.size();
    pair.server.send_binary(std::string("xy"));
    pair.pump();
    EXPECT_EQ(pair.server_sent.substr(server_before),
              wire(Side::server, fin_bit | op_binary, "xyAB"));
    EXPECT_EQ(*server_log, (CallLog{"encode x-tag-a", "encode x-tag-b"}));
    EXPECT_EQ(*client_log, (CallLog{"decode x-tag-b", "decode x-tag-a"}));
    EXPECT_TRUE(frames_are(pair.new_client_events(), {make_frame(Opcode::binary, "xy")}));
}

TEST(Extension_9_Pipeline, ControlFramesBypassExtensions) {
    auto log = std::make_shared<CallLog>();
    ClientHandshakeOptions client_options;
    client_options.extensions.push_back(std::make_shared<ClientTagFactory>('A', log));
    ServerHandshakeOptions server_options;
    server_options.extensions.push_back(std::make_shared<ServerTagFactory>('A', log));
    ProtocolPair pair(client_options, server_options);
    pair.handshake();
    const std::size_t before = pair.client_sent.size();
    pair.client.send_ping(std::string("p"));
    pair.pump();
    EXPECT_EQ(pair.client_sent.substr(before), wire(Side::client, fin_bit | op_ping, "p"));
    EXPECT_NE(pair.server_sent.find(wire(Side::server, fin_bit | op_pong, "p")), std::string::npos);
    EXPECT_TRUE(log->empty()) << log->front();
}

TEST_P(Extension_9, SendThroughRotExactBytes) {
    auto p = rot_engine(side());
    p->send_text("Hello");
    EXPECT_EQ(output(*p), wire(side(), fin_bit | rsv1_bit | op_text, xor_with("Hello", rot_key)));
    p->send_binary(std::string("\x01\x02", 2));
    EXPECT_EQ(output(*p), wire(side(), fin_bit | rsv1_bit | op_binary,
                               xor_with(std::string("\x01\x02", 2), rot_key)));
    // compress = false: the per-message switch leaves the frame alone.
    p->send_text("plain", true, false);
    EXPECT_EQ(output(*p), wire(side(), fin_bit | op_text, "plain"));
    // A fragmented message keeps the first frame's switch.
    p->send_text("ab", false, true);
    p->send_continuation(std::string("cd"), true);
    EXPECT_EQ(output(*p), wire(side(), rsv1_bit | op_text, xor_with("ab", rot_key)) +
                              wire(side(), fin_bit | rsv1_bit | op_cont, xor_with("cd", rot_key)));
    p->send_text("ab", false, false);
    p->send_continuation(std::string("cd"), true);
    EXPECT_EQ(output(*p), wire(side(), op_text, "ab") + wire(side(), fin_bit | op_cont, "cd"));
}

TEST_P(Extension_9, Rsv1AcceptedWhenNegotiated) {
    const std::string input =
        wire(peer(), fin_bit | rsv1_bit | op_text, xor_with("Hello", rot_key)) +
        wire(peer(), fin_bit | op_text, "plain") +
        wire(peer(), rsv1_bit | op_binary, xor_with("ab", rot_key)) +
        wire(peer(), fin_bit | rsv1_bit | op_cont, xor_with("cd", rot_key));
    for_every_split(rot_maker(), input, [&](Protocol& p, const Outcome& o) {
        EXPECT_TRUE(frames_are(o.events, {make_frame(Opcode::text, "Hello"),
                                          make_frame(Opcode::text, "plain"),
                                          make_frame(Opcode::binary, "ab", false),
                                          make_frame(Opcode::continuation, "cd")}));
        EXPECT_EQ(o.output, "");
        EXPECT_FALSE(p.protocol_error());
    });
}

TEST_P(Extension_9, Rsv1RejectedWithoutNegotiation) {
    // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for
    // non-zero values. If a nonzero value is received and none of the negotiated extensions
    // defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
    // WebSocket Connection_."
    const std::string why = "reserved bits must be 0";
    for_every_split(plain_maker(), wire(peer(), fin_bit | rsv1_bit | op_text, "x"),
                    [&](Protocol& p, const Outcome& o) {
                        EXPECT_TRUE(o.events.empty());
                        EXPECT_EQ(o.output, close_wire(side(), 1002, why));
                        EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
                    });
}

TEST_P(Extension_9, OtherRsvBitsAndControlFramesStillRejected) {
    const std::string why = "reserved bits must be 0";
    for (const std::uint8_t first :
         {std::uint8_t{fin_bit | 0x20 | op_text}, std::uint8_t{fin_bit | 0x10 | op_binary},
          std::uint8_t{fin_bit | rsv1_bit | op_ping},
          std::uint8_t{fin_bit | rsv1_bit | op_close}}) {
        SCOPED_TRACE("first byte " + hex(std::string(1, static_cast<char>(first))));
        for_every_split(rot_maker(), wire(peer(), first, ""), [&](Protocol& p, const Outcome& o) {
            EXPECT_TRUE(o.events.empty());
            EXPECT_EQ(o.output, close_wire(side(), 1002, why));
            EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1002, why));
        });
    }
}

TEST_P(Extension_9, Rsv1RejectedWhenTheExtensionDoesNotClaimIt) {
    // x-tag claims no RSV bit.
    std::unique_ptr<Protocol> engine;
    if (side() == Side::client) {
        ClientHandshakeOptions options;
        options.extensions.push_back(std::make_shared<ClientTagFactory>('A', nullptr));
        auto client = client_with_rfc_key(options);
        client->receive_data(response_101("Sec-WebSocket-Extensions: x-tag-a\r\n"));
        engine = std::move(client);
    } else {
        ServerHandshakeOptions options;
        options.extensions.push_back(std::make_shared<ServerTagFactory>('A', nullptr));
        auto server = std::make_unique<ServerProtocol>(options, test_options());
        server->receive_data(rfc_request("Sec-WebSocket-Extensions: x-tag-a\r\n"));
        const auto events = drain(*server);
        ASSERT_EQ(events.size(), 1u);
        server->send_response(server->accept(std::get<Request>(events[0])));
        engine = std::move(server);
    }
    drain(*engine);
    output(*engine);
    ASSERT_EQ(engine->extensions().size(), 1u);
    engine->receive_data(wire(peer(), fin_bit | rsv1_bit | op_text, "xA"));
    EXPECT_TRUE(drain(*engine).empty());
    EXPECT_TRUE(protocol_error_is(engine->protocol_error(), 1002, "reserved bits must be 0"));
}

TEST_P(Extension_9, DecodeProtocolErrorFailsWithItsCode) {
    const std::string why = "x-rot: poisoned frame";
    for_every_split(rot_maker(),
                    wire(peer(), fin_bit | rsv1_bit | op_binary, xor_with("poison", rot_key)),
                    [&](Protocol& p, const Outcome& o) {
                        EXPECT_TRUE(o.events.empty()) << describe(o.events);
                        EXPECT_EQ(o.output, close_wire(side(), 1007, why)) << hex(o.output);
                        EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1007, why));
                        EXPECT_EQ(p.state(), State::closing);
                        EXPECT_EQ(o.eof_to_send, side() == Side::server);
                    });
}

TEST_P(Extension_9, DecodePayloadTooBigFailsWith1009) {
    const std::string why = "x-rot: decoded frame too big";
    for_every_split(rot_maker(),
                    wire(peer(), fin_bit | rsv1_bit | op_binary, xor_with("huge", rot_key)),
                    [&](Protocol& p, const Outcome& o) {
                        EXPECT_TRUE(o.events.empty()) << describe(o.events);
                        EXPECT_EQ(o.output, close_wire(side(), 1009, why)) << hex(o.output);
                        EXPECT_TRUE(protocol_error_is(p.protocol_error(), 1009, why));
                    });
}

TEST_P(Extension_9, DecodeOtherExceptionFailsWith1011) {
    const std::string why = "extension failed: x-rot: internal bug";
    auto p = rot_engine(side());
    p->receive_data(wire(peer(), fin_bit | rsv1_bit | op_binary, xor_with("crash", rot_key)));
    EXPECT_TRUE(drain(*p).empty());
    EXPECT_EQ(output(*p), close_wire(side(), 1011, why));
    EXPECT_TRUE(protocol_error_is(p->protocol_error(), 1011, why));
}

TEST_P(Extension_9, DecodedTextIsValidatedAsUtf8) {
    // RFC 6455 §8.1 applies to the decoded text; raw RSV1 payload bytes are not text.
    const std::string why = "invalid UTF-8 in text message";
    auto ok = rot_engine(side());
    // "é" XOR 42 is not valid UTF-8 on the wire, but decodes to valid text.
    ok->receive_data(wire(peer(), fin_bit | rsv1_bit | op_text, xor_with("\xc3\xa9", rot_key)));
    EXPECT_TRUE(frames_are(drain(*ok), {make_frame(Opcode::text, "\xc3\xa9")}));
    EXPECT_FALSE(ok->protocol_error());

    auto bad = rot_engine(side());
    bad->receive_data(wire(peer(), fin_bit | rsv1_bit | op_text, xor_with("\xff", rot_key)));
    EXPECT_TRUE(drain(*bad).empty());
    EXPECT_EQ(output(*bad), close_wire(side(), 1007, why));
    EXPECT_TRUE(protocol_error_is(bad->protocol_error(), 1007, why));
}

TEST_P(Extension_9, DecodeGetsTheRemainingBudget) {
    // extension.hpp: "`max_size` is how many decoded bytes the message may still grow by".
    auto log = std::make_shared<CallLog>();
    std::unique_ptr<Protocol> p;
    if (side() == Side::client) {
        auto client =
            client_with_rfc_key(client_rot({key_parameters(rot_key)}, log), test_options(100));
        client->receive_data(response_101("Sec-WebSocket-Extensions: x-rot; key=42\r\n"));
        p = std::move(client);
    } else {
        auto server = std::make_unique<ServerProtocol>(server_rot(log), test_options(100));
        server->receive_data(rfc_request("Sec-WebSocket-Extensions: x-rot; key=42\r\n"));
        const auto events = drain(*server);
        ASSERT_EQ(events.size(), 1u);
        server->send_response(server->accept(std::get<Request>(events[0])));
        p = std::move(server);
    }
    drain(*p);
    output(*p);
    log->clear();
    p->receive_data(
        wire(peer(), rsv1_bit | op_binary, xor_with(std::string(30, 'a'), rot_key)) +
        wire(peer(), rsv1_bit | op_cont, xor_with(std::string(30, 'b'), rot_key)) +
        wire(peer(), fin_bit | rsv1_bit | op_cont, xor_with(std::string(40, 'c'), rot_key)));
    EXPECT_EQ(*log, (CallLog{"decode x-rot 100", "decode x-rot 70", "decode x-rot 40"}));
    EXPECT_EQ(drain(*p).size(), 3u);
    EXPECT_FALSE(p->protocol_error());
    // The next message starts with the whole budget again.
    log->clear();
    p->receive_data(wire(peer(), fin_bit | rsv1_bit | op_text, xor_with("x", rot_key)));
    EXPECT_EQ(*log, (CallLog{"decode x-rot 100"}));
}

} // namespace
} // namespace syncws::test
