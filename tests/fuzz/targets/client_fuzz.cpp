// Fuzzes the client engine with whatever a server may send: the opening handshake response
// (RFC 6455 §4.1), then frames (§5), then EOF.
//
// Input: byte 0 is the chunk size the rest is fed in (0: all at once), so the fuzzer also
// explores how the engine resumes a head or a frame split anywhere. The rest is the
// server's bytes. Mask keys and the Sec-WebSocket-Key come from a RandomSource that yields
// only 0x01 bytes: the key is "AQEBAQEBAQEBAQEBAQEBAQ==", whose accept value
// "5tWd1XMQfqfRMZqGrwjPEgEvyeE=" the seed corpus uses to get past the handshake
// (scripts/make_fuzz_seeds.py).
//
// The client offers permessage-deflate (RFC 7692), so a response that accepts it puts the
// decoder under the fuzzer too, max_size after inflating included.
//
// The contract (DESIGN.md): peer bytes never make the engine throw, crash, read out of
// bounds or grow memory without bound. Checked besides: the state never goes backwards;
// events come in a legal order and respect max_size; the engine's output stays proportional
// to its input; nothing is output once eof_to_send(); EOF leaves the engine CLOSED.
#include <syncws/deflate.hpp>
#include <syncws/frame.hpp>
#include <syncws/protocol.hpp>
#include <syncws/uri.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <variant>

namespace {

// Small limits, so that inputs the fuzzer can afford reach every limit's error path.
constexpr std::size_t max_size = 4096;

void fixed_random(unsigned char* out, std::size_t size) {
    std::memset(out, 0x01, size);
}

// A broken contract aborts, so libFuzzer (or the standalone runner) reports the input.
// (__builtin_LINE rather than std::source_location, which clang 14 lacks.)
void check(bool condition, int line = __builtin_LINE()) {
    if (!condition) {
        std::fprintf(stderr, "client_fuzz.cpp:%d: check failed\n", line);
        __builtin_trap();
    }
}

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

class ClientDriver {
public:
    ClientDriver() : client_(make_uri(), make_handshake(), make_options()) {
        client_.send_request(client_.connect());
        client_.take_output(output_); // the request itself is not the peer's doing
        last_state_ = client_.state();
    }

    void feed(const std::uint8_t* data, std::size_t size) {
        client_.receive_data(syncws::BytesView(data, size));
        fed_ += size;
        drain();
    }

    void finish() {
        client_.receive_eof();
        drain();
        // RFC 6455 §7.1.5: without a close frame, the connection is now closed (1006).
        check(client_.state() == syncws::State::closed);
        check(!client_.next_event().has_value());
    }

private:
    static syncws::Uri make_uri() {
        syncws::Uri uri;
        uri.host = "localhost";
        uri.resource_name = "/chat";
        return uri;
    }

    // permessage-deflate is offered, so responses that accept it drive the decoder too
    // (seeds "deflate-*"); responses without it test the plain path.
    static syncws::ClientHandshakeOptions make_handshake() {
        syncws::ClientHandshakeOptions handshake;
        handshake.extensions.push_back(syncws::make_client_deflate());
        return handshake;
    }

    static syncws::ProtocolOptions make_options() {
        syncws::ProtocolOptions options;
        options.max_size = max_size;
        options.random = fixed_random;
        options.http_limits.max_line = 1024;
        options.http_limits.max_headers = 16;
        options.http_limits.max_head = 4096;
        options.http_limits.max_body = 4096;
        return options;
    }

    void drain() {
        while (auto event = client_.next_event()) {
            std::visit(Overloaded{
                           [&](const syncws::Request&) { check(false); },
                           [&](const syncws::Response&) {
                               // The handshake response comes once, before any frame.
                               check(!got_response_);
                               got_response_ = true;
                           },
                           [&](const syncws::Frame& frame) { on_frame(frame); },
                       },
                       *event);
        }
        check_state();
        const bool eof_before = eof_to_send_;
        output_.clear();
        client_.take_output(output_);
        produced_ += output_.size();
        // Pongs (6 + n bytes for a 2 + n byte ping), one close frame and nothing else.
        check(produced_ <= 4 * fed_ + 1024);
        check(!eof_before || output_.empty());
        eof_to_send_ = client_.eof_to_send();
        check(eof_to_send_ || !eof_before); // stays true
    }

    void on_frame(const syncws::Frame& frame) {
        check(got_response_);
        // permessage-deflate clears the RSV1 it decoded; no other bit is ever legal here.
        check(!frame.rsv1 && !frame.rsv2 && !frame.rsv3);
        switch (frame.opcode) {
        case syncws::Opcode::text:
        case syncws::Opcode::binary:
            check(!in_message_);
            in_message_ = !frame.fin;
            message_size_ = frame.payload.size();
            check(message_size_ <= max_size);
            break;
        case syncws::Opcode::continuation:
            check(in_message_);
            in_message_ = !frame.fin;
            message_size_ += frame.payload.size();
            check(message_size_ <= max_size);
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

    void check_state() {
        const auto state = client_.state();
        check(static_cast<int>(state) >= static_cast<int>(last_state_));
        last_state_ = state;
        if (client_.handshake_error()) {
            check(state == syncws::State::closed);
        }
        if (client_.protocol_error()) {
            check(state == syncws::State::closing || state == syncws::State::closed);
        }
    }

    syncws::ClientProtocol client_;
    syncws::Bytes output_;
    syncws::State last_state_ = syncws::State::connecting;
    std::size_t fed_ = 0;
    std::size_t produced_ = 0;
    std::size_t message_size_ = 0;
    bool got_response_ = false;
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
        ClientDriver driver;
        for (std::size_t pos = 1; pos < size; pos += chunk) {
            driver.feed(data + pos, size - pos < chunk ? size - pos : chunk);
        }
        driver.finish();
    } catch (...) {
        __builtin_trap();
    }
    return 0;
}
