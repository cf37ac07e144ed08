// A chat server: every message a client sends goes to every connected client.
//
//   chat_server [--host H] [--port N]
//
// broadcast() never waits on a slow or dead client: a client whose write buffer is full
// misses the message instead of stalling everyone else.
#include <syncws/server.hpp>

#include <iostream>
#include <memory>
#include <string>

int main(int argc, char** argv) {
    syncws::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 8765;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--host")
            options.host = argv[i + 1];
        else if (arg == "--port")
            options.port = static_cast<std::uint16_t>(std::stoi(argv[i + 1]));
        else {
            std::cerr << "usage: chat_server [--host H] [--port N]\n";
            return 2;
        }
    }
    syncws::Server* server = nullptr;
    auto owner = syncws::serve(
        [&server](syncws::ServerConnection& connection) {
            const std::string who = connection.remote_address();
            syncws::broadcast(server->connections(), who + " joined");
            for (auto& message : connection)
                if (message.is_text())
                    syncws::broadcast(server->connections(), who + ": " + message.data);
            syncws::broadcast(server->connections(), who + " left");
        },
        options);
    server = owner.get();
    std::cout << "chat_server listening on ws://" << server->address() << std::endl;
    server->serve_forever();
}
