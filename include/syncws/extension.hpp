// The extension interface (RFC 6455 §9): how permessage-deflate and others plug into
// the engine without changing its core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <syncws/frame.hpp>

namespace syncws {

/// One `name[=value]` parameter of an extension offer or answer (RFC 6455 §9.1).
struct ExtensionParameter {
    std::string name;
    std::optional<std::string> value;

    friend bool operator==(const ExtensionParameter& a, const ExtensionParameter& b) {
        return a.name == b.name && a.value == b.value;
    }
};

using ExtensionParameters = std::vector<ExtensionParameter>;

/// One element of a `Sec-WebSocket-Extensions` header: a name and its parameters.
struct ExtensionOffer {
    std::string name;
    ExtensionParameters parameters;

    friend bool operator==(const ExtensionOffer& a, const ExtensionOffer& b) {
        return a.name == b.name && a.parameters == b.parameters;
    }
};

/// Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1 grammar; quoted-string values
/// are unquoted and must then be tokens). Whitespace may surround the separators; empty
/// list elements are skipped, so an empty value gives no offers.
/// Throws `InvalidHeader` on malformed input; `what()` gives the offset of the problem.
std::vector<ExtensionOffer> parse_extension_header(std::string_view value);

/// Serializes extension offers as a `Sec-WebSocket-Extensions` value:
/// `name; param; param=value, name2`. Throws `std::invalid_argument` if a name or value
/// is not a token (RFC 6455 §9.1 allows nothing else).
std::string serialize_extension_header(const std::vector<ExtensionOffer>& offers);

/// A negotiated extension, active on one connection.
///
/// The engine calls `decode` on every received data frame (first frame and continuations,
/// in order; extensions in reverse negotiation order) and `encode` on every data frame it
/// sends (in negotiation order). Control frames never pass through extensions.
/// Thread safety: used only by its engine, which is not thread-safe.
class Extension {
public:
    virtual ~Extension() = default;

    /// The registered extension name, e.g. "permessage-deflate".
    virtual std::string_view name() const noexcept = 0;

    /// RSV bits this extension may set: a mask of 0x4 (RSV1), 0x2 (RSV2), 0x1 (RSV3).
    /// A received frame with a bit that no extension claims fails the connection (1002).
    virtual std::uint8_t rsv_bits() const noexcept { return 0; }

    /// Decodes a received data frame in place and clears the RSV bits it handled.
    /// `max_size` is how many decoded bytes the message may still grow by.
    /// Throws: `PayloadTooBig` beyond `max_size` (1009); `ProtocolError` for an invalid
    /// frame (e.g. 1007 for corrupt compressed data). The engine catches both and fails
    /// the connection; nothing escapes to the caller.
    virtual void decode(Frame& frame, std::size_t max_size) = 0;

    /// Encodes an outgoing data frame in place. `compress` is the per-message switch the
    /// caller passed to `send_*` (an extension that does not compress ignores it).
    virtual void encode(Frame& frame, bool compress) = 0;

    /// What was negotiated, as it appeared in the handshake.
    virtual ExtensionOffer negotiated() const = 0;
};

/// The client's side of negotiating one extension.
class ClientExtensionFactory {
public:
    virtual ~ClientExtensionFactory() = default;
    virtual std::string_view name() const noexcept = 0;

    /// The offers for the request's `Sec-WebSocket-Extensions` header, most preferred
    /// first (RFC 7692 §5 allows several offers of one extension).
    virtual std::vector<ExtensionParameters> offers() const = 0;

    /// Builds the extension from the parameters the server accepted.
    /// Throws `NegotiationError` if they are not acceptable (RFC 6455 §9.1: the client
    /// must fail the connection).
    virtual std::unique_ptr<Extension>
    accept(const ExtensionParameters& response,
           const std::vector<std::unique_ptr<Extension>>& accepted) const = 0;
};

/// What a server factory returns when it accepts an offer.
struct ExtensionAcceptance {
    ExtensionParameters response;
    std::unique_ptr<Extension> extension;
};

/// The server's side of negotiating one extension.
class ServerExtensionFactory {
public:
    virtual ~ServerExtensionFactory() = default;
    virtual std::string_view name() const noexcept = 0;

    /// Considers one offer. Returns nothing to decline it (the engine tries the next
    /// offer, then goes on without the extension); throws `NegotiationError` to refuse
    /// the handshake (400).
    virtual std::optional<ExtensionAcceptance>
    negotiate(const ExtensionParameters& offer,
              const std::vector<std::unique_ptr<Extension>>& accepted) const = 0;
};

} // namespace syncws
