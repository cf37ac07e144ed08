// Grammars of handshake header values (RFC 9110 §5.6).
#include "headers.hpp"

namespace syncws::detail {

bool is_tchar(char c) noexcept {
    // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    // "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool is_token(std::string_view text) noexcept {
    if (text.empty()) {
        return false;
    }
    for (char c : text) {
        if (!is_tchar(c)) {
            return false;
        }
    }
    return true;
}

namespace {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

} // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

std::string_view trim_ows(std::string_view text) noexcept {
    while (!text.empty() && is_ows(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_ows(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::optional<std::vector<std::string>> parse_token_list(std::string_view value) {
    std::vector<std::string> tokens;
    while (true) {
        const std::size_t comma = value.find(',');
        // RFC 9110 §5.6.1: "a recipient MUST accept lists that satisfy the following
        // syntax: #element => [ element ] *( OWS "," OWS [ element ] )" - empty elements
        // are allowed and ignored.
        const std::string_view element = trim_ows(value.substr(0, comma));
        if (!element.empty()) {
            if (!is_token(element)) {
                return std::nullopt;
            }
            tokens.emplace_back(element);
        }
        if (comma == std::string_view::npos) {
            return tokens;
        }
        value.remove_prefix(comma + 1);
    }
}

} // namespace syncws::detail
