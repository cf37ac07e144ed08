// The syncws side of the interop tests (run_pair.py drives it against peer.py and peer.js).
//
//   interop_peer server [--tls-cert F --tls-key F] [--compress on|off] [EXPECT...]
//       Listens on 127.0.0.1 (ephemeral port), prints "PORT <n>", then runs the scenario
//       named by each request's path ("/messages") and prints "RESULT <scenario> ok" or
//       "RESULT <scenario> FAIL <why>" per connection. Exits 0 when stdin reaches EOF.
//   interop_peer client --url ws://127.0.0.1:N --scenario NAME [--ca-file F]
//                       [--compress on|off] [EXPECT...]
//   Both take --max-size N (default 17 MiB).
//       Runs one scenario against URL/NAME; exits 0 on success, 1 with the reason on stderr.
//   EXPECT: --expect-deflate yes|no and --expect-param TEXT (repeatable): what the
//       handshake must have negotiated (Connection::extensions() contains each TEXT).
//
// The scenarios, payloads and fragment plans are defined identically in peer.py and
// peer.js; README.md in this directory describes them.
#include <syncws/client.hpp>
#include <syncws/server.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// The "big" scenario's messages are 16 MiB; max_size leaves 1 MiB above that because an
// incompressible message grows a little when compressed, and syncws (like Python websockets)
// also applies max_size to a frame's length on the wire. --max-size overrides it.
constexpr std::size_t big_message_size = 16 * 1024 * 1024;
constexpr std::size_t default_max_size = big_message_size + 1024 * 1024;
// Every wait is bounded, so a misbehaving peer fails the scenario instead of hanging it.
constexpr auto wait_timeout = 60s;

// A scenario check that did not hold; what() says what was expected and what came.
class Failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void check(bool condition, const std::string& what) {
    if (!condition) throw Failure(what);
}

// ----- payloads (same definitions as peer.py and peer.js) --------------------------------

std::uint32_t lcg_next(std::uint32_t& x) {
    x = (x * 1103515245U + 12345U) & 0x7fffffffU;
    return x;
}

constexpr std::size_t binary_block_size = 65521; // prime: repeats don't align with windows

// Random bytes (random = true: incompressible) or their low nibbles (compressible).
const std::string& binary_block(bool random) {
    static const auto blocks = [] {
        std::pair<std::string, std::string> b;
        std::uint32_t x = 12345;
        for (std::size_t i = 0; i < binary_block_size; ++i) {
            const auto byte = static_cast<unsigned char>((lcg_next(x) >> 16) & 0xffU);
            b.first.push_back(static_cast<char>(byte));
            b.second.push_back(static_cast<char>(byte & 0x0fU));
        }
        return b;
    }();
    return random ? blocks.first : blocks.second;
}

// Words with 1-, 2-, 3- and 4-byte UTF-8 characters, picked by the LCG: compressible text.
const std::string& text_block() {
    static const std::string block = [] {
        static const char* const words[] = {
            "syncws",
            "interop",
            "h\xc3\xa9llo",
            "w\xc3\xb6rld",
            "\xe2\x82\xac",
            "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
            "\xf0\x9f\x99\x82",
            "deflate",
            "frame",
            "\xc3\xb1"
            "and\xc3\xba",
            "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba"
            "\xce\xac",
            "message",
            "the",
            "a",
            "of",
            "WebSocket"};
        constexpr std::uint32_t count = sizeof(words) / sizeof(words[0]);
        std::string b;
        std::uint32_t x = 54321;
        while (b.size() < 65536) {
            b += words[(lcg_next(x) >> 16) % count];
            b += (lcg_next(x) >> 16) % 10 == 0 ? "\n" : " ";
        }
        return b;
    }();
    return block;
}

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xc0U) == 0x80U;
}

// `n` bytes of `block` repeated, starting at `offset`.
std::string repeat_from(const std::string& block, std::size_t offset, std::size_t n) {
    std::string out;
    out.reserve(n);
    while (out.size() < n) {
        const auto take = std::min(n - out.size(), block.size() - offset);
        out.append(block, offset, take);
        offset = 0;
    }
    return out;
}

// Text message number k: at most n bytes (a character cut by the end is dropped).
std::string text_payload(std::size_t n, std::uint32_t k) {
    const auto& block = text_block();
    std::size_t offset = (k * 7919U) % block.size();
    while (is_continuation(block[offset]))
        offset = (offset + 1) % block.size();
    std::string out = repeat_from(block, offset, n);
    std::size_t start = out.size();
    while (start > 0 && is_continuation(out[start - 1]))
        --start;
    if (start > 0) {
        const auto lead = static_cast<unsigned char>(out[start - 1]);
        const std::size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        if (start - 1 + length > out.size()) out.resize(start - 1);
    }
    return out;
}

// Binary message number k: exactly n bytes; odd k incompressible, even k compressible.
std::string binary_payload(std::size_t n, std::uint32_t k) {
    return repeat_from(binary_block(k % 2 == 1), (k * 7919U) % binary_block_size, n);
}

struct Spec {
    bool binary;
    std::size_t size;
    std::uint32_t k;
    std::string data() const { return binary ? binary_payload(size, k) : text_payload(size, k); }
};

std::string kind(bool binary) {
    return binary ? "binary" : "text";
}

std::string describe(const Spec& spec) {
    return kind(spec.binary) + " message #" + std::to_string(spec.k) + " (" +
           std::to_string(spec.size) + " bytes asked)";
}

std::vector<Spec> message_specs(std::uint32_t base) {
    const std::size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1024 * 1024};
    std::vector<Spec> specs;
    std::uint32_t k = base;
    for (bool binary : {false, true})
        for (auto size : sizes)
            specs.push_back({binary, size, k++});
    return specs;
}

std::vector<Spec> big_specs(std::uint32_t base) {
    return {{false, big_message_size, base}, {true, big_message_size, base + 1}};
}

std::vector<Spec> burst_specs(std::uint32_t base) {
    std::vector<Spec> specs;
    for (std::uint32_t i = 0; i < 200; ++i)
        specs.push_back({i % 2 == 1, (i * 37U) % 3000U, base + i});
    return specs;
}

// A fragmented message: its pieces, one frame each.
struct FragmentPlan {
    bool binary;
    std::vector<std::string> pieces;
    std::string whole() const {
        std::string out;
        for (const auto& piece : pieces)
            out += piece;
        return out;
    }
};

std::vector<FragmentPlan> fragment_plans(std::uint32_t base) {
    return {
        {false,
         {text_payload(10, base), "", text_payload(3000, base + 1), text_payload(70000, base + 2),
          text_payload(5, base + 3)}},
        {true,
         {binary_payload(1000, base + 4), "", binary_payload(65536, base + 5),
          binary_payload(300000, base + 6)}},
    };
}

// ----- checks -----------------------------------------------------------------------------

std::string first_difference(std::string_view got, std::string_view expected) {
    std::size_t i = 0;
    while (i < got.size() && i < expected.size() && got[i] == expected[i])
        ++i;
    return "got " + std::to_string(got.size()) + " bytes, expected " +
           std::to_string(expected.size()) + ", first difference at byte " + std::to_string(i);
}

void check_message(const syncws::Message& got, bool binary, std::string_view expected,
                   const std::string& what) {
    check(got.binary == binary,
          what + ": got a " + kind(got.binary) + " message, expected " + kind(binary));
    check(got.data == expected, what + ": wrong payload: " + first_difference(got.data, expected));
}

syncws::Message receive(syncws::Connection& connection, const std::string& what) {
    auto message = connection.recv_for(wait_timeout);
    if (!message) throw Failure("timed out waiting for " + what);
    return std::move(*message);
}

// Waits for the peer's closing handshake and checks the code and reason it sent.
void expect_closed(syncws::Connection& connection, std::uint16_t code, const std::string& reason) {
    try {
        auto message = connection.recv_for(wait_timeout);
        if (!message) throw Failure("timed out waiting for the peer to close");
        throw Failure("expected the peer to close, got a " + kind(message->binary) +
                      " message of " + std::to_string(message->data.size()) + " bytes");
    } catch (const syncws::ConnectionClosed&) {
    }
    check(connection.close_code() == code,
          "peer closed with " + std::to_string(connection.close_code()) + " \"" +
              connection.close_reason() + "\", expected " + std::to_string(code));
    check(connection.close_reason() == reason, "peer's close reason is \"" +
                                                   connection.close_reason() + "\", expected \"" +
                                                   reason + "\"");
}

// Closes with code and reason, then checks the close frame the peer answered with.
void close_and_check(syncws::Connection& connection, std::uint16_t code,
                     const std::string& reason) {
    connection.close(code, reason);
    const auto received = connection.close_received();
    check(received.has_value(), "no close frame came back after close(" + std::to_string(code) +
                                    "); close code " + std::to_string(connection.close_code()));
    check(received->code == code && received->reason == reason,
          "the peer answered our close " + std::to_string(code) + " \"" + reason + "\" with " +
              std::to_string(received->code) + " \"" + received->reason + "\"");
}

void ping_and_wait(syncws::Connection& connection, const std::string& payload) {
    auto pong = connection.ping(payload);
    check(pong.wait_for(wait_timeout) == std::future_status::ready,
          "no pong for our ping \"" + payload + "\"");
    const auto rtt = pong.get(); // rethrows ConnectionClosed, if that is what happened
    check(rtt.count() > 0, "ping round-trip time is " + std::to_string(rtt.count()) + " ns");
    check(connection.latency().count() > 0, "latency() still 0 after a pong");
}

// ----- scenarios --------------------------------------------------------------------------

enum class Role { client, server };

void send_spec(syncws::Connection& connection, const Spec& spec, const std::string& data) {
    if (spec.binary)
        connection.send_binary(data);
    else
        connection.send_text(data);
}

// We send each message and expect it echoed.
void send_phase(syncws::Connection& connection, const std::vector<Spec>& specs) {
    for (const auto& spec : specs) {
        const auto data = spec.data();
        send_spec(connection, spec, data);
        check_message(receive(connection, "the echo of " + describe(spec)), spec.binary, data,
                      "echo of " + describe(spec));
    }
}

// The peer sends each message; we check it and echo it.
void echo_phase(syncws::Connection& connection, const std::vector<Spec>& specs) {
    for (const auto& spec : specs) {
        auto message = receive(connection, describe(spec));
        check_message(message, spec.binary, spec.data(), describe(spec));
        connection.send(message);
    }
}

// Large messages are not echoed: the receiver checks each itself and acknowledges it with a
// short "got #k", which halves the work (compression of 16 MiB takes a while).
void send_acked(syncws::Connection& connection, const std::vector<Spec>& specs) {
    for (const auto& spec : specs) {
        send_spec(connection, spec, spec.data());
        const auto ack = "got #" + std::to_string(spec.k);
        check_message(receive(connection, "the acknowledgement of " + describe(spec)), false, ack,
                      "acknowledgement of " + describe(spec));
    }
}

void receive_acked(syncws::Connection& connection, const std::vector<Spec>& specs) {
    for (const auto& spec : specs) {
        check_message(receive(connection, describe(spec)), spec.binary, spec.data(),
                      describe(spec));
        connection.send_text("got #" + std::to_string(spec.k));
    }
}

// We send every message without waiting, then expect them all back in order.
void burst_send(syncws::Connection& connection, const std::vector<Spec>& specs) {
    for (const auto& spec : specs)
        send_spec(connection, spec, spec.data());
    for (const auto& spec : specs)
        check_message(receive(connection, "the echo of " + describe(spec)), spec.binary,
                      spec.data(), "echo of " + describe(spec));
}

// We receive every message, then send them all back.
void burst_echo(syncws::Connection& connection, const std::vector<Spec>& specs) {
    std::vector<syncws::Message> received;
    for (const auto& spec : specs) {
        received.push_back(receive(connection, describe(spec)));
        check_message(received.back(), spec.binary, spec.data(), describe(spec));
    }
    for (const auto& message : received)
        connection.send(message);
}

void send_fragmented(syncws::Connection& connection, const std::vector<FragmentPlan>& plans) {
    for (const auto& plan : plans) {
        std::size_t next = 0;
        connection.send_fragments(plan.binary, [&]() -> std::optional<std::string> {
            if (next == plan.pieces.size()) return std::nullopt;
            return plan.pieces[next++];
        });
        check_message(receive(connection, "the echo of a fragmented message"), plan.binary,
                      plan.whole(), "echo of a fragmented " + kind(plan.binary) + " message");
    }
}

// Receives each fragmented message frame by frame: the frames must be the pieces the peer
// sent. Python websockets ends a fragmented message with an extra empty final frame, which
// is dropped before comparing.
void receive_fragmented(syncws::Connection& connection, const std::vector<FragmentPlan>& plans) {
    for (const auto& plan : plans) {
        const std::string what = "fragmented " + kind(plan.binary) + " message";
        std::vector<std::string> frames;
        bool saw_last = false;
        const bool binary = connection.recv_streaming([&](std::string_view piece, bool last) {
            frames.emplace_back(piece);
            saw_last = last;
        });
        check(saw_last, what + ": recv_streaming never reported the last fragment");
        std::string whole;
        for (const auto& frame : frames)
            whole += frame;
        check_message(syncws::Message{binary, whole}, plan.binary, plan.whole(), what);
        if (frames.size() == plan.pieces.size() + 1 && frames.back().empty()) frames.pop_back();
        check(frames.size() == plan.pieces.size(), what + ": " + std::to_string(frames.size()) +
                                                       " frames, expected " +
                                                       std::to_string(plan.pieces.size()));
        for (std::size_t i = 0; i < frames.size(); ++i)
            check(frames[i] == plan.pieces[i], what + ": fragment " + std::to_string(i) + ": " +
                                                   first_difference(frames[i], plan.pieces[i]));
        connection.send(syncws::Message{binary, whole});
    }
}

// The client sends `client_phase` (with `client_send`) and the server echoes; then the
// server sends `server_phase` and the client echoes; then the client closes normally.
template <typename Items>
void two_phases(syncws::Connection& connection, Role role, const Items& client_phase,
                const Items& server_phase, void (*send)(syncws::Connection&, const Items&),
                void (*echo)(syncws::Connection&, const Items&)) {
    if (role == Role::client) {
        send(connection, client_phase);
        echo(connection, server_phase);
        close_and_check(connection, 1000, "");
    } else {
        echo(connection, client_phase);
        send(connection, server_phase);
        expect_closed(connection, 1000, "");
    }
}

void scenario_ping(syncws::Connection& connection, Role role) {
    // Each side pings and waits for the pong, sends an unsolicited pong, then a message.
    const std::string me = role == Role::client ? "client" : "server";
    const std::string peer = role == Role::client ? "server" : "client";
    auto ping_then_announce = [&] {
        ping_and_wait(connection, me + "-ping");
        connection.pong(std::string(me + "-unsolicited"));
        connection.send_text(me + " pinged");
    };
    auto expect_announce = [&] {
        check_message(receive(connection, "\"" + peer + " pinged\""), false, peer + " pinged",
                      "message after the " + peer + "'s ping");
    };
    if (role == Role::client) {
        ping_then_announce();
        expect_announce();
        close_and_check(connection, 1000, "");
    } else {
        expect_announce();
        ping_then_announce();
        expect_closed(connection, 1000, "");
    }
}

// One side closes with 4000 "bye" after an exchange; both check the codes.
void scenario_close(syncws::Connection& connection, Role role, Role closer) {
    if (role == Role::client) {
        connection.send_text("hello");
        check_message(receive(connection, "the echo of \"hello\""), false, "hello", "echo");
    } else {
        const auto message = receive(connection, "\"hello\"");
        check_message(message, false, "hello", "first message");
        connection.send(message);
    }
    if (role == closer)
        close_and_check(connection, 4000, "bye");
    else
        expect_closed(connection, 4000, "bye");
}

void run_scenario(syncws::Connection& connection, Role role, std::string_view name) {
    if (name == "messages")
        two_phases(connection, role, message_specs(0), message_specs(100), send_phase, echo_phase);
    else if (name == "big")
        two_phases(connection, role, big_specs(200), big_specs(300), send_acked, receive_acked);
    else if (name == "burst")
        two_phases(connection, role, burst_specs(1000), burst_specs(2000), burst_send, burst_echo);
    else if (name == "fragments")
        two_phases(connection, role, fragment_plans(400), fragment_plans(500), send_fragmented,
                   receive_fragmented);
    else if (name == "ping")
        scenario_ping(connection, role);
    else if (name == "close_by_client")
        scenario_close(connection, role, Role::client);
    else if (name == "close_by_server")
        scenario_close(connection, role, Role::server);
    else
        throw Failure("unknown scenario \"" + std::string(name) + "\"");
}

// ----- command line -----------------------------------------------------------------------

struct Options {
    std::string mode;
    std::string url;
    std::string scenario;
    std::string ca_file;
    std::string tls_cert;
    std::string tls_key;
    bool compress = true;
    std::size_t max_size = default_max_size;
    std::optional<bool> expect_deflate;
    std::vector<std::string> expect_params;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "interop_peer: " << why << "\n"
              << "usage: interop_peer server [--tls-cert F --tls-key F] [--compress on|off]"
                 " [--expect-deflate yes|no] [--expect-param TEXT]...\n"
                 "       interop_peer client --url URL --scenario NAME [--ca-file F]"
                 " [--compress on|off] [--expect-deflate yes|no] [--expect-param TEXT]...\n";
    std::exit(2);
}

Options parse_options(int argc, char** argv) {
    if (argc < 2) usage("missing mode");
    Options options;
    options.mode = argv[1];
    if (options.mode != "server" && options.mode != "client") usage("unknown mode " + options.mode);
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage("missing value after " + arg);
            return argv[++i];
        };
        auto yes_no = [&](const std::string& text) {
            if (text != "yes" && text != "no" && text != "on" && text != "off")
                usage(arg + " takes yes|no");
            return text == "yes" || text == "on";
        };
        if (arg == "--url")
            options.url = value();
        else if (arg == "--scenario")
            options.scenario = value();
        else if (arg == "--ca-file")
            options.ca_file = value();
        else if (arg == "--tls-cert")
            options.tls_cert = value();
        else if (arg == "--tls-key")
            options.tls_key = value();
        else if (arg == "--compress")
            options.compress = yes_no(value());
        else if (arg == "--max-size")
            options.max_size = std::stoull(value());
        else if (arg == "--expect-deflate")
            options.expect_deflate = yes_no(value());
        else if (arg == "--expect-param")
            options.expect_params.push_back(value());
        else
            usage("unknown option " + arg);
    }
    if (options.mode == "client" && (options.url.empty() || options.scenario.empty()))
        usage("client needs --url and --scenario");
    if (options.tls_cert.empty() != options.tls_key.empty())
        usage("--tls-cert and --tls-key go together");
    return options;
}

void check_extensions(const syncws::Connection& connection, const Options& options) {
    const auto extensions = connection.extensions();
    if (options.expect_deflate) {
        const bool negotiated = extensions.find("permessage-deflate") != std::string::npos;
        check(negotiated == *options.expect_deflate,
              std::string("permessage-deflate ") + (negotiated ? "was" : "was not") +
                  " negotiated (extensions: \"" + extensions + "\")");
    }
    for (const auto& param : options.expect_params)
        check(extensions.find(param) != std::string::npos,
              "negotiated extensions \"" + extensions + "\" lack " + param);
}

// what() of an exception and of every exception nested in it.
std::string explain(const std::exception& e) {
    std::string text = e.what();
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception& nested) {
        text += " (caused by: " + explain(nested) + ")";
    } catch (...) {
        text += " (caused by an unknown exception)";
    }
    return text;
}

std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

syncws::ConnectionOptions connection_options(const Options& options) {
    syncws::ConnectionOptions connection;
    connection.max_size = options.max_size;
    return connection;
}

int run_server(const Options& options) {
    syncws::ServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server_options.compression = options.compress;
    server_options.connection = connection_options(options);
    if (!options.tls_cert.empty()) {
        syncws::TlsOptions tls;
        tls.cert_file = options.tls_cert;
        tls.key_file = options.tls_key;
        server_options.tls = tls;
    }
    server_options.logger = [](syncws::LogLevel level, std::string_view message) {
        std::cerr << "interop_peer server [" << syncws::to_string(level) << "] " << message
                  << std::endl;
    };
    std::mutex output;
    auto report = [&](const std::string& scenario, const std::string& error) {
        const std::lock_guard lock(output);
        std::cout << "RESULT " << (scenario.empty() ? "?" : scenario) << " "
                  << (error.empty() ? "ok" : "FAIL " + one_line(error)) << std::endl;
    };
    auto server = syncws::serve(
        [&](syncws::ServerConnection& connection) {
            const auto& target = connection.request().target;
            const std::string scenario = target.empty() ? "" : target.substr(1);
            std::string error;
            try {
                check_extensions(connection, options);
                run_scenario(connection, Role::server, scenario);
            } catch (const std::exception& e) {
                error = explain(e);
            }
            report(scenario, error);
        },
        server_options);
    std::cout << "PORT " << server->port() << std::endl;
    server->start();
    // The runner stops us by closing our stdin.
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    server->shutdown();
    return 0;
}

int run_client(const Options& options) {
    syncws::ClientOptions client_options;
    client_options.compression = options.compress;
    client_options.connection = connection_options(options);
    if (!options.ca_file.empty()) {
        client_options.tls.ca_file = options.ca_file;
        client_options.tls.use_system_trust_store = false;
    }
    try {
        auto connection = syncws::connect(options.url + "/" + options.scenario, client_options);
        check_extensions(connection, options);
        run_scenario(connection, Role::client, options.scenario);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "interop_peer client: scenario " << options.scenario
                  << " FAILED: " << explain(e) << std::endl;
        return 1;
    }
}

} // namespace

int main(int argc, char** argv) {
    const auto options = parse_options(argc, argv);
    try {
        return options.mode == "server" ? run_server(options) : run_client(options);
    } catch (const std::exception& e) {
        std::cerr << "interop_peer " << options.mode << ": " << explain(e) << std::endl;
        return 1;
    }
}
