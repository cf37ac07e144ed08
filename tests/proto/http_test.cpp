// HTTP/1.1 messages of the opening handshake: Headers, serialization, parsing and limits
// (RFC 9110, RFC 9112, RFC 6455 §1.2 and §4).
#include "http_parser.hpp"

#include <syncws/http.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace syncws {
namespace {

using detail::HttpParseResult;
using detail::ParseStatus;
using namespace std::string_literals;

// ---------------------------------------------------------------------------------------
// Helpers: every parse is also run on every prefix of the input, which is what a caller
// sees when the bytes arrive split at any offset (the parser restarts from the start of
// its buffer on each call).

std::string describe(const HttpParseResult& r) {
    switch (r.status) {
    case ParseStatus::need_more:
        return "need_more";
    case ParseStatus::done:
        return "done(" + std::to_string(r.consumed) + ")";
    case ParseStatus::error:
        return "error(" + std::to_string(r.http_status) + ", \"" + r.message + "\"" +
               (r.limit_exceeded ? ", limit" : "") + ")";
    }
    return "?";
}

bool same(const HttpParseResult& a, const HttpParseResult& b) {
    return a.status == b.status && a.consumed == b.consumed && a.http_status == b.http_status &&
           a.message == b.message && a.limit_exceeded == b.limit_exceeded;
}

template <class Message, class Parse>
HttpParseResult parse_checked(Parse parse, std::string_view input, const HttpLimits& limits,
                              Message& out) {
    const HttpParseResult full = parse(input, limits, out);
    for (std::size_t k = 0; k < input.size(); ++k) {
        Message sentinel;
        sentinel.body = "sentinel";
        const HttpParseResult part = parse(input.substr(0, k), limits, sentinel);
        if (full.status == ParseStatus::done && k >= full.consumed) {
            EXPECT_TRUE(same(part, full)) << "prefix of " << k << " bytes: " << describe(part);
            continue;
        }
        // A prefix of a valid message needs more; a prefix of an invalid one needs more or
        // already shows the same error.
        const bool ok = part.status == ParseStatus::need_more ||
                        (full.status == ParseStatus::error && same(part, full));
        EXPECT_TRUE(ok) << "prefix of " << k << " bytes: " << describe(part)
                        << ", whole input: " << describe(full);
        if (part.status != ParseStatus::done) {
            EXPECT_EQ(sentinel.body, "sentinel") << "output written without done";
        }
    }
    return full;
}

HttpParseResult parse_request(std::string_view input, Request& out, const HttpLimits& limits = {}) {
    return parse_checked<Request>(detail::parse_request, input, limits, out);
}

HttpParseResult parse_response(std::string_view input, Response& out,
                               const HttpLimits& limits = {}) {
    return parse_checked<Response>(detail::parse_response, input, limits, out);
}

void expect_error(const HttpParseResult& r, int http_status, std::string_view message,
                  bool limit = false) {
    EXPECT_EQ(r.status, ParseStatus::error) << describe(r);
    EXPECT_EQ(r.http_status, http_status);
    EXPECT_EQ(r.message, message);
    EXPECT_EQ(r.limit_exceeded, limit);
    EXPECT_EQ(r.consumed, 0u);
}

HttpParseResult request_error(std::string_view input, const HttpLimits& limits = {}) {
    Request request;
    return parse_request(input, request, limits);
}

HttpParseResult response_error(std::string_view input, const HttpLimits& limits = {}) {
    Response response;
    return parse_response(input, response, limits);
}

HttpLimits small_limits() {
    HttpLimits limits;
    limits.max_line = 32;
    limits.max_headers = 3;
    limits.max_head = 128;
    limits.max_body = 16;
    return limits;
}

const std::string rfc6455_request = "GET /chat HTTP/1.1\r\n"
                                    "Host: server.example.com\r\n"
                                    "Upgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                    "Origin: http://example.com\r\n"
                                    "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                    "Sec-WebSocket-Version: 13\r\n"
                                    "\r\n";

const std::string rfc6455_response = "HTTP/1.1 101 Switching Protocols\r\n"
                                     "Upgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                     "Sec-WebSocket-Protocol: chat\r\n"
                                     "\r\n";

// ---------------------------------------------------------------------------------------
// Headers

TEST(HttpHeaders, AddKeepsOrderAndRepeats) {
    Headers h;
    h.add("Host", "example.com");
    h.add("X-A", "1");
    h.add("x-a", "2");
    ASSERT_EQ(h.size(), 3u);
    std::vector<Headers::Field> fields(h.begin(), h.end());
    EXPECT_EQ(fields[0], Headers::Field("Host", "example.com"));
    EXPECT_EQ(fields[1], Headers::Field("X-A", "1"));
    EXPECT_EQ(fields[2], Headers::Field("x-a", "2"));
}

TEST(HttpHeaders, LookupIsCaseInsensitive) {
    const Headers h{{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-A", "2"}};
    EXPECT_EQ(h.get("content-type"), "text/plain");
    EXPECT_EQ(h.get("X-a"), "1");
    EXPECT_EQ(h.get("missing"), std::nullopt);
    EXPECT_EQ(h.get_all("X-A"), (std::vector<std::string_view>{"1", "2"}));
    EXPECT_TRUE(h.get_all("nope").empty());
    EXPECT_EQ(h.count("x-a"), 2u);
    EXPECT_EQ(h.count("nope"), 0u);
    EXPECT_TRUE(h.contains("CONTENT-TYPE"));
    EXPECT_FALSE(h.contains("Content"));
}

TEST(HttpHeaders, SetReplacesAllInPlaceOfTheFirst) {
    Headers h{{"A", "1"}, {"B", "2"}, {"a", "3"}, {"C", "4"}};
    h.set("A", "x");
    EXPECT_EQ(h, (Headers{{"A", "x"}, {"B", "2"}, {"C", "4"}}));
    h.set("d", "y");
    EXPECT_EQ(h, (Headers{{"A", "x"}, {"B", "2"}, {"C", "4"}, {"d", "y"}}));
    h.set("b", "z"); // the name is spelled as given
    EXPECT_EQ(h, (Headers{{"A", "x"}, {"b", "z"}, {"C", "4"}, {"d", "y"}}));
}

TEST(HttpHeaders, RemoveReturnsCount) {
    Headers h{{"A", "1"}, {"B", "2"}, {"a", "3"}};
    EXPECT_EQ(h.remove("A"), 2u);
    EXPECT_EQ(h, (Headers{{"B", "2"}}));
    EXPECT_EQ(h.remove("A"), 0u);
    EXPECT_EQ(h.remove("b"), 1u);
    EXPECT_TRUE(h.empty());
}

TEST(HttpHeaders, HasTokenSearchesCommaSeparatedLists) {
    const Headers h{{"Connection", "keep-alive, Upgrade"},
                    {"connection", " close ,"},
                    {"Upgrade", "WebSocket"}};
    EXPECT_TRUE(h.has_token("Connection", "upgrade"));
    EXPECT_TRUE(h.has_token("connection", "KEEP-ALIVE"));
    EXPECT_TRUE(h.has_token("Connection", "close"));
    EXPECT_FALSE(h.has_token("Connection", "upgrad"));
    EXPECT_FALSE(h.has_token("Connection", "keep-alive, Upgrade"));
    EXPECT_TRUE(h.has_token("Upgrade", "websocket"));
    EXPECT_FALSE(h.has_token("Origin", "websocket"));
}

TEST(HttpHeaders, Equality) {
    EXPECT_EQ((Headers{{"A", "1"}}), (Headers{{"A", "1"}}));
    EXPECT_NE((Headers{{"A", "1"}}), (Headers{{"a", "1"}})); // exact bytes compare
    EXPECT_NE((Headers{{"A", "1"}, {"B", "2"}}), (Headers{{"B", "2"}, {"A", "1"}}));
}

// ---------------------------------------------------------------------------------------
// Serialization (RFC 9112 §3, §4, §5)

TEST(HttpSerialize_RFC9112, DefaultRequest) {
    EXPECT_EQ(Request{}.serialize(), "GET / HTTP/1.1\r\n\r\n");
}

TEST(HttpSerialize_RFC9112, RequestExactBytes) {
    Request r;
    r.target = "/chat?room=1";
    r.headers = {{"Host", "server.example.com"}, {"Upgrade", "websocket"}, {"X-Tab", "a\tb"}};
    EXPECT_EQ(r.serialize(), "GET /chat?room=1 HTTP/1.1\r\n"
                             "Host: server.example.com\r\n"
                             "Upgrade: websocket\r\n"
                             "X-Tab: a\tb\r\n"
                             "\r\n");
}

TEST(HttpSerialize_RFC9112, RequestBodyGetsContentLength) {
    Request r;
    r.method = "POST";
    r.body = "hello";
    EXPECT_EQ(r.serialize(), "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    r.headers.add("Content-Length", "5");
    EXPECT_EQ(r.serialize(), "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    r.headers.set("Content-Length", "4");
    EXPECT_THROW(r.serialize(), std::invalid_argument);
}

TEST(HttpSerialize_RFC9112, RequestRejectsBadMethodAndTarget) {
    for (const char* method : {"", "GE T", "GET\r\n", "G:T"}) {
        Request r;
        r.method = method;
        EXPECT_THROW(r.serialize(), std::invalid_argument) << method;
    }
    for (const char* target : {"", "/a b", "/a\r\nX: y", "/\x7f"}) {
        Request r;
        r.target = target;
        EXPECT_THROW(r.serialize(), std::invalid_argument) << target;
    }
}

TEST(HttpSerialize_RFC9112, HeaderInjectionIsImpossible) {
    const std::string bad_names[] = {"", "X Y", "X:Y", "X\r\nY", "X\n", "X\0"s, "(x)", "é"};
    for (const auto& name : bad_names) {
        Request request;
        request.headers.add(name, "v");
        EXPECT_THROW(request.serialize(), std::invalid_argument) << name;
        Response response;
        response.headers.add(name, "v");
        EXPECT_THROW(response.serialize(), std::invalid_argument) << name;
    }
    const std::string bad_values[] = {"a\r\nX-Injected: 1", "a\rb", "a\nb", "a\0b"s, "\r\n"};
    for (const auto& value : bad_values) {
        Request request;
        request.headers.add("X", value);
        EXPECT_THROW(request.serialize(), std::invalid_argument) << value;
        Response response;
        response.headers.add("X", value);
        EXPECT_THROW(response.serialize(), std::invalid_argument) << value;
    }
}

TEST(HttpSerialize_RFC9112, SwitchingProtocolsHasNoContentLength) {
    Response r;
    r.status = 101;
    r.headers = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}};
    EXPECT_EQ(r.serialize(), "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "\r\n");
}

TEST(HttpSerialize_RFC9112, EmptyBodyGetsContentLengthZero) {
    EXPECT_EQ(Response{}.serialize(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpSerialize_RFC9112, BodyAndCustomReason) {
    Response r;
    r.status = 403;
    r.reason = "Go Away";
    r.headers = {{"Content-Type", "text/plain"}};
    r.body = "no\n";
    EXPECT_EQ(r.serialize(), "HTTP/1.1 403 Go Away\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 3\r\n"
                             "\r\n"
                             "no\n");
}

TEST(HttpSerialize_RFC9112, NoContentStatusesHaveNoContentLength) {
    for (int status : {100, 101, 103, 204, 304}) {
        Response r;
        r.status = status;
        EXPECT_EQ(r.serialize(), "HTTP/1.1 " + std::to_string(status) + " " +
                                     std::string(reason_phrase(status)) + "\r\n\r\n");
        r.body = "x";
        EXPECT_THROW(r.serialize(), std::invalid_argument) << status;
    }
}

TEST(HttpSerialize_RFC9112, UnknownStatusHasEmptyReason) {
    Response r;
    r.status = 599;
    EXPECT_EQ(r.serialize(), "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpSerialize_RFC9112, ContentLengthSetByCallerIsChecked) {
    Response r;
    r.body = "abc";
    r.headers = {{"Content-Length", "3"}, {"X", "y"}};
    EXPECT_EQ(r.serialize(), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\nabc");
    for (const char* wrong : {"4", "", "3x", "-3", "+3", " 3"}) {
        r.headers.set("content-length", wrong);
        EXPECT_THROW(r.serialize(), std::invalid_argument) << wrong;
    }
}

TEST(HttpSerialize_RFC9112, TransferEncodingIsLeftToTheCaller) {
    Response r;
    r.headers = {{"Transfer-Encoding", "chunked"}};
    r.body = "3\r\nabc\r\n0\r\n\r\n";
    EXPECT_EQ(r.serialize(),
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    // RFC 9110 §8.6: never both.
    r.headers.add("Content-Length", "15");
    EXPECT_THROW(r.serialize(), std::invalid_argument);
}

TEST(HttpSerialize_RFC9112, RejectsInvalidStatusAndReason) {
    for (int status : {0, 99, 600, 1000, -101}) {
        Response r;
        r.status = status;
        EXPECT_THROW(r.serialize(), std::invalid_argument) << status;
    }
    for (const char* reason : {"OK\r\nX: y", "OK\n", "O\x01K"}) {
        Response r;
        r.reason = reason;
        EXPECT_THROW(r.serialize(), std::invalid_argument) << reason;
    }
    Response tab;
    tab.reason = "A\tB";
    EXPECT_EQ(tab.serialize(), "HTTP/1.1 200 A\tB\r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpSerialize_RFC9112, ReasonPhrases) {
    const std::pair<int, std::string_view> expected[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (const auto& [status, reason] : expected) {
        EXPECT_EQ(reason_phrase(status), reason) << status;
    }
    for (int unknown : {0, 99, 199, 299, 418, 599, 600, -1}) {
        EXPECT_EQ(reason_phrase(unknown), "") << unknown;
    }
}

TEST(HttpSerialize_RFC9112, RoundTrip) {
    Request request;
    request.target = "/a?b=c";
    request.headers = {{"Host", "h"}, {"X-Empty", ""}, {"X-Multi", "1"}, {"X-Multi", "2"}};
    Request parsed_request;
    const std::string request_bytes = request.serialize();
    EXPECT_EQ(parse_request(request_bytes, parsed_request).consumed, request_bytes.size());
    EXPECT_EQ(parsed_request.method, request.method);
    EXPECT_EQ(parsed_request.target, request.target);
    EXPECT_EQ(parsed_request.headers, request.headers);

    Response response;
    response.status = 503;
    response.headers = {{"Retry-After", "5"}};
    response.body = "busy";
    Response parsed_response;
    const std::string response_bytes = response.serialize();
    EXPECT_EQ(parse_response(response_bytes, parsed_response).consumed, response_bytes.size());
    EXPECT_EQ(parsed_response.status, 503);
    EXPECT_EQ(parsed_response.reason, "Service Unavailable");
    EXPECT_EQ(parsed_response.headers, (Headers{{"Retry-After", "5"}, {"Content-Length", "4"}}));
    EXPECT_EQ(parsed_response.body, "busy");
}

// ---------------------------------------------------------------------------------------
// Parsing requests (RFC 9112 §2, §3, §5; RFC 6455 §4.1)

TEST(HttpParseRequest_RFC9112, Rfc6455Example) {
    Request r;
    const auto result = parse_request(rfc6455_request, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, rfc6455_request.size());
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/chat");
    EXPECT_EQ(r.headers, (Headers{{"Host", "server.example.com"},
                                  {"Upgrade", "websocket"},
                                  {"Connection", "Upgrade"},
                                  {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                  {"Origin", "http://example.com"},
                                  {"Sec-WebSocket-Protocol", "chat, superchat"},
                                  {"Sec-WebSocket-Version", "13"}}));
    EXPECT_EQ(r.body, "");
}

TEST(HttpParseRequest_RFC9112, BytesAfterTheHeadAreNotConsumed) {
    // A client may send its first frames right behind the handshake.
    const std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s;
    Request r;
    const auto result = detail::parse_request(rfc6455_request + frames, {}, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, rfc6455_request.size());
    // Even bytes that look like HTTP.
    const auto again = detail::parse_request(rfc6455_request + rfc6455_request, {}, r);
    EXPECT_EQ(again.consumed, rfc6455_request.size());
}

TEST(HttpParseRequest_RFC9112, BareLfIsTolerated) {
    Request r;
    const std::string input = "GET /x HTTP/1.1\nHost: a\r\nX: b\n\n";
    const auto result = parse_request(input, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, input.size());
    EXPECT_EQ(r.headers, (Headers{{"Host", "a"}, {"X", "b"}}));
}

TEST(HttpParseRequest_RFC9112, ValuesAreTrimmedOfOws) {
    Request r;
    const std::string input = "GET / HTTP/1.1\r\nA:  \t x y \t\r\nB:\r\nC:\t\r\nD:z\r\n\r\n";
    ASSERT_EQ(parse_request(input, r).status, ParseStatus::done);
    EXPECT_EQ(r.headers, (Headers{{"A", "x y"}, {"B", ""}, {"C", ""}, {"D", "z"}}));
}

TEST(HttpParseRequest_RFC9112, NamesKeepTheirCaseAndOrder) {
    Request r;
    ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nx-B: 1\r\nX-b: 2\r\nA: 3\r\n\r\n", r).status,
              ParseStatus::done);
    EXPECT_EQ(r.headers, (Headers{{"x-B", "1"}, {"X-b", "2"}, {"A", "3"}}));
    EXPECT_EQ(r.headers.get_all("x-b"), (std::vector<std::string_view>{"1", "2"}));
}

TEST(HttpParseRequest_RFC9112, ValuesMayHoldObsText) {
    Request r;
    ASSERT_EQ(parse_request("GET /caf\xc3\xa9 HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", r).status,
              ParseStatus::done);
    EXPECT_EQ(r.target, "/caf\xc3\xa9");
    EXPECT_EQ(r.headers.get("X"), "caf\xc3\xa9");
}

TEST(HttpParseRequest_RFC9112, OtherMethodsAndTargets) {
    Request r;
    ASSERT_EQ(parse_request("OPTIONS * HTTP/1.1\r\n\r\n", r).status, ParseStatus::done);
    EXPECT_EQ(r.method, "OPTIONS");
    EXPECT_EQ(r.target, "*");
    ASSERT_EQ(parse_request("get http://h/p?q HTTP/1.1\r\n\r\n", r).status, ParseStatus::done);
    EXPECT_EQ(r.method, "get");
    EXPECT_EQ(r.target, "http://h/p?q");
}

TEST(HttpParseRequest_RFC9112, EmptyLinesBeforeTheRequestLineAreSkipped) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    Request r;
    const std::string input = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
    const auto result = parse_request(input, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, input.size());
    EXPECT_EQ(detail::parse_request("\r\n\r\n", {}, r).status, ParseStatus::need_more);
}

TEST(HttpParseRequest_RFC9112, ZeroContentLengthIsNotABody) {
    Request r;
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", r).status,
              ParseStatus::done);
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n", r).status,
              ParseStatus::done);
}

TEST(HttpParseRequest_RFC9112, IncompleteHeadNeedsMore) {
    Request r;
    for (const char* input : {"", "G", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n",
                              "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"}) {
        EXPECT_EQ(detail::parse_request(input, {}, r).status, ParseStatus::need_more) << input;
    }
}

struct ErrorCase {
    std::string input;
    int http_status;
    std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
    *os << testing::PrintToString(c.input);
}

class HttpRequestErrors_RFC9112 : public testing::TestWithParam<ErrorCase> {};

TEST_P(HttpRequestErrors_RFC9112, IsReportedWithStatusAndMessage) {
    expect_error(request_error(GetParam().input), GetParam().http_status, GetParam().message);
}

const std::string shape = "request line is not 'METHOD target HTTP/1.1'";
const std::string bare_cr = "bare CR (not followed by LF) in the HTTP head";

INSTANTIATE_TEST_SUITE_P(
    Malformed, HttpRequestErrors_RFC9112,
    testing::Values(
        // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
        ErrorCase{"GET /chat HTTP/1.0\r\n\r\n", 505,
                  "unsupported HTTP version 'HTTP/1.0' (need HTTP/1.1)"},
        ErrorCase{"GET /chat HTTP/2.0\r\n\r\n", 505,
                  "unsupported HTTP version 'HTTP/2.0' (need HTTP/1.1)"},
        ErrorCase{"GET /chat HTTP/1.2\r\n\r\n", 505,
                  "unsupported HTTP version 'HTTP/1.2' (need HTTP/1.1)"},
        ErrorCase{"GET /chat\r\n\r\n", 400, shape}, ErrorCase{"GET\r\n\r\n", 400, shape},
        ErrorCase{"\x01\r\n", 400, "request method is not a token"},
        ErrorCase{"GET  /chat HTTP/1.1\r\n\r\n", 400, shape},
        ErrorCase{" GET /chat HTTP/1.1\r\n\r\n", 400, shape},
        ErrorCase{"GET /chat  HTTP/1.1\r\n\r\n", 400, shape},
        ErrorCase{"GET /chat HTTP/1.1 \r\n\r\n", 400, shape},
        ErrorCase{"GET /chat HTTP/1.11\r\n\r\n", 400, shape},
        ErrorCase{"GET /chat HTTP/1\r\n\r\n", 400, shape},
        ErrorCase{"GET /chat http/1.1\r\n\r\n", 400, shape},
        ErrorCase{"GET /chat HTTP/1,1\r\n\r\n", 400, shape},
        ErrorCase{"GET /a b HTTP/1.1\r\n\r\n", 400, shape},
        ErrorCase{"G@T /chat HTTP/1.1\r\n\r\n", 400, "request method is not a token"},
        ErrorCase{"GET\t/chat HTTP/1.1\r\n\r\n", 400, "request method is not a token"},
        ErrorCase{"GET /ch\x01t HTTP/1.1\r\n\r\n", 400,
                  "request target contains a control character"},
        ErrorCase{"GET /ch\x7ft HTTP/1.1\r\n\r\n", 400,
                  "request target contains a control character"},
        ErrorCase{"GET /chat\rHTTP/1.1\r\n\r\n", 400, bare_cr},
        ErrorCase{"GET /chat HTTP/1.1\r\r\n\r\n", 400, bare_cr},
        // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
        ErrorCase{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
                  "whitespace in header name or before colon"},
        ErrorCase{"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400,
                  "whitespace in header name or before colon"},
        ErrorCase{"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400,
                  "whitespace in header name or before colon"},
        ErrorCase{"GET / HTTP/1.1\r\nHost\r\n\r\n", 400, "header line has no colon"},
        ErrorCase{"GET / HTTP/1.1\r\n: a\r\n\r\n", 400, "empty header name"},
        ErrorCase{"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400, "header name is not a token"},
        ErrorCase{"GET / HTTP/1.1\r\nHost\x01: a\r\n\r\n", 400, "header name is not a token"},
        ErrorCase{"GET / HTTP/1.1\r\nH\xc3\xa9: a\r\n\r\n", 400, "header name is not a token"},
        ErrorCase{"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400,
                  "header line starts with whitespace (obs-fold)"},
        ErrorCase{"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400,
                  "header line starts with whitespace (obs-fold)"},
        ErrorCase{"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s, 400,
                  "header value contains a control character"},
        ErrorCase{"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400,
                  "header value contains a control character"},
        ErrorCase{"GET / HTTP/1.1\r\nX: \x1b[0m\r\n\r\n", 400,
                  "header value contains a control character"},
        ErrorCase{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, bare_cr},
        ErrorCase{"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400, bare_cr},
        ErrorCase{"GET / HTTP/1.1\r\n\rX: a\r\n\r\n", 400, bare_cr},
        // A handshake has no body (RFC 9110 §9.3.1: request smuggling).
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400,
                  "request has a body; a handshake request has none"},
        ErrorCase{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                  "request has a body; a handshake request has none"},
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
                  "request has a body; a handshake request has none"},
        // RFC 9112 §6.3: an invalid Content-Length is an unrecoverable error.
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "invalid Content-Length"},
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: 0, 1\r\n\r\n", 400, "invalid Content-Length"},
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n", 400,
                  "invalid Content-Length"},
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, "invalid Content-Length"},
        ErrorCase{"GET / HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 400, "invalid Content-Length"}));

TEST(HttpParseRequest_RFC9112, ErrorsAreReportedBeforeTheHeadIsComplete) {
    Request r;
    // A TLS ClientHello sent to a plain-text port is refused at its first byte.
    auto result = detail::parse_request("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", {}, r);
    expect_error(result, 400, "request method is not a token");
    expect_error(detail::parse_request("\x16", {}, r), 400, "request method is not a token");
    expect_error(detail::parse_request("GET /\x01", {}, r), 400,
                 "request target contains a control character");
    expect_error(detail::parse_request("GET / HTTP/1.1\r\nHost :", {}, r), 400,
                 "whitespace in header name or before colon");
    expect_error(detail::parse_request("GET / HTTP/1.1\r\n ", {}, r), 400,
                 "header line starts with whitespace (obs-fold)");
    expect_error(detail::parse_request("GET / HTTP/1.1\r\nX: a\rb", {}, r), 400, bare_cr);
    // A CR at the end may be the start of CRLF.
    EXPECT_EQ(detail::parse_request("GET / HTTP/1.1\r\nX: a\r", {}, r).status,
              ParseStatus::need_more);
}

TEST(HttpParseRequest_RFC9112, NeverThrowsAndNeverWritesOnError) {
    Request r;
    r.method = "KEEP";
    std::string input = "GET / HTTP/1.1\r\nX: ";
    for (int c = 0; c < 256; ++c) {
        input += static_cast<char>(c);
        const auto result = detail::parse_request(input, {}, r);
        EXPECT_NE(result.status, ParseStatus::done);
    }
    EXPECT_EQ(r.method, "KEEP");
}

// ---------------------------------------------------------------------------------------
// Parsing responses (RFC 9112 §4, §6, §7; RFC 6455 §4.1)

TEST(HttpParseResponse_RFC9112, Rfc6455Example) {
    Response r;
    const auto result = parse_response(rfc6455_response, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, rfc6455_response.size());
    EXPECT_EQ(r.status, 101);
    EXPECT_EQ(r.reason, "Switching Protocols");
    EXPECT_EQ(r.headers, (Headers{{"Upgrade", "websocket"},
                                  {"Connection", "Upgrade"},
                                  {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
                                  {"Sec-WebSocket-Protocol", "chat"}}));
    EXPECT_EQ(r.body, "");
}

TEST(HttpParseResponse_RFC9112, FramesAfterTheHeadAreNotConsumed) {
    // The server's first frame may arrive in the same read as the 101 (RFC 6455 §4.1).
    Response r;
    const std::string frame = "\x81\x05Hello";
    const auto result = detail::parse_response(rfc6455_response + frame, {}, r);
    ASSERT_EQ(result.status, ParseStatus::done);
    EXPECT_EQ(result.consumed, rfc6455_response.size());
    EXPECT_EQ(r.body, "");
}

TEST(HttpParseResponse_RFC9112, InformationalResponsesHaveNoBody) {
    // RFC 9112 §6.3: 1xx, 204 and 304 end at the empty line, whatever Content-Length says.
    for (const char* head : {"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n",
                             "HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n",
                             "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                             "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"}) {
        Response r;
        const std::string input = std::string(head) + "hello";
        const auto result = parse_response(input, r);
        ASSERT_EQ(result.status, ParseStatus::done) << head;
        EXPECT_EQ(result.consumed, std::string_view(head).size());
        EXPECT_EQ(r.body, "");
    }
}

TEST(HttpParseResponse_RFC9112, ContentLengthBody) {
    Response r;
    const std::string input = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 11\r\n"
                              "\r\n"
                              "Bad request";
    const auto result = parse_response(input, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, input.size());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.reason, "Bad Request");
    EXPECT_EQ(r.body, "Bad request");
    // Bytes after the body stay in the buffer.
    EXPECT_EQ(detail::parse_response(input + "HTTP/1.1", {}, r).consumed, input.size());
}

TEST(HttpParseResponse_RFC9112, ZeroAndRepeatedContentLength) {
    Response r;
    const std::string empty = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    EXPECT_EQ(parse_response(empty + "x", r).consumed, empty.size());
    EXPECT_EQ(r.body, "");
    const std::string repeated =
        "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab";
    EXPECT_EQ(parse_response(repeated, r).consumed, repeated.size());
    EXPECT_EQ(r.body, "ab");
}

TEST(HttpParseResponse_RFC9112, NoLengthMeansNoBody) {
    // The body would end with the connection; the handshake does not wait for that.
    Response r;
    const std::string head = "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n";
    const auto result = parse_response(head + "Go away", r);
    ASSERT_EQ(result.status, ParseStatus::done);
    EXPECT_EQ(result.consumed, head.size());
    EXPECT_EQ(r.body, "");
}

TEST(HttpParseResponse_RFC9112, ChunkedBodyIsDecoded) {
    Response r;
    const std::string input = "HTTP/1.1 500 Internal Server Error\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "5\r\nhello\r\n"
                              "6;name=value ; x=\"y\"\r\n world\r\n"
                              "a \r\n, chunked!\r\n"
                              "000 ; last\r\n"
                              "X-Trailer: 1\r\n"
                              "\r\n";
    const auto result = parse_response(input + "rest", r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, input.size());
    EXPECT_EQ(r.body, "hello world, chunked!");
    // Trailers are not merged into the headers.
    EXPECT_EQ(r.headers, (Headers{{"Transfer-Encoding", "chunked"}}));
}

TEST(HttpParseResponse_RFC9112, ChunkedWithBareLfAndCodings) {
    Response r;
    const std::string input = "HTTP/1.1 200 OK\n"
                              "Transfer-Encoding: gzip\n"
                              "Transfer-Encoding: foo, CHUNKED\n"
                              "\n"
                              "3\nabc\n"
                              "0\n"
                              "\n";
    const auto result = parse_response(input, r);
    ASSERT_EQ(result.status, ParseStatus::done) << describe(result);
    EXPECT_EQ(result.consumed, input.size());
    EXPECT_EQ(r.body, "abc");
}

TEST(HttpParseResponse_RFC9112, NonChunkedTransferEncodingLeavesTheBodyUnread) {
    // RFC 9112 §6.1: the body then ends with the connection; we do not wait for it.
    Response r;
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
    const auto result = parse_response(head + "\x1f\x8b", r);
    ASSERT_EQ(result.status, ParseStatus::done);
    EXPECT_EQ(result.consumed, head.size());
    EXPECT_EQ(r.body, "");
}

TEST(HttpParseResponse_RFC9112, StatusLineVariants) {
    Response r;
    ASSERT_EQ(parse_response("HTTP/1.1 101\r\n\r\n", r).status, ParseStatus::done);
    EXPECT_EQ(r.status, 101);
    EXPECT_EQ(r.reason, "");
    ASSERT_EQ(parse_response("HTTP/1.1 101 \r\n\r\n", r).status, ParseStatus::done);
    EXPECT_EQ(r.reason, "");
    ASSERT_EQ(parse_response("HTTP/1.0 599 Any\tthing: goes \xff\r\n\r\n", r).status,
              ParseStatus::done);
    EXPECT_EQ(r.status, 599);
    EXPECT_EQ(r.reason, "Any\tthing: goes \xff");
    ASSERT_EQ(parse_response("HTTP/1.1 100 Continue\r\n\r\n", r).status, ParseStatus::done);
    EXPECT_EQ(r.status, 100);
}

TEST(HttpParseResponse_RFC9112, ObsFoldIsUnfolded) {
    // RFC 9112 §5.2: a user agent MUST replace each obs-fold with SP.
    Response r;
    const std::string input = "HTTP/1.1 101 Switching Protocols\r\n"
                              "X-Long: a\r\n"
                              "  b \r\n"
                              "\tc\r\n"
                              " \r\n"
                              "Y:\r\n"
                              " d\r\n"
                              "\r\n";
    ASSERT_EQ(parse_response(input, r).status, ParseStatus::done);
    EXPECT_EQ(r.headers, (Headers{{"X-Long", "a b c"}, {"Y", "d"}}));
}

TEST(HttpParseResponse_RFC9112, OutputIsReplacedWhenDone) {
    Response r;
    r.status = 1;
    r.reason = "old";
    r.headers = {{"Old", "1"}};
    r.body = "old";
    ASSERT_EQ(parse_response("HTTP/1.1 101 Switching Protocols\r\nNew: 2\r\n\r\n", r).status,
              ParseStatus::done);
    EXPECT_EQ(r.status, 101);
    EXPECT_EQ(r.headers, (Headers{{"New", "2"}}));
    EXPECT_EQ(r.body, "");
}

class HttpResponseErrors_RFC9112 : public testing::TestWithParam<ErrorCase> {};

TEST_P(HttpResponseErrors_RFC9112, IsReportedWithStatusAndMessage) {
    expect_error(response_error(GetParam().input), GetParam().http_status, GetParam().message);
}

const std::string status_shape = "status line is not 'HTTP/1.1 status reason'";

INSTANTIATE_TEST_SUITE_P(
    Malformed, HttpResponseErrors_RFC9112,
    testing::Values(
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
        ErrorCase{"<html>\r\n", 400, status_shape}, ErrorCase{"\r\n\r\n", 400, status_shape},
        ErrorCase{"HTTP/1.1\r\n\r\n", 400, status_shape},
        ErrorCase{"HTTP/1.1 10\r\n\r\n", 400, status_shape},
        ErrorCase{"HTTP/2 200 OK\r\n\r\n", 400, status_shape},
        ErrorCase{"http/1.1 101 x\r\n\r\n", 400, status_shape},
        ErrorCase{"HTTP/1.1  101 x\r\n\r\n", 400, "status code is not three digits"},
        ErrorCase{"HTTP/1.1\t101 x\r\n\r\n", 400, status_shape},
        ErrorCase{"HTTP/2.0 101 Switching Protocols\r\n\r\n", 505,
                  "unsupported HTTP version 'HTTP/2.0'"},
        ErrorCase{"HTTP/0.9 101 Switching Protocols\r\n\r\n", 505,
                  "unsupported HTTP version 'HTTP/0.9'"},
        ErrorCase{"HTTP/1.1 1o1 x\r\n\r\n", 400, "status code is not three digits"},
        ErrorCase{"HTTP/1.1 1010 x\r\n\r\n", 400, "status code is not three digits"},
        ErrorCase{"HTTP/1.1 abc x\r\n\r\n", 400, "status code is not three digits"},
        ErrorCase{"HTTP/1.1 099 x\r\n\r\n", 400, "status code is not between 100 and 599"},
        ErrorCase{"HTTP/1.1 600 x\r\n\r\n", 400, "status code is not between 100 and 599"},
        ErrorCase{"HTTP/1.1 999 x\r\n\r\n", 400, "status code is not between 100 and 599"},
        ErrorCase{"HTTP/1.1 101 Sw\x01tching\r\n\r\n", 400,
                  "reason phrase contains a control character"},
        ErrorCase{"HTTP/1.1 101 Sw\rtching\r\n\r\n", 400, bare_cr},
        // RFC 9112 §5
        ErrorCase{"HTTP/1.1 101 x\r\n Upgrade: websocket\r\n\r\n", 400,
                  "header line starts with whitespace (obs-fold)"},
        ErrorCase{"HTTP/1.1 101 x\r\nUpgrade : websocket\r\n\r\n", 400,
                  "whitespace in header name or before colon"},
        ErrorCase{"HTTP/1.1 101 x\r\nUpgrade\r\n\r\n", 400, "header line has no colon"},
        ErrorCase{"HTTP/1.1 101 x\r\nX: \x00\r\n\r\n"s, 400,
                  "header value contains a control character"},
        ErrorCase{"HTTP/1.1 101 x\r\nX: a\r\n \x01\r\n\r\n", 400,
                  "header value contains a control character"},
        // RFC 9112 §6
        ErrorCase{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length"},
        ErrorCase{"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab", 400,
                  "invalid Content-Length"},
        ErrorCase{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
                  "invalid Content-Length"},
        ErrorCase{"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\nab", 400,
                  "invalid Content-Length"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                  "3\r\nabc\r\n0\r\n\r\n",
                  400, "response has both Transfer-Encoding and Content-Length"},
        ErrorCase{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                  "HTTP/1.0 response with Transfer-Encoding"},
        // RFC 9112 §7.1
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
                  "malformed chunk size"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400,
                  "malformed chunk size"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", 400,
                  "malformed chunk size"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 2\r\n", 400,
                  "malformed chunk size"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400,
                  "malformed chunk size"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;\x01\r\n", 400,
                  "chunk extension contains a control character"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\rx\r\n", 400,
                  "bare CR (not followed by LF) in a chunk size line"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400,
                  "chunk data not followed by CRLF"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rd\r\n", 400,
                  "chunk data not followed by CRLF"},
        ErrorCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n"
                  "\r\n",
                  400, "whitespace in header name or before colon"}));

TEST(HttpParseResponse_RFC9112, GarbageIsRefusedAtOnce) {
    Response r;
    expect_error(detail::parse_response("<", {}, r), 400, status_shape);
    expect_error(detail::parse_response("HTTP/1.1 6", {}, r), 400,
                 "status code is not between 100 and 599");
    expect_error(detail::parse_response("SSH-2.0-OpenSSH_9.2p1 Debian\r\n", {}, r), 400,
                 status_shape);
}

// ---------------------------------------------------------------------------------------
// Limits: at exactly the limit, and one beyond (DESIGN: defaults and limits)

std::string line_of(std::size_t size, std::string_view prefix) {
    std::string line(prefix);
    line.resize(size, 'a');
    return line;
}

TEST(HttpLimits_RFC9112, RequestLineAtTheLimit) {
    const HttpLimits limits = small_limits();
    Request r;
    const std::string line = line_of(limits.max_line - 9, "GET /") + " HTTP/1.1";
    ASSERT_EQ(line.size(), limits.max_line);
    EXPECT_EQ(parse_request(line + "\r\n\r\n", r, limits).status, ParseStatus::done);
    EXPECT_EQ(r.target.size(), limits.max_line - 13);
    // A CR right at the limit may still be followed by LF.
    EXPECT_EQ(detail::parse_request(line + "\r", limits, r).status, ParseStatus::need_more);
}

TEST(HttpLimits_RFC9112, RequestLineBeyondTheLimitIs414) {
    const HttpLimits limits = small_limits();
    const std::string line = line_of(limits.max_line - 8, "GET /") + " HTTP/1.1";
    expect_error(request_error(line + "\r\n\r\n", limits), 414, "request line longer than 32 bytes",
                 true);
    // Known without waiting for the end of the line.
    expect_error(request_error(line_of(limits.max_line + 1, "GET /"), limits), 414,
                 "request line longer than 32 bytes", true);
    expect_error(request_error(line_of(limits.max_line, "GET /") + "\r\r\n", limits), 414,
                 "request line longer than 32 bytes", true);
    // The default limit.
    Request r;
    expect_error(detail::parse_request(line_of(8193, "GET /"), {}, r), 414,
                 "request line longer than 8192 bytes", true);
    EXPECT_EQ(detail::parse_request(line_of(8192, "GET /"), {}, r).status, ParseStatus::need_more);
}

TEST(HttpLimits_RFC9112, HeaderLineAtAndBeyondTheLimit) {
    const HttpLimits limits = small_limits();
    Request r;
    const std::string head = "GET / HTTP/1.1\r\n";
    const std::string at_limit = line_of(limits.max_line, "X: ");
    EXPECT_EQ(parse_request(head + at_limit + "\r\n\r\n", r, limits).status, ParseStatus::done);
    EXPECT_EQ(r.headers.get("X")->size(), limits.max_line - 3);
    EXPECT_EQ(detail::parse_request(head + at_limit + "\r", limits, r).status,
              ParseStatus::need_more);
    const std::string beyond = line_of(limits.max_line + 1, "X: ");
    expect_error(request_error(head + beyond + "\r\n\r\n", limits), 431,
                 "header line longer than 32 bytes", true);
    expect_error(detail::parse_request(head + beyond, limits, r), 431,
                 "header line longer than 32 bytes", true);
    expect_error(detail::parse_request(head + line_of(8193, "X: "), {}, r), 431,
                 "header line longer than 8192 bytes", true);
}

TEST(HttpLimits_RFC9112, HeaderCountAtAndBeyondTheLimit) {
    const HttpLimits limits = small_limits();
    Request r;
    const std::string head = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
    EXPECT_EQ(parse_request(head + "\r\n", r, limits).status, ParseStatus::done);
    EXPECT_EQ(r.headers.size(), limits.max_headers);
    expect_error(request_error(head + "D: 4\r\n\r\n", limits), 431, "more than 3 header fields",
                 true);
    // Known from the first byte of the extra line.
    expect_error(detail::parse_request(head + "D", limits, r), 431, "more than 3 header fields",
                 true);
    EXPECT_EQ(detail::parse_request(head + "\r", limits, r).status, ParseStatus::need_more);

    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 129; ++i) {
        many += "X: 1\r\n";
    }
    expect_error(detail::parse_request(many, {}, r), 431, "more than 128 header fields", true);
}

TEST(HttpLimits_RFC9112, HeadSizeAtAndBeyondTheLimit) {
    HttpLimits limits = small_limits();
    limits.max_line = 64;
    Request r;
    // 16 + 55 + 55 + 2 = 128 bytes, the final empty line included.
    const std::string at_limit =
        "GET / HTTP/1.1\r\n" + line_of(53, "A: ") + "\r\n" + line_of(53, "B: ") + "\r\n\r\n";
    ASSERT_EQ(at_limit.size(), limits.max_head);
    EXPECT_EQ(parse_request(at_limit, r, limits).status, ParseStatus::done);
    const std::string beyond =
        "GET / HTTP/1.1\r\n" + line_of(53, "A: ") + "\r\n" + line_of(54, "B: ") + "\r\n\r\n";
    expect_error(request_error(beyond, limits), 431, "HTTP head larger than 128 bytes", true);
    // Known as soon as byte max_head + 1 arrives, before the end of the head.
    const std::string longer = "GET / HTTP/1.1\r\n" + line_of(53, "A: ") + "\r\n" +
                               line_of(53, "B: ") + "\r\nC: 1\r\n\r\n";
    expect_error(detail::parse_request(longer.substr(0, limits.max_head + 1), limits, r), 431,
                 "HTTP head larger than 128 bytes", true);
    EXPECT_EQ(detail::parse_request(longer.substr(0, limits.max_head), limits, r).status,
              ParseStatus::need_more);
}

TEST(HttpLimits_RFC9112, TheProblemSeenFirstIsReported) {
    // Bytes arrive in order, so of two problems the one a shorter prefix reveals wins,
    // whether the input arrives whole or split (parse_request checks every prefix).
    HttpLimits limits;
    const std::string bare_cr_input = "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n";
    // The CR at offset 20 is known to be bare once byte 22 arrives; the head is known to be
    // too large at byte max_head + 1.
    limits.max_head = 21;
    expect_error(request_error(bare_cr_input, limits), 431, "HTTP head larger than 21 bytes", true);
    limits.max_head = 22;
    expect_error(request_error(bare_cr_input, limits), 400, bare_cr);

    const std::string long_line = "GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    // The request line fits; the header line is known to be too long when byte
    // 16 + 14 + 1 = 31 arrives, the head when byte max_head + 1 does.
    limits.max_line = 14;
    limits.max_head = 29;
    expect_error(request_error(long_line, limits), 431, "HTTP head larger than 29 bytes", true);
    limits.max_head = 30; // a tie: the head size is checked first
    expect_error(request_error(long_line, limits), 431, "HTTP head larger than 30 bytes", true);
    limits.max_head = 31;
    expect_error(request_error(long_line, limits), 431, "header line longer than 14 bytes", true);
}

TEST(HttpLimits_RFC9112, EmptyLinesBeforeTheRequestCountTowardsTheHead) {
    const HttpLimits limits = small_limits();
    expect_error(request_error(std::string(limits.max_head + 1, '\n'), limits), 431,
                 "HTTP head larger than 128 bytes", true);
}

TEST(HttpLimits_RFC9112, StatusLineBeyondTheLimit) {
    const HttpLimits limits = small_limits();
    Response r;
    const std::string at_limit = line_of(limits.max_line, "HTTP/1.1 101 ");
    EXPECT_EQ(parse_response(at_limit + "\r\n\r\n", r, limits).status, ParseStatus::done);
    expect_error(response_error(at_limit + "a\r\n\r\n", limits), 431,
                 "status line longer than 32 bytes", true);
}

TEST(HttpLimits_RFC9112, ResponseBodyAtAndBeyondTheLimit) {
    const HttpLimits limits = small_limits();
    Response r;
    const std::string at_limit =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 16\r\n\r\n" + std::string(16, 'b');
    EXPECT_EQ(parse_response(at_limit, r, limits).consumed, at_limit.size());
    EXPECT_EQ(r.body, std::string(16, 'b'));
    // Refused from the head, without waiting for the body.
    expect_error(response_error("HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n", limits),
                 413, "response body larger than 16 bytes", true);
    expect_error(response_error(
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
                 413, "response body larger than 1048576 bytes", true);
    // Without a limit, a length beyond 64 bits is refused rather than wrapped (2^64 -> 0).
    HttpLimits unlimited;
    unlimited.max_body = static_cast<std::size_t>(-1);
    expect_error(response_error("HTTP/1.1 400 Bad Request\r\nContent-Length: "
                                "18446744073709551616\r\n\r\n",
                                unlimited),
                 413, "response body larger than " + std::to_string(unlimited.max_body) + " bytes",
                 true);
}

TEST(HttpLimits_RFC9112, ChunkedBodyAtAndBeyondTheLimit) {
    const HttpLimits limits = small_limits();
    Response r;
    const std::string head = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string at_limit = head + "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
    EXPECT_EQ(parse_response(at_limit, r, limits).consumed, at_limit.size());
    EXPECT_EQ(r.body, "1234567812345678");
    expect_error(response_error(head + "8\r\n12345678\r\n9\r\n123456789\r\n0\r\n\r\n", limits), 413,
                 "response body larger than 16 bytes", true);
    expect_error(response_error(head + "11\r\n", limits), 413, "response body larger than 16 bytes",
                 true);
    // A huge size is refused at its first digit beyond the budget, and never overflows.
    expect_error(response_error(head + "ffffffffffffffffffffffff\r\n"), 413,
                 "response body larger than 1048576 bytes", true);
    // Without a limit, a size beyond 64 bits is refused rather than wrapped to 0.
    HttpLimits unlimited;
    unlimited.max_body = static_cast<std::size_t>(-1);
    expect_error(response_error(head + "10000000000000000\r\n\r\n", unlimited), 413,
                 "response body larger than " + std::to_string(unlimited.max_body) + " bytes",
                 true);
    // Leading zeros do not count against the size.
    EXPECT_EQ(parse_response(head + "00000000000000000000000001\r\na\r\n0\r\n\r\n", r).status,
              ParseStatus::done);
    expect_error(response_error(head + line_of(33, "1;") + "\r\n", limits), 431,
                 "chunk size line longer than 32 bytes", true);
}

TEST(HttpLimits_RFC9112, TrailerLimits) {
    const HttpLimits limits = small_limits();
    const std::string head = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    Response r;
    EXPECT_EQ(parse_response(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", r, limits).status,
              ParseStatus::done);
    expect_error(response_error(head + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits), 431,
                 "more than 3 trailer fields", true);
    expect_error(response_error(head + line_of(33, "A: ") + "\r\n\r\n", limits), 431,
                 "trailer line longer than 32 bytes", true);
}

TEST(HttpLimits_RFC9112, ZeroLimits) {
    HttpLimits limits;
    limits.max_headers = 0;
    limits.max_body = 0;
    Request r;
    EXPECT_EQ(parse_request("GET / HTTP/1.1\r\n\r\n", r, limits).status, ParseStatus::done);
    expect_error(request_error("GET / HTTP/1.1\r\nA: 1\r\n\r\n", limits), 431,
                 "more than 0 header fields", true);
    Response resp;
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", resp, {}).status,
              ParseStatus::done);
    HttpLimits no_body;
    no_body.max_body = 0;
    expect_error(response_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", no_body), 413,
                 "response body larger than 0 bytes", true);
}

} // namespace
} // namespace syncws
