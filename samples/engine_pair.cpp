// A client engine and a server engine talking to each other in memory, no sockets: the
// opening handshake, one message and its echo, the closing handshake. Every step prints
// which side acts, the events it sees and the bytes it puts on the wire.
//
// This is what the blocking runtime does around a socket, shown without one: after every
// call, drain `next_event()` and hand `take_output()` to the peer; when `eof_to_send()`
// turns true, half-close. Exits 1 if anything differs from RFC 6455's script.
#include <syncws/errors.hpp>
#include <syncws/frame.hpp>
#include <syncws/http.hpp>
#include <syncws/protocol.hpp>
#include <syncws/uri.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace {

using syncws::Bytes;
using syncws::Event;
using syncws::Protocol;
using syncws::State;

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

// Anything that does not go by the script: main() reports it and exits 1.
class Unexpected : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void expect(bool condition, const std::string& what) {
    if (!condition) {
        throw Unexpected(what);
    }
}

const char* state_name(State state) {
    switch (state) {
    case State::connecting:
        return "CONNECTING";
    case State::open:
        return "OPEN";
    case State::closing:
        return "CLOSING";
    case State::closed:
        return "CLOSED";
    }
    return "?";
}

const char* opcode_name(syncws::Opcode opcode) {
    switch (opcode) {
    case syncws::Opcode::continuation:
        return "continuation";
    case syncws::Opcode::text:
        return "text";
    case syncws::Opcode::binary:
        return "binary";
    case syncws::Opcode::close:
        return "close";
    case syncws::Opcode::ping:
        return "ping";
    case syncws::Opcode::pong:
        return "pong";
    }
    return "reserved";
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        if (!out.empty()) {
            out += ' ';
        }
        out += digits[byte >> 4];
        out += digits[byte & 0xf];
    }
    return out;
}

// Prints a batch of frames one per line: the bytes in hex and what their header says
// (RFC 6455 §5.2). This is a display aid, not a parser: it trusts its input.
void print_frames(std::string_view wire) {
    while (wire.size() >= 2) {
        const auto b0 = static_cast<unsigned char>(wire[0]);
        const auto b1 = static_cast<unsigned char>(wire[1]);
        std::size_t header = 2;
        std::uint64_t length = b1 & 0x7f;
        if (length == 126 && wire.size() >= 4) {
            length = (std::uint64_t{static_cast<unsigned char>(wire[2])} << 8) |
                     static_cast<unsigned char>(wire[3]);
            header = 4;
        } else if (length == 127 && wire.size() >= 10) {
            length = 0;
            for (std::size_t i = 2; i < 10; ++i) {
                length = (length << 8) | static_cast<unsigned char>(wire[i]);
            }
            header = 10;
        }
        const bool masked = (b1 & 0x80) != 0;
        header += masked ? 4 : 0;
        const std::size_t size =
            header + length > wire.size() ? wire.size() : static_cast<std::size_t>(header + length);
        std::printf(
            "      %s\n        (%s%s, %s, %llu-byte payload)\n", hex(wire.substr(0, size)).c_str(),
            opcode_name(static_cast<syncws::Opcode>(b0 & 0x0f)), (b0 & 0x80) != 0 ? " FIN" : "",
            masked ? "masked" : "unmasked", static_cast<unsigned long long>(length));
        wire.remove_prefix(size);
    }
}

void print_http(std::string_view head) {
    while (!head.empty()) {
        const auto end = head.find("\r\n");
        const auto line = head.substr(0, end);
        if (!line.empty()) {
            std::printf("      %.*s\n", static_cast<int>(line.size()), line.data());
        }
        if (end == std::string_view::npos) {
            break;
        }
        head.remove_prefix(end + 2);
    }
}

std::string describe(const Event& event) {
    return std::visit(
        Overloaded{
            [](const syncws::Request& request) {
                return "Request " + request.method + " " + request.target;
            },
            [](const syncws::Response& response) {
                return "Response " + std::to_string(response.status) + " " + response.reason;
            },
            [](const syncws::Frame& frame) {
                std::string text = std::string("Frame ") + opcode_name(frame.opcode) +
                                   (frame.fin ? " FIN" : "") + " \"" + frame.payload + "\"";
                if (frame.opcode == syncws::Opcode::close) {
                    if (const auto close = syncws::Close::parse(frame.payload)) {
                        text = "Frame close " + close->to_string();
                    }
                }
                return text;
            },
        },
        event);
}

// One engine and its name, with the helpers the exchange needs.
struct Peer {
    const char* name;
    Protocol& engine;
    bool eof_delivered = false;

    void say(const std::string& what) const {
        std::printf("[%s] %s; state %s\n", name, what.c_str(), state_name(engine.state()));
    }

    // The next event, which must exist and be a T.
    template <class T> T next(const char* what) {
        std::optional<Event> event = engine.next_event();
        expect(event.has_value(), std::string(name) + ": expected a " + what + " event, got none");
        std::printf("[%s] event: %s\n", name, describe(*event).c_str());
        expect(std::holds_alternative<T>(*event),
               std::string(name) + ": expected a " + what + " event");
        return std::get<T>(std::move(*event));
    }

    void expect_no_event() {
        if (auto event = engine.next_event()) {
            throw Unexpected(std::string(name) + ": unexpected event " + describe(*event));
        }
    }

    // Hands this side's pending output to `peer`. Returns true if there was any.
    bool send_to(Peer& peer, bool http = false) {
        Bytes out;
        engine.take_output(out);
        if (out.empty()) {
            return false;
        }
        std::printf("    %s -> %s  %zu bytes%s\n", name, peer.name, out.size(),
                    http ? " (HTTP)" : "");
        if (http) {
            print_http(out);
        } else {
            print_frames(out);
        }
        peer.engine.receive_data(out);
        return true;
    }

    // Half-closes this side's TCP connection if the engine asks for it.
    bool eof_to(Peer& peer) {
        if (!engine.eof_to_send() || eof_delivered) {
            return false;
        }
        std::printf("    %s -> %s  EOF (%s half-closes TCP)\n", name, peer.name, name);
        eof_delivered = true;
        peer.engine.receive_eof();
        return true;
    }
};

void run() {
    syncws::ClientProtocol client_engine(syncws::parse_uri("ws://localhost/chat"));
    syncws::ServerProtocol server_engine;
    Peer client{"client", client_engine};
    Peer server{"server", server_engine};

    std::printf("-- opening handshake (RFC 6455 §4)\n");
    const syncws::Request request = client_engine.connect();
    client_engine.send_request(request);
    client.say("connect() + send_request(): GET " + request.target);
    expect(client.send_to(server, true), "client: send_request() produced no output");

    const auto received = server.next<syncws::Request>("Request");
    server.expect_no_event();
    expect(received.target == "/chat", "server: request target is " + received.target);
    const syncws::Response response = server_engine.accept(received);
    expect(response.status == 101,
           "server: accept() answered " + std::to_string(response.status) + ", not 101");
    server_engine.send_response(response);
    server.say("accept() + send_response(): 101");
    expect(server_engine.state() == State::open, "server: not OPEN after sending 101");
    expect(server.send_to(client, true), "server: send_response() produced no output");

    const auto answer = client.next<syncws::Response>("Response");
    client.expect_no_event();
    expect(answer.status == 101, "client: response status " + std::to_string(answer.status));
    expect(!client_engine.handshake_error(), "client: handshake_error() is set");
    expect(client_engine.state() == State::open, "client: not OPEN after the 101");
    client.say("handshake done");

    std::printf("-- one message and its echo (RFC 6455 §5.6)\n");
    client_engine.send_text("Hello");
    client.say("send_text(\"Hello\")");
    expect(client.send_to(server), "client: send_text() produced no output");

    const auto hello = server.next<syncws::Frame>("Frame");
    server.expect_no_event();
    expect(hello.opcode == syncws::Opcode::text && hello.fin && hello.payload == "Hello",
           "server: did not receive the text frame \"Hello\"");
    server_engine.send_text(hello.payload);
    server.say("send_text(\"Hello\") (echo)");
    expect(server.send_to(client), "server: send_text() produced no output");

    const auto echo = client.next<syncws::Frame>("Frame");
    client.expect_no_event();
    expect(echo.opcode == syncws::Opcode::text && echo.fin && echo.payload == "Hello",
           "client: did not receive the echo \"Hello\"");

    std::printf("-- closing handshake (RFC 6455 §7)\n");
    client_engine.send_close(1000, "bye");
    client.say("send_close(1000, \"bye\")");
    expect(client_engine.state() == State::closing, "client: not CLOSING after send_close()");
    expect(client.send_to(server), "client: send_close() produced no output");

    const auto close = server.next<syncws::Frame>("Frame");
    server.expect_no_event();
    expect(close.opcode == syncws::Opcode::close, "server: expected a close frame");
    server.say("the engine echoed the close frame");
    expect(server_engine.state() != State::open, "server: still OPEN after a close frame");
    expect(server.send_to(client), "server: did not echo the close frame");

    const auto close_echo = client.next<syncws::Frame>("Frame");
    client.expect_no_event();
    expect(close_echo.opcode == syncws::Opcode::close, "client: expected the close echo");

    // The server closes TCP first, the client once it sees the server's EOF (RFC 6455
    // §7.1.1). Pump until nobody has anything left to send.
    for (bool progress = true; progress;) {
        progress = false;
        progress = client.send_to(server) || progress;
        progress = server.send_to(client) || progress;
        progress = server.eof_to(client) || progress;
        progress = client.eof_to(server) || progress;
        client.expect_no_event();
        server.expect_no_event();
    }
    client.say("done");
    server.say("done");

    expect(server.eof_delivered, "server: never half-closed");
    expect(client.eof_delivered, "client: never half-closed");
    expect(client_engine.state() == State::closed && server_engine.state() == State::closed,
           "the engines are not both CLOSED");
    expect(client_engine.close_code() == 1000 && server_engine.close_code() == 1000,
           "close codes are " + std::to_string(client_engine.close_code()) + " (client) and " +
               std::to_string(server_engine.close_code()) + " (server), not 1000");
    expect(!client_engine.close_received_then_sent() && server_engine.close_received_then_sent(),
           "close_received_then_sent() should be false on the client and true on the server");
    expect(!client_engine.protocol_error() && !server_engine.protocol_error(),
           "an engine recorded a protocol error");
    std::printf("OK: handshake, echo and closing handshake complete; close code 1000 both ways\n");
}

} // namespace

int main() {
    try {
        run();
        return 0;
    } catch (const Unexpected& e) {
        std::fprintf(stderr, "FAILED: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FAILED: exception: %s\n", e.what());
    }
    return 1;
}
