// The server's opening handshake (RFC 6455 §4.2).
#include "base64.hpp"
#include "handshake.hpp"
#include "headers.hpp"
#include "http_parser.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

namespace syncws {

namespace {

// Why `accept` turns a request down: the HTTP answer and the error recorded.
struct Refusal {
    int status;
    std::exception_ptr error;
    Headers headers;
};

template <typename E> Refusal refuse(int status, E error, Headers headers = {}) {
    return Refusal{status, std::make_exception_ptr(std::move(error)), std::move(headers)};
}

Response plain_text_response(int status, std::string_view text) {
    Response response;
    response.status = status;
    response.headers.add("Content-Type", "text/plain; charset=utf-8");
    response.headers.add("Connection", "close");
    response.body.assign(text);
    if (response.body.empty() || response.body.back() != '\n') response.body += '\n';
    return response;
}

std::optional<Refusal> check_upgrade_request(const Request& request,
                                             const ServerHandshakeOptions& options) {
    if (request.method != "GET")
        return refuse(405, InvalidHandshake("expected GET, got " + request.method),
                      Headers{{"Allow", "GET"}});
    const Headers& h = request.headers;
    // RFC 6455 §4.2.1, items 3–6. A missing Upgrade or Connection token gets 426, which
    // tells a plain HTTP client that this resource wants a WebSocket.
    const Headers upgrade_required{{"Upgrade", "websocket"}};
    if (!h.has_token("Connection", "upgrade"))
        return refuse(426,
                      InvalidHeader("Connection", h.contains("Connection")
                                                      ? "doesn't contain the 'Upgrade' token"
                                                      : "missing"),
                      upgrade_required);
    if (!h.has_token("Upgrade", "websocket"))
        return refuse(
            426, InvalidHeader("Upgrade", h.contains("Upgrade") ? "isn't 'websocket'" : "missing"),
            upgrade_required);
    if (h.count("Host") != 1)
        return refuse(
            400, InvalidHeader("Host", h.contains("Host") ? "appears more than once" : "missing"));
    const auto keys = h.get_all("Sec-WebSocket-Key");
    if (keys.size() != 1)
        return refuse(400, InvalidHeader("Sec-WebSocket-Key",
                                         keys.empty() ? "missing" : "appears more than once"));
    const auto nonce = detail::base64_decode(keys.front());
    if (!nonce || nonce->size() != 16) {
        // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
        // "'" + std::string(...), which breaks release builds with --werror.
        std::string why = "'";
        why.append(keys.front()).append("' isn't 16 bytes in base64");
        return refuse(400, InvalidHeader("Sec-WebSocket-Key", why));
    }
    // RFC 6455 §4.4: an unsupported version is answered with the versions we speak.
    const auto versions = h.get_all("Sec-WebSocket-Version");
    if (versions.size() != 1 || versions.front() != "13")
        return refuse(426,
                      InvalidHeader("Sec-WebSocket-Version",
                                    versions.empty()
                                        ? "missing"
                                        : "'" + std::string(versions.front()) + "' isn't 13"),
                      Headers{{"Sec-WebSocket-Version", "13"}});
    if (!options.origins.empty()) {
        const auto origins = h.get_all("Origin");
        if (origins.size() > 1)
            return refuse(400, InvalidHeader("Origin", "appears more than once"));
        const std::string_view origin = origins.empty() ? std::string_view{} : origins.front();
        bool allowed = false;
        for (const auto& o : options.origins)
            allowed = allowed || o == origin;
        if (!allowed)
            return refuse(403, InvalidHeader("Origin", origins.empty() ? "missing"
                                                                       : "'" + std::string(origin) +
                                                                             "' isn't allowed"));
    }
    return std::nullopt;
}

} // namespace

ServerProtocol::ServerProtocol(ServerHandshakeOptions handshake, ProtocolOptions options,
                               State state)
    : Protocol(Side::server, state, std::move(options)), handshake_(std::move(handshake)) {}

ServerProtocol::~ServerProtocol() = default;

std::size_t ServerProtocol::receive_handshake(std::string_view input) {
    Request request;
    const auto parsed = detail::parse_request(input, options().http_limits, request);
    if (parsed.status == detail::ParseStatus::need_more) return 0;
    if (parsed.status == detail::ParseStatus::error) {
        // The engine answers a malformed or oversized head itself: no caller could build a
        // meaningful response from a request that doesn't parse.
        const std::string why = "invalid HTTP request: " + parsed.message;
        write(plain_text_response(parsed.http_status,
                                  "Failed to open a WebSocket connection: " + parsed.message + ".")
                  .serialize());
        response_sent_ = true;
        handshake_failed(parsed.limit_exceeded ? std::make_exception_ptr(SecurityLimit(why))
                                               : std::make_exception_ptr(InvalidHandshake(why)));
        return input.size();
    }
    request_ = request;
    handshake_parsed();
    emit(std::move(request));
    return parsed.consumed;
}

std::string ServerProtocol::select_subprotocol(const Request& request) {
    std::vector<std::string> offered;
    for (const auto value : request.headers.get_all("Sec-WebSocket-Protocol")) {
        const auto tokens = detail::parse_token_list(value);
        if (!tokens)
            throw InvalidHeader("Sec-WebSocket-Protocol",
                                "'" + std::string(value) + "' isn't a list of tokens");
        offered.insert(offered.end(), tokens->begin(), tokens->end());
    }
    if (handshake_.select_subprotocol) {
        auto chosen = handshake_.select_subprotocol(request, offered);
        if (!chosen) return {};
        for (const auto& o : offered)
            if (o == *chosen) return *chosen;
        throw InvalidState("select_subprotocol chose '" + *chosen +
                           "', which the client didn't offer");
    }
    // Our order of preference, not the client's (RFC 6455 §4.2.2 leaves it to the server).
    for (const auto& supported : handshake_.subprotocols)
        for (const auto& o : offered)
            if (o == supported) return supported;
    return {};
}

Response ServerProtocol::accept(const Request& request) {
    std::optional<Refusal> refusal = check_upgrade_request(request, handshake_);
    std::vector<std::unique_ptr<Extension>> accepted;
    std::vector<ExtensionOffer> answers;
    std::string subprotocol;
    if (!refusal) {
        try {
            // RFC 7692 §5: offers are considered in the client's order; the first one a
            // factory accepts wins, and each extension is accepted once.
            for (const auto value : request.headers.get_all("Sec-WebSocket-Extensions")) {
                for (const auto& offer : parse_extension_header(value)) {
                    for (const auto& factory : handshake_.extensions) {
                        if (factory->name() != offer.name) continue;
                        bool used = false;
                        for (const auto& ext : accepted)
                            used = used || ext->name() == offer.name;
                        if (used) break;
                        auto acceptance = factory->negotiate(offer.parameters, accepted);
                        if (!acceptance) continue;
                        answers.push_back({offer.name, std::move(acceptance->response)});
                        accepted.push_back(std::move(acceptance->extension));
                        break;
                    }
                }
            }
            subprotocol = select_subprotocol(request);
        } catch (const InvalidHandshake& e) {
            refusal = Refusal{400, std::current_exception(), {}};
        }
    }
    if (refusal) {
        std::string text = "Failed to open a WebSocket connection: ";
        try {
            std::rethrow_exception(refusal->error);
        } catch (const std::exception& e) {
            text += e.what();
        }
        Response response = plain_text_response(refusal->status, text + ".");
        for (const auto& [name, value] : refusal->headers)
            response.headers.add(name, value);
        set_handshake_error(refusal->error);
        return response;
    }

    Response response;
    response.status = 101;
    Headers& h = response.headers;
    h.add("Upgrade", "websocket");
    h.add("Connection", "Upgrade");
    h.add("Sec-WebSocket-Accept", detail::accept_key(*request.headers.get("Sec-WebSocket-Key")));
    if (!answers.empty()) h.add("Sec-WebSocket-Extensions", serialize_extension_header(answers));
    if (!subprotocol.empty()) h.add("Sec-WebSocket-Protocol", subprotocol);
    pending_subprotocol_ = std::move(subprotocol);
    pending_extensions_ = std::move(accepted);
    return response;
}

Response ServerProtocol::reject(int status, std::string_view text) {
    Response response = plain_text_response(status, text);
    set_handshake_error(std::make_exception_ptr(InvalidStatus(response)));
    return response;
}

void ServerProtocol::send_response(const Response& response) {
    if (state() != State::connecting || response_sent_)
        throw InvalidState("send_response: a response was already sent");
    write(response.serialize());
    response_sent_ = true;
    if (response.status == 101) {
        set_handshake_error(nullptr);
        handshake_succeeded(pending_subprotocol_.value_or(std::string{}),
                            std::move(pending_extensions_));
        resume_input();
        return;
    }
    std::exception_ptr error = handshake_error();
    if (!error) error = std::make_exception_ptr(InvalidStatus(response));
    handshake_failed(error);
}

} // namespace syncws
