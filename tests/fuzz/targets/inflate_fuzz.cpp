// Fuzzes permessage-deflate's decoder (RFC 7692 §7.2.2) with arbitrary compressed messages.
//
// Input: byte 0 configures the receiving server extension — bits 0–2: the client's window,
// 8 + value bits (negotiated through `client_max_window_bits=N`); bit 3: the client resets
// its context (`client_no_context_takeover`); bit 4: decode the message a second time, as
// the next message on the same connection (exercises the window carried over, and the
// restart after a final block). Byte 1: how many frames the message is cut into (1 + value
// % 4), at evenly spaced offsets; RSV1 on the first only. The rest: the compressed payload.
//
// The contract: whatever the peer sends, decode() either succeeds or throws
// syncws::ProtocolError (1007 corrupt data, 1009 beyond max_size); never crashes, never
// throws anything else, never produces more than max_size bytes. A decoded message is also
// compressed again by a client extension and must decode back to itself.
#include <syncws/deflate.hpp>
#include <syncws/errors.hpp>
#include <syncws/extension.hpp>
#include <syncws/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t max_size = 64 * 1024;

// A broken contract aborts, so libFuzzer (or the standalone runner) reports the input.
void check(bool condition, int line = __builtin_LINE()) {
    if (!condition) {
        std::fprintf(stderr, "inflate_fuzz.cpp:%d: check failed\n", line);
        __builtin_trap();
    }
}

std::unique_ptr<syncws::Extension> make_receiver(int window_bits, bool no_context_takeover,
                                                 syncws::ExtensionParameters* response) {
    syncws::ServerDeflateOptions options;
    options.client_max_window_bits.reset(); // take the client's value as offered
    syncws::ExtensionParameters offer;
    if (no_context_takeover) {
        offer.push_back({"client_no_context_takeover", std::nullopt});
    }
    offer.push_back({"client_max_window_bits", std::to_string(window_bits)});
    auto acceptance = syncws::make_server_deflate(options)->negotiate(offer, {});
    check(acceptance.has_value());
    *response = acceptance->response;
    return std::move(acceptance->extension);
}

// Decodes one message cut into `frames` frames. Returns false if the extension threw a
// ProtocolError (the connection would fail); anything else thrown is a bug.
bool decode(syncws::Extension& ext, const std::string& payload, std::size_t frames,
            std::string& message) {
    message.clear();
    try {
        for (std::size_t i = 0; i < frames; ++i) {
            const std::size_t begin = payload.size() * i / frames;
            const std::size_t end = payload.size() * (i + 1) / frames;
            syncws::Frame frame;
            frame.opcode = i == 0 ? syncws::Opcode::binary : syncws::Opcode::continuation;
            frame.fin = i + 1 == frames;
            frame.rsv1 = i == 0;
            frame.payload = payload.substr(begin, end - begin);
            ext.decode(frame, max_size - message.size());
            check(!frame.rsv1);
            check(frame.payload.size() <= max_size - message.size());
            message += frame.payload;
        }
        return true;
    } catch (const syncws::ProtocolError& e) {
        check(e.close_code() == 1007 || e.close_code() == 1009);
        return false;
    } catch (...) {
        __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const int window_bits = 8 + (data[0] & 7);
    const bool no_context_takeover = (data[0] & 8) != 0;
    const bool twice = (data[0] & 16) != 0;
    const std::size_t frames = 1 + data[1] % 4;
    const std::string payload(reinterpret_cast<const char*>(data + 2), size - 2);

    syncws::ExtensionParameters response;
    auto receiver = make_receiver(window_bits, no_context_takeover, &response);
    std::string message;
    if (!decode(*receiver, payload, frames, message)) {
        return 0;
    }
    if (twice) {
        std::string second;
        decode(*receiver, payload, frames, second);
    }

    // What decoded must survive our own encoder and decoder, with the same agreement.
    try {
        auto client = syncws::make_client_deflate()->accept(response, {});
        syncws::Frame frame;
        frame.opcode = syncws::Opcode::binary;
        frame.payload = message;
        client->encode(frame, true);
        syncws::ExtensionParameters again_response;
        auto again = make_receiver(window_bits, no_context_takeover, &again_response);
        std::string roundtrip;
        if (frame.rsv1) {
            check(decode(*again, frame.payload, 1, roundtrip));
        } else {
            roundtrip = frame.payload; // an 8-bit window: sent uncompressed
        }
        check(roundtrip == message);
    } catch (...) {
        __builtin_trap();
    }
    return 0;
}
