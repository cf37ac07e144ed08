// A WebSocket echo server: every message comes back to its sender.
//
//   echo_server [--host H] [--port N] [--unix PATH] [--tls-cert FILE --tls-key FILE]
//               [--max-size BYTES] [--max-connections N] [--verbose]
#include <syncws/server.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

[[noreturn]] void usage(const char* why) {
    std::cerr << "echo_server: " << why << "\n"
              << "usage: echo_server [--host H] [--port N] [--unix PATH]"
                 " [--tls-cert FILE --tls-key FILE] [--max-size BYTES] [--max-connections N]"
                 " [--verbose]\n";
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    syncws::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 8765;
    bool verbose = false;
    std::string cert, key;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
            return argv[++i];
        };
        if (arg == "--host")
            options.host = value();
        else if (arg == "--port")
            options.port = static_cast<std::uint16_t>(std::stoi(value()));
        else if (arg == "--unix")
            options.unix_socket = value();
        else if (arg == "--tls-cert")
            cert = value();
        else if (arg == "--tls-key")
            key = value();
        else if (arg == "--max-size")
            options.connection.max_size = std::stoull(value());
        else if (arg == "--max-connections")
            options.max_connections = std::stoull(value());
        else if (arg == "--verbose")
            verbose = true;
        else
            usage(("unknown option " + arg).c_str());
    }
    if (cert.empty() != key.empty()) usage("--tls-cert and --tls-key go together");
    if (!cert.empty()) {
        syncws::TlsOptions tls;
        tls.cert_file = cert;
        tls.key_file = key;
        options.tls = tls;
    }
    if (verbose) {
        options.logger = [](syncws::LogLevel level, std::string_view message) {
            std::cerr << "[" << syncws::to_string(level) << "] " << message << "\n";
        };
    }

    // The handler is a plain function on a pool thread: receive, send back, until the
    // client closes (the loop then ends quietly).
    auto server = syncws::serve(
        [](syncws::ServerConnection& connection) {
            for (auto& message : connection)
                connection.send(message);
        },
        options);
    std::cout << "echo_server listening on " << (cert.empty() ? "ws://" : "wss://")
              << server->address() << std::endl;
    server->serve_forever();
}
