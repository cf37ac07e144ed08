// The Sec-WebSocket-Extensions header (RFC 6455 §9.1).
//
//   Sec-WebSocket-Extensions = extension-list
//   extension-list = 1#extension
//   extension = extension-token *( ";" extension-param )
//   extension-token = registered-token
//   registered-token = token
//   extension-param = token [ "=" (token | quoted-string) ]
//       ;When using the quoted-string syntax variant, the value
//       ;after quoted-string unescaping MUST conform to the
//       ;'token' ABNF.
//
// RFC 6455 writes this in RFC 2616 style, which allows linear whitespace between the
// elements, so "a ; b = 1" is valid.
#include "headers.hpp"

#include <syncws/errors.hpp>
#include <syncws/extension.hpp>

#include <stdexcept>

namespace syncws {
namespace {

constexpr std::string_view header_name = "Sec-WebSocket-Extensions";

/// A cursor over the header value; every error names the offset it was found at.
class Reader {
public:
    explicit Reader(std::string_view text) : text_(text) {}

    bool at_end() const noexcept { return pos_ == text_.size(); }
    char peek() const noexcept { return text_[pos_]; }

    void skip_ows() noexcept {
        while (!at_end() && (peek() == ' ' || peek() == '\t')) {
            ++pos_;
        }
    }

    /// Consumes `c` if it comes next.
    bool accept(char c) noexcept {
        if (!at_end() && peek() == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    std::string token(const char* what) {
        const std::size_t start = pos_;
        while (!at_end() && detail::is_tchar(peek())) {
            ++pos_;
        }
        if (pos_ == start) {
            fail(std::string("expected ") + what);
        }
        return std::string(text_.substr(start, pos_ - start));
    }

    // RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
    std::string quoted_string() {
        const std::size_t start = pos_;
        ++pos_; // the opening DQUOTE
        std::string value;
        while (true) {
            if (at_end()) {
                pos_ = start;
                fail("unterminated quoted string");
            }
            const char c = text_[pos_++];
            if (c == '"') {
                return value;
            }
            if (c == '\\') {
                if (at_end()) {
                    pos_ = start;
                    fail("unterminated quoted string");
                }
                value += text_[pos_++];
            } else {
                value += c;
            }
            if (is_invalid_in_quotes(value.back())) {
                --pos_;
                fail("control character in quoted string");
            }
        }
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw InvalidHeader(std::string(header_name), what + " at offset " + std::to_string(pos_) +
                                                          " in \"" + std::string(text_) + "\"");
    }

private:
    static bool is_invalid_in_quotes(char c) noexcept {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\t') || byte == 0x7f;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

ExtensionParameter read_parameter(Reader& reader) {
    ExtensionParameter parameter;
    parameter.name = reader.token("a parameter name");
    reader.skip_ows();
    if (!reader.accept('=')) {
        return parameter;
    }
    reader.skip_ows();
    if (!reader.at_end() && reader.peek() == '"') {
        std::string value = reader.quoted_string();
        // RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the
        // 'token' ABNF."
        if (!detail::is_token(value)) {
            reader.fail("quoted parameter value is not a token");
        }
        parameter.value = std::move(value);
    } else {
        parameter.value = reader.token("a parameter value");
    }
    return parameter;
}

} // namespace

std::vector<ExtensionOffer> parse_extension_header(std::string_view value) {
    std::vector<ExtensionOffer> offers;
    Reader reader(value);
    while (true) {
        reader.skip_ows();
        if (reader.at_end()) {
            return offers;
        }
        // RFC 9110 §5.6.1: "a recipient MUST accept lists that satisfy the following
        // syntax: #element => [ element ] *( OWS "," OWS [ element ] )" - empty elements
        // are skipped.
        if (reader.accept(',')) {
            continue;
        }
        ExtensionOffer offer;
        offer.name = reader.token("an extension name");
        reader.skip_ows();
        while (reader.accept(';')) {
            reader.skip_ows();
            offer.parameters.push_back(read_parameter(reader));
            reader.skip_ows();
        }
        offers.push_back(std::move(offer));
        if (!reader.at_end() && !reader.accept(',')) {
            reader.fail("expected ',' or ';'");
        }
    }
}

std::string serialize_extension_header(const std::vector<ExtensionOffer>& offers) {
    std::string out;
    for (const auto& offer : offers) {
        if (!detail::is_token(offer.name)) {
            throw std::invalid_argument("extension name is not a token: \"" + offer.name + "\"");
        }
        if (!out.empty()) {
            out += ", ";
        }
        out += offer.name;
        for (const auto& parameter : offer.parameters) {
            // Values are tokens (RFC 6455 §9.1), so they never need quotes; anything else
            // could not be parsed back, or could inject header lines.
            if (!detail::is_token(parameter.name) ||
                (parameter.value && !detail::is_token(*parameter.value))) {
                throw std::invalid_argument("invalid parameter of extension " + offer.name);
            }
            out += "; ";
            out += parameter.name;
            if (parameter.value) {
                out += '=';
                out += *parameter.value;
            }
        }
    }
    return out;
}

} // namespace syncws
