// HTTP/1.1 messages of the opening handshake (RFC 6455 §4, RFC 9110, RFC 9112).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncws {

/// HTTP header fields: ordered, names compared case-insensitively, repeats kept.
///
/// Order is kept because some peers care and because tests compare exact bytes.
/// Thread safety: a value type; distinct objects are independent.
class Headers {
public:
    using Field = std::pair<std::string, std::string>;
    using const_iterator = std::vector<Field>::const_iterator;

    Headers() = default;
    Headers(std::initializer_list<Field> fields) : fields_(fields) {}
    /// Takes `fields` as they are, in order (names are not checked here; `serialize` does).
    explicit Headers(std::vector<Field> fields) : fields_(std::move(fields)) {}

    /// Appends a field, keeping any with the same name.
    void add(std::string name, std::string value);
    /// Replaces every field named `name` with one field, spelled `name`, in the place of
    /// the first (appended if there was none).
    void set(std::string_view name, std::string value);
    /// Removes every field named `name`; returns how many were removed.
    std::size_t remove(std::string_view name);

    /// The first value of `name`, if present.
    std::optional<std::string_view> get(std::string_view name) const;
    /// Every value of `name`, in order.
    std::vector<std::string_view> get_all(std::string_view name) const;
    /// Number of fields named `name`.
    std::size_t count(std::string_view name) const;
    bool contains(std::string_view name) const { return count(name) != 0; }

    /// True if any `name` field holds `token` in its comma-separated list, compared
    /// case-insensitively (`Connection: keep-alive, Upgrade` has token "upgrade").
    bool has_token(std::string_view name, std::string_view token) const;

    std::size_t size() const noexcept { return fields_.size(); }
    bool empty() const noexcept { return fields_.empty(); }
    const_iterator begin() const noexcept { return fields_.begin(); }
    const_iterator end() const noexcept { return fields_.end(); }

    friend bool operator==(const Headers& a, const Headers& b) { return a.fields_ == b.fields_; }
    friend bool operator!=(const Headers& a, const Headers& b) { return !(a == b); }

private:
    std::vector<Field> fields_;
};

/// An HTTP request: the client's opening handshake (RFC 6455 §4.1), or any request the
/// server receives. The version is always HTTP/1.1.
struct Request {
    std::string method = "GET";
    /// The request target, e.g. "/chat?room=1" (RFC 6455's "resource name").
    std::string target = "/";
    Headers headers;
    std::string body;

    /// The request head and body as bytes on the wire. Adds `Content-Length` when there is
    /// a body and the headers have none.
    /// Throws `std::invalid_argument` for a method or header name that is not a token, a
    /// target with a space or control character, a header value with CR, LF or NUL (no
    /// header injection), or a `Content-Length` that does not match the body.
    std::string serialize() const;
};

/// An HTTP response: the server's opening handshake (101), or a plain HTTP answer
/// (health check, 401, 403, 426, 503) that ends the connection.
struct Response {
    int status = 200;
    /// Reason phrase; when empty, `serialize()` uses the standard one for `status`.
    std::string reason;
    Headers headers;
    std::string body;

    /// The response head and body as bytes on the wire. Adds `Content-Length` (even 0)
    /// when the status allows a body and the headers have neither `Content-Length` nor
    /// `Transfer-Encoding`, so the client never has to wait for the end of the connection.
    /// Throws `std::invalid_argument` for a status outside 100–599, a reason phrase with
    /// control characters, a header name that is not a token, a header value with CR, LF or
    /// NUL (no header injection), a body on a 1xx/204/304 response, a `Content-Length` that
    /// does not match the body, or both `Content-Length` and `Transfer-Encoding`.
    std::string serialize() const;
};

/// The standard reason phrase for an HTTP status ("Switching Protocols"), or "" if unknown.
std::string_view reason_phrase(int status) noexcept;

/// Limits on a received HTTP head, so a peer cannot exhaust memory (DESIGN: defaults).
struct HttpLimits {
    /// Longest request/status line or header line, CRLF excluded. Beyond it: 414 for a
    /// request line (RFC 9112 §3), 431 for a header line.
    std::size_t max_line = 8192;
    /// Most header fields. Beyond it: 431.
    std::size_t max_headers = 128;
    /// Largest whole head (all lines). Beyond it: 431.
    std::size_t max_head = 64 * 1024;
    /// Largest body of a response with Content-Length (client side, e.g. an error page).
    std::size_t max_body = 1024 * 1024;
};

} // namespace syncws
