#include "base64.hpp"
#include "connection_core.hpp"
#include "handshake_io.hpp"
#include "headers.hpp"
#include "listener.hpp"
#include "thread_pool.hpp"

#include <syncws/client.hpp>
#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>
#include <syncws/server.hpp>

#include <condition_variable>
#include <fcntl.h>
#include <optional>
#include <set>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#if SYNCWS_HAVE_TLS
#include "tls.hpp"
#endif

namespace syncws {

using detail::Clock;

struct Server::Impl {
    Impl(Handler h, ServerOptions o) : handler(std::move(h)), options(std::move(o)) {}

    // A pool task: accepts, serves what it accepted, and goes back to accepting while
    // fewer than max_acceptors wait there (README, "Accepting on the pool's threads").
    void accept_and_serve();
    // Counts one more acceptor and starts its task (`mutex` not held).
    enum class Added { yes, stopping, no_thread };
    Added add_acceptor();
    // Answers 503 off the accepting threads (a refusal reads the request and, over TLS, runs
    // a handshake), or drops the client when refusals are already at their limit.
    void refuse(std::unique_ptr<net::Stream> stream);
    void keep_loop();
    // watch_fd: the socket's number for shutdown() while the handshake waits on the client
    // (-1: none); closed at the end of the watch if `owned` (a duplicate).
    void handle(std::unique_ptr<net::Stream> stream, int watch_fd, bool owned);
    void watch_handshake(int fd);
    void unwatch_handshake(int fd, bool owned);
    void refuse_overloaded(std::unique_ptr<net::Stream> stream);
    void log(LogLevel level, const std::string& message) const {
        if (!options.logger) return;
        try {
            options.logger(level, message);
        } catch (...) {
            // A throwing logger must not stop the server.
        }
    }

    Handler handler;
    ServerOptions options;
    ServerHandshakeOptions handshake;
    std::unique_ptr<net::Listener> listener;
    bool listener_defers_accept = false;
    // With defer-accept, the request is usually in when accept() returns. Over TLS that
    // was the ClientHello; the request comes after the TLS handshake.
    detail::PeerBytes peer_bytes_at_accept() const {
#if SYNCWS_HAVE_TLS
        if (tls) return detail::PeerBytes::awaited;
#endif
        return listener_defers_accept ? detail::PeerBytes::likely_in : detail::PeerBytes::awaited;
    }
#if SYNCWS_HAVE_TLS
    std::shared_ptr<net::TlsContext> tls;
#endif
    // Threads waiting in accept(). The kernel wakes the one that waited longest, so more
    // of them means colder threads and more sleeps: with 8 threads accepting for 4 clients,
    // handshakes/s fell by a fifth against 4. A thread that served goes back to accept()
    // while fewer than this wait there; otherwise it waits in the pool.
    static constexpr std::size_t max_acceptors = 2;
    // Runs the tasks that accept and serve: max_connections serving, max_acceptors
    // accepting, and room for tasks that are ending (out of the counts, not yet the pool's).
    std::unique_ptr<detail::ThreadPool> pool;
    // Answers 503 to clients beyond max_connections, off the accepting threads. Small:
    // under a flood, clients beyond it are dropped rather than piling up threads.
    std::unique_ptr<detail::ThreadPool> refusals;
    detail::Thread keeper_thread;

    mutable std::mutex mutex;
    std::set<std::shared_ptr<detail::ConnectionCore>> open; // guarded by mutex
    // The sockets of connections whose opening handshake still waits for the client (TLS
    // handshake, request), guarded by mutex. shutdown() shuts down their receiving side, so
    // they end at once (EOF) instead of holding shutdown up to open_timeout. A connection
    // that has its request goes on to its 101 and is then closed with 1001 like the others.
    // No number here may be closed while it is here (it could be reused by another open):
    // see accept_and_serve.
    std::set<int> handshaking;
    bool started = false;               // guarded by mutex
    bool accept_failing = false;        // guarded by mutex: logged once, until it works again
    bool stopping = false;              // guarded by mutex
    std::size_t acceptors = 0;          // guarded by mutex: tasks in (or on their way to) accept()
    std::size_t handlers = 0;           // guarded by mutex: connections being served
    std::condition_variable acceptors_cv; // `acceptors` fell to 0 after stopping
    bool keeper_stop = false;           // guarded by mutex: after the connections' closes
    std::condition_variable stop_cv;    // signals `stopping` and `shutdown_done`
    std::condition_variable keeper_cv;  // `keeper_stop`, and a connection to an asleep keeper
    bool keeper_asleep = false;         // guarded by mutex
    std::uint16_t shutdown_code = 1001; // guarded by mutex
    std::string shutdown_reason;        // guarded by mutex
    bool shutdown_done = false;         // guarded by mutex
    // True on a thread of this server's tasks (a handler, an acceptor, a refusal).
    bool runs_this_thread() const noexcept {
        return pool->runs_this_thread() || refusals->runs_this_thread();
    }
};

Server::Server(Handler handler, ServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(handler), std::move(options))) {
    Impl& s = *impl_;
    const ServerOptions& o = s.options;
    if (!s.handler) throw std::invalid_argument("Server needs a handler");
    s.handshake.subprotocols = o.subprotocols;
    s.handshake.select_subprotocol = o.select_subprotocol;
    s.handshake.origins = o.origins;
    if (o.compression) s.handshake.extensions.push_back(make_server_deflate(o.deflate));
#if SYNCWS_HAVE_TLS
    if (o.tls) s.tls = net::TlsContext::server(*o.tls);
#else
    if (o.tls) throw TlsError("this build of syncws has no TLS support (wss://)");
#endif
    s.listener = o.unix_socket.empty() ? net::Listener::tcp(o.host, o.port, o.backlog)
                                       : net::Listener::unix_socket(o.unix_socket, o.backlog);
    // WebSocket clients speak first; open_timeout counts from the accept, a second later
    // for a silent one (README, "Design decisions").
    s.listener_defers_accept = s.listener->defer_accept_until_data();
    // A handler is user code: give it an ordinary stack, unlike the I/O thread.
    s.pool = std::make_unique<detail::ThreadPool>(o.max_connections + 2 * Impl::max_acceptors,
                                                  o.min_threads, o.idle_thread_timeout,
                                                  8 * 1024 * 1024);
    s.refusals = std::make_unique<detail::ThreadPool>(2, 0, std::chrono::seconds(1), 256 * 1024);
    // Its promotions may poll a TLS stream (OpenSSL) and start threads: no tiny stack.
    s.keeper_thread.start(256 * 1024, [&s] { s.keep_loop(); });
}

Server::~Server() {
    shutdown();
    // After a shutdown() called from a handler, that handler's task may still run: it
    // uses Impl, so it must end before Impl does.
    impl_->pool->shutdown();
    impl_->refusals->shutdown();
}

std::uint16_t Server::port() const {
    return impl_->listener->port();
}
std::string Server::address() const {
    return impl_->listener->local_address();
}

void Server::serve_forever() {
    start();
    Impl& s = *impl_;
    std::unique_lock lock(s.mutex);
    s.stop_cv.wait(lock, [&] { return s.stopping; });
}

void Server::start() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        if (s.started || s.stopping) return;
        s.started = true;
    }
    s.log(LogLevel::info, "listening on " + s.listener->local_address());
    if (s.add_acceptor() != Impl::Added::no_thread) return; // or shut down meanwhile
    {
        std::lock_guard lock(s.mutex);
        s.started = false; // a later start() may try again
    }
    throw NetworkError(std::make_error_code(std::errc::resource_unavailable_try_again),
                       "cannot start a thread to accept connections on " +
                           s.listener->local_address());
}

Server::Impl::Added Server::Impl::add_acceptor() {
    {
        std::lock_guard lock(mutex);
        if (stopping) return Added::stopping;
        ++acceptors;
    }
    if (pool->try_submit([this] { accept_and_serve(); })) return Added::yes;
    std::lock_guard lock(mutex);
    --acceptors;
    acceptors_cv.notify_all();
    return Added::no_thread;
}

void Server::Impl::refuse(std::unique_ptr<net::Stream> stream) {
    // std::function needs a copyable task: the stream travels in a shared holder.
    auto holder = std::make_shared<std::unique_ptr<net::Stream>>(std::move(stream));
    if (!refusals->try_submit([this, holder] { refuse_overloaded(std::move(*holder)); }))
        log(LogLevel::warning, "dropping a connection: " +
                                   std::to_string(options.max_connections) +
                                   " connections open and refusals already in progress");
}

void Server::Impl::accept_and_serve() {
    for (;;) {
        std::unique_ptr<net::SocketStream> socket;
        try {
            socket = listener->accept();
        } catch (const std::exception& e) {
            // Out of descriptors and the like: say so (once), and keep serving those we
            // have. accept(2) takes a descriptor number before it waits, so with the table
            // full it fails at once even with no client: back off instead of spinning.
            // Descriptors come back as connections end; shutdown() cuts the wait short.
            std::unique_lock lock(mutex);
            if (!std::exchange(accept_failing, true)) {
                lock.unlock();
                log(LogLevel::error, std::string("accept failed: ") + e.what() +
                                         " (retrying every 100 ms)");
                lock.lock();
            }
            stop_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping; });
            continue;
        }
        bool over_limit = false;
        bool another = false;
        bool recovered = false;
        {
            std::lock_guard lock(mutex);
            recovered = socket && std::exchange(accept_failing, false);
            if (!socket) { // closed: shutting down
                --acceptors;
                acceptors_cv.notify_all();
                return;
            }
            if (handlers >= options.max_connections) {
                over_limit = true;
            } else {
                ++handlers;
                --acceptors;
                // This thread serves now: someone else accepts meanwhile.
                another = acceptors == 0 && !stopping;
            }
        }
        if (recovered) log(LogLevel::info, "accepting again");
        if (another && add_acceptor() == Added::no_thread) {
            // No thread to accept while this one serves (handlers may last for hours):
            // this one goes on accepting, and this client is told to come back.
            {
                std::lock_guard lock(mutex);
                --handlers;
                ++acceptors;
            }
            log(LogLevel::warning, "no thread to accept connections while serving one");
            over_limit = true;
        }
        if (over_limit) {
            try {
                refuse(std::move(socket));
            } catch (const std::exception&) {
                // Out of memory: the client is dropped, the server goes on.
            }
            continue;
        }
        // A plain socket stays open in handle() until its watch ends. A TLS handshake that
        // fails closes it inside TlsStream, so TLS watches a duplicate of its own; without
        // TLS the duplicate would cost two system calls per connection for nothing.
        int watch_fd = socket->native_handle();
        bool watch_fd_owned = false;
#if SYNCWS_HAVE_TLS
        if (tls) {
            watch_fd = ::fcntl(watch_fd, F_DUPFD_CLOEXEC, 0);
            watch_fd_owned = true;
        }
#endif
        try {
            handle(std::move(socket), watch_fd, watch_fd_owned);
        } catch (...) {
            // handle() catches what user code throws as std::exception; anything else must
            // not cost this connection's slot for good.
            log(LogLevel::error, "connection failed with a non-standard exception");
        }
        // Back to accepting: the kernel hands the next client straight to this thread.
        std::lock_guard lock(mutex);
        --handlers;
        if (stopping || acceptors >= max_acceptors) return; // the thread waits in the pool
        ++acceptors;
    }
}

void Server::Impl::keep_loop() {
    // A scan of every connection: not much more often than needed.
    const auto period = detail::ConnectionCore::owner_away_limit;
    // It goes on ticking for a while once no connection is left: waking it for every new
    // connection of a server that serves them one after another cost a context switch
    // each (handshakes/s).
    constexpr int idle_periods_before_sleep = 20;
    int idle_periods = 0;
    std::vector<std::shared_ptr<detail::ConnectionCore>> needing_help;
    std::unique_lock lock(mutex);
    for (;;) {
        if (!open.empty()) {
            idle_periods = 0;
        } else if (++idle_periods > idle_periods_before_sleep) {
            // No connection for a while, no reason to wake.
            keeper_asleep = true;
            keeper_cv.wait(lock, [&] { return keeper_stop || !open.empty(); });
            keeper_asleep = false;
            idle_periods = 0;
        }
        if (keeper_cv.wait_for(lock, period, [&] { return keeper_stop; })) return;
        for (const auto& core : open) {
            core->promote_if_away(period);
            if (core->deaf_loop_needs_help()) needing_help.push_back(core);
        }
        if (needing_help.empty()) continue;
        // It writes and may log: not under the server's lock.
        lock.unlock();
        for (const auto& core : needing_help)
            core->help_deaf_loop();
        needing_help.clear();
        lock.lock();
    }
}

void Server::Impl::refuse_overloaded(std::unique_ptr<net::Stream> stream) {
    // Never a silent close: tell the client to come back later. The request is read
    // first (briefly) so that closing doesn't reset the connection under the answer.
    log(LogLevel::warning, "refusing " + stream->remote_address() + ": " +
                               std::to_string(options.max_connections) +
                               " connections already open");
    try {
        const auto deadline = detail::deadline_after(
            std::min<std::chrono::milliseconds>(options.open_timeout, std::chrono::seconds(1)));
#if SYNCWS_HAVE_TLS
        // The answer must be readable by a wss:// client: inside TLS, not plaintext.
        if (tls) stream = net::TlsStream::server(std::move(stream), tls, deadline);
#endif
        std::string buffer(8192, '\0');
        if (stream->wait_readable(deadline)) stream->read_some(buffer.data(), buffer.size());
        Response response;
        response.status = 503;
        response.headers.add("Content-Type", "text/plain; charset=utf-8");
        response.headers.add("Retry-After", "1");
        response.headers.add("Connection", "close");
        response.body = "Too many connections: try again later.\n";
        const std::string bytes = response.serialize();
        stream->write_all(bytes.data(), bytes.size());
        stream->shutdown_write();
    } catch (const Error&) {
        // The client went away; nothing to tell it.
    }
}

void Server::Impl::watch_handshake(int fd) {
    std::lock_guard lock(mutex);
    handshaking.insert(fd);
    if (stopping) ::shutdown(fd, SHUT_RD);
}

void Server::Impl::unwatch_handshake(int fd, bool owned) {
    std::lock_guard lock(mutex);
    handshaking.erase(fd);
    if (owned) ::close(fd);
}

void Server::Impl::handle(std::unique_ptr<net::Stream> stream, int watch_fd, bool owned) {
    const auto deadline = detail::deadline_after(options.open_timeout);
    // Registered for shutdown() until the client's request is in (or the handshake failed).
    // A local: it ends before the parameter `stream` can close a plain socket.
    struct Watch {
        Impl& server;
        int fd;
        bool owned;
        ~Watch() { release(); }
        void release() {
            if (fd >= 0) server.unwatch_handshake(std::exchange(fd, -1), owned);
        }
    } watch{*this, watch_fd, owned};
    if (watch_fd >= 0) watch_handshake(watch_fd);
    std::string peer;
    try {
        peer = stream->remote_address();
        log(LogLevel::debug, "opening handshake with " + peer);
#if SYNCWS_HAVE_TLS
        if (tls) stream = net::TlsStream::server(std::move(stream), tls, deadline);
#endif
        ProtocolOptions protocol;
        protocol.max_size = options.connection.max_size;
        auto engine = std::make_unique<ServerProtocol>(handshake, protocol);
        auto result =
            detail::run_handshake(*engine, *stream, deadline, "opening handshake with " + peer,
                                  peer_bytes_at_accept());
        // The request is in: from here the handshake no longer waits on the client.
        watch.release();
        if (!result.request) {
            // The engine answered a malformed request itself (400 / 431), or the client
            // left.
            if (const auto error = engine->handshake_error()) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    log(LogLevel::info, "handshake with " + peer + " failed: " + e.what());
                }
            }
            return;
        }
        const Request& request = *result.request;
        Response response;
        std::optional<Response> answer;
        try {
            if (options.process_request) answer = options.process_request(request);
            if (answer) {
                response = std::move(*answer);
                if (response.status == 101)
                    throw InvalidState(
                        "process_request may not answer 101; return nothing instead");
            } else {
                response = engine->accept(request);
            }
            if (options.process_response) options.process_response(request, response);
        } catch (const std::exception& e) {
            // A failing hook is the server's fault: say so (500) rather than hang up.
            log(LogLevel::error, "request hook failed for " + peer + ": " + e.what());
            response = engine->reject(500, "Internal Server Error");
        } catch (...) {
            log(LogLevel::error,
                "request hook failed for " + peer + " with a non-standard exception");
            response = engine->reject(500, "Internal Server Error");
        }
        if (!options.server_header.empty() && !response.headers.contains("Server"))
            response.headers.add("Server", options.server_header);
        engine->send_response(response);
        detail::flush_engine(*engine, *stream);
        if (response.status != 101) {
            if (const auto error = engine->handshake_error()) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    log(LogLevel::info, "answered " + peer + " with HTTP " +
                                            std::to_string(response.status) + ": " + e.what());
                }
            }
            // Let the client read the answer before the socket closes: wait for its EOF.
            std::string sink(4096, '\0');
            const auto linger = detail::deadline_after(options.connection.close_timeout);
            while (stream->wait_readable(linger) &&
                   stream->read_some(sink.data(), sink.size()) > 0) {
            }
            return;
        }
        detail::drain_events(*engine, result.early);
        auto core = std::make_shared<detail::ConnectionCore>(
            std::move(engine), std::move(stream), nullptr, options.connection,
            request, response, std::move(result.early));
        bool stopped = false;
        std::uint16_t stop_code = 1001;
        std::string stop_reason;
        {
            std::lock_guard lock(mutex);
            stopped = stopping;
            stop_code = shutdown_code;
            stop_reason = shutdown_reason;
            if (!stopped) {
                if (keeper_asleep) keeper_cv.notify_one();
                open.insert(core);
            }
        }
        // Started by the thread that will run the handler: it runs the connection's I/O.
        core->start(detail::ConnectionCore::Keeper::server);
        if (stopped) {
            // shutdown() raced with this handshake. The client has its 101: close the
            // connection the way shutdown closes the others, not with a silent drop (1006).
            core->close(stop_code, stop_reason);
            core->shutdown();
            return;
        }
        ServerConnection connection(core);
        try {
            handler(connection);
            connection.close(1000);
        } catch (const ConnectionClosed&) {
            // The handler let the end of the connection through: that's normal.
        } catch (const std::exception& e) {
            log(LogLevel::error, "handler failed for " + peer + ": " + e.what());
            connection.close(static_cast<std::uint16_t>(CloseCode::internal_error));
        } catch (...) {
            log(LogLevel::error, "handler failed for " + peer + " with a non-standard exception");
            connection.close(static_cast<std::uint16_t>(CloseCode::internal_error));
        }
        {
            std::lock_guard lock(mutex);
            open.erase(core);
        }
        core->shutdown();
    } catch (const std::exception& e) {
        log(LogLevel::info, "connection with " + peer + " failed: " + e.what());
    }
}

void Server::shutdown(std::uint16_t code, std::string_view reason) {
    Impl& s = *impl_;
    // A code or reason that cannot be sent throws std::invalid_argument here, not halfway
    // through, with the listener gone and the connections still open.
    static_cast<void>(Close{code, std::string(reason)}.serialize());
    std::string reason_copy(reason);
    std::vector<std::shared_ptr<detail::ConnectionCore>> open;
    {
        std::unique_lock lock(s.mutex);
        if (s.stopping) {
            // Another call is shutting down. From outside, wait until it is done, as the
            // first caller does. From one of our tasks, return at once: that call waits
            // for this task to end (two handlers stopping their server together).
            if (!s.runs_this_thread()) s.stop_cv.wait(lock, [&] { return s.shutdown_done; });
            return;
        }
        open.assign(s.open.begin(), s.open.end()); // may throw: before anything changes
        s.stopping = true;
        s.stop_cv.notify_all();
        s.shutdown_code = code;
        s.shutdown_reason = std::move(reason_copy);
        for (const int fd : s.handshaking)
            ::shutdown(fd, SHUT_RD);
    }
    // Whatever happens below, callers waiting for this one must not wait for ever. The
    // notification is made under the lock: a waiter that sees the flag may destroy the
    // server (and the condition variable) as soon as the lock is free.
    struct Done {
        Impl& s;
        ~Done() {
            std::lock_guard lock(s.mutex);
            s.shutdown_done = true;
            s.stop_cv.notify_all();
        }
    } done{s};
    s.listener->close(); // wakes every acceptor
    {
        // Every accept() returned: the port can go (late clients are refused at once).
        std::unique_lock lock(s.mutex);
        s.acceptors_cv.wait(lock, [&] { return s.acceptors == 0; });
    }
    s.listener->release();
    s.refusals->shutdown();
    // Send every close frame first, then wait: closing one by one would add up the
    // timeouts of unresponsive clients. One that fails to close (out of memory) does not
    // keep the others open.
    for (auto& core : open) {
        try {
            core->begin_close(code, reason);
        } catch (...) {
        }
    }
    for (auto& core : open) {
        try {
            core->close(code, reason);
        } catch (...) {
        }
    }
    s.pool->shutdown();
    // Only now: the closes above may need it (what a close frame left unwritten on a
    // connection whose loop cannot hear, a handler away during the closing handshake).
    {
        std::lock_guard lock(s.mutex);
        s.keeper_stop = true;
    }
    s.keeper_cv.notify_all();
    s.keeper_thread.join();
}

std::vector<Connection> Server::connections() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<Connection> result;
    for (const auto& core : impl_->open)
        result.emplace_back(core);
    return result;
}

RequestHook
basic_auth(std::string realm,
           std::function<bool(std::string_view user, std::string_view password)> check) {
    return [realm = std::move(realm),
            check = std::move(check)](const Request& request) -> std::optional<Response> {
        if (const auto header = request.headers.get("Authorization")) {
            constexpr std::string_view scheme = "Basic ";
            if (header->size() > scheme.size() &&
                detail::iequals(header->substr(0, scheme.size()), scheme)) {
                const auto decoded = detail::base64_decode(header->substr(scheme.size()));
                if (decoded) {
                    const auto colon = decoded->find(':');
                    if (colon != std::string::npos &&
                        check(std::string_view(*decoded).substr(0, colon),
                              std::string_view(*decoded).substr(colon + 1)))
                        return std::nullopt;
                }
            }
        }
        Response response;
        response.status = 401;
        response.headers.add("WWW-Authenticate",
                             "Basic realm=\"" + realm + "\", charset=\"UTF-8\"");
        response.headers.add("Content-Type", "text/plain; charset=utf-8");
        response.headers.add("Connection", "close");
        response.body = "Missing or invalid credentials.\n";
        return response;
    };
}

std::unique_ptr<Server> serve(Handler handler, ServerOptions options) {
    return std::make_unique<Server>(std::move(handler), std::move(options));
}

std::size_t broadcast(const std::vector<Connection>& connections, std::string_view message,
                      bool binary) {
    std::size_t sent = 0;
    for (const auto& connection : connections) {
        if (connection.try_send(message, binary)) ++sent;
    }
    return sent;
}

} // namespace syncws
