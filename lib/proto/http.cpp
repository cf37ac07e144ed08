// HTTP/1.1 messages of the opening handshake: header fields and serialization
// (RFC 9110, RFC 9112).
#include "headers.hpp"

#include <syncws/http.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

namespace syncws {

using detail::iequals;

void Headers::add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string_view name, std::string value) {
    // The single field takes the place of the first one, so `set` does not reorder.
    auto first = std::find_if(fields_.begin(), fields_.end(),
                              [&](const Field& f) { return iequals(f.first, name); });
    if (first == fields_.end()) {
        fields_.emplace_back(std::string(name), std::move(value));
        return;
    }
    first->first = std::string(name);
    first->second = std::move(value);
    fields_.erase(std::remove_if(std::next(first), fields_.end(),
                                 [&](const Field& f) { return iequals(f.first, name); }),
                  fields_.end());
}

std::size_t Headers::remove(std::string_view name) {
    const auto old_size = fields_.size();
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                                 [&](const Field& f) { return iequals(f.first, name); }),
                  fields_.end());
    return old_size - fields_.size();
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
    for (const auto& [field_name, value] : fields_) {
        if (iequals(field_name, name)) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const auto& [field_name, value] : fields_) {
        if (iequals(field_name, name)) {
            values.emplace_back(value);
        }
    }
    return values;
}

std::size_t Headers::count(std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(
        fields_.begin(), fields_.end(), [&](const Field& f) { return iequals(f.first, name); }));
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
    for (const auto& [field_name, value] : fields_) {
        if (!iequals(field_name, name)) {
            continue;
        }
        std::string_view rest = value;
        while (true) {
            const std::size_t comma = rest.find(',');
            if (iequals(detail::trim_ows(rest.substr(0, comma)), token)) {
                return true;
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
    }
    return false;
}

namespace {

// RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and
// dangerous, due to the varying ways that implementations might parse and interpret
// those characters". Refusing them here makes header injection through user-supplied
// headers impossible.
void write_fields(std::string& out, const Headers& headers) {
    for (const auto& [name, value] : headers) {
        if (!detail::is_token(name)) {
            throw std::invalid_argument("invalid HTTP header name: \"" + name + "\"");
        }
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            throw std::invalid_argument("HTTP header " + name + " contains CR, LF or NUL");
        }
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
}

bool is_ctl(char c) noexcept {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

// Adds `Content-Length` for `body`, or checks the one the caller set: a length that
// disagrees with the body would make the peer read part of it as the next message.
void frame_body(std::string& out, const Headers& headers, const std::string& body) {
    // RFC 9110 §8.6: "A sender MUST NOT send a Content-Length header field in any
    // message that contains a Transfer-Encoding header field." With Transfer-Encoding
    // the caller encodes the body itself.
    const bool has_transfer_encoding = headers.contains("Transfer-Encoding");
    const auto lengths = headers.get_all("Content-Length");
    if (has_transfer_encoding) {
        if (!lengths.empty()) {
            throw std::invalid_argument("HTTP message has both Transfer-Encoding and "
                                        "Content-Length");
        }
        return;
    }
    for (std::string_view length : lengths) {
        std::size_t parsed = 0;
        const auto [end, ec] =
            std::from_chars(length.data(), length.data() + length.size(), parsed);
        if (ec != std::errc{} || end != length.data() + length.size() || parsed != body.size()) {
            throw std::invalid_argument("HTTP Content-Length " + std::string(length) +
                                        " does not match the body size " +
                                        std::to_string(body.size()));
        }
    }
    if (lengths.empty()) {
        out += "Content-Length: ";
        out += std::to_string(body.size());
        out += "\r\n";
    }
}

} // namespace

std::string Request::serialize() const {
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    if (!detail::is_token(method)) {
        throw std::invalid_argument("invalid HTTP method: \"" + method + "\"");
    }
    if (target.empty() ||
        std::any_of(target.begin(), target.end(), [](char c) { return c == ' ' || is_ctl(c); })) {
        throw std::invalid_argument("invalid HTTP request target: \"" + target + "\"");
    }
    std::string out;
    out.reserve(64 + target.size() + body.size());
    out += method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\n";
    write_fields(out, headers);
    // RFC 9112 §6.3: a request without Content-Length or Transfer-Encoding has no body,
    // so a body needs one of them or the server would read it as the next request.
    if (!body.empty() || headers.contains("Content-Length")) {
        frame_body(out, headers, body);
    }
    out += "\r\n";
    out += body;
    return out;
}

std::string Response::serialize() const {
    // RFC 9110 §15: "Values outside the range 100..599 are invalid."
    if (status < 100 || status > 599) {
        throw std::invalid_argument("invalid HTTP status code " + std::to_string(status));
    }
    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if (std::any_of(reason.begin(), reason.end(), [](char c) { return c != '\t' && is_ctl(c); })) {
        throw std::invalid_argument("HTTP reason phrase contains a control character");
    }
    std::string out;
    out.reserve(128 + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason.empty() ? reason_phrase(status) : std::string_view(reason);
    out += "\r\n";
    write_fields(out, headers);
    // RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content. Any other response
    // gets a Content-Length, even 0, so that the client does not wait for the end of the
    // connection to find the end of the body.
    const bool body_allowed = status >= 200 && status != 204 && status != 304;
    if (body_allowed) {
        frame_body(out, headers, body);
    } else if (!body.empty()) {
        throw std::invalid_argument("an HTTP " + std::to_string(status) +
                                    " response cannot have a body");
    }
    out += "\r\n";
    out += body;
    return out;
}

namespace {

struct StatusReason {
    int status;
    std::string_view reason;
};

// RFC 9110 §15, plus 429, 431 and 511 (RFC 6585).
constexpr StatusReason reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {511, "Network Authentication Required"},
};

} // namespace

std::string_view reason_phrase(int status) noexcept {
    for (const auto& entry : reasons) {
        if (entry.status == status) {
            return entry.reason;
        }
    }
    return "";
}

} // namespace syncws
