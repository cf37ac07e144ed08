// The server's opening handshake (RFC 6455 §4.2): parsing and validating the request,
// negotiating, and the responses it builds (101 or a refusal).
#include "handshake_support.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <string>

namespace syncws::test {
namespace {

std::unique_ptr<ServerProtocol> make_server(ServerHandshakeOptions options = {},
                                            ProtocolOptions protocol = test_options()) {
    return std::make_unique<ServerProtocol>(std::move(options), std::move(protocol));
}

/// The one Request event of an outcome.
const Request* request_in(const Outcome& o) {
    if (o.events.size() != 1) return nullptr;
    return std::get_if<Request>(&o.events[0]);
}

/// The body of the engine's plain-text refusals.
std::string refusal_body(const std::string& why) {
    return "Failed to open a WebSocket connection: " + why + ".\n";
}

/// A refusal as `accept` or the engine writes it.
std::string refusal_bytes(int status, const std::string& reason, const std::string& why,
                          const std::string& extra_headers = {}) {
    const std::string body = refusal_body(why);
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Connection: close\r\n" +
           extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// The request with one header line removed (by name, as written in `rfc_request`).
std::string without(const std::string& request, const std::string& line_prefix) {
    std::string r = request;
    const std::size_t start = r.find(line_prefix);
    EXPECT_NE(start, std::string::npos) << line_prefix;
    r.erase(start, r.find("\r\n", start) + 2 - start);
    return r;
}

std::string with_line_replaced(const std::string& request, const std::string& line_prefix,
                               const std::string& new_line) {
    std::string r = request;
    const std::size_t start = r.find(line_prefix);
    EXPECT_NE(start, std::string::npos) << line_prefix;
    r.replace(start, r.find("\r\n", start) - start, new_line);
    return r;
}

// ----- success -------------------------------------------------------------------------------

TEST(ServerHandshake_4_2, Rfc6455ExampleExactBytes) {
    // RFC 6455 §1.3: the server's answer to the example request, with subprotocol "chat".
    ServerHandshakeOptions options;
    options.subprotocols = {"chat"};
    for_every_split([&] { return make_server(options); }, rfc_request(),
                    [&](ServerProtocol& server, const Outcome& o) {
                        const Request* request = request_in(o);
                        ASSERT_TRUE(request) << describe(o.events);
                        EXPECT_EQ(request->method, "GET");
                        EXPECT_EQ(request->target, "/chat");
                        EXPECT_EQ(request->headers.size(), 7u);
                        EXPECT_EQ(request->headers.get("Host"), "server.example.com");
                        EXPECT_EQ(request->headers.get("Origin"), "http://example.com");
                        EXPECT_EQ(request->headers.get("Sec-WebSocket-Protocol"),
                                  "chat, superchat");
                        EXPECT_EQ(o.output, "");
                        EXPECT_EQ(server.state(), State::connecting);

                        const Response response = server.accept(*request);
                        EXPECT_FALSE(server.handshake_error());
                        EXPECT_EQ(response.status, 101);
                        EXPECT_FALSE(server.has_output()) << "accept() only builds";
                        const std::string expected = "HTTP/1.1 101 Switching Protocols\r\n"
                                                     "Upgrade: websocket\r\n"
                                                     "Connection: Upgrade\r\n"
                                                     "Sec-WebSocket-Accept: "
                                                     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                                     "Sec-WebSocket-Protocol: chat\r\n"
                                                     "\r\n";
                        EXPECT_EQ(response.serialize(), expected);
                        server.send_response(response);
                        EXPECT_EQ(output(server), expected);
                        EXPECT_EQ(server.state(), State::open);
                        EXPECT_EQ(server.subprotocol(), "chat");
                        EXPECT_TRUE(server.extensions().empty());
                        EXPECT_FALSE(server.handshake_error());
                        EXPECT_FALSE(server.eof_to_send());
                        EXPECT_FALSE(server.close_expected());
                        EXPECT_TRUE(drain(server).empty());
                    });
}

TEST(ServerHandshake_4_2, NoSubprotocolsConfigured) {
    auto server = make_server();
    server->receive_data(rfc_request());
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    const Response response = server->accept(std::get<Request>(events[0]));
    EXPECT_EQ(response.serialize(), "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Upgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n"
                                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                    "\r\n");
    server->send_response(response);
    EXPECT_EQ(server->subprotocol(), "");
}

TEST(ServerHandshake_4_2, TokensAreCaseInsensitive) {
    const std::string request = "GET / HTTP/1.1\r\n"
                                "host: a\r\n"
                                "upgrade: WebSocket\r\n"
                                "connection: keep-alive, UPGRADE\r\n"
                                "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "sec-websocket-version: 13\r\n\r\n";
    auto server = make_server();
    server->receive_data(request);
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    const Response response = server->accept(std::get<Request>(events[0]));
    EXPECT_EQ(response.status, 101);
    EXPECT_EQ(response.headers.get("Sec-WebSocket-Accept"), rfc_accept);
    EXPECT_FALSE(server->handshake_error());
}

TEST(ServerHandshake_4_2, FramesInTheSameReadAsTheRequestAreNotLost) {
    const std::string input = rfc_request() + wire(Side::client, fin_bit | op_text, "Hello") +
                              wire(Side::client, fin_bit | op_ping, "p");
    for_every_split([] { return make_server(); }, input,
                    [&](ServerProtocol& server, const Outcome& o) {
                        const Request* request = request_in(o);
                        ASSERT_TRUE(request) << describe(o.events);
                        EXPECT_EQ(o.output, "") << "no pong before the handshake is done";
                        const Response response = server.accept(*request);
                        server.send_response(response);
                        EXPECT_TRUE(frames_are(drain(server), {make_frame(Opcode::text, "Hello"),
                                                               make_frame(Opcode::ping, "p")}));
                        EXPECT_EQ(output(server), response.serialize() +
                                                      wire(Side::server, fin_bit | op_pong, "p"));
                        EXPECT_EQ(server.state(), State::open);
                    });
}

TEST(ServerHandshake_4_2, InputWhileWaitingForTheResponseIsHeld) {
    auto server = make_server();
    server->receive_data(rfc_request());
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    server->receive_data(wire(Side::client, fin_bit | op_text, "early"));
    EXPECT_TRUE(drain(*server).empty());
    server->send_response(server->accept(std::get<Request>(events[0])));
    EXPECT_TRUE(frames_are(drain(*server), {make_frame(Opcode::text, "early")}));
}

TEST(ServerHandshake_4_2, SendResponseMisuse) {
    auto server = make_server();
    server->receive_data(rfc_request());
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    const Response response = server->accept(std::get<Request>(events[0]));
    server->send_response(response);
    EXPECT_THROW(server->send_response(response), InvalidState);
    ServerProtocol open({}, test_options(), State::open);
    EXPECT_THROW(open.send_response(response), InvalidState);
}

// ----- refusals by accept() --------------------------------------------------------------------

/// Feeds `request` in every split, then `accept`s it and sends the answer: checks the
/// status, the exact bytes and the error recorded.
template <typename E>
void expect_refusal(const std::string& request, int status, const std::string& reason,
                    const std::string& why, const std::string& extra_headers = {},
                    ServerHandshakeOptions options = {}) {
    for_every_split(
        [&] { return make_server(options); }, request,
        [&](ServerProtocol& server, const Outcome& o) {
            const Request* parsed = request_in(o);
            ASSERT_TRUE(parsed) << describe(o.events);
            const Response response = server.accept(*parsed);
            EXPECT_EQ(response.status, status);
            EXPECT_TRUE(error_is<E>(server.handshake_error(), why));
            EXPECT_EQ(server.state(), State::connecting) << "nothing happens before send_response";
            EXPECT_FALSE(server.has_output());
            server.send_response(response);
            EXPECT_EQ(output(server), refusal_bytes(status, reason, why, extra_headers));
            EXPECT_EQ(server.state(), State::closed);
            EXPECT_TRUE(server.eof_to_send());
            EXPECT_TRUE(error_is<E>(server.handshake_error(), why));
            EXPECT_THROW(server.send_text("x"), InvalidState);
        });
}

TEST(ServerHandshake_4_2, NonGetIs405) {
    // RFC 6455 §4.1: "The method of the request MUST be GET".
    std::string request = rfc_request();
    request.replace(0, 3, "POST");
    expect_refusal<InvalidHandshake>(request, 405, "Method Not Allowed", "expected GET, got POST",
                                     "Allow: GET\r\n");
}

TEST(ServerHandshake_4_2, MissingUpgradeIs426) {
    // RFC 6455 §4.2.1 item 3; 426 tells a plain HTTP client to upgrade.
    expect_refusal<InvalidHeader>(without(rfc_request(), "Upgrade:"), 426, "Upgrade Required",
                                  "Upgrade header: missing", "Upgrade: websocket\r\n");
    expect_refusal<InvalidHeader>(with_line_replaced(rfc_request(), "Upgrade:", "Upgrade: h2c"),
                                  426, "Upgrade Required", "Upgrade header: isn't 'websocket'",
                                  "Upgrade: websocket\r\n");
}

TEST(ServerHandshake_4_2, MissingConnectionIs426) {
    // RFC 6455 §4.2.1 item 4.
    expect_refusal<InvalidHeader>(without(rfc_request(), "Connection:"), 426, "Upgrade Required",
                                  "Connection header: missing", "Upgrade: websocket\r\n");
    expect_refusal<InvalidHeader>(
        with_line_replaced(rfc_request(), "Connection:", "Connection: keep-alive"), 426,
        "Upgrade Required", "Connection header: doesn't contain the 'Upgrade' token",
        "Upgrade: websocket\r\n");
}

TEST(ServerHandshake_4_2, MissingHostIs400) {
    // RFC 6455 §4.2.1 item 2; RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request)
    // status code to any HTTP/1.1 request message that lacks a Host header field and to any
    // request message that contains more than one Host header field".
    expect_refusal<InvalidHeader>(without(rfc_request(), "Host:"), 400, "Bad Request",
                                  "Host header: missing");
    expect_refusal<InvalidHeader>(rfc_request("Host: other.example.com\r\n"), 400, "Bad Request",
                                  "Host header: appears more than once");
}

TEST(ServerHandshake_4_2, KeyNotSixteenBytesIs400) {
    // RFC 6455 §4.2.1 item 5: "a base64-encoded value that, when decoded, is 16 bytes".
    for (const std::string key :
         {"c2hvcnQ=", "AAECAwQFBgcICQoLDA0ODxA=", "not base64!", "AAECAwQFBgcICQoLDA0ODw"}) {
        SCOPED_TRACE(key);
        expect_refusal<InvalidHeader>(
            with_line_replaced(rfc_request(), "Sec-WebSocket-Key:", "Sec-WebSocket-Key: " + key),
            400, "Bad Request", "Sec-WebSocket-Key header: '" + key + "' isn't 16 bytes in base64");
    }
    expect_refusal<InvalidHeader>(without(rfc_request(), "Sec-WebSocket-Key:"), 400, "Bad Request",
                                  "Sec-WebSocket-Key header: missing");
    expect_refusal<InvalidHeader>(rfc_request("Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODw==\r\n"),
                                  400, "Bad Request",
                                  "Sec-WebSocket-Key header: appears more than once");
}

TEST(ServerHandshake_4_2, VersionIs426WithSupportedVersion) {
    // RFC 6455 §4.4: "the server MUST ... abort the WebSocket handshake described in this
    // section and instead send an appropriate HTTP error code (such as 426 Upgrade
    // Required) and a |Sec-WebSocket-Version| header field indicating the version(s) the
    // server is capable of understanding."
    expect_refusal<InvalidHeader>(without(rfc_request(), "Sec-WebSocket-Version:"), 426,
                                  "Upgrade Required", "Sec-WebSocket-Version header: missing",
                                  "Sec-WebSocket-Version: 13\r\n");
    expect_refusal<InvalidHeader>(
        with_line_replaced(rfc_request(), "Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"),
        426, "Upgrade Required", "Sec-WebSocket-Version header: '8' isn't 13",
        "Sec-WebSocket-Version: 13\r\n");
}

TEST(ServerHandshake_4_2, OriginNotAllowedIs403) {
    // RFC 6455 §4.2.2 item 4 / §10.2: a server may refuse origins with 403.
    ServerHandshakeOptions options;
    options.origins = {"https://good.example"};
    expect_refusal<InvalidHeader>(rfc_request(), 403, "Forbidden",
                                  "Origin header: 'http://example.com' isn't allowed", {}, options);
    expect_refusal<InvalidHeader>(without(rfc_request(), "Origin:"), 403, "Forbidden",
                                  "Origin header: missing", {}, options);
}

TEST(ServerHandshake_4_2, AllowedOrigins) {
    const auto opens = [](const std::string& request, std::vector<std::string> origins) {
        ServerHandshakeOptions options;
        options.origins = std::move(origins);
        auto server = make_server(options);
        server->receive_data(request);
        const auto events = drain(*server);
        if (events.size() != 1) return false;
        const Response response = server->accept(std::get<Request>(events[0]));
        return response.status == 101 && !server->handshake_error();
    };
    EXPECT_TRUE(opens(rfc_request(), {"https://good.example", "http://example.com"}));
    EXPECT_TRUE(opens(rfc_request(), {}));
    EXPECT_TRUE(opens(without(rfc_request(), "Origin:"), {}));
    // An empty string in the list allows requests without Origin (non-browser clients).
    EXPECT_TRUE(opens(without(rfc_request(), "Origin:"), {"", "https://good.example"}));
    EXPECT_FALSE(opens(rfc_request(), {""}));
    // Origins are compared exactly (RFC 6454 serializations are lower-case).
    EXPECT_FALSE(opens(rfc_request(), {"http://example.com/"}));
}

// ----- subprotocols ----------------------------------------------------------------------------

std::unique_ptr<ServerProtocol> server_with_request(ServerHandshakeOptions options,
                                                    const std::string& protocol_lines,
                                                    Request& request) {
    auto server = make_server(std::move(options));
    std::string text = without(rfc_request(), "Sec-WebSocket-Protocol:");
    text.insert(text.size() - 2, protocol_lines);
    server->receive_data(text);
    auto events = drain(*server);
    EXPECT_EQ(events.size(), 1u);
    if (!events.empty()) request = std::get<Request>(events[0]);
    return server;
}

TEST(ServerHandshake_4_2, SubprotocolInServerOrderOfPreference) {
    // RFC 6455 §4.2.2 item 5.4: the server selects "one or none of the acceptable
    // protocols"; we follow our order, not the client's.
    ServerHandshakeOptions options;
    options.subprotocols = {"a", "b"};
    Request request;
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: b, a\r\n", request);
    const Response response = server->accept(request);
    EXPECT_EQ(response.headers.get_all("Sec-WebSocket-Protocol"),
              (std::vector<std::string_view>{"a"}));
    server->send_response(response);
    EXPECT_EQ(server->subprotocol(), "a");

    // Offers spread over several header lines count together.
    auto second = server_with_request(
        options, "Sec-WebSocket-Protocol: x\r\nSec-WebSocket-Protocol: b\r\n", request);
    EXPECT_EQ(second->accept(request).headers.get("Sec-WebSocket-Protocol"), "b");

    // Nothing in common: no header, still 101.
    auto none = server_with_request(options, "Sec-WebSocket-Protocol: x, y\r\n", request);
    const Response plain = none->accept(request);
    EXPECT_EQ(plain.status, 101);
    EXPECT_FALSE(plain.headers.contains("Sec-WebSocket-Protocol"));
    none->send_response(plain);
    EXPECT_EQ(none->subprotocol(), "");

    // Client offers none.
    auto silent = server_with_request(options, "", request);
    EXPECT_FALSE(silent->accept(request).headers.contains("Sec-WebSocket-Protocol"));
}

TEST(ServerHandshake_4_2, SubprotocolHookChooses) {
    ServerHandshakeOptions options;
    options.subprotocols = {"a", "b"};
    std::vector<std::string> seen;
    std::string seen_target;
    options.select_subprotocol =
        [&](const Request& r,
            const std::vector<std::string>& offered) -> std::optional<std::string> {
        seen = offered;
        seen_target = r.target;
        return "b";
    };
    Request request;
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: b, a\r\n", request);
    const Response response = server->accept(request);
    EXPECT_EQ(seen, (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(seen_target, "/chat");
    EXPECT_EQ(response.headers.get("Sec-WebSocket-Protocol"), "b");
    server->send_response(response);
    EXPECT_EQ(server->subprotocol(), "b");
}

TEST(ServerHandshake_4_2, SubprotocolHookReturnsNothing) {
    ServerHandshakeOptions options;
    options.subprotocols = {"a"};
    options.select_subprotocol = [](const Request&, const std::vector<std::string>&) {
        return std::optional<std::string>{};
    };
    Request request;
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: a\r\n", request);
    const Response response = server->accept(request);
    EXPECT_EQ(response.status, 101);
    EXPECT_FALSE(response.headers.contains("Sec-WebSocket-Protocol"));
}

TEST(ServerHandshake_4_2, SubprotocolHookRefusesWith400) {
    ServerHandshakeOptions options;
    options.select_subprotocol = [](const Request&,
                                    const std::vector<std::string>&) -> std::optional<std::string> {
        throw NegotiationError("no acceptable subprotocol");
    };
    Request request;
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: x\r\n", request);
    const Response response = server->accept(request);
    EXPECT_EQ(response.status, 400);
    EXPECT_TRUE(error_is<NegotiationError>(server->handshake_error(), "no acceptable subprotocol"));
    server->send_response(response);
    EXPECT_EQ(output(*server), refusal_bytes(400, "Bad Request", "no acceptable subprotocol"));
    EXPECT_EQ(server->state(), State::closed);
}

TEST(ServerHandshake_4_2, SubprotocolHookChoosingUnofferedIsMisuse) {
    ServerHandshakeOptions options;
    options.select_subprotocol = [](const Request&, const std::vector<std::string>&) {
        return std::optional<std::string>("z");
    };
    Request request;
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: x\r\n", request);
    EXPECT_THROW(server->accept(request), InvalidState);
}

TEST(ServerHandshake_4_2, MalformedSubprotocolHeaderIs400) {
    Request request;
    ServerHandshakeOptions options;
    options.subprotocols = {"a"};
    auto server = server_with_request(options, "Sec-WebSocket-Protocol: a b\r\n", request);
    const Response response = server->accept(request);
    EXPECT_EQ(response.status, 400);
    EXPECT_TRUE(error_is<InvalidHeader>(server->handshake_error(),
                                        "Sec-WebSocket-Protocol header: 'a b' isn't a list of "
                                        "tokens"));
}

// ----- reject() and other responses ------------------------------------------------------------

TEST(ServerHandshake_4_2, RejectBuildsPlainTextResponse) {
    auto server = make_server();
    server->receive_data(rfc_request());
    ASSERT_EQ(drain(*server).size(), 1u);
    Response response = server->reject(401, "Authentication required");
    EXPECT_EQ(response.status, 401);
    EXPECT_EQ(response.body, "Authentication required\n");
    EXPECT_TRUE(error_is<InvalidStatus>(
        server->handshake_error(), "server rejected WebSocket connection: HTTP 401",
        [](const InvalidStatus& e) { EXPECT_EQ(e.response().status, 401); }));
    response.headers.add("WWW-Authenticate", "Basic realm=\"chat\"");
    server->send_response(response);
    EXPECT_EQ(output(*server), "HTTP/1.1 401 Unauthorized\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Connection: close\r\n"
                               "WWW-Authenticate: Basic realm=\"chat\"\r\n"
                               "Content-Length: 24\r\n"
                               "\r\n"
                               "Authentication required\n");
    EXPECT_EQ(server->state(), State::closed);
    EXPECT_TRUE(server->eof_to_send());
    EXPECT_TRUE(server->close_expected());
}

TEST(ServerHandshake_4_2, SendResponseNon101Closes) {
    auto server = make_server();
    server->receive_data(rfc_request() + wire(Side::client, fin_bit | op_text, "x"));
    ASSERT_EQ(drain(*server).size(), 1u);
    Response response;
    response.status = 503;
    response.body = "busy";
    server->send_response(response);
    EXPECT_EQ(output(*server), "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
    EXPECT_EQ(server->state(), State::closed);
    EXPECT_TRUE(server->eof_to_send());
    EXPECT_TRUE(drain(*server).empty()) << "frames after a refused request are dropped";
    EXPECT_TRUE(error_is<InvalidStatus>(server->handshake_error(),
                                        "server rejected WebSocket connection: HTTP 503"));
}

TEST(ServerHandshake_4_2, HealthCheckWithoutUpgrade) {
    // A plain HTTP GET (load balancer probe) parses as a request; accept refuses it and the
    // application may answer it instead.
    auto server = make_server();
    server->receive_data(std::string("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::get<Request>(events[0]).target, "/healthz");
    Response ok = server->reject(200, "OK");
    server->send_response(ok);
    EXPECT_EQ(output(*server), "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Connection: close\r\n"
                               "Content-Length: 3\r\n\r\nOK\n");
    EXPECT_EQ(server->state(), State::closed);
}

TEST(ServerHandshake_4_2, EofDuringHandshake) {
    auto server = make_server();
    server->receive_data(rfc_request().substr(0, 20));
    server->receive_eof();
    EXPECT_EQ(server->state(), State::closed);
    EXPECT_TRUE(error_is<InvalidHandshake>(server->handshake_error(),
                                           "connection closed while reading the HTTP request"));
    EXPECT_FALSE(server->has_output());
    EXPECT_TRUE(server->eof_to_send());
}

// ----- limits and malformed heads: the engine answers itself -------------------------------------

/// Feeds `request` in every split; checks that no Request is reported, the engine answers
/// `status` itself and records an `E` with `why`.
template <typename E>
void expect_engine_refusal(const std::string& request, int status, const std::string& reason,
                           const std::string& why, ProtocolOptions protocol = test_options()) {
    for_every_split([&] { return make_server({}, protocol); }, request,
                    [&](ServerProtocol& server, const Outcome& o) {
                        EXPECT_TRUE(o.events.empty()) << describe(o.events);
                        EXPECT_EQ(o.output, refusal_bytes(status, reason, why));
                        EXPECT_EQ(server.state(), State::closed);
                        EXPECT_TRUE(o.eof_to_send);
                        EXPECT_TRUE(
                            error_is<E>(server.handshake_error(), "invalid HTTP request: " + why));
                        EXPECT_THROW(server.send_response(Response{}), InvalidState);
                    });
}

TEST(ServerHandshake_4_2, LongHeaderLineIs431) {
    ProtocolOptions small = test_options();
    small.http_limits.max_line = 100;
    expect_engine_refusal<SecurityLimit>(rfc_request("X-Long: " + std::string(93, 'x') + "\r\n"),
                                         431, "Request Header Fields Too Large",
                                         "header line longer than 100 bytes", small);
}

TEST(ServerHandshake_4_2, LongHeaderLineWithDefaultLimitsIs431) {
    // DESIGN defaults: lines up to 8192 bytes.
    const std::string why = "header line longer than 8192 bytes";
    auto server = make_server();
    server->receive_data(rfc_request("X-Long: " + std::string(8185, 'x') + "\r\n"));
    EXPECT_EQ(server->state(), State::closed);
    EXPECT_EQ(output(*server), refusal_bytes(431, "Request Header Fields Too Large", why));
    EXPECT_TRUE(error_is<SecurityLimit>(server->handshake_error(), "invalid HTTP request: " + why));
    EXPECT_TRUE(drain(*server).empty());

    auto fine = make_server();
    fine->receive_data(rfc_request("X-Long: " + std::string(8184, 'x') + "\r\n"));
    EXPECT_EQ(drain(*fine).size(), 1u);
    EXPECT_FALSE(fine->handshake_error());
}

TEST(ServerHandshake_4_2, TooManyHeadersIs431) {
    std::string many;
    for (int i = 0; i < 121; ++i)
        many += "X-" + std::to_string(i) + ": v\r\n";
    // rfc_request has 7 fields: 7 + 121 = 128 is the limit, one more is too many.
    {
        auto server = make_server();
        server->receive_data(rfc_request(many));
        EXPECT_EQ(drain(*server).size(), 1u);
        EXPECT_FALSE(server->handshake_error());
    }
    const std::string why = "more than 128 header fields";
    auto server = make_server();
    server->receive_data(rfc_request(many + "X-last: v\r\n"));
    EXPECT_TRUE(drain(*server).empty());
    EXPECT_EQ(output(*server), refusal_bytes(431, "Request Header Fields Too Large", why));
    EXPECT_TRUE(error_is<SecurityLimit>(server->handshake_error(), "invalid HTTP request: " + why));
    EXPECT_EQ(server->state(), State::closed);
    EXPECT_TRUE(server->eof_to_send());
}

TEST(ServerHandshake_4_2, TooManyHeadersSmallLimitEveryWay) {
    ProtocolOptions small = test_options();
    small.http_limits.max_headers = 7;
    expect_engine_refusal<SecurityLimit>(rfc_request("X-Eight: 8\r\n"), 431,
                                         "Request Header Fields Too Large",
                                         "more than 7 header fields", small);
}

TEST(ServerHandshake_4_2, MalformedRequestLineIs400) {
    expect_engine_refusal<InvalidHandshake>("GET /chat\r\nHost: a\r\n\r\n", 400, "Bad Request",
                                            "request line is not 'METHOD target HTTP/1.1'");
    expect_engine_refusal<InvalidHandshake>("G@T / HTTP/1.1\r\n\r\n", 400, "Bad Request",
                                            "request method is not a token");
    expect_engine_refusal<InvalidHandshake>("\x16\x03\x01\x02\x00\x01", 400, "Bad Request",
                                            "request method is not a token");
}

TEST(ServerHandshake_4_2, MalformedHeaderLineIs400) {
    expect_engine_refusal<InvalidHandshake>(rfc_request("Bad Header: x\r\n"), 400, "Bad Request",
                                            "whitespace in header name or before colon");
    expect_engine_refusal<InvalidHandshake>(rfc_request("NoColon\r\n"), 400, "Bad Request",
                                            "header line has no colon");
}

TEST(ServerHandshake_4_2, RequestWithBodyIs400) {
    expect_engine_refusal<InvalidHandshake>(rfc_request("Content-Length: 5\r\n") + "hello", 400,
                                            "Bad Request",
                                            "request has a body; a handshake request has none");
}

TEST(ServerHandshake_4_2, HandshakeErrorClearedByA101) {
    // accept() refused, the application answers 101 anyway with its own response: the
    // engine opens and the refusal no longer applies.
    auto server = make_server();
    server->receive_data(without(rfc_request(), "Sec-WebSocket-Version:"));
    const auto events = drain(*server);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(server->accept(std::get<Request>(events[0])).status, 426);
    EXPECT_TRUE(server->handshake_error());
    Response custom;
    custom.status = 101;
    custom.headers.add("Upgrade", "websocket");
    custom.headers.add("Connection", "Upgrade");
    custom.headers.add("Sec-WebSocket-Accept", std::string(rfc_accept));
    server->send_response(custom);
    EXPECT_EQ(server->state(), State::open);
    EXPECT_FALSE(server->handshake_error());
}

} // namespace
} // namespace syncws::test
