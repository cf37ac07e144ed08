// More helpers for engine tests: an independent frame encoder, error inspection, event
// descriptions, every-split feeding with access to the engine, and ProtocolPair, which
// wires a client and a server engine together in memory.
#pragma once

#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>
#include <syncws/uri.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace syncws {

// gtest prints these instead of raw bytes when an assertion fails (found by ADL).
inline void PrintTo(const Frame& frame, std::ostream* os);
inline void PrintTo(const Close& close, std::ostream* os) {
    *os << close.to_string();
}

} // namespace syncws

namespace syncws::test {

/// Names the instances of a TEST_P over Side: "client" / "server".
struct SideName {
    std::string operator()(const ::testing::TestParamInfo<Side>& param) const {
        return param.param == Side::client ? "client" : "server";
    }
};

// ----- handshake constants --------------------------------------------------------------

/// RFC 6455 §1.3's example key and the accept value it yields.
inline constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The Sec-WebSocket-Key built from `fixed_random()` (16 bytes 37 fa 21 3d ...), and its
/// accept value (computed independently with Python's hashlib).
inline constexpr std::string_view fixed_key = "N/ohPTf6IT03+iE9N/ohPQ==";
inline constexpr std::string_view fixed_accept = "7Ubo2JRe6fIuZAdGHq7kDA4XEQ0=";

// ----- an independent frame encoder -----------------------------------------------------

/// One frame as `sender` puts it on the wire, written out byte by byte without the
/// library's codec: `first` is the first header byte (FIN, RSV, opcode), the length uses
/// the shortest encoding, and a client masks with `test_mask`.
inline std::string wire(Side sender, std::uint8_t first, std::string_view payload) {
    std::string out;
    out.push_back(static_cast<char>(first));
    const unsigned char mask_bit = sender == Side::client ? 0x80 : 0x00;
    const std::size_t n = payload.size();
    if (n < 126) {
        out.push_back(static_cast<char>(mask_bit | n));
    } else if (n <= 0xffff) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff));
    }
    if (sender == Side::client) {
        for (auto b : test_mask)
            out.push_back(static_cast<char>(b));
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(
                static_cast<char>(static_cast<unsigned char>(payload[i]) ^ test_mask[i % 4]));
    } else {
        out.append(payload);
    }
    return out;
}

/// First header bytes.
inline constexpr std::uint8_t fin_bit = 0x80;
inline constexpr std::uint8_t rsv1_bit = 0x40;
inline constexpr std::uint8_t op_cont = 0x0, op_text = 0x1, op_binary = 0x2, op_close = 0x8,
                              op_ping = 0x9, op_pong = 0xA;

/// A close frame from `sender`.
inline std::string close_wire(Side sender, std::uint16_t code, std::string_view reason = {}) {
    return wire(sender, fin_bit | op_close, close_payload(code, reason));
}

inline Frame make_frame(Opcode opcode, std::string_view payload, bool fin = true,
                        bool rsv1 = false) {
    Frame frame;
    frame.opcode = opcode;
    frame.fin = fin;
    frame.rsv1 = rsv1;
    frame.payload.assign(payload);
    return frame;
}

/// Deterministic, non-repeating bytes so a misplaced byte shows.
inline std::string pattern(std::size_t size, unsigned seed = 1) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 12345u;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

/// Printable ASCII text of `size` bytes (valid UTF-8).
inline std::string text_pattern(std::size_t size, unsigned seed = 1) {
    std::string s = pattern(size, seed);
    for (auto& c : s)
        c = static_cast<char>(' ' + static_cast<unsigned char>(c) % 95);
    return s;
}

inline std::string hex(std::string_view bytes, std::size_t limit = 64) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
        if (i) out += ' ';
        const auto b = static_cast<unsigned char>(bytes[i]);
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    if (bytes.size() > limit) out += " ... (" + std::to_string(bytes.size()) + " bytes)";
    return out;
}

// ----- events ---------------------------------------------------------------------------

inline std::string opcode_name(Opcode op) {
    switch (op) {
    case Opcode::continuation:
        return "continuation";
    case Opcode::text:
        return "text";
    case Opcode::binary:
        return "binary";
    case Opcode::close:
        return "close";
    case Opcode::ping:
        return "ping";
    case Opcode::pong:
        return "pong";
    }
    return "opcode " + std::to_string(static_cast<int>(op));
}

inline std::string describe(const Frame& f) {
    std::string s = opcode_name(f.opcode);
    if (!f.fin) s += " !fin";
    if (f.rsv1) s += " rsv1";
    if (f.rsv2) s += " rsv2";
    if (f.rsv3) s += " rsv3";
    s += " [" + hex(f.payload, 32) + "]";
    return s;
}

inline std::string describe(const Headers& headers) {
    std::string s;
    for (const auto& [name, value] : headers)
        s += name + ": " + value + "; ";
    return s;
}

inline std::string describe(const Event& e) {
    if (const auto* f = std::get_if<Frame>(&e)) return "Frame " + describe(*f);
    if (const auto* r = std::get_if<Request>(&e))
        return "Request " + r->method + " " + r->target + " {" + describe(r->headers) + "}";
    const auto& r = std::get<Response>(e);
    return "Response " + std::to_string(r.status) + " {" + describe(r.headers) + "} " +
           hex(r.body, 32);
}

inline std::string describe(const std::vector<Event>& events) {
    std::string s;
    for (const auto& e : events)
        s += "  " + describe(e) + "\n";
    return s.empty() ? "  (no events)\n" : s;
}

/// Checks that `events` are exactly `expected`, all frames.
inline ::testing::AssertionResult frames_are(const std::vector<Event>& events,
                                             const std::vector<Frame>& expected) {
    bool same = events.size() == expected.size();
    for (std::size_t i = 0; same && i < events.size(); ++i) {
        const auto* f = std::get_if<Frame>(&events[i]);
        same = f && *f == expected[i];
    }
    if (same) return ::testing::AssertionSuccess();
    std::vector<Event> want(expected.begin(), expected.end());
    return ::testing::AssertionFailure() << "events:\n"
                                         << describe(events) << "expected:\n"
                                         << describe(want);
}

// ----- errors ---------------------------------------------------------------------------

/// Rethrows `error` and checks it is exactly of type `E` (not a subclass) with message
/// `what`. Then calls `more(e)` for further checks, if given.
template <typename E>
::testing::AssertionResult error_is(const std::exception_ptr& error, std::string_view what,
                                    const std::function<void(const E&)>& more = {}) {
    if (!error) return ::testing::AssertionFailure() << "no error recorded";
    try {
        std::rethrow_exception(error);
    } catch (const E& e) {
        if (typeid(e) != typeid(E))
            return ::testing::AssertionFailure() << "error is a subclass " << typeid(e).name()
                                                 << " of the expected type: " << e.what();
        if (e.what() != what)
            return ::testing::AssertionFailure()
                   << "message is \"" << e.what() << "\", expected \"" << what << "\"";
        if (more) more(e);
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure()
               << "error is a " << typeid(e).name() << ": " << e.what();
    } catch (...) {
        return ::testing::AssertionFailure() << "error isn't a std::exception";
    }
}

/// Checks that `error` is a ProtocolError (exactly, or PayloadTooBig when `code` is 1009)
/// with `code` and message `what`.
inline ::testing::AssertionResult protocol_error_is(const std::exception_ptr& error,
                                                    std::uint16_t code, std::string_view what) {
    if (!error) return ::testing::AssertionFailure() << "no protocol error recorded";
    try {
        std::rethrow_exception(error);
    } catch (const ProtocolError& e) {
        const bool too_big = dynamic_cast<const PayloadTooBig*>(&e) != nullptr;
        if (too_big != (code == 1009))
            return ::testing::AssertionFailure()
                   << "PayloadTooBig iff 1009; got " << typeid(e).name() << " " << e.close_code();
        if (e.close_code() != code)
            return ::testing::AssertionFailure() << "close code " << e.close_code() << ", expected "
                                                 << code << " (" << e.what() << ")";
        if (e.what() != what)
            return ::testing::AssertionFailure()
                   << "message is \"" << e.what() << "\", expected \"" << what << "\"";
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure()
               << "error is a " << typeid(e).name() << ": " << e.what();
    }
}

// ----- feeding every way, with the engine ------------------------------------------------

/// Like `feed_every_way`, but `check` also gets the engine (to look at its errors and
/// state, or to go on with commands). `make` returns any engine type.
template <typename Make, typename Check>
void for_every_split(Make make, std::string_view input, Check check) {
    const auto all = splits_of(input);
    for (std::size_t i = 0; i < all.size(); ++i) {
        SCOPED_TRACE("split " + std::to_string(i) + " of " + std::to_string(all.size()) +
                     (i == 0                                  ? " (whole)"
                      : i + 1 == all.size() && all.size() > 2 ? " (byte by byte)"
                                                              : " (in two)"));
        auto engine = make();
        Outcome outcome = run(*engine, all[i]);
        check(*engine, outcome);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

// ----- handshake helpers ------------------------------------------------------------------

/// The request of `client` for the options given, as the engine built it.
inline Request request_of(ClientProtocol& client) {
    return client.connect();
}

/// A client that has sent the request built by `connect()`; its output is taken.
inline std::unique_ptr<ClientProtocol>
client_after_request(ClientHandshakeOptions handshake = {},
                     std::string_view uri = "ws://example.com/chat",
                     ProtocolOptions options = test_options()) {
    auto client =
        std::make_unique<ClientProtocol>(parse_uri(uri), std::move(handshake), std::move(options));
    client->send_request(client->connect());
    Bytes discard;
    client->take_output(discard);
    return client;
}

/// A client that has sent a request carrying RFC 6455's example key.
inline std::unique_ptr<ClientProtocol>
client_with_rfc_key(ClientHandshakeOptions handshake = {},
                    ProtocolOptions options = test_options()) {
    auto client = std::make_unique<ClientProtocol>(parse_uri("ws://server.example.com/chat"),
                                                   std::move(handshake), std::move(options));
    Request request = client->connect();
    request.headers.set("Sec-WebSocket-Key", std::string(rfc_key));
    client->send_request(request);
    Bytes discard;
    client->take_output(discard);
    return client;
}

/// The server's 101 for `rfc_key`, with extra header lines (each ending in CRLF).
inline std::string response_101(std::string_view extra = {}, std::string_view accept = rfc_accept) {
    std::string r = "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: ";
    r += accept;
    r += "\r\n";
    r += extra;
    r += "\r\n";
    return r;
}

/// RFC 6455 §1.2's example request (with Sec-WebSocket-Version 13 as §4.1 requires), with
/// extra header lines.
inline std::string rfc_request(std::string_view extra = {}) {
    std::string r = "GET /chat HTTP/1.1\r\n"
                    "Host: server.example.com\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Origin: http://example.com\r\n"
                    "Sec-WebSocket-Protocol: chat, superchat\r\n"
                    "Sec-WebSocket-Version: 13\r\n";
    r += extra;
    r += "\r\n";
    return r;
}

// ----- a client and a server wired together -------------------------------------------------

/// A ClientProtocol and a ServerProtocol connected in memory: `pump()` moves the output of
/// each to the other until nothing moves, and delivers an EOF to the peer once an engine's
/// `eof_to_send()` turns true, as a runtime would by half-closing TCP.
class ProtocolPair {
public:
    explicit ProtocolPair(ClientHandshakeOptions client_handshake = {},
                          ServerHandshakeOptions server_handshake = {},
                          ProtocolOptions client_options = test_options(),
                          ProtocolOptions server_options = test_options(),
                          std::string_view uri = "ws://example.com/chat")
        : client(parse_uri(uri), std::move(client_handshake), std::move(client_options)),
          server(std::move(server_handshake), std::move(server_options)) {}

    ClientProtocol client;
    ServerProtocol server;
    /// Events of each engine, in order, since the start.
    std::vector<Event> client_events;
    std::vector<Event> server_events;
    /// Every byte each engine sent, since the start.
    std::string client_sent;
    std::string server_sent;
    bool client_eof_delivered = false;
    bool server_eof_delivered = false;

    /// Moves bytes and EOFs until both engines are quiet.
    void pump() {
        Bytes buffer;
        for (int round = 0; round < 1000; ++round) {
            bool moved = false;
            moved |=
                transfer(client, server, client_sent, server_events, client_eof_delivered, buffer);
            moved |=
                transfer(server, client, server_sent, client_events, server_eof_delivered, buffer);
            if (!moved) return;
        }
        ADD_FAILURE() << "ProtocolPair::pump didn't settle";
    }

    /// The opening handshake: connect, send the request, accept it, send the 101.
    /// Returns the server's response (for checks).
    Response handshake() {
        client.send_request(client.connect());
        pump();
        const Request* request = nullptr;
        for (const auto& e : server_events)
            if (const auto* r = std::get_if<Request>(&e)) request = r;
        if (!request) {
            ADD_FAILURE() << "the server reported no Request";
            return {};
        }
        Response response = server.accept(*request);
        server.send_response(response);
        pump();
        return response;
    }

    /// Events received since the last call, per engine.
    std::vector<Event> new_client_events() { return take_new(client_events, client_seen_); }
    std::vector<Event> new_server_events() { return take_new(server_events, server_seen_); }

private:
    static bool transfer(Protocol& from, Protocol& to, std::string& log,
                         std::vector<Event>& to_events, bool& eof_delivered, Bytes& buffer) {
        bool moved = false;
        if (from.has_output()) {
            from.take_output(buffer);
            log += buffer;
            if (eof_delivered) {
                ADD_FAILURE() << "an engine wrote " << buffer.size() << " bytes after its EOF";
            } else {
                to.receive_data(BytesView(buffer));
            }
            moved = true;
        }
        while (auto e = to.next_event()) {
            to_events.push_back(std::move(*e));
            moved = true;
        }
        if (!eof_delivered && from.eof_to_send()) {
            to.receive_eof();
            eof_delivered = true;
            moved = true;
            while (auto e = to.next_event())
                to_events.push_back(std::move(*e));
        }
        return moved;
    }

    static std::vector<Event> take_new(const std::vector<Event>& all, std::size_t& seen) {
        std::vector<Event> out(all.begin() + static_cast<std::ptrdiff_t>(seen), all.end());
        seen = all.size();
        return out;
    }

    std::size_t client_seen_ = 0;
    std::size_t server_seen_ = 0;
};

} // namespace syncws::test

namespace syncws {

inline void PrintTo(const Frame& frame, std::ostream* os) {
    *os << test::describe(frame);
}

} // namespace syncws
