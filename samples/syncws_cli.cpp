// The syncws command-line tool.
//
//   syncws URL [--header 'Name: value']... [--subprotocol P]... [--insecure] [--ca FILE]
//       An interactive client: each line of standard input is sent as a text message;
//       received messages are printed as they arrive. End of input closes the connection.
//   syncws serve --echo [--host H] [--port N] [--unix PATH] [--tls-cert F --tls-key F]
//       An echo server.
#include <syncws/client.hpp>
#include <syncws/server.hpp>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::mutex output_mutex;

void say(const std::string& line) {
    std::lock_guard lock(output_mutex);
    std::cout << line << std::endl;
}

// what() of an exception and of every exception nested in it.
std::string explain(const std::exception& e) {
    std::string text = e.what();
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& cause) {
        text += ": " + explain(cause);
    } catch (...) {
    }
    return text;
}

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "syncws: " << why << "\n"
              << "usage: syncws URL [--header 'Name: value'] [--subprotocol P] [--insecure]"
                 " [--ca FILE]\n"
              << "       syncws serve --echo [--host H] [--port N] [--unix PATH]"
                 " [--tls-cert FILE --tls-key FILE]\n";
    std::exit(2);
}

int run_client(int argc, char** argv) {
    std::string url;
    syncws::ClientOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--header") {
            const std::string header = value();
            const auto colon = header.find(':');
            if (colon == std::string::npos) usage("--header wants 'Name: value'");
            std::string field = header.substr(colon + 1);
            field.erase(0, field.find_first_not_of(' '));
            options.headers.add(header.substr(0, colon), field);
        } else if (arg == "--subprotocol") {
            options.subprotocols.push_back(value());
        } else if (arg == "--insecure") {
            options.tls.insecure_skip_verify = true;
        } else if (arg == "--ca") {
            options.tls.ca_file = value();
        } else if (!arg.empty() && arg[0] == '-') {
            usage("unknown option " + arg);
        } else if (url.empty()) {
            url = arg;
        } else {
            usage("one URL only");
        }
    }
    if (url.empty()) usage("missing URL");
    try {
        auto connection = syncws::connect(url, options);
        say("Connected to " + url +
            (connection.subprotocol().empty() ? std::string()
                                              : " (subprotocol " + connection.subprotocol() + ")"));
        std::thread printer([&connection] {
            try {
                for (auto& message : connection)
                    say(message.is_text()
                            ? "< " + message.data
                            : "< (binary, " + std::to_string(message.data.size()) + " bytes)");
                say("Connection closed: " + std::to_string(connection.close_code()) + " " +
                    connection.close_reason());
            } catch (const syncws::Error& e) {
                say("Connection failed: " + explain(e));
            }
        });
        std::string line;
        while (std::getline(std::cin, line)) {
            try {
                connection.send_text(line);
            } catch (const syncws::ConnectionClosed&) {
                break;
            }
        }
        connection.close();
        printer.join();
        return connection.close_code() == 1000 ? 0 : 1;
    } catch (const syncws::Error& e) {
        std::cerr << "syncws: " << explain(e) << "\n";
        return 1;
    }
}

int run_server(int argc, char** argv) {
    syncws::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 8765;
    bool echo = false;
    std::string cert, key;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        if (arg == "--echo")
            echo = true;
        else if (arg == "--host")
            options.host = value();
        else if (arg == "--port")
            options.port = static_cast<std::uint16_t>(std::stoi(value()));
        else if (arg == "--unix")
            options.unix_socket = value();
        else if (arg == "--tls-cert")
            cert = value();
        else if (arg == "--tls-key")
            key = value();
        else
            usage("unknown option " + arg);
    }
    if (!echo) usage("serve needs --echo (the only server the tool has)");
    if (cert.empty() != key.empty()) usage("--tls-cert and --tls-key go together");
    if (!cert.empty()) {
        syncws::TlsOptions tls;
        tls.cert_file = cert;
        tls.key_file = key;
        options.tls = tls;
    }
    try {
        auto server = syncws::serve(
            [](syncws::ServerConnection& connection) {
                for (auto& message : connection)
                    connection.send(message);
            },
            options);
        say(std::string("Echo server on ") + (cert.empty() ? "ws://" : "wss://") +
            server->address());
        server->serve_forever();
        return 0;
    } catch (const syncws::Error& e) {
        std::cerr << "syncws: " << explain(e) << "\n";
        return 1;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage("missing URL or command");
    if (std::string(argv[1]) == "serve") return run_server(argc, argv);
    return run_client(argc, argv);
}
