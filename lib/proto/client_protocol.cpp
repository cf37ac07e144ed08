// The client's opening handshake (RFC 6455 §4.1).
#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include "base64.hpp"
#include "handshake.hpp"
#include "headers.hpp"
#include "http_parser.hpp"

namespace syncws {

namespace {

std::string join_with_commas(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ", ";
        out += item;
    }
    return out;
}

// A header that must appear at most once, e.g. Sec-WebSocket-Accept.
std::optional<std::string_view> single_header(const Headers& headers, std::string_view name) {
    const auto values = headers.get_all(name);
    if (values.empty()) return std::nullopt;
    if (values.size() > 1) throw InvalidHeader(std::string(name), "appears more than once");
    return values.front();
}

} // namespace

ClientProtocol::ClientProtocol(Uri uri, ClientHandshakeOptions handshake, ProtocolOptions options,
                               State state)
    : Protocol(Side::client, state, std::move(options)), uri_(std::move(uri)),
      handshake_(std::move(handshake)) {}

ClientProtocol::~ClientProtocol() = default;

Request ClientProtocol::connect() {
    Request request;
    request.target = uri_.resource_name;
    Headers& h = request.headers;
    h.add("Host", uri_.host_header());
    h.add("Upgrade", "websocket");
    h.add("Connection", "Upgrade");
    h.add("Sec-WebSocket-Key", detail::generate_key(options().random));
    h.add("Sec-WebSocket-Version", "13");
    if (handshake_.origin) h.add("Origin", *handshake_.origin);
    if (!handshake_.extensions.empty()) {
        std::vector<ExtensionOffer> offers;
        for (const auto& factory : handshake_.extensions)
            for (auto& parameters : factory->offers())
                offers.push_back({std::string(factory->name()), std::move(parameters)});
        h.add("Sec-WebSocket-Extensions", serialize_extension_header(offers));
    }
    if (!handshake_.subprotocols.empty())
        h.add("Sec-WebSocket-Protocol", join_with_commas(handshake_.subprotocols));
    if (uri_.user) {
        // RFC 7617: Basic credentials are base64("user:password").
        const std::string credentials = *uri_.user + ":" + uri_.password.value_or("");
        h.add("Authorization", "Basic " + detail::base64_encode(credentials));
    }
    if (!handshake_.user_agent.empty()) h.add("User-Agent", handshake_.user_agent);
    for (const auto& [name, value] : handshake_.extra_headers) h.add(name, value);
    return request;
}

void ClientProtocol::send_request(const Request& request) {
    if (state() != State::connecting || request_sent_)
        throw InvalidState("send_request: the request was already sent");
    const auto key = request.headers.get("Sec-WebSocket-Key");
    if (!key) throw InvalidState("send_request: the request has no Sec-WebSocket-Key");
    key_ = std::string(*key);
    write(request.serialize());
    request_sent_ = true;
}

std::size_t ClientProtocol::receive_handshake(std::string_view input) {
    Response response;
    const auto parsed = detail::parse_response(input, options().http_limits, response);
    if (parsed.status == detail::ParseStatus::need_more) return 0;
    if (parsed.status == detail::ParseStatus::error) {
        const std::string why = "invalid HTTP response: " + parsed.message;
        handshake_failed(parsed.limit_exceeded ? std::make_exception_ptr(SecurityLimit(why))
                                               : std::make_exception_ptr(InvalidHandshake(why)));
        return input.size();
    }
    try {
        check_response(response);
    } catch (const InvalidHandshake&) {
        handshake_failed(std::current_exception());
    }
    emit(std::move(response));
    return parsed.consumed;
}

void ClientProtocol::check_response(const Response& response) {
    if (!request_sent_) throw InvalidHandshake("received a response before sending the request");
    if (response.status != 101) throw InvalidStatus(response);
    const Headers& h = response.headers;
    // RFC 6455 §4.1, items 2–4 of the client's checks; token comparisons are
    // case-insensitive.
    if (!h.has_token("Connection", "upgrade"))
        throw InvalidHeader("Connection", h.contains("Connection")
                                              ? "doesn't contain the 'Upgrade' token"
                                              : "missing");
    if (!h.has_token("Upgrade", "websocket"))
        throw InvalidHeader("Upgrade", h.contains("Upgrade") ? "isn't 'websocket'" : "missing");
    const auto accept = single_header(h, "Sec-WebSocket-Accept");
    if (!accept) throw InvalidHeader("Sec-WebSocket-Accept", "missing");
    if (*accept != detail::accept_key(key_))
        throw InvalidHeader("Sec-WebSocket-Accept",
                            "'" + std::string(*accept) + "' doesn't match the key sent");

    // RFC 6455 §4.1, item 5: only extensions we offered, each at most once.
    std::vector<std::unique_ptr<Extension>> accepted;
    for (const auto value : h.get_all("Sec-WebSocket-Extensions")) {
        for (const auto& answer : parse_extension_header(value)) {
            const ClientExtensionFactory* match = nullptr;
            for (const auto& factory : handshake_.extensions) {
                if (factory->name() != answer.name) continue;
                bool used = false;
                for (const auto& ext : accepted) used = used || ext->name() == answer.name;
                if (!used) match = factory.get();
                break;
            }
            if (!match)
                throw NegotiationError("server accepted extension '" + answer.name +
                                       "', which wasn't offered (or twice)");
            accepted.push_back(match->accept(answer.parameters, accepted));
        }
    }

    // RFC 6455 §4.1, item 6: at most one subprotocol, one we offered.
    std::string subprotocol;
    if (const auto value = single_header(h, "Sec-WebSocket-Protocol")) {
        const auto tokens = detail::parse_token_list(*value);
        if (!tokens || tokens->size() != 1)
            throw InvalidHeader("Sec-WebSocket-Protocol",
                                "'" + std::string(*value) + "' isn't a single subprotocol");
        subprotocol = tokens->front();
        bool offered = false;
        for (const auto& p : handshake_.subprotocols) offered = offered || p == subprotocol;
        if (!offered)
            throw NegotiationError("server selected subprotocol '" + subprotocol +
                                   "', which wasn't offered");
    }
    handshake_succeeded(std::move(subprotocol), std::move(accepted));
}

} // namespace syncws
