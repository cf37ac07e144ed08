#include "resolve.hpp"

#include <syncws/errors.hpp>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <system_error>

namespace syncws::net {

namespace {

struct AddrinfoDeleter {
    void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

// getaddrinfo() has its own error numbers; a category keeps gai_strerror()'s text in
// NetworkError::what() and the number in code().
class GaiCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int value) const override { return ::gai_strerror(value); }
};

std::error_code gai_error_code(int gai_error) {
    if (gai_error == EAI_SYSTEM) return {errno, std::system_category()};
    static const GaiCategory category; // stateless: an error_category must have one address
    return {gai_error, category};
}

} // namespace

std::string_view strip_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return host.substr(1, host.size() - 2);
    }
    return host;
}

bool is_ip_literal(std::string_view host) {
    std::string bare(strip_brackets(host));
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, bare.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, bare.c_str(), buf) == 1;
}

std::string host_port(std::string_view host, std::uint16_t port) {
    std::string_view bare = strip_brackets(host);
    std::string out;
    if (bare.find(':') != std::string_view::npos) {
        out.append("[").append(bare).append("]");
    } else {
        out.append(bare);
    }
    return out.append(":").append(std::to_string(port));
}

std::string format_address(const sockaddr* address, socklen_t length) {
    if (address->sa_family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(address);
        auto offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
        if (length <= offset) return {};
        std::size_t max = length - offset;
        // Pathname sockets are NUL-terminated within the length; an abstract socket
        // (Linux) starts with a NUL, shown as '@' the way ss(8) does.
        if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, max - 1);
        return std::string(un->sun_path, ::strnlen(un->sun_path, max));
    }
    // inet_ntop rather than getnameinfo: a server formats two addresses per connection,
    // and getnameinfo's generality (locks, snprintf) showed in its handshakes/s. Only a
    // scoped IPv6 address ("fe80::1%eth0") needs it, for the interface's name.
    char host[NI_MAXHOST];
    if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
        if (!::inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host)) return {};
        return std::string(host) + ":" + std::to_string(ntohs(in4->sin_port));
    }
    if (address->sa_family != AF_INET6 || length < static_cast<socklen_t>(sizeof(sockaddr_in6)))
        return {};
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    const bool formatted =
        in6->sin6_scope_id == 0
            ? ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) != nullptr
            : ::getnameinfo(address, length, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0;
    if (!formatted) return {};
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

std::string Endpoint::to_string() const {
    return format_address(data(), length);
}

std::vector<Endpoint> resolve(std::string_view host, std::uint16_t port, bool passive) {
    std::string bare(strip_brackets(host));
    std::string service = std::to_string(port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    // No AI_ADDRCONFIG: it hides ::1 (and on some systems 127.0.0.1) on hosts whose only
    // configured addresses are loopback, which is exactly where tests and sidecars run.
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* raw = nullptr;
    int r = ::getaddrinfo(bare.empty() ? nullptr : bare.c_str(), service.c_str(), &hints, &raw);
    std::unique_ptr<addrinfo, AddrinfoDeleter> list(raw);
    if (r != 0) {
        throw NetworkError(gai_error_code(r), "DNS lookup failed for " + bare);
    }
    std::vector<Endpoint> endpoints;
    for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
        Endpoint e;
        e.family = ai->ai_family;
        std::memcpy(&e.address, ai->ai_addr, ai->ai_addrlen);
        e.length = ai->ai_addrlen;
        endpoints.push_back(e);
    }
    if (endpoints.empty()) {
        throw NetworkError(gai_error_code(EAI_NONAME), "DNS lookup failed for " + bare);
    }
    return endpoints;
}

std::vector<Endpoint> resolve(const Resolver& resolver, std::string_view host,
                              std::uint16_t port, Deadline deadline) {
    return resolver ? resolver(host, port, deadline) : resolve(host, port);
}

} // namespace syncws::net
