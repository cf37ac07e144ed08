#include "connection_core.hpp"
#include "handshake_io.hpp"
#include "proxy.hpp"
#include "resolve_until.hpp"
#include "tcp.hpp"
#include "unix.hpp"

#include <syncws/client.hpp>
#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>
#if SYNCWS_HAVE_TLS
#include "tls.hpp"
#endif

namespace syncws {

namespace {

using detail::Clock;

#if !SYNCWS_HAVE_TLS
[[noreturn]] void no_tls(std::string_view what) {
    throw TlsError("this build of syncws has no TLS support (" + std::string(what) + ")");
}
#endif

// The proxy for `uri`, if any: the explicit one, else the environment's. Evaluated for each
// redirect hop, since no_proxy and the scheme's variable depend on the target.
std::optional<net::ProxyConfig> choose_proxy(const Uri& uri, const ClientOptions& options) {
    if (!options.unix_socket.empty()) return std::nullopt;
    if (!options.proxy.empty()) return net::parse_proxy_url(options.proxy);
    if (!options.proxy_from_environment) return std::nullopt;
    const auto url = net::proxy_from_environment(uri.secure, uri.host, uri.port);
    if (!url) return std::nullopt;
    return net::parse_proxy_url(*url);
}

// Names are resolved within open_timeout too.
std::vector<net::Endpoint> resolve_in_time(std::string_view host, std::uint16_t port,
                                           net::Deadline deadline) {
    return detail::resolve_until(host, port, deadline);
}

// TCP to the proxy, TLS to it for https://, then CONNECT or SOCKS5: a stream that reaches
// the server. Everything within the one `deadline`.
std::unique_ptr<net::Stream> open_tunnel(const Uri& uri, const net::ProxyConfig& proxy,
                                         const ClientOptions& options, net::Deadline deadline) {
    std::unique_ptr<net::Stream> stream =
        net::connect_tcp(proxy.host, proxy.port, deadline, resolve_in_time);
    if (proxy.scheme == net::ProxyScheme::https) {
#if SYNCWS_HAVE_TLS
        auto context = net::TlsContext::client(options.proxy_tls);
        stream =
            net::TlsStream::client(std::move(stream), std::move(context), proxy.host, deadline);
#else
        no_tls("https:// proxy");
#endif
    }
    net::open_tunnel(*stream, uri.host, uri.port, proxy, deadline, resolve_in_time);
    return stream;
}

std::unique_ptr<net::Stream> open_stream(const Uri& uri, const ClientOptions& options,
                                         net::Deadline deadline) {
    std::unique_ptr<net::Stream> stream;
    if (!options.unix_socket.empty())
        stream = net::connect_unix(options.unix_socket, deadline);
    else if (const auto proxy = choose_proxy(uri, options))
        stream = open_tunnel(uri, *proxy, options, deadline);
    else
        stream = net::connect_tcp(uri.host, uri.port, deadline, resolve_in_time);
    if (!uri.secure) return stream;
#if SYNCWS_HAVE_TLS
    // Through a tunnel too, SNI and verification are for the server's host, not the proxy's.
    auto context = net::TlsContext::client(options.tls);
    return net::TlsStream::client(std::move(stream), std::move(context), uri.host, deadline);
#else
    no_tls("wss://");
#endif
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Resolves a Location header against the URI that was redirected (RFC 9110 §10.2.2 allows
// relative references).
Uri redirect_target(const Uri& from, std::string_view location) {
    if (location.find("://") != std::string_view::npos) return parse_uri(location);
    std::string base = from.secure ? "wss://" : "ws://";
    base += from.host_is_ipv6() ? "[" + from.host + "]" : from.host;
    base += ":" + std::to_string(from.port);
    if (location.substr(0, 2) == "//")
        return parse_uri((from.secure ? "wss:" : "ws:") + std::string(location));
    if (!location.empty() && location.front() == '/')
        return parse_uri(base + std::string(location));
    std::string path = from.resource_name.substr(0, from.resource_name.find('?'));
    path = path.substr(0, path.rfind('/') + 1);
    return parse_uri(base + path + std::string(location));
}

} // namespace

ClientConnection connect(std::string_view uri_text, const ClientOptions& options) {
    Uri uri = parse_uri(uri_text);
    const auto deadline = detail::deadline_after(options.open_timeout);

    ClientHandshakeOptions handshake;
    handshake.subprotocols = options.subprotocols;
    handshake.origin = options.origin;
    handshake.extra_headers = options.headers;
    handshake.user_agent = options.user_agent;
    if (options.compression) handshake.extensions.push_back(make_client_deflate(options.deflate));
    ProtocolOptions protocol;
    protocol.max_size = options.connection.max_size;

    // A client connection gets its wake-up descriptor at once (a server's only when a second
    // thread needs one): a client is used from several threads more often than held by the
    // thousand. Before connecting: out of descriptors, nothing reaches the server.
    auto doorbell = std::make_unique<detail::Doorbell>();
    for (int redirects = 0;; ++redirects) {
        auto stream = open_stream(uri, options, deadline);
        auto engine = std::make_unique<ClientProtocol>(uri, handshake, protocol);
        const Request request = engine->connect();
        engine->send_request(request);
        auto result = detail::run_handshake(*engine, *stream, deadline,
                                            "opening handshake with " + uri.to_string(),
                                            detail::PeerBytes::awaited);
        if (const auto error = engine->handshake_error()) {
            const auto* response = result.response ? &*result.response : nullptr;
            if (response && is_redirect(response->status) && response->headers.get("Location") &&
                redirects < options.max_redirects) {
                Uri next = redirect_target(uri, *response->headers.get("Location"));
                if (uri.secure && !next.secure)
                    throw InvalidHandshake("refusing redirect from " + uri.to_string() + " to " +
                                           next.to_string() + ": wss:// to ws:// would drop TLS");
                uri = std::move(next);
                continue;
            }
            std::rethrow_exception(error);
        }
        auto core = std::make_shared<detail::ConnectionCore>(
            std::move(engine), std::move(stream), std::move(doorbell), options.connection, request,
            std::move(*result.response), std::move(result.early));
        core->start(detail::ConnectionCore::Keeper::standby_thread);
        return ClientConnection(std::move(core));
    }
}

} // namespace syncws
