// permessage-deflate (RFC 7692): per-message DEFLATE compression, negotiated in the handshake.
//
// Pass `make_client_deflate()` in `ClientHandshakeOptions::extensions`, or
// `make_server_deflate()` in `ServerHandshakeOptions::extensions`. The options below say what
// to offer (client) or accept (server); what the handshake agreed is then visible in
// `Extension::negotiated()`.
//
// Window sizes are base-2 logarithms: N bits means a 2^N-byte LZ77 window (8 → 256 B,
// 12 → 4 KiB, 15 → 32 KiB). A smaller window costs less memory and compresses a little worse.
//
// Memory per connection, both directions, with context takeover (zlib's own formulas,
// checked by tests/proto/deflate_7692_test.cpp, which prints the measured numbers):
//   compressor   ≈ 2^(window_bits + 2) + 2^(mem_level + 9) + 6 KiB
//   decompressor ≈ 2^(peer_window_bits) + 7 KiB
// e.g. the server defaults (window 12, mem_level 5, client window 12): 38,832 bytes to
// compress and 11,368 to decompress, 49 KiB per connection; a window of 15 costs 153,520
// and 40,040. Streams are allocated on first use; with no_context_takeover they are freed
// after every message, so an idle connection holds none.
#pragma once

#include <syncws/extension.hpp>

#include <cstddef>
#include <memory>
#include <optional>

namespace syncws {

/// What a client offers for permessage-deflate (RFC 7692 §7.1).
///
/// The defaults offer `permessage-deflate; client_max_window_bits`: compression in both
/// directions, and the server may choose our window size.
struct ClientDeflateOptions {
    /// Ask the server to reset its compressor after every message (RFC 7692 §7.1.1.1).
    /// Saves our decompressor's window between messages (≈ 2^server_window bytes), at the
    /// cost of worse compression of the server's messages. A server that answers without
    /// it fails the handshake (`NegotiationError`).
    bool server_no_context_takeover = false;
    /// Reset our own compressor after every message, and say so (RFC 7692 §7.1.1.2).
    /// Saves our compressor's memory between messages; compresses our messages worse.
    /// The server may also impose it; either way we comply.
    bool client_no_context_takeover = false;
    /// Ask the server to use a window of at most this many bits, 8–15 (RFC 7692
    /// §7.1.2.1); our decompressor then allocates 2^value bytes instead of up to 32 KiB.
    /// Unset: not requested (the server may still announce a smaller window).
    std::optional<int> server_max_window_bits;
    /// Our compressor's window in bits, 9–15 (zlib cannot compress raw DEFLATE with an
    /// 8-bit window). Sent as the value of `client_max_window_bits` in the offer, which
    /// promises the server we never use a bigger one (RFC 7692 §7.1.2.2); the server may
    /// choose a smaller one. Unset: 15, and the offer carries the parameter without a value.
    std::optional<int> client_max_window_bits;
    /// Whether the offer mentions `client_max_window_bits` at all. Without it the server
    /// may not limit our window (and a response that does fails the handshake). Turn off
    /// only for servers that reject the parameter; `client_max_window_bits`, if set, still
    /// limits our compressor.
    bool offer_client_max_window_bits = true;
    /// zlib compression level, 0 (store only) to 9 (best); 6 is zlib's default balance.
    /// Costs CPU only, no memory.
    int compression_level = 6;
    /// zlib memLevel, 1–9: size of the compressor's hash table and buffers,
    /// 2^(mem_level + 9) bytes (5 → 16 KiB, zlib's default 8 → 128 KiB). Lower saves memory
    /// and compresses slightly worse.
    int mem_level = 5;
    /// Messages whose first frame is shorter than this many bytes are sent uncompressed
    /// (RSV1 clear, as RFC 7692 §6 allows per message). 0 compresses every message.
    std::size_t compress_threshold = 0;
};

/// What a server accepts for permessage-deflate (RFC 7692 §7.1).
///
/// The defaults accept any valid offer and answer with a 12-bit window for our compressor
/// and, if the client supports the parameter, for the client's (Python websockets'
/// memory-conscious defaults). Offers with an unknown, repeated or malformed parameter are
/// declined as RFC 7692 §5 requires; the engine then considers the next offer.
struct ServerDeflateOptions {
    /// Always reset our compressor after every message (RFC 7692 §7.1.1.1), even if the
    /// client did not ask: the compressor's ≈ 2^(window + 2) + 2^(mem_level + 9) bytes are
    /// freed between messages. We also honour a client that asks for it.
    bool server_no_context_takeover = false;
    /// Always require the client to reset its compressor after every message (RFC 7692
    /// §7.1.1.2): our decompressor (≈ 2^client_window + 7 KiB) is freed between messages.
    /// A client that offers it gets it regardless.
    bool client_no_context_takeover = false;
    /// Our compressor's window in bits, 9–15, announced in the response (zlib cannot
    /// compress raw DEFLATE with an 8-bit window). A client may ask for less: we comply,
    /// and if it insists on 8 bits we accept but send our messages uncompressed.
    /// Unset: 15, not announced unless the client asked.
    std::optional<int> server_max_window_bits = 12;
    /// The window, 8–15 bits, that we require from a client whose offer includes
    /// `client_max_window_bits` (RFC 7692 §7.1.2.2; a client that offered a smaller value
    /// keeps it). A client whose offer lacks the parameter cannot be limited: we then
    /// decompress with a 15-bit window, or decline if `require_client_max_window_bits`.
    /// Unset: we accept whatever the client uses.
    std::optional<int> client_max_window_bits = 12;
    /// Decline offers without `client_max_window_bits`, so that no client makes us
    /// allocate a 32 KiB decompression window. Needs `client_max_window_bits`.
    bool require_client_max_window_bits = false;
    /// zlib compression level, 0 (store only) to 9 (best). CPU only, no memory.
    int compression_level = 6;
    /// zlib memLevel, 1–9: the compressor's hash table and buffers take 2^(mem_level + 9)
    /// bytes (5 → 16 KiB).
    int mem_level = 5;
    /// Messages whose first frame is shorter than this many bytes are sent uncompressed.
    /// 0 compresses every message.
    std::size_t compress_threshold = 0;
};

/// A client factory for permessage-deflate, to put in `ClientHandshakeOptions::extensions`.
/// Throws `std::invalid_argument` if an option is out of range.
std::shared_ptr<const ClientExtensionFactory>
make_client_deflate(const ClientDeflateOptions& options = {});

/// A server factory for permessage-deflate, to put in `ServerHandshakeOptions::extensions`.
/// Throws `std::invalid_argument` if an option is out of range.
std::shared_ptr<const ServerExtensionFactory>
make_server_deflate(const ServerDeflateOptions& options = {});

} // namespace syncws
