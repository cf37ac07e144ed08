// A wss:// client: connects with certificate and hostname verification (the default),
// sends one message, prints the answer.
//
//   tls_client --url wss://localhost:8765/ [--ca FILE] [--message TEXT]
//
// Pair it with `echo_server --tls-cert cert.pem --tls-key key.pem`; for a self-signed
// certificate pass it as --ca.
#include <syncws/client.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    std::string url;
    std::string message = "Hello over TLS";
    syncws::ClientOptions options;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--url")
            url = argv[i + 1];
        else if (arg == "--ca")
            options.tls.ca_file = argv[i + 1];
        else if (arg == "--message")
            message = argv[i + 1];
        else {
            std::cerr << "usage: tls_client --url wss://host:port/ [--ca FILE] [--message TEXT]\n";
            return 2;
        }
    }
    if (url.empty()) {
        std::cerr << "tls_client: --url is required\n";
        return 2;
    }
    try {
        auto connection = syncws::connect(url, options);
        connection.send_text(message);
        std::cout << connection.recv().data << std::endl;
        connection.close();
        return 0;
    } catch (const syncws::TlsError& e) {
        std::cerr << "tls_client: TLS failed: " << e.what() << "\n";
    } catch (const syncws::Error& e) {
        std::cerr << "tls_client: " << e.what() << "\n";
    }
    return 1;
}
