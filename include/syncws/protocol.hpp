// The sans-I/O protocol engine (RFC 6455): bytes in → events out, commands in → bytes out.
//
// The engine owns no socket, thread or clock. Feed it what the peer sent with
// `receive_data` / `receive_eof`, pull what happened with `next_event`, call `send_*`
// commands, and after *every* call write what `take_output` hands you; once
// `eof_to_send()` is true and the output is written, half-close the TCP connection.
// When `close_expected()` turns true, arm a close timeout and drop the connection if the
// peer does not close it in time.
#pragma once

#include <syncws/bytes.hpp>
#include <syncws/extension.hpp>
#include <syncws/frame.hpp>
#include <syncws/http.hpp>
#include <syncws/uri.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace syncws {

namespace detail {
struct FrameHeader;
}

/// Which end of the connection an engine plays.
enum class Side { client, server };

/// Connection states (RFC 6455 §4, §7): the opening handshake, open, the closing
/// handshake, closed.
enum class State { connecting, open, closing, closed };

/// What the engine reports: the peer's handshake (`Request` on a server, `Response` on a
/// client), then every frame received, control frames included (the engine has already
/// answered pings and echoed the close by then).
using Event = std::variant<Request, Response, Frame>;

/// Fills `size` bytes at `out` with random bytes. Used for mask keys and
/// `Sec-WebSocket-Key`; inject a deterministic one in tests. Must not throw.
using RandomSource = std::function<void(unsigned char* out, std::size_t size)>;

/// The default `RandomSource`: OpenSSL's CSPRNG (`RAND_bytes`), drawn 256 bytes at a time
/// per thread for small requests such as mask keys. Thread-safe.
RandomSource default_random_source();

/// Options common to both sides.
struct ProtocolOptions {
    /// Largest message (after decompression), in bytes. Checked from each frame header
    /// before its payload is buffered (a compressed message may take 1/64 more on the
    /// wire), and again while inflating; beyond it the connection fails with 1009.
    /// `std::nullopt` means no limit.
    std::optional<std::size_t> max_size = 1024 * 1024;
    /// Source of mask keys and handshake keys; empty means `default_random_source()`.
    RandomSource random;
    /// Limits on the HTTP head of the opening handshake.
    HttpLimits http_limits;
};

/// The base engine, shared by `ClientProtocol` and `ServerProtocol`. Not created directly.
///
/// Throws: only `InvalidState`, for commands called in a state that forbids them. Peer
/// input never throws: a protocol violation fails the connection with the right close
/// code and is recorded in `protocol_error()`.
/// Thread safety: none. Serialize every call (the runtime holds one mutex).
class Protocol {
public:
    Protocol(const Protocol&) = delete;
    Protocol& operator=(const Protocol&) = delete;
    virtual ~Protocol();

    // ----- input -----------------------------------------------------------------------

    /// Feeds bytes received from the peer. Never throws on their content.
    /// Then call `next_event()` until it returns nothing, and `take_output()`.
    void receive_data(BytesView data);

    /// Reports that the peer closed its side of the TCP connection. Without a prior close
    /// frame, the connection is closed abnormally (1006, RFC 6455 §7.1.5).
    void receive_eof();

    /// The next event, or nothing when all input so far has been reported.
    std::optional<Event> next_event();

    /// Moves the next event into `event` and returns true, or returns false when all input
    /// so far has been reported. What `event` held before is kept by the engine, and the
    /// payload buffer of a small frame is reused for a later frame: a caller that keeps
    /// passing the same `Event` receives a steady stream of small frames without a memory
    /// allocation per frame.
    bool next_event(Event& event);

    /// Gives the engine a payload buffer the caller is done with (a large message it has
    /// consumed). A later frame too large for the engine's current buffer is received into
    /// it instead of into new memory. The engine keeps one, the one with the most capacity,
    /// until it uses it or `release_recycled()`; small buffers are better passed back
    /// through `next_event(Event&)`.
    void recycle(Bytes buffer);
    /// Frees the buffer `recycle` left, if the engine has not used it yet.
    void release_recycled() noexcept;

    // ----- commands (RFC 6455 §5.4–§5.5, §7) ---------------------------------------------

    /// Sends a text frame; `fin = false` starts a fragmented message continued with
    /// `send_continuation`. `compress` is the per-message switch for extensions.
    /// The text is sent as given: validating it is the caller's business.
    /// Throws `InvalidState` unless OPEN and no fragmented message is in progress.
    void send_text(std::string_view data, bool fin = true, bool compress = true);
    /// Sends a binary frame. Same rules as `send_text`.
    void send_binary(BytesView data, bool fin = true, bool compress = true);
    /// Sends a continuation frame of the fragmented message in progress.
    /// Throws `InvalidState` unless OPEN and a fragmented message is in progress.
    void send_continuation(BytesView data, bool fin);
    /// What `send_unbuffered_header` queued the header of. A client's payload goes out
    /// masked (RFC 6455 §5.3): byte i XORed with `mask_key[i % 4]`.
    struct UnbufferedFrame {
        bool masked = false;
        std::array<std::uint8_t, 4> mask_key{};
    };
    /// Queues only the header of a whole (FIN) text or binary frame of `length` bytes whose
    /// payload the caller writes itself, so that a large payload goes out without a copy
    /// into the output: take the output, write it, then exactly `length` payload bytes
    /// (masked as the result says), before any output queued later. Only where the payload
    /// goes out as given but for the mask: with no extension negotiated; otherwise it queues
    /// nothing and returns nullopt (send_text/send_binary then). Throws like `send_text`,
    /// and `std::invalid_argument` for an opcode other than text or binary.
    std::optional<UnbufferedFrame> send_unbuffered_header(Opcode opcode, std::uint64_t length);

    /// Starts the closing handshake (RFC 6455 §7.1.2). Without arguments sends a close
    /// frame with no status (1005 on the other side).
    /// Throws `InvalidState` unless OPEN; `std::invalid_argument` for a code that may not
    /// be sent or a reason longer than 123 bytes.
    void send_close();
    void send_close(std::uint16_t code, std::string_view reason = {});

    /// Sends a ping (RFC 6455 §5.5.2).
    /// Throws `InvalidState` unless OPEN; `std::invalid_argument` beyond 125 bytes.
    void send_ping(BytesView data);
    /// Sends an unsolicited pong (RFC 6455 §5.5.3). Same rules as `send_ping`.
    void send_pong(BytesView data);

    /// Fails the connection (RFC 6455 §7.1.7): sends a close frame with `code` if none
    /// was sent, then stops processing input. A server also half-closes TCP at once.
    /// Allowed in any state; does nothing once CLOSED.
    void fail(std::uint16_t code, std::string_view reason = {});

    // ----- output --------------------------------------------------------------------

    /// Swaps the pending output into `out` (which should be empty; it is cleared first).
    /// Hand the same, emptied buffer back next time: the steady state allocates nothing.
    void take_output(Bytes& out);
    /// True if `take_output` would hand over bytes.
    bool has_output() const noexcept;
    /// How many bytes `take_output` would hand over (for write backpressure).
    std::size_t output_size() const noexcept;
    /// True once every byte has been handed out and the TCP connection should be
    /// half-closed (shutdown of the write side). Stays true.
    bool eof_to_send() const noexcept;
    /// True when the peer is expected to close the TCP connection (we sent a close frame,
    /// or the connection or its handshake failed) and has not yet: arm a close timeout then.
    /// A server whose close frames crossed (`close_sent()` and `close_received()`, no
    /// `protocol_error()`) may instead close the socket as soon as its half-close is out:
    /// "the server MUST close the underlying TCP connection immediately" (RFC 6455
    /// §7.1.1). syncws's runtime does, except over TLS, whose peer answers with a
    /// close_notify of its own.
    bool close_expected() const noexcept;

    // ----- observers -----------------------------------------------------------------

    Side side() const noexcept;
    State state() const noexcept;
    /// The close frame received, if any.
    const std::optional<Close>& close_received() const noexcept;
    /// The close frame sent, if any.
    const std::optional<Close>& close_sent() const noexcept;
    /// True if the close frame received came before the one sent.
    bool close_received_then_sent() const noexcept;
    /// The WebSocket close code (RFC 6455 §7.1.5): the received code, 1005 if the close
    /// had none, 1006 if none was received. Meaningful once CLOSED.
    std::uint16_t close_code() const noexcept;
    /// Why the opening handshake failed (an `InvalidHandshake`), or null.
    std::exception_ptr handshake_error() const noexcept;
    /// Why the engine failed the connection (a `ProtocolError`), or null.
    std::exception_ptr protocol_error() const noexcept;
    /// The negotiated subprotocol, or "" if none.
    const std::string& subprotocol() const noexcept;
    /// The negotiated extensions, in order.
    const std::vector<std::unique_ptr<Extension>>& extensions() const noexcept;
    const ProtocolOptions& options() const noexcept;

protected:
    Protocol(Side side, State state, ProtocolOptions options);

    /// Called while CONNECTING with all unconsumed input. Returns how many bytes the
    /// handshake used (0 while the head is incomplete). Bytes beyond that belong to frames.
    virtual std::size_t receive_handshake(std::string_view input) = 0;

    void emit(Event event);
    void write(std::string_view bytes);
    /// The server parsed a request: hold further input until `send_response`.
    void handshake_parsed();
    /// Processes input held since `handshake_parsed` (frames that followed the request).
    void resume_input();
    /// Handshake succeeded: OPEN, with what was negotiated.
    void handshake_succeeded(std::string subprotocol,
                             std::vector<std::unique_ptr<Extension>> extensions);
    /// Handshake failed: CLOSED, error recorded, input discarded, EOF queued.
    void handshake_failed(std::exception_ptr error);
    /// Records why the handshake is being refused, before the response is sent.
    void set_handshake_error(std::exception_ptr error);

private:
    std::size_t process(std::string_view input);
    void process_input();
    std::size_t receive_frames(std::string_view input);
    bool start_frame(const detail::FrameHeader& header);
    void finish_frame();
    void receive_data_frame();
    void receive_close();
    void publish_frame();
    void fail_on_peer(std::uint16_t code, const std::string& why);
    void send_frame(Opcode opcode, bool fin, std::uint8_t rsv, std::string_view payload);
    void send_data(Opcode opcode, BytesView data, bool fin, bool compress);
    void start_data_frame(Opcode opcode, bool fin, bool& compress);
    void send_close_frame(Close close);
    void send_control(Opcode opcode, BytesView data);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Client options for the opening handshake (RFC 6455 §4.1).
struct ClientHandshakeOptions {
    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`).
    std::vector<std::string> subprotocols;
    /// `Origin` header, if any.
    std::optional<std::string> origin;
    /// Extensions to offer (`Sec-WebSocket-Extensions`), in order of preference.
    std::vector<std::shared_ptr<const ClientExtensionFactory>> extensions;
    /// Extra headers appended to the request.
    Headers extra_headers;
    /// `User-Agent` header; empty for none.
    std::string user_agent;
};

/// The client engine: builds the opening handshake request and validates the response.
///
/// Usage: `auto req = client.connect(); /* edit req */ client.send_request(req);`, then
/// feed bytes. The first event is the server's `Response`. If it is not a valid 101,
/// `handshake_error()` says why and the engine is CLOSED.
/// Thread safety: none.
class ClientProtocol final : public Protocol {
public:
    /// `state` other than CONNECTING skips the handshake (tests, or a connection whose
    /// handshake was done elsewhere).
    explicit ClientProtocol(Uri uri, ClientHandshakeOptions handshake = {},
                            ProtocolOptions options = {}, State state = State::connecting);
    ~ClientProtocol() override;

    /// Builds the opening handshake request: Host, Upgrade, Connection, a fresh
    /// 16-byte Sec-WebSocket-Key, version 13, Origin, subprotocols, extensions, extra
    /// headers, User-Agent, and Basic authorization from the URI's userinfo.
    Request connect();
    /// Sends the request. Throws `InvalidState` unless CONNECTING and not yet sent.
    void send_request(const Request& request);

    const Uri& uri() const noexcept { return uri_; }

private:
    std::size_t receive_handshake(std::string_view input) override;
    void check_response(const Response& response);

    Uri uri_;
    ClientHandshakeOptions handshake_;
    std::string key_;
    bool request_sent_ = false;
};

/// What a server hook sees of the client's offered subprotocols.
using SubprotocolSelector = std::function<std::optional<std::string>(
    const Request& request, const std::vector<std::string>& offered)>;

/// Server options for the opening handshake (RFC 6455 §4.2).
struct ServerHandshakeOptions {
    /// Supported subprotocols in order of preference: the first one the client also
    /// offered is selected. None offered in common: no subprotocol (RFC 6455 §4.2.2).
    std::vector<std::string> subprotocols;
    /// Replaces the default selection when set; returns the chosen subprotocol (one the
    /// client offered) or nothing. May throw `NegotiationError` to refuse (400).
    SubprotocolSelector select_subprotocol;
    /// Extensions accepted, in order of preference.
    std::vector<std::shared_ptr<const ServerExtensionFactory>> extensions;
    /// Allowed `Origin` values; empty allows any. An empty string in the list allows
    /// requests without an Origin header. A refused origin gets 403.
    std::vector<std::string> origins;
};

/// The server engine: parses and validates the opening handshake request.
///
/// The first event is the client's `Request` (unless its head is malformed or too large:
/// then the engine answers 400 / 431 itself, records `handshake_error()` and closes).
/// Call `accept(request)` (or `reject`) to build a `Response`, edit it if you like, and
/// `send_response` it: a 101 opens the connection, anything else closes it.
/// Thread safety: none.
class ServerProtocol final : public Protocol {
public:
    /// `state` other than CONNECTING skips the handshake (see `ClientProtocol`).
    explicit ServerProtocol(ServerHandshakeOptions handshake = {}, ProtocolOptions options = {},
                            State state = State::connecting);
    ~ServerProtocol() override;

    /// Validates the request (RFC 6455 §4.2.1) and negotiates subprotocol and extensions.
    /// Returns a 101 response, or an error response (400, 403, 426 with
    /// `Sec-WebSocket-Version: 13`) with `handshake_error()` set.
    Response accept(const Request& request);
    /// Builds a plain HTTP response (text/plain body, `Connection: close`).
    Response reject(int status, std::string_view text);
    /// Sends the response: 101 → OPEN, any other status → CLOSED after the response.
    /// Throws `InvalidState` unless CONNECTING and no response was sent.
    void send_response(const Response& response);

private:
    std::size_t receive_handshake(std::string_view input) override;
    std::string select_subprotocol(const Request& request);

    ServerHandshakeOptions handshake_;
    std::optional<Request> request_;
    std::optional<std::string> pending_subprotocol_;
    std::vector<std::unique_ptr<Extension>> pending_extensions_;
    bool response_sent_ = false;
};

} // namespace syncws
