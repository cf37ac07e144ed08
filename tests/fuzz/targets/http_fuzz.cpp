// Fuzzes the HTTP/1.1 head parsers (RFC 9112) with arbitrary bytes: the opening
// handshake is the first thing a peer sends, before anything is authenticated.
//
// Contract, for parse_request and parse_response with small limits:
// - never throws (std::bad_alloc aside);
// - need_more and error consume nothing; done consumes 1..size bytes;
// - an error has a message and one of the documented statuses;
// - the output is written only when done;
// - stateless try-parsing: the input cut right after `consumed` gives the same result, and
//   cut one byte earlier needs more; a prefix of an input that fails needs more or fails
//   the same way;
// - what was parsed serializes and parses back to the same message.
#include "http_parser.hpp"

#include <syncws/http.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <string_view>

namespace {

using syncws::detail::HttpParseResult;
using syncws::detail::ParseStatus;

// A broken contract aborts, so libFuzzer (or the standalone runner) reports the input.
void check(bool condition, int line = __builtin_LINE()) {
    if (!condition) {
        std::fprintf(stderr, "http_fuzz.cpp:%d: check failed\n", line);
        __builtin_trap();
    }
}

bool same(const HttpParseResult& a, const HttpParseResult& b) {
    return a.status == b.status && a.consumed == b.consumed && a.http_status == b.http_status &&
           a.message == b.message && a.limit_exceeded == b.limit_exceeded;
}

syncws::HttpLimits small_limits() {
    syncws::HttpLimits limits;
    limits.max_line = 200;
    limits.max_headers = 12;
    limits.max_head = 1024;
    limits.max_body = 512;
    return limits;
}

template <class Message, class Parse>
HttpParseResult check_parse(Parse parse, std::string_view input, const syncws::HttpLimits& limits,
                            Message& out) {
    out.body = "untouched";
    const HttpParseResult result = parse(input, limits, out);
    check(result.consumed <= input.size());
    switch (result.status) {
    case ParseStatus::need_more:
        check(result.consumed == 0 && out.body == "untouched");
        break;
    case ParseStatus::error:
        check(result.consumed == 0 && out.body == "untouched");
        check(!result.message.empty());
        check(result.http_status == 400 || result.http_status == 413 || result.http_status == 414 ||
              result.http_status == 431 || result.http_status == 505);
        check(result.limit_exceeded == (result.http_status == 413 || result.http_status == 414 ||
                                        result.http_status == 431));
        break;
    case ParseStatus::done:
        check(result.consumed > 0);
        break;
    }
    return result;
}

template <class Message, class Parse>
void check_prefixes(Parse parse, std::string_view input, const syncws::HttpLimits& limits,
                    const HttpParseResult& full) {
    Message scratch;
    if (full.status == ParseStatus::done) {
        check(same(parse(input.substr(0, full.consumed), limits, scratch), full));
        check(parse(input.substr(0, full.consumed - 1), limits, scratch).status ==
              ParseStatus::need_more);
        return;
    }
    for (const std::size_t cut : {input.size() / 2, input.size() - 1}) {
        if (cut >= input.size()) {
            continue;
        }
        const HttpParseResult part = parse(input.substr(0, cut), limits, scratch);
        check(part.status == ParseStatus::need_more ||
              (full.status == ParseStatus::error && same(part, full)));
    }
}

syncws::HttpLimits no_limits() {
    syncws::HttpLimits limits;
    limits.max_line = limits.max_headers = limits.max_head = limits.max_body =
        static_cast<std::size_t>(-1);
    return limits;
}

void fuzz_request(std::string_view input) {
    const auto parse = syncws::detail::parse_request;
    const syncws::HttpLimits limits = small_limits();
    syncws::Request request;
    const HttpParseResult result = check_parse(parse, input, limits, request);
    check_prefixes<syncws::Request>(parse, input, limits, result);
    if (result.status != ParseStatus::done) {
        return;
    }
    check(request.body.empty());
    // Content-Length: 0, 0 is accepted but not re-sent as is.
    if (request.headers.contains("Content-Length")) {
        return;
    }
    const std::string bytes = request.serialize();
    syncws::Request again;
    const HttpParseResult reparsed = check_parse(parse, bytes, no_limits(), again);
    check(reparsed.status == ParseStatus::done && reparsed.consumed == bytes.size());
    check(again.method == request.method && again.target == request.target &&
          again.headers == request.headers && again.body.empty());
}

void fuzz_response(std::string_view input) {
    const auto parse = syncws::detail::parse_response;
    const syncws::HttpLimits limits = small_limits();
    syncws::Response response;
    const HttpParseResult result = check_parse(parse, input, limits, response);
    check_prefixes<syncws::Response>(parse, input, limits, result);
    if (result.status != ParseStatus::done) {
        return;
    }
    check(response.status >= 100 && response.status <= 599);
    check(response.body.size() <= limits.max_body);
    // Framing headers are re-sent as the caller wrote them, and checked against the body.
    if (response.headers.contains("Content-Length") ||
        response.headers.contains("Transfer-Encoding")) {
        return;
    }
    const std::string bytes = response.serialize();
    syncws::Response again;
    const HttpParseResult reparsed = check_parse(parse, bytes, no_limits(), again);
    check(reparsed.status == ParseStatus::done && reparsed.consumed == bytes.size());
    check(again.status == response.status && again.body == response.body);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        fuzz_request(input);
        fuzz_response(input);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (...) {
        __builtin_trap(); // peer input must never make the parsers throw
    }
    return 0;
}
