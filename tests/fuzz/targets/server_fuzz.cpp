// Fuzzes the server engine with whatever a client may send: the opening handshake request
// (RFC 6455 §4.2), then masked frames (§5), then EOF.
//
// Input: byte 0 is the chunk size the rest is fed in (0: all at once); the rest is the
// client's bytes. On the Request event the driver answers with accept() + send_response(),
// as a server does, and it echoes every data frame while OPEN, so the send path runs too.
// The server accepts permessage-deflate (RFC 7692) when offered: compressed frames drive
// the decoder, max_size after inflating included, and the echoes drive the encoder.
//
// The contract (DESIGN.md): peer bytes never make the engine throw, crash, read out of
// bounds or grow memory without bound. Checked besides: the state never goes backwards;
// events come in a legal order and respect max_size; the engine's output stays proportional
// to its input; nothing is output once eof_to_send(); EOF leaves the engine CLOSED.
#include <syncws/deflate.hpp>
#include <syncws/frame.hpp>
#include <syncws/http.hpp>
#include <syncws/protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <variant>

namespace {

// Small limits, so that inputs the fuzzer can afford reach every limit's error path.
constexpr std::size_t max_size = 4096;

// A broken contract aborts, so libFuzzer (or the standalone runner) reports the input.
// (__builtin_LINE rather than std::source_location, which clang 14 lacks.)
void check(bool condition, int line = __builtin_LINE()) {
    if (!condition) {
        std::fprintf(stderr, "server_fuzz.cpp:%d: check failed\n", line);
        __builtin_trap();
    }
}

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

class ServerDriver {
public:
    ServerDriver() : server_(make_handshake(), make_options()) {}

    void feed(const std::uint8_t* data, std::size_t size) {
        server_.receive_data(syncws::BytesView(data, size));
        fed_ += size;
        drain();
    }

    void finish() {
        server_.receive_eof();
        drain();
        // RFC 6455 §7.1.5: without a close frame, the connection is now closed (1006).
        check(server_.state() == syncws::State::closed);
        check(!server_.next_event().has_value());
    }

private:
    // permessage-deflate is accepted when offered, so compressed frames drive the decoder
    // and the echo drives the encoder (seeds "deflate-*").
    static syncws::ServerHandshakeOptions make_handshake() {
        syncws::ServerHandshakeOptions handshake;
        handshake.extensions.push_back(syncws::make_server_deflate());
        return handshake;
    }

    static syncws::ProtocolOptions make_options() {
        syncws::ProtocolOptions options;
        options.max_size = max_size;
        options.random = [](unsigned char* out, std::size_t size) {
            for (std::size_t i = 0; i < size; ++i) {
                out[i] = 0x01;
            }
        };
        options.http_limits.max_line = 1024;
        options.http_limits.max_headers = 16;
        options.http_limits.max_head = 4096;
        return options;
    }

    void drain() {
        // Events may arrive while answering (frames buffered behind the request head
        // become events once the 101 is sent), so loop until the engine is quiet.
        while (auto event = server_.next_event()) {
            std::visit(Overloaded{
                           [&](const syncws::Request& request) { on_request(request); },
                           [&](const syncws::Response&) { check(false); },
                           [&](const syncws::Frame& frame) { on_frame(frame); },
                       },
                       *event);
            check_state();
        }
        check_state();
        const bool eof_before = eof_to_send_;
        output_.clear();
        server_.take_output(output_);
        produced_ += output_.size();
        // The handshake response or an HTTP error page, pongs, one close frame, and echoes
        // of what was received, which inflating may have made larger than the input.
        check(produced_ <= 2 * fed_ + 2 * decoded_ + 4096);
        check(!eof_before || output_.empty());
        eof_to_send_ = server_.eof_to_send();
        check(eof_to_send_ || !eof_before); // stays true
    }

    void on_request(const syncws::Request& request) {
        // One request, answered while CONNECTING, as the runtime does.
        check(!got_request_);
        got_request_ = true;
        check(server_.state() == syncws::State::connecting);
        const syncws::Response response = server_.accept(request);
        // accept() either opens the connection or explains why not.
        check(response.status == 101 || server_.handshake_error());
        server_.send_response(response);
        // A 101 opens the connection; frames that followed the request are processed at
        // once, so it may already be closing. Anything else closes it.
        if (response.status == 101) {
            check(server_.state() != syncws::State::connecting);
        } else {
            check(server_.state() == syncws::State::closed);
        }
    }

    void on_frame(const syncws::Frame& frame) {
        check(got_request_);
        decoded_ += frame.payload.size();
        // permessage-deflate clears the RSV1 it decoded; no other bit is ever legal here.
        check(!frame.rsv1 && !frame.rsv2 && !frame.rsv3);
        switch (frame.opcode) {
        case syncws::Opcode::text:
        case syncws::Opcode::binary:
            check(!in_message_);
            in_message_ = !frame.fin;
            message_size_ = frame.payload.size();
            check(message_size_ <= max_size);
            echo(frame);
            break;
        case syncws::Opcode::continuation:
            check(in_message_);
            in_message_ = !frame.fin;
            message_size_ += frame.payload.size();
            check(message_size_ <= max_size);
            echo(frame);
            break;
        case syncws::Opcode::close:
        case syncws::Opcode::ping:
        case syncws::Opcode::pong:
            // RFC 6455 §5.5: control frames are short and never fragmented.
            check(frame.fin && frame.payload.size() <= 125);
            break;
        default:
            check(false); // reserved opcodes are a protocol error, never an event
        }
    }

    // Each received fragment goes back as a whole message of its own: legal whatever the
    // peer's fragmentation, since the driver never leaves a message of its own unfinished.
    void echo(const syncws::Frame& frame) {
        if (server_.state() != syncws::State::open) {
            return;
        }
        if (frame.opcode == syncws::Opcode::text) {
            server_.send_text(frame.payload);
        } else {
            server_.send_binary(frame.payload);
        }
    }

    void check_state() {
        const auto state = server_.state();
        check(static_cast<int>(state) >= static_cast<int>(last_state_));
        last_state_ = state;
        if (server_.protocol_error()) {
            check(state == syncws::State::closing || state == syncws::State::closed);
        }
    }

    syncws::ServerProtocol server_;
    syncws::Bytes output_;
    syncws::State last_state_ = syncws::State::connecting;
    std::size_t fed_ = 0;
    std::size_t produced_ = 0;
    std::size_t decoded_ = 0;
    std::size_t message_size_ = 0;
    bool got_request_ = false;
    bool in_message_ = false;
    bool eof_to_send_ = false;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    // Anything escaping the engine on peer input is a bug: the engine throws only
    // InvalidState, and only for commands, which this driver issues legally.
    try {
        const std::size_t chunk = data[0] == 0 ? size : data[0];
        ServerDriver driver;
        for (std::size_t pos = 1; pos < size; pos += chunk) {
            driver.feed(data + pos, size - pos < chunk ? size - pos : chunk);
        }
        driver.finish();
    } catch (...) {
        __builtin_trap();
    }
    return 0;
}
