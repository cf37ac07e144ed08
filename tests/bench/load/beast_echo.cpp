// Boost.Beast's synchronous WebSocket echo server, thread per connection: the shape of Beast's
// own websocket_server_sync (and _ssl) example, a peer baseline for compare.py.
//
//   beast_echo [--host H] [--port N] [--tls-cert FILE --tls-key FILE]
//
// Prints "beast_echo listening on ws://HOST:PORT/" (or wss://) first, then serves until
// killed. Beast's defaults are left as a user would leave them: permessage-deflate off,
// auto-fragment on (4 KiB frames when writing), read_message_max 16 MiB, UTF-8 of text
// messages validated. Each echo is one ws.write(), of the type the message came as. Unlike
// the example, the read buffer is kept across messages and TCP_NODELAY is set (see main).
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#ifdef BEAST_ECHO_TLS
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#endif

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <utility>

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "beast_echo: " << why << "\n"
              << "usage: beast_echo [--host H] [--port N] [--tls-cert FILE --tls-key FILE]\n";
    std::exit(2);
}

// A peer that goes away without a closing handshake is how the load tool ends some runs;
// only other errors are worth a line.
bool expected_end(const beast::error_code& ec) {
    return ec == websocket::error::closed || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe ||
           ec == net::error::operation_aborted
#ifdef BEAST_ECHO_TLS
           || ec == net::ssl::error::stream_truncated
#endif
        ;
}

// Accepts the WebSocket handshake on `ws`, then echoes every message until the peer closes.
template <class Stream> void echo_loop(websocket::stream<Stream>& ws) {
    ws.accept();
    beast::flat_buffer buffer;
    for (;;) {
        ws.read(buffer);
        ws.text(ws.got_text());
        ws.write(buffer.data());
        buffer.consume(buffer.size());
    }
}

void report(const beast::system_error& e) {
    if (!expected_end(e.code())) std::cerr << "beast_echo: " << e.code().message() << "\n";
}

void plain_session(tcp::socket socket) {
    try {
        websocket::stream<tcp::socket> ws{std::move(socket)};
        echo_loop(ws);
    } catch (const beast::system_error& e) {
        report(e);
    } catch (const std::exception& e) {
        std::cerr << "beast_echo: " << e.what() << "\n";
    }
}

#ifdef BEAST_ECHO_TLS
void tls_session(tcp::socket socket, net::ssl::context& context) {
    try {
        websocket::stream<beast::ssl_stream<tcp::socket&>> ws{socket, context};
        ws.next_layer().handshake(net::ssl::stream_base::server);
        echo_loop(ws);
    } catch (const beast::system_error& e) {
        report(e);
    } catch (const std::exception& e) {
        std::cerr << "beast_echo: " << e.what() << "\n";
    }
}
#endif

} // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string cert, key;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--host")
            host = value();
        else if (arg == "--port")
            port = static_cast<unsigned short>(std::stoi(value()));
        else if (arg == "--tls-cert")
            cert = value();
        else if (arg == "--tls-key")
            key = value();
        else
            usage("unknown option " + arg);
    }
    if (cert.empty() != key.empty()) usage("--tls-cert and --tls-key go together");
#ifndef BEAST_ECHO_TLS
    if (!cert.empty()) usage("built without TLS (OpenSSL not found)");
#endif

    try {
        net::io_context ioc{1};
#ifdef BEAST_ECHO_TLS
        net::ssl::context context{net::ssl::context::tls_server};
        if (!cert.empty()) {
            context.use_certificate_chain_file(cert);
            context.use_private_key_file(key, net::ssl::context::pem);
        }
#endif
        tcp::acceptor acceptor{ioc, {net::ip::make_address(host), port}};
        const auto local = acceptor.local_endpoint();
        std::cout << "beast_echo listening on " << (cert.empty() ? "ws://" : "wss://")
                  << local.address().to_string() << ":" << local.port() << "/" << std::endl;
        for (;;) {
            tcp::socket socket{ioc};
            acceptor.accept(socket);
            // The one change to the example: TCP_NODELAY, as raw_echo and syncws set it.
            // Without it Nagle holds the TLS close_notify behind the close frame until the
            // peer's delayed ACK (40 ms): 42 handshakes/s instead of ~1,200 over wss://.
            socket.set_option(tcp::no_delay(true));
            // As Beast's example: one detached thread per connection.
#ifdef BEAST_ECHO_TLS
            if (!cert.empty()) {
                std::thread(tls_session, std::move(socket), std::ref(context)).detach();
                continue;
            }
#endif
            std::thread(plain_session, std::move(socket)).detach();
        }
    } catch (const std::exception& e) {
        std::cerr << "beast_echo: " << e.what() << "\n";
        return 1;
    }
}
