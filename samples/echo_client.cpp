// A WebSocket echo client: connects, sends back every message it receives, and exits when
// the server closes (the shape Autobahn|Testsuite expects from a client under test).
//
//   echo_client --url ws://127.0.0.1:9001/runCase?case=1&agent=syncws
#include <syncws/client.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    std::string url;
    syncws::ClientOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--url" && i + 1 < argc)
            url = argv[++i];
        else if (arg == "--max-size" && i + 1 < argc)
            options.connection.max_size = std::stoull(argv[++i]);
        else if (arg == "--insecure")
            options.tls.insecure_skip_verify = true;
        else {
            std::cerr << "usage: echo_client --url URL [--max-size BYTES] [--insecure]\n";
            return 2;
        }
    }
    if (url.empty()) {
        std::cerr << "echo_client: --url is required\n";
        return 2;
    }
    try {
        auto connection = syncws::connect(url, options);
        for (auto& message : connection)
            connection.send(message);
        return 0;
    } catch (const syncws::ConnectionClosedError& e) {
        std::cerr << "echo_client: " << e.what() << "\n";
        return 1;
    } catch (const syncws::Error& e) {
        std::cerr << "echo_client: " << e.what() << "\n";
        return 1;
    }
}
