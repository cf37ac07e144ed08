// The client's opening handshake (RFC 6455 §4.1): the request it builds and the checks of
// the server's response.
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>
#include <syncws/uri.hpp>

#include <gtest/gtest.h>

#include <string>

namespace syncws::test {
namespace {

// ----- the request ------------------------------------------------------------------------

TEST(ClientHandshake_4_1, MinimalRequestExactBytes) {
    // RFC 6455 §4.1: request line with the resource name, Host, Upgrade: websocket,
    // Connection: Upgrade, a base64 16-byte Sec-WebSocket-Key, Sec-WebSocket-Version: 13.
    ClientProtocol client(parse_uri("ws://example.com/chat"), {}, test_options());
    const Request request = client.connect();
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.target, "/chat");
    EXPECT_EQ(request.body, "");
    EXPECT_EQ(request.serialize(), "GET /chat HTTP/1.1\r\n"
                                   "Host: example.com\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: N/ohPTf6IT03+iE9N/ohPQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "\r\n");
    EXPECT_FALSE(client.has_output()) << "connect() only builds the request";
    EXPECT_EQ(client.state(), State::connecting);
    client.send_request(request);
    EXPECT_EQ(output(client), request.serialize());
    EXPECT_EQ(client.state(), State::connecting);
    EXPECT_FALSE(client.eof_to_send());
    EXPECT_FALSE(client.close_expected());
    EXPECT_TRUE(drain(client).empty());
}

TEST(ClientHandshake_4_1, KeyIsBase64OfSixteenRandomBytes) {
    // The fixed source yields 37 fa 21 3d repeated; base64 of those 16 bytes.
    ClientProtocol client(parse_uri("ws://example.com/"), {}, test_options());
    EXPECT_EQ(client.connect().headers.get("Sec-WebSocket-Key"), fixed_key);

    ProtocolOptions options = test_options();
    int calls = 0;
    options.random = [&calls](unsigned char* out, std::size_t size) {
        ++calls;
        EXPECT_EQ(size, 16u);
        for (std::size_t i = 0; i < size; ++i)
            out[i] = static_cast<unsigned char>(i);
    };
    ClientProtocol counting(parse_uri("ws://example.com/"), {}, std::move(options));
    // base64 of 00 01 02 ... 0f
    EXPECT_EQ(counting.connect().headers.get("Sec-WebSocket-Key"), "AAECAwQFBgcICQoLDA0ODw==");
    EXPECT_EQ(calls, 1);
}

TEST(ClientHandshake_4_1, FullRequestExactBytes) {
    ClientHandshakeOptions options;
    options.origin = "http://example.com";
    options.subprotocols = {"chat", "superchat"};
    options.extra_headers.add("X-Trace", "42");
    options.extra_headers.add("Cookie", "a=b");
    options.user_agent = "syncws-test/1.0";
    ClientProtocol client(parse_uri("ws://user:pass@example.com/chat?room=1"), options,
                          test_options());
    const Request request = client.connect();
    EXPECT_EQ(request.target, "/chat?room=1");
    EXPECT_EQ(request.serialize(), "GET /chat?room=1 HTTP/1.1\r\n"
                                   "Host: example.com\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: N/ohPTf6IT03+iE9N/ohPQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "Origin: http://example.com\r\n"
                                   "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                   "Authorization: Basic dXNlcjpwYXNz\r\n"
                                   "User-Agent: syncws-test/1.0\r\n"
                                   "X-Trace: 42\r\n"
                                   "Cookie: a=b\r\n"
                                   "\r\n");
}

TEST(ClientHandshake_4_1, BasicAuthorizationFromUserinfo) {
    // RFC 7617 §2: base64 of user-id ":" password; userinfo is percent-decoded first.
    ClientProtocol a(parse_uri("ws://user:pass@host/"), {}, test_options());
    EXPECT_EQ(a.connect().headers.get("Authorization"), "Basic dXNlcjpwYXNz");
    ClientProtocol b(parse_uri("ws://Aladdin:open%20sesame@host/"), {}, test_options());
    EXPECT_EQ(b.connect().headers.get("Authorization"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    ClientProtocol c(parse_uri("ws://user@host/"), {}, test_options());
    EXPECT_EQ(c.connect().headers.get("Authorization"), "Basic dXNlcjo=");
    ClientProtocol none(parse_uri("ws://host/"), {}, test_options());
    EXPECT_FALSE(none.connect().headers.contains("Authorization"));
}

TEST(ClientHandshake_4_1, HostHeader) {
    // RFC 6455 §4.1 item 4: the host, bracketed if IPv6, with ":port" unless it is the
    // scheme's default.
    const std::pair<const char*, const char*> cases[] = {
        {"ws://example.com/", "example.com"},
        {"ws://example.com:80/", "example.com"},
        {"ws://example.com:8080/", "example.com:8080"},
        {"ws://example.com:443/", "example.com:443"},
        {"wss://example.com/", "example.com"},
        {"wss://example.com:443/", "example.com"},
        {"wss://example.com:80/", "example.com:80"},
        {"ws://[::1]/", "[::1]"},
        {"ws://[::1]:9000/x", "[::1]:9000"},
        {"wss://[2001:db8::1]:8443/", "[2001:db8::1]:8443"},
        {"ws://127.0.0.1:1234/", "127.0.0.1:1234"},
    };
    for (const auto& [uri, host] : cases) {
        ClientProtocol client(parse_uri(uri), {}, test_options());
        const Request request = client.connect();
        EXPECT_EQ(request.headers.get_all("Host").size(), 1u) << uri;
        EXPECT_EQ(request.headers.get("Host"), host) << uri;
    }
}

TEST(ClientHandshake_4_1, EditedRequestIsSentAsIs) {
    ClientProtocol client(parse_uri("ws://example.com/chat"), {}, test_options());
    Request request = client.connect();
    request.headers.add("X-Extra", "1");
    client.send_request(request);
    EXPECT_EQ(output(client), request.serialize());
}

TEST(ClientHandshake_4_1, SendRequestMisuse) {
    ClientProtocol client(parse_uri("ws://example.com/chat"), {}, test_options());
    Request request = client.connect();
    Request keyless = request;
    keyless.headers.remove("Sec-WebSocket-Key");
    EXPECT_THROW(client.send_request(keyless), InvalidState);
    EXPECT_FALSE(client.has_output());
    client.send_request(request);
    EXPECT_THROW(client.send_request(request), InvalidState);
    ClientProtocol open(parse_uri("ws://example.com/chat"), {}, test_options(), State::open);
    EXPECT_THROW(open.send_request(request), InvalidState);
}

TEST(ClientHandshake_4_1, CommandsBeforeOpenAreInvalidState) {
    auto client = client_after_request();
    EXPECT_THROW(client->send_text("x"), InvalidState);
    EXPECT_THROW(client->send_ping(std::string("x")), InvalidState);
    EXPECT_THROW(client->send_close(1000, ""), InvalidState);
    EXPECT_FALSE(client->has_output());
}

// ----- a valid response --------------------------------------------------------------------

TEST(ClientHandshake_4_1, Rfc6455ExampleResponseOpens) {
    // RFC 6455 §1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" gives the accept value
    // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    for_every_split([] { return client_with_rfc_key(); }, response_101(),
                    [](Protocol& p, const Outcome& o) {
                        ASSERT_EQ(o.events.size(), 1u) << describe(o.events);
                        const auto* response = std::get_if<Response>(&o.events[0]);
                        ASSERT_TRUE(response);
                        EXPECT_EQ(response->status, 101);
                        EXPECT_EQ(response->reason, "Switching Protocols");
                        EXPECT_EQ(response->headers.get("Sec-WebSocket-Accept"), rfc_accept);
                        EXPECT_EQ(response->headers.size(), 3u);
                        EXPECT_EQ(response->body, "");
                        EXPECT_EQ(o.output, "");
                        EXPECT_EQ(p.state(), State::open);
                        EXPECT_FALSE(p.handshake_error());
                        EXPECT_FALSE(p.eof_to_send());
                        EXPECT_FALSE(p.close_expected());
                        EXPECT_EQ(p.subprotocol(), "");
                        EXPECT_TRUE(p.extensions().empty());
                    });
}

TEST(ClientHandshake_4_1, ResponseToTheFixedKeyOpens) {
    auto client = client_after_request();
    client->receive_data(response_101({}, fixed_accept));
    EXPECT_EQ(client->state(), State::open);
    EXPECT_FALSE(client->handshake_error());
}

TEST(ClientHandshake_4_1, TokensAndNamesAreCaseInsensitive) {
    // RFC 6455 §4.1: "|Upgrade| header field whose value is not an ASCII case-insensitive
    // match for the value "websocket""; "|Connection| ... ASCII case-insensitive match for
    // the value "Upgrade""; header names are case-insensitive (RFC 9110 §5.1).
    const std::string responses[] = {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: UPGRADE\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WEBSOCKET\r\nconnection: upgrade\r\n"
        "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "HTTP/1.1 101 Whatever\r\nUPGRADE: websocket\r\nCONNECTION: keep-alive, Upgrade\r\n"
        "SEC-WEBSOCKET-ACCEPT: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    };
    for (const auto& response : responses) {
        for_every_split([] { return client_with_rfc_key(); }, response,
                        [](Protocol& p, const Outcome& o) {
                            EXPECT_EQ(p.state(), State::open);
                            EXPECT_FALSE(p.handshake_error());
                            EXPECT_EQ(o.events.size(), 1u);
                        });
    }
}

TEST(ClientHandshake_4_1, AcceptValueIsCaseSensitive) {
    // The accept value is base64: its case matters.
    auto client = client_with_rfc_key();
    client->receive_data(response_101({}, "S3PPLMBITXAQ9KYGZZHZRBK+XOO="));
    EXPECT_EQ(client->state(), State::closed);
    EXPECT_TRUE(error_is<InvalidHeader>(
        client->handshake_error(),
        "Sec-WebSocket-Accept header: 'S3PPLMBITXAQ9KYGZZHZRBK+XOO=' doesn't match the key sent"));
}

TEST(ClientHandshake_4_1, NegotiatedSubprotocol) {
    ClientHandshakeOptions options;
    options.subprotocols = {"chat", "superchat"};
    for_every_split([&] { return client_with_rfc_key(options); },
                    response_101("Sec-WebSocket-Protocol: superchat\r\n"),
                    [](Protocol& p, const Outcome&) {
                        EXPECT_EQ(p.state(), State::open);
                        EXPECT_EQ(p.subprotocol(), "superchat");
                    });
}

TEST(ClientHandshake_4_1, FramesInTheSameReadAsThe101AreNotLost) {
    const std::string input = response_101() + wire(Side::server, fin_bit | op_text, "Hello") +
                              wire(Side::server, fin_bit | op_ping, "p") +
                              wire(Side::server, op_binary, "ab");
    for_every_split([] { return client_with_rfc_key(); }, input,
                    [](Protocol& p, const Outcome& o) {
                        ASSERT_EQ(o.events.size(), 4u) << describe(o.events);
                        ASSERT_TRUE(std::holds_alternative<Response>(o.events[0]))
                            << describe(o.events);
                        const std::vector<Event> frames(o.events.begin() + 1, o.events.end());
                        EXPECT_TRUE(frames_are(frames, {make_frame(Opcode::text, "Hello"),
                                                        make_frame(Opcode::ping, "p"),
                                                        make_frame(Opcode::binary, "ab", false)}));
                        EXPECT_EQ(o.output, wire(Side::client, fin_bit | op_pong, "p"))
                            << hex(o.output);
                        EXPECT_EQ(p.state(), State::open);
                    });
}

TEST(ClientHandshake_4_1, CloseInTheSameReadAsThe101) {
    const std::string input = response_101() + close_wire(Side::server, 1001, "bye");
    for_every_split([] { return client_with_rfc_key(); }, input,
                    [](Protocol& p, const Outcome& o) {
                        ASSERT_EQ(o.events.size(), 2u) << describe(o.events);
                        EXPECT_EQ(o.output, close_wire(Side::client, 1001, "bye"));
                        EXPECT_EQ(p.state(), State::closing);
                    });
}

// ----- failures ------------------------------------------------------------------------------

/// Feeds `response` to a client that sent the RFC key, in every split, and checks the
/// handshake fails with an `E` saying `what`, the engine is CLOSED and wants EOF sent, and
/// the response (if it parsed) was reported.
template <typename E>
void expect_failure(const std::string& response, const std::string& what,
                    ClientHandshakeOptions options = {}, bool reported = true,
                    ProtocolOptions protocol = test_options()) {
    for_every_split([&] { return client_with_rfc_key(options, protocol); }, response,
                    [&](Protocol& p, const Outcome& o) {
                        EXPECT_TRUE(error_is<E>(p.handshake_error(), what));
                        EXPECT_EQ(p.state(), State::closed);
                        EXPECT_EQ(o.output, "") << hex(o.output);
                        EXPECT_TRUE(p.eof_to_send());
                        EXPECT_TRUE(p.close_expected());
                        EXPECT_FALSE(p.protocol_error());
                        EXPECT_EQ(o.events.size(), reported ? 1u : 0u) << describe(o.events);
                        if (reported && !o.events.empty()) {
                            EXPECT_TRUE(std::holds_alternative<Response>(o.events[0]));
                        }
                        EXPECT_THROW(p.send_text("x"), InvalidState);
                        // Later input is ignored.
                        p.receive_data(wire(Side::server, fin_bit | op_text, "late"));
                        EXPECT_TRUE(drain(p).empty());
                        EXPECT_FALSE(p.has_output());
                    });
}

TEST(ClientHandshake_4_1, Non101IsInvalidStatusCarryingTheResponse) {
    // RFC 6455 §4.1: "If the status code received from the server is not 101, the client
    // handles the response per HTTP [RFC2616] procedures."
    const std::string response = "HTTP/1.1 403 Forbidden\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: 14\r\n"
                                 "\r\n"
                                 "Go away, you.\n";
    expect_failure<InvalidStatus>(response, "server rejected WebSocket connection: HTTP 403");
    auto client = client_with_rfc_key();
    client->receive_data(response);
    EXPECT_TRUE(error_is<InvalidStatus>(
        client->handshake_error(), "server rejected WebSocket connection: HTTP 403",
        [](const InvalidStatus& e) {
            EXPECT_EQ(e.response().status, 403);
            EXPECT_EQ(e.response().reason, "Forbidden");
            EXPECT_EQ(e.response().headers.get("Content-Type"), "text/plain");
            EXPECT_EQ(e.response().body, "Go away, you.\n");
        }));
    const auto events = drain(*client);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::get<Response>(events[0]).body, "Go away, you.\n");
}

TEST(ClientHandshake_4_1, OtherStatuses) {
    for (const int status : {200, 301, 400, 426, 500, 503}) {
        const std::string response =
            "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
        expect_failure<InvalidStatus>(response, "server rejected WebSocket connection: HTTP " +
                                                    std::to_string(status));
    }
    // A 1xx that isn't 101 has no body.
    expect_failure<InvalidStatus>("HTTP/1.1 100 Continue\r\n\r\n",
                                  "server rejected WebSocket connection: HTTP 100");
}

TEST(ClientHandshake_4_1, MissingUpgrade) {
    expect_failure<InvalidHeader>("HTTP/1.1 101 Switching Protocols\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                  "Upgrade header: missing");
}

TEST(ClientHandshake_4_1, WrongUpgrade) {
    expect_failure<InvalidHeader>(
        response_101().replace(response_101().find("websocket"), 9, "h2c"),
        "Upgrade header: isn't 'websocket'");
}

TEST(ClientHandshake_4_1, MissingConnection) {
    expect_failure<InvalidHeader>("HTTP/1.1 101 Switching Protocols\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                  "Connection header: missing");
}

TEST(ClientHandshake_4_1, ConnectionWithoutUpgradeToken) {
    expect_failure<InvalidHeader>("HTTP/1.1 101 Switching Protocols\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: keep-alive\r\n"
                                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                  "Connection header: doesn't contain the 'Upgrade' token");
}

TEST(ClientHandshake_4_1, MissingAccept) {
    expect_failure<InvalidHeader>("HTTP/1.1 101 Switching Protocols\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n\r\n",
                                  "Sec-WebSocket-Accept header: missing");
}

TEST(ClientHandshake_4_1, WrongAccept) {
    // RFC 6455 §4.1 item 4: the accept value must be base64(SHA-1(key + GUID)).
    expect_failure<InvalidHeader>(
        response_101({}, fixed_accept),
        "Sec-WebSocket-Accept header: '7Ubo2JRe6fIuZAdGHq7kDA4XEQ0=' doesn't match the key sent");
    expect_failure<InvalidHeader>(response_101({}, ""),
                                  "Sec-WebSocket-Accept header: '' doesn't match the key sent");
}

TEST(ClientHandshake_4_1, DuplicateAccept) {
    expect_failure<InvalidHeader>(
        response_101("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "Sec-WebSocket-Accept header: appears more than once");
}

TEST(ClientHandshake_4_1, UnofferedSubprotocol) {
    // RFC 6455 §4.1 item 6: a subprotocol "that was not present in the client's handshake"
    // fails the connection.
    ClientHandshakeOptions options;
    options.subprotocols = {"chat"};
    expect_failure<NegotiationError>(response_101("Sec-WebSocket-Protocol: superchat\r\n"),
                                     "server selected subprotocol 'superchat', which wasn't "
                                     "offered",
                                     options);
    expect_failure<NegotiationError>(response_101("Sec-WebSocket-Protocol: chat\r\n"),
                                     "server selected subprotocol 'chat', which wasn't offered");
}

TEST(ClientHandshake_4_1, TwoSubprotocols) {
    ClientHandshakeOptions options;
    options.subprotocols = {"chat", "superchat"};
    expect_failure<InvalidHeader>(
        response_101("Sec-WebSocket-Protocol: chat, superchat\r\n"),
        "Sec-WebSocket-Protocol header: 'chat, superchat' isn't a single subprotocol", options);
    expect_failure<InvalidHeader>(
        response_101("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n"),
        "Sec-WebSocket-Protocol header: appears more than once", options);
}

TEST(ClientHandshake_4_1, UnofferedExtension) {
    // RFC 6455 §4.1 item 5: an extension "not present in the client's handshake" fails the
    // connection.
    expect_failure<NegotiationError>(
        response_101("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        "server accepted extension 'permessage-deflate', which wasn't offered (or twice)");
}

TEST(ClientHandshake_4_1, MalformedExtensionHeader) {
    expect_failure<InvalidHeader>(
        response_101("Sec-WebSocket-Extensions: ;x\r\n"),
        "Sec-WebSocket-Extensions header: expected an extension name at offset 0 in \";x\"");
}

TEST(ClientHandshake_4_1, MalformedResponse) {
    expect_failure<InvalidHandshake>("HTTP/1.1 1O1 Switching Protocols\r\n\r\n",
                                     "invalid HTTP response: status code is not three digits", {},
                                     false);
    expect_failure<InvalidHandshake>("SSH-2.0-OpenSSH_9.2\r\n",
                                     "invalid HTTP response: status line is not 'HTTP/1.1 "
                                     "status reason'",
                                     {}, false);
}

TEST(ClientHandshake_4_1, OversizedHeadIsSecurityLimit) {
    // Small limits so every split stays cheap; the default limits are checked below.
    ProtocolOptions small = test_options();
    small.http_limits.max_line = 100;
    small.http_limits.max_headers = 5;
    small.http_limits.max_body = 20;
    expect_failure<SecurityLimit>(response_101("X-Long: " + std::string(93, 'x') + "\r\n"),
                                  "invalid HTTP response: header line longer than 100 bytes", {},
                                  false, small);
    // 92 bytes of value: a line of exactly 100 bytes is fine.
    {
        auto client = client_with_rfc_key({}, small);
        client->receive_data(response_101("X-Long: " + std::string(92, 'x') + "\r\n"));
        EXPECT_EQ(client->state(), State::open);
    }
    expect_failure<SecurityLimit>(response_101("A: 1\r\nB: 2\r\nC: 3\r\n"),
                                  "invalid HTTP response: more than 5 header fields", {}, false,
                                  small);
    expect_failure<SecurityLimit>(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 21\r\n\r\n" + std::string(21, 'b'),
        "invalid HTTP response: response body larger than 20 bytes", {}, false, small);
}

TEST(ClientHandshake_4_1, OversizedHeadWithDefaultLimits) {
    const std::string response = response_101("X-Long: " + std::string(9000, 'x') + "\r\n");
    {
        auto client = client_with_rfc_key();
        client->receive_data(response);
        EXPECT_TRUE(
            error_is<SecurityLimit>(client->handshake_error(),
                                    "invalid HTTP response: header line longer than 8192 bytes"));
        EXPECT_EQ(client->state(), State::closed);
        EXPECT_TRUE(client->eof_to_send());
        EXPECT_TRUE(drain(*client).empty());
    }
    {
        // Refused as soon as the line is too long, without waiting for its end.
        auto client = client_with_rfc_key();
        const std::size_t line_start = response.find("X-Long");
        client->receive_data(response.substr(0, line_start + 8192));
        EXPECT_EQ(client->state(), State::connecting);
        client->receive_data(response.substr(line_start + 8192, 1));
        EXPECT_EQ(client->state(), State::closed);
        EXPECT_TRUE(
            error_is<SecurityLimit>(client->handshake_error(),
                                    "invalid HTTP response: header line longer than 8192 bytes"));
    }
    {
        std::string many;
        for (int i = 0; i < 130; ++i)
            many += "X-" + std::to_string(i) + ": v\r\n";
        auto client = client_with_rfc_key();
        client->receive_data(response_101(many));
        EXPECT_TRUE(error_is<SecurityLimit>(client->handshake_error(),
                                            "invalid HTTP response: more than 128 header fields"));
    }
}

TEST(ClientHandshake_4_1, EofDuringHandshake) {
    const std::string response = response_101();
    for (std::size_t cut = 0; cut < response.size(); cut += 7) {
        SCOPED_TRACE("EOF after " + std::to_string(cut) + " bytes");
        auto client = client_with_rfc_key();
        client->receive_data(response.substr(0, cut));
        EXPECT_EQ(client->state(), State::connecting);
        client->receive_eof();
        EXPECT_EQ(client->state(), State::closed);
        EXPECT_TRUE(error_is<InvalidHandshake>(
            client->handshake_error(), "connection closed while waiting for the HTTP response"));
        EXPECT_TRUE(client->eof_to_send());
        EXPECT_FALSE(client->close_expected()) << "the server already closed";
        EXPECT_TRUE(drain(*client).empty());
        EXPECT_FALSE(client->has_output());
    }
}

TEST(ClientHandshake_4_1, ResponseBeforeRequest) {
    ClientProtocol client(parse_uri("ws://server.example.com/chat"), {}, test_options());
    client.receive_data(response_101());
    EXPECT_EQ(client.state(), State::closed);
    EXPECT_TRUE(error_is<InvalidHandshake>(client.handshake_error(),
                                           "received a response before sending the request"));
}

TEST(ClientHandshake_4_1, FailDuringHandshakeClosesWithoutFrame) {
    auto client = client_after_request();
    client->fail(1002, "give up");
    EXPECT_EQ(client->state(), State::closed);
    EXPECT_FALSE(client->has_output()) << "no close frame before the handshake";
    EXPECT_TRUE(client->eof_to_send());
    client->receive_data(response_101({}, fixed_accept));
    EXPECT_EQ(client->state(), State::closed);
    EXPECT_TRUE(drain(*client).empty());
}

} // namespace
} // namespace syncws::test
