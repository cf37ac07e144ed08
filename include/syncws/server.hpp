// A thread-pool WebSocket server whose handler is a plain function.
#pragma once

#include <syncws/connection.hpp>
#include <syncws/deflate.hpp>
#include <syncws/http.hpp>
#include <syncws/log.hpp>
#include <syncws/protocol.hpp>
#include <syncws/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws {

/// A connection accepted by a `Server`, handed to its handler.
class ServerConnection : public Connection {
public:
    using Connection::Connection;
};

/// What the handler runs for each connection, on a pool thread. When it returns, the
/// connection is closed (1000); if it throws, it is closed with 1011 and the exception is
/// logged. The server goes on either way.
using Handler = std::function<void(ServerConnection& connection)>;

/// Looks at a request before the WebSocket handshake. Return a response to answer plain
/// HTTP instead (health check, 401, 403, …), or nothing to go on with the handshake.
using RequestHook = std::function<std::optional<Response>(const Request& request)>;

/// Edits the handshake response before it is sent (add headers, or replace it).
using ResponseHook = std::function<void(const Request& request, Response& response)>;

/// Options of `Server`.
struct ServerOptions {
    /// Address to listen on: "" or "::" for every address (IPv4 and IPv6),
    /// "127.0.0.1", "::1", a host name…
    std::string host = "";
    /// Port; 0 picks a free one (see `Server::port()`).
    std::uint16_t port = 0;
    /// Listen on this Unix domain socket instead of TCP.
    std::string unix_socket;
    /// Listen backlog.
    int backlog = 128;
    /// Connections handled at once. Beyond it a new client gets HTTP 503, never a silent
    /// close. Each costs two threads (its handler and its I/O thread).
    std::size_t max_connections = 256;
    /// Pool threads kept even when idle; others retire after `idle_thread_timeout`. (Up to
    /// three more wait for clients in accept(), and stay.)
    std::size_t min_threads = 0;
    std::chrono::milliseconds idle_thread_timeout{60000};
    /// Deadline for a client's TLS handshake and HTTP request (a slow client cannot hold
    /// a thread forever).
    std::chrono::milliseconds open_timeout{10000};
    /// Subprotocols in order of preference, or a hook choosing one.
    std::vector<std::string> subprotocols;
    SubprotocolSelector select_subprotocol;
    /// Allowed `Origin` values (empty: any; "" allows requests without Origin).
    std::vector<std::string> origins;
    /// Hooks before and after the handshake (see `RequestHook`, `ResponseHook`).
    RequestHook process_request;
    ResponseHook process_response;
    /// `Server` header; empty for none.
    std::string server_header = "syncws";
    /// Accept permessage-deflate (RFC 7692) when a client offers it.
    bool compression = true;
    /// What to accept when `compression` is on. The defaults (12-bit windows, memLevel 5)
    /// cost about 50 KB per connection that uses compression; see deflate.hpp.
    ServerDeflateOptions deflate;
    /// TLS (`wss://`): set `cert_file`/`key_file` (or the PEM fields) to enable.
    std::optional<TlsOptions> tls;
    /// Receive limits, keepalive, close timeout, write buffer, logging of connections.
    ConnectionOptions connection;
    /// Where the server logs (accept errors, handler exceptions); silent when empty. It
    /// runs on the server's threads: it must not block for long or call `shutdown()`.
    Logger logger;
};

/// A listening WebSocket server.
///
/// Construction binds and listens (so `port()` is known at once); `start()` has the pool's
/// threads accept (each serves the client it accepted), `serve_forever()` does the same and
/// blocks until `shutdown()`, which stops accepting, closes open connections with 1001 and
/// joins every thread.
/// Thread safety: `shutdown()`, `port()`, `connections()` from any thread.
class Server {
public:
    Server(Handler handler, ServerOptions options);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    /// Shuts down and joins everything.
    ~Server();

    /// `start()`, then blocks until `shutdown()` (from another thread or a handler) begins.
    void serve_forever();
    /// Starts accepting on the pool's threads and returns. Once is enough; after
    /// `shutdown()` it does nothing. Throws `NetworkError` if no thread can be started.
    void start();
    /// Stops accepting, closes open connections with `code` (default 1001, going away),
    /// waits up to each connection's close timeout, and joins every thread. Idempotent: a
    /// call while another runs waits for it to finish, except on a handler's or hook's own
    /// thread, where it returns at once (the first call waits for that handler to end; a
    /// handler that joins a thread of its own calling shutdown() deadlocks). Not from a
    /// logger: it runs on threads that shutdown() waits for. Throws `std::invalid_argument`
    /// for a code or reason a close frame cannot carry (see `Close`), before anything is
    /// shut down.
    void shutdown(std::uint16_t code = 1001, std::string_view reason = {});

    /// The bound TCP port (0 for a Unix socket).
    std::uint16_t port() const;
    /// The bound address: "127.0.0.1:8080", "[::]:8080", or the socket path.
    std::string address() const;
    /// Open connections, for broadcasting.
    std::vector<Connection> connections() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

/// A `process_request` hook that demands HTTP Basic credentials (RFC 7617): requests
/// without valid ones get 401 with `WWW-Authenticate: Basic realm="<realm>"`. `check`
/// receives the user name and password and says whether they are valid; it runs on the
/// handshake's thread and must be thread-safe.
RequestHook basic_auth(std::string realm,
                       std::function<bool(std::string_view user, std::string_view password)> check);

/// Creates a listening server (see `Server`).
std::unique_ptr<Server> serve(Handler handler, ServerOptions options = {});

/// Sends `message` to every open connection in `connections` without letting one slow or
/// dead client stall the others: each send runs on its own task, and a connection whose
/// write buffer is full is skipped. Returns how many connections were sent the message.
std::size_t broadcast(const std::vector<Connection>& connections, std::string_view message,
                      bool binary = false);

} // namespace syncws
