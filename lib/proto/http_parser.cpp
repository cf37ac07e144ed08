// Try-parsing of HTTP/1.1 heads from a buffer (RFC 9112), with limits.
//
// The parser is stateless: each call parses from the start of the buffer. Each check
// reports a problem at the length of the shortest prefix of the input that reveals it,
// and when several apply the one revealed first wins. So a peer's garbage is refused as
// soon as it arrives (not after max_head bytes), and feeding the input in any chunks
// gives the same error as feeding it at once.
#include "http_parser.hpp"

#include "headers.hpp"

#include <optional>
#include <string>
#include <vector>

namespace syncws::detail {
namespace {

constexpr std::size_t npos = std::string_view::npos;

constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_ctl(char c) noexcept {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
}

/// A problem in the input.
struct Violation {
    /// Length of the shortest input prefix that reveals the problem.
    std::size_t at = 0;
    int http_status = 400;
    std::string message;
    bool limit = false;
};

using Found = std::optional<Violation>;

/// Keeps the violation a reader of the stream would see first; on a tie, the one found
/// first (so checks run in a fixed order: head size, line length, field count, grammar).
void keep_earliest(Found& best, Found candidate) {
    if (candidate && (!best || candidate->at < best->at)) {
        best = std::move(candidate);
    }
}

HttpParseResult need_more() {
    return {};
}

HttpParseResult failure(Violation v) {
    HttpParseResult result;
    result.status = ParseStatus::error;
    result.http_status = v.http_status;
    result.message = std::move(v.message);
    result.limit_exceeded = v.limit;
    return result;
}

HttpParseResult success(std::size_t consumed) {
    HttpParseResult result;
    result.status = ParseStatus::done;
    result.consumed = consumed;
    return result;
}

std::string bytes(std::size_t n) {
    return std::to_string(n) + " bytes";
}

/// One line of the input, complete or not.
struct Line {
    std::size_t start = 0;
    /// End of the content: the line ending is excluded, and for an incomplete line a
    /// final CR too, since it may be the start of CRLF.
    std::size_t content_end = 0;
    /// After the LF; the input size for an incomplete line.
    std::size_t end = 0;
    bool complete = false;

    std::size_t size() const noexcept { return content_end - start; }
    std::string_view content(std::string_view in) const { return in.substr(start, size()); }
};

Line find_line(std::string_view in, std::size_t start) {
    Line line;
    line.start = start;
    const std::size_t lf = in.find('\n', start);
    line.complete = lf != npos;
    line.end = line.complete ? lf + 1 : in.size();
    line.content_end = line.complete ? lf : in.size();
    // RFC 9112 §2.2: "Although the line terminator for the start-line and fields is the
    // sequence CRLF, a recipient MAY recognize a single LF as a line terminator and ignore
    // any preceding CR."
    if (line.content_end > start && in[line.content_end - 1] == '\r') {
        --line.content_end;
    }
    return line;
}

/// A bad byte at `index`. A CR is known to be bad only once the byte after it (not LF)
/// has arrived.
Violation bad_byte(std::string_view in, std::size_t index, std::string message,
                   int http_status = 400) {
    return {index + (in[index] == '\r' ? 2 : 1), http_status, std::move(message), false};
}

// RFC 9112 §2.2: "A sender MUST NOT generate a bare CR (a CR character not immediately
// followed by LF) within any protocol elements other than the content. A recipient of
// such a bare CR MUST consider that element to be invalid".
Violation bare_cr(std::string_view in, std::size_t index) {
    return bad_byte(in, index, "bare CR (not followed by LF) in the HTTP head");
}

Found check_head_size(const Line& line, const HttpLimits& limits) {
    if (line.end <= limits.max_head) {
        return std::nullopt;
    }
    return Violation{limits.max_head + 1, 431, "HTTP head larger than " + bytes(limits.max_head),
                     true};
}

Found check_length(std::string_view in, const Line& line, std::size_t max_line, int http_status,
                   const char* what) {
    if (line.size() <= max_line) {
        return std::nullopt;
    }
    const std::size_t first_beyond = line.start + max_line;
    Violation v = bad_byte(in, first_beyond, std::string(what) + " longer than " + bytes(max_line),
                           http_status);
    v.limit = true;
    return v;
}

Found check_count(std::string_view in, const Line& line, std::size_t count, std::size_t max,
                  const char* what) {
    if (count < max || line.size() == 0) {
        return std::nullopt;
    }
    Violation v = bad_byte(in, line.start, "more than " + std::to_string(max) + " " + what, 431);
    v.limit = true;
    return v;
}

constexpr std::string_view request_shape = "request line is not 'METHOD target HTTP/1.1'";

/// Validates `HTTP/d.d` at `in[index]`, the `k`-th character of the version.
bool version_char_ok(std::size_t k, char c) {
    constexpr std::string_view pattern = "HTTP/0.0";
    return k < pattern.size() && (pattern[k] == '0' ? is_digit(c) : c == pattern[k]);
}

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version
Found check_request_line(std::string_view in, const Line& line) {
    enum class Part { method, target, version } part = Part::method;
    std::size_t part_start = line.start;
    for (std::size_t i = line.start; i < line.content_end; ++i) {
        const char c = in[i];
        if (c == '\r') {
            return bare_cr(in, i);
        }
        switch (part) {
        case Part::method:
        case Part::target:
            if (c == ' ') {
                if (i == part_start) {
                    return bad_byte(in, i, std::string(request_shape));
                }
                part = part == Part::method ? Part::target : Part::version;
                part_start = i + 1;
            } else if (part == Part::method && !is_tchar(c)) {
                return bad_byte(in, i, "request method is not a token");
            } else if (part == Part::target && is_ctl(c)) {
                return bad_byte(in, i, "request target contains a control character");
            }
            break;
        case Part::version:
            // Also catches a space in the target, or a third space.
            if (!version_char_ok(i - part_start, c)) {
                return bad_byte(in, i, std::string(request_shape));
            }
            break;
        }
    }
    if (!line.complete) {
        return std::nullopt;
    }
    if (part != Part::version || line.content_end - part_start != 8) {
        return Violation{line.end, 400, std::string(request_shape)};
    }
    const std::string_view version = in.substr(part_start, 8);
    if (version != "HTTP/1.1") {
        // RFC 9110 §15.6.6: 505 (HTTP Version Not Supported). RFC 6455 §4.1: "The method
        // of the request MUST be GET, and the HTTP version MUST be at least 1.1."
        return Violation{line.end, 505,
                         "unsupported HTTP version '" + std::string(version) + "' (need HTTP/1.1)"};
    }
    return std::nullopt;
}

constexpr std::string_view status_shape = "status line is not 'HTTP/1.1 status reason'";

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
// A missing SP after the status code is tolerated.
Found check_status_line(std::string_view in, const Line& line) {
    for (std::size_t i = line.start; i < line.content_end; ++i) {
        const char c = in[i];
        const std::size_t k = i - line.start;
        if (c == '\r') {
            return bare_cr(in, i);
        }
        if (k < 8) {
            if (!version_char_ok(k, c)) {
                return bad_byte(in, i, std::string(status_shape));
            }
        } else if (k == 8) {
            if (c != ' ') {
                return bad_byte(in, i, std::string(status_shape));
            }
        } else if (k == 9) {
            // RFC 9110 §15: "Values outside the range 100..599 are invalid."
            if (!is_digit(c)) {
                return bad_byte(in, i, "status code is not three digits");
            }
            if (c < '1' || c > '5') {
                return bad_byte(in, i, "status code is not between 100 and 599");
            }
        } else if (k < 12) {
            if (!is_digit(c)) {
                return bad_byte(in, i, "status code is not three digits");
            }
        } else if (k == 12) {
            if (c != ' ') {
                return bad_byte(in, i, "status code is not three digits");
            }
        } else if (c != '\t' && is_ctl(c)) {
            // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
            return bad_byte(in, i, "reason phrase contains a control character");
        }
    }
    if (!line.complete) {
        return std::nullopt;
    }
    if (line.size() < 12) {
        return Violation{line.end, 400, std::string(status_shape)};
    }
    const std::string_view version = in.substr(line.start, 8);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return Violation{line.end, 505, "unsupported HTTP version '" + std::string(version) + "'"};
    }
    return std::nullopt;
}

// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
Found check_field_line(std::string_view in, const Line& line) {
    bool in_name = true;
    for (std::size_t i = line.start; i < line.content_end; ++i) {
        const char c = in[i];
        if (c == '\r') {
            return bare_cr(in, i);
        }
        if (!in_name) {
            // RFC 9110 §5.5: field-value = *field-content, made of VCHAR, obs-text, SP
            // and HTAB. "Field values containing CR, LF, or NUL characters are invalid and
            // dangerous"; the other controls are invalid too.
            if (c != '\t' && is_ctl(c)) {
                return bad_byte(in, i, "header value contains a control character");
            }
        } else if (c == ':') {
            if (i == line.start) {
                return bad_byte(in, i, "empty header name");
            }
            in_name = false;
        } else if (is_ows(c)) {
            if (i == line.start) {
                // RFC 9112 §5.2: "A server that receives an obs-fold in a request message
                // that is not within a message/http container MUST either reject the
                // message by sending a 400 (Bad Request) ... or replace each received
                // obs-fold with one or more SP octets". We reject.
                return bad_byte(in, i, "header line starts with whitespace (obs-fold)");
            }
            // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon.
            // ... A server MUST reject, with a response status code of 400 (Bad Request),
            // any received request message that contains whitespace between a header
            // field name and colon."
            return bad_byte(in, i, "whitespace in header name or before colon");
        } else if (!is_tchar(c)) {
            return bad_byte(in, i, "header name is not a token");
        }
    }
    if (line.complete && in_name) {
        return Violation{line.end, 400, "header line has no colon"};
    }
    return std::nullopt;
}

/// An obs-fold line of a response: its bytes continue the previous field value.
Found check_continuation(std::string_view in, const Line& line) {
    for (std::size_t i = line.start; i < line.content_end; ++i) {
        if (in[i] == '\r') {
            return bare_cr(in, i);
        }
        if (in[i] != '\t' && is_ctl(in[i])) {
            return bad_byte(in, i, "header value contains a control character");
        }
    }
    return std::nullopt;
}

enum class StartLine { request, status };

struct Head {
    std::string_view start_line;
    std::vector<Headers::Field> fields;
    /// Bytes of the head, its final empty line included.
    std::size_t end = 0;
};

/// Reads a head (start line, field lines, empty line). Returns nothing when `head` is
/// complete, else the result to return (need_more or error).
std::optional<HttpParseResult> read_head(std::string_view in, const HttpLimits& limits,
                                         StartLine kind, Head& head) {
    const bool request = kind == StartLine::request;
    bool have_start_line = false;
    std::size_t pos = 0;
    while (true) {
        const Line line = find_line(in, pos);
        Found found = check_head_size(line, limits);
        if (line.size() == 0 && (have_start_line || request)) {
            // The end of the head; before the request line, an empty line to skip (RFC 9112
            // §2.2: "a server that is expecting to receive and parse a request-line SHOULD
            // ignore at least one empty line (CRLF) received prior to the request-line").
            if (found) {
                return failure(std::move(*found));
            }
            if (!line.complete) {
                return need_more();
            }
            pos = line.end;
            if (have_start_line) {
                head.end = line.end;
                return std::nullopt;
            }
            continue;
        }
        if (!have_start_line) {
            // RFC 9112 §3: "A server that receives a request-line ... longer than any URI it
            // wishes to parse MUST respond with a 414 (URI Too Long) status code". The
            // method and version are short, so a long request line is a long target.
            keep_earliest(found, check_length(in, line, limits.max_line, request ? 414 : 431,
                                              request ? "request line" : "status line"));
            keep_earliest(found,
                          request ? check_request_line(in, line) : check_status_line(in, line));
        } else {
            // RFC 9112 §5.2: "A user agent that receives an obs-fold in a response message
            // ... MUST replace each received obs-fold with one or more SP octets prior to
            // interpreting the field value." Requests are refused (check_field_line).
            const bool fold = !request && is_ows(in[line.start]) && !head.fields.empty();
            keep_earliest(found, check_length(in, line, limits.max_line, 431, "header line"));
            if (!fold) {
                keep_earliest(found, check_count(in, line, head.fields.size(), limits.max_headers,
                                                 "header fields"));
            }
            keep_earliest(found, fold ? check_continuation(in, line) : check_field_line(in, line));
        }
        if (found) {
            return failure(std::move(*found));
        }
        if (!line.complete) {
            return need_more();
        }
        const std::string_view content = line.content(in);
        if (!have_start_line) {
            head.start_line = content;
            have_start_line = true;
        } else if (is_ows(content.front())) {
            const std::string_view more = trim_ows(content);
            if (!more.empty()) {
                std::string& value = head.fields.back().second;
                value += value.empty() ? "" : " ";
                value += more;
            }
        } else {
            const std::size_t colon = content.find(':');
            head.fields.emplace_back(std::string(content.substr(0, colon)),
                                     std::string(trim_ows(content.substr(colon + 1))));
        }
        pos = line.end;
    }
}

Headers to_headers(std::vector<Headers::Field>& fields) {
    Headers headers;
    for (auto& [name, value] : fields) {
        headers.add(std::move(name), std::move(value));
    }
    return headers;
}

struct ContentLength {
    bool present = false;
    bool valid = true;
    bool overflow = false;
    std::size_t value = 0;
};

// RFC 9110 §8.6: Content-Length = 1*DIGIT. "a recipient ... MAY either reject the
// message as invalid or replace that invalid field value with a single instance of the
// decimal value, since this likely indicates that a duplicate was generated or combined by
// an upstream message processor" - we accept repeated identical values ("42, 42").
ContentLength content_length(const Headers& headers) {
    ContentLength result;
    for (std::string_view field : headers.get_all("Content-Length")) {
        while (true) {
            const std::size_t comma = field.find(',');
            const std::string_view element = trim_ows(field.substr(0, comma));
            std::size_t value = 0;
            bool overflow = false;
            if (element.empty()) {
                result.valid = false;
            }
            for (char c : element) {
                if (!is_digit(c)) {
                    result.valid = false;
                    break;
                }
                const auto digit = static_cast<std::size_t>(c - '0');
                if (value > (static_cast<std::size_t>(-1) - digit) / 10) {
                    overflow = true;
                } else {
                    value = value * 10 + digit;
                }
            }
            if (result.present && (value != result.value || overflow != result.overflow)) {
                result.valid = false;
            }
            result.present = true;
            result.value = value;
            result.overflow = overflow;
            if (comma == npos) {
                break;
            }
            field.remove_prefix(comma + 1);
        }
    }
    return result;
}

Violation body_too_large(const HttpLimits& limits, std::size_t at) {
    return {at, 413, "response body larger than " + bytes(limits.max_body), true};
}

// RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG,
// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
// Extensions are ignored; their content is only checked for controls.
Found check_chunk_size(std::string_view in, const Line& line, std::size_t budget,
                       const HttpLimits& limits, std::size_t& size) {
    enum class Part { digits, space, extension } part = Part::digits;
    size = 0;
    for (std::size_t i = line.start; i < line.content_end; ++i) {
        const char c = in[i];
        if (c == '\r') {
            return bad_byte(in, i, "bare CR (not followed by LF) in a chunk size line");
        }
        if (part == Part::digits) {
            const bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (hex) {
                const auto digit =
                    static_cast<std::size_t>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
                // Refused as soon as the digits so far exceed what the body may still
                // hold: more digits only make the size larger.
                if (digit > budget || size > (budget - digit) / 16) {
                    return body_too_large(limits, i + 1);
                }
                size = size * 16 + digit;
                continue;
            }
            if (i == line.start) {
                return bad_byte(in, i, "malformed chunk size");
            }
            part = Part::space;
        }
        if (part == Part::space) {
            if (c == ';') {
                part = Part::extension;
            } else if (!is_ows(c)) {
                return bad_byte(in, i, "malformed chunk size");
            }
        } else if (c != '\t' && is_ctl(c)) {
            return bad_byte(in, i, "chunk extension contains a control character");
        }
    }
    if (line.complete && line.size() == 0) {
        return Violation{line.end, 400, "malformed chunk size"};
    }
    return std::nullopt;
}

/// Decodes a chunked body starting at `pos` (RFC 9112 §7.1) into `body`, or only checks
/// it when `body` is null: a body arriving in many reads is then copied once, not on
/// every call. Trailer fields are checked and dropped (RFC 9110 §6.5.1 leaves merging
/// them to the recipient).
std::optional<HttpParseResult> read_chunked(std::string_view in, std::size_t pos,
                                            const HttpLimits& limits, std::string* body,
                                            std::size_t& end) {
    std::size_t total = 0;
    while (true) {
        const Line line = find_line(in, pos);
        std::size_t size = 0;
        Found found = check_length(in, line, limits.max_line, 431, "chunk size line");
        keep_earliest(found, check_chunk_size(in, line, limits.max_body - total, limits, size));
        if (found) {
            return failure(std::move(*found));
        }
        if (!line.complete) {
            return need_more();
        }
        pos = line.end;
        if (size == 0) {
            break;
        }
        if (in.size() - pos < size) {
            return need_more();
        }
        if (body != nullptr) {
            body->append(in.substr(pos, size));
        }
        total += size;
        pos += size;
        // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (a bare LF is tolerated)
        if (pos == in.size() || (in[pos] == '\r' && pos + 1 == in.size())) {
            return need_more();
        }
        if (in[pos] == '\n') {
            pos += 1;
        } else if (in[pos] == '\r' && in[pos + 1] == '\n') {
            pos += 2;
        } else {
            return failure(bad_byte(in, pos, "chunk data not followed by CRLF"));
        }
    }
    // trailer-section = *( field-line CRLF ), then the final CRLF.
    std::size_t trailers = 0;
    while (true) {
        const Line line = find_line(in, pos);
        Found found = check_length(in, line, limits.max_line, 431, "trailer line");
        if (line.size() != 0) {
            keep_earliest(found,
                          check_count(in, line, trailers, limits.max_headers, "trailer fields"));
            keep_earliest(found, check_field_line(in, line));
        }
        if (found) {
            return failure(std::move(*found));
        }
        if (!line.complete) {
            return need_more();
        }
        pos = line.end;
        if (line.size() == 0) {
            end = pos;
            return std::nullopt;
        }
        ++trailers;
    }
}

} // namespace

HttpParseResult parse_request(std::string_view input, const HttpLimits& limits, Request& out) {
    Head head;
    if (auto result = read_head(input, limits, StartLine::request, head)) {
        return std::move(*result);
    }
    Headers headers = to_headers(head.fields);
    // RFC 9110 §9.3.1: "content received in a GET request has no generally defined
    // semantics, cannot alter the meaning or target of the request, and might lead some
    // implementations to reject the request and close the connection because of its
    // potential as a request smuggling attack". A handshake has no body; bytes after the
    // head are WebSocket frames, so a request with a body is refused.
    const ContentLength length = content_length(headers);
    if (!length.valid) {
        return failure({head.end, 400, "invalid Content-Length", false});
    }
    if (headers.contains("Transfer-Encoding") ||
        (length.present && (length.value != 0 || length.overflow))) {
        return failure({head.end, 400, "request has a body; a handshake request has none", false});
    }
    const std::string_view line = head.start_line;
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    out.method = std::string(line.substr(0, sp1));
    out.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    out.headers = std::move(headers);
    out.body.clear();
    return success(head.end);
}

HttpParseResult parse_response(std::string_view input, const HttpLimits& limits, Response& out) {
    Head head;
    if (auto result = read_head(input, limits, StartLine::status, head)) {
        return std::move(*result);
    }
    const std::string_view line = head.start_line;
    const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    Headers headers = to_headers(head.fields);
    std::string body;
    std::size_t end = head.end;

    // RFC 9112 §6.3: "Any response to a HEAD request and any response with a 1xx
    // (Informational), 204 (No Content), or 304 (Not Modified) status code is always
    // terminated by the first empty line after the header fields ... and thus cannot
    // contain content". We never send HEAD.
    const bool may_have_body = status >= 200 && status != 204 && status != 304;
    const ContentLength length = content_length(headers);
    if (may_have_body && headers.contains("Transfer-Encoding")) {
        // RFC 9112 §6.3: "If a message is received with both a Transfer-Encoding and a
        // Content-Length header field ... Such a message might indicate an attempt to
        // perform request smuggling ... or response splitting ... and ought to be handled
        // as an error".
        if (length.present) {
            return failure(
                {head.end, 400, "response has both Transfer-Encoding and Content-Length", false});
        }
        // RFC 9112 §6.1: "If a Transfer-Encoding header field is present in a response and
        // the chunked transfer coding is not the final encoding, the message body length
        // is determined by reading the connection until it is closed by the server." We
        // never wait for the end of the connection: such a body is left unread.
        const std::string_view codings = headers.get_all("Transfer-Encoding").back();
        std::string_view final_coding = codings.substr(codings.rfind(',') + 1);
        final_coding = trim_ows(final_coding.substr(0, final_coding.find(';')));
        if (iequals(final_coding, "chunked")) {
            if (line.substr(0, 8) == "HTTP/1.0") {
                // RFC 9112 §6.1: "If a Transfer-Encoding header field is present in a
                // request or response with HTTP/1.0 version, the recipient MUST treat the
                // message as having faulty framing".
                return failure({head.end, 400, "HTTP/1.0 response with Transfer-Encoding", false});
            }
            if (auto result = read_chunked(input, head.end, limits, nullptr, end)) {
                return std::move(*result);
            }
            read_chunked(input, head.end, limits, &body, end);
        }
    } else if (may_have_body && length.present) {
        // RFC 9112 §6.3: "If a message is received without Transfer-Encoding and with an
        // invalid Content-Length header field, then the message framing is invalid and the
        // recipient MUST treat it as an unrecoverable error".
        if (!length.valid) {
            return failure({head.end, 400, "invalid Content-Length", false});
        }
        if (length.overflow || length.value > limits.max_body) {
            return failure(body_too_large(limits, head.end));
        }
        if (input.size() - head.end < length.value) {
            return need_more();
        }
        body = std::string(input.substr(head.end, length.value));
        end = head.end + length.value;
    }
    // Without Content-Length or chunked coding the body would end with the connection;
    // the handshake never waits for that, so such a body is left unread.

    out.status = status;
    out.reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
    out.headers = std::move(headers);
    out.body = std::move(body);
    return success(end);
}

} // namespace syncws::detail
