// The engine core: framing (RFC 6455 §5), the closing handshake (§7) and the states of
// the connection. Subclasses add only the opening handshake (§4).
#include "frame_codec.hpp"
#include "utf8.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <algorithm>
#include <stdexcept>

namespace syncws {

namespace {

constexpr std::size_t max_control_payload = 125;

constexpr std::uint16_t code(CloseCode c) {
    return static_cast<std::uint16_t>(c);
}

bool is_known_opcode(std::uint8_t op) {
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// The most bytes a message may take on the wire. max_size limits the decoded message, and
// a compressed message of incompressible data is slightly larger than its content (stored
// blocks and flush markers), so compressed messages get 1/64 of slack: buffering stays
// bounded, and what max_size admits once decoded is not refused for its wire size. The
// decoded size is checked again while inflating.
std::uint64_t raw_limit(std::size_t max_size, bool compressed) {
    if (!compressed) return max_size;
    return std::uint64_t{max_size} + max_size / 64 + 1024;
}

// Cuts `reason` to at most `limit` bytes without splitting a UTF-8 sequence, so a close
// frame built from a long error message stays valid.
std::string_view truncate_utf8(std::string_view reason, std::size_t limit) {
    if (reason.size() <= limit) return reason;
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80)
        --end;
    return reason.substr(0, end);
}

} // namespace

struct Protocol::Impl {
    Impl(Side s, State st, ProtocolOptions opts) : side(s), state(st), options(std::move(opts)) {
        if (!options.random) options.random = default_random_source();
    }

    Side side;
    State state;
    ProtocolOptions options;

    // Input not yet consumed: an incomplete frame header or HTTP head, or frames held while
    // a server decides on its response. Empty in the steady state, so most reads are parsed
    // straight from the caller's buffer.
    std::string in;
    bool eof_received = false;
    // After the connection failed or the closing handshake finished, input is ignored
    // (RFC 6455 §7.1.7: "MUST NOT continue to attempt to process data").
    bool discarding = false;
    // Server: the request was parsed, the engine waits for send_response.
    bool handshake_parsed = false;

    // Events not yet taken are events[next_event, event_count). The slots past event_count
    // are spares, kept when the queue drains: a spare frame's payload buffer becomes the
    // buffer of a later frame, so neither the queue nor small frames allocate in the
    // steady state.
    std::vector<Event> events;
    std::size_t next_event = 0;
    std::size_t event_count = 0;
    Bytes out;
    bool eof_queued = false;

    std::optional<Close> close_received;
    std::optional<Close> close_sent;
    bool close_received_then_sent = false;
    std::exception_ptr handshake_error;
    std::exception_ptr protocol_error;

    std::string subprotocol;
    std::vector<std::unique_ptr<Extension>> extensions;
    std::uint8_t extension_rsv = 0;

    // The frame being received: header parsed, payload arriving.
    bool frame_pending = false;
    detail::FrameHeader header;
    Frame frame;
    Bytes recycled; // the caller's, for a frame larger than frame.payload's capacity
    std::size_t mask_offset = 0;

    // The message being received.
    bool receiving_message = false;
    bool message_is_text = false;
    bool message_validated_raw = false; // UTF-8 checked as raw bytes arrive
    bool message_compressed = false;
    std::uint64_t message_raw_size = 0;
    std::uint64_t message_decoded_size = 0;
    detail::Utf8Validator utf8;

    // The message being sent.
    bool sending_message = false;
    bool sending_compressed = true;

    std::optional<detail::MaskKey> next_mask() {
        if (side == Side::server) return std::nullopt;
        detail::MaskKey key;
        options.random(key.data(), key.size());
        return key;
    }
};

Protocol::Protocol(Side side, State state, ProtocolOptions options)
    : impl_(std::make_unique<Impl>(side, state, std::move(options))) {}

Protocol::~Protocol() = default;

// ----- observers ------------------------------------------------------------------------

Side Protocol::side() const noexcept {
    return impl_->side;
}
State Protocol::state() const noexcept {
    return impl_->state;
}
const std::optional<Close>& Protocol::close_received() const noexcept {
    return impl_->close_received;
}
const std::optional<Close>& Protocol::close_sent() const noexcept {
    return impl_->close_sent;
}
bool Protocol::close_received_then_sent() const noexcept {
    return impl_->close_received_then_sent;
}
std::uint16_t Protocol::close_code() const noexcept {
    if (impl_->close_received) return impl_->close_received->code;
    return code(CloseCode::abnormal_closure);
}
std::exception_ptr Protocol::handshake_error() const noexcept {
    return impl_->handshake_error;
}
std::exception_ptr Protocol::protocol_error() const noexcept {
    return impl_->protocol_error;
}
const std::string& Protocol::subprotocol() const noexcept {
    return impl_->subprotocol;
}
const std::vector<std::unique_ptr<Extension>>& Protocol::extensions() const noexcept {
    return impl_->extensions;
}
const ProtocolOptions& Protocol::options() const noexcept {
    return impl_->options;
}

// ----- output ---------------------------------------------------------------------------

void Protocol::take_output(Bytes& out) {
    out.clear();
    out.swap(impl_->out);
}
bool Protocol::has_output() const noexcept {
    return !impl_->out.empty();
}
std::size_t Protocol::output_size() const noexcept {
    return impl_->out.size();
}
bool Protocol::eof_to_send() const noexcept {
    return impl_->eof_queued && impl_->out.empty();
}

bool Protocol::close_expected() const noexcept {
    // We expect the peer to close TCP once we sent a close frame (or failed the
    // handshake) and it has not closed yet; websockets' rule. A server that already
    // half-closed still expects the client's FIN, though it may close without it once the
    // close frames crossed (see the header): the runtime decides.
    if (impl_->eof_received) return false;
    return impl_->state == State::closing || impl_->handshake_error != nullptr;
}

// ----- events ---------------------------------------------------------------------------

namespace {

// A spare buffer above this size is released rather than kept: spares exist for streams of
// small frames, and one large message must not pin its memory for the connection's life.
constexpr std::size_t max_spare_capacity = 16 * 1024;

// A frame's first reserve, bounded because the declared length is peer data; a longer
// frame may start in a recycled buffer instead.
constexpr std::size_t recycle_above = 1 << 16;

void trim_spare(Event& spare) {
    if (auto* frame = std::get_if<Frame>(&spare);
        frame && frame->payload.capacity() > max_spare_capacity)
        Bytes().swap(frame->payload);
}

} // namespace

std::optional<Event> Protocol::next_event() {
    Impl& s = *impl_;
    if (s.next_event == s.event_count) return std::nullopt;
    std::optional<Event> event(std::move(s.events[s.next_event++]));
    if (s.next_event == s.event_count) s.next_event = s.event_count = 0;
    return event;
}

bool Protocol::next_event(Event& event) {
    Impl& s = *impl_;
    if (s.next_event == s.event_count) return false;
    Event& slot = s.events[s.next_event++];
    std::swap(event, slot);
    trim_spare(slot);
    if (s.next_event == s.event_count) s.next_event = s.event_count = 0;
    return true;
}

void Protocol::recycle(Bytes buffer) {
    if (buffer.capacity() <= impl_->recycled.capacity()) return;
    buffer.clear(); // the caller's old message: only its memory is wanted
    impl_->recycled.swap(buffer);
}

void Protocol::release_recycled() noexcept {
    Bytes().swap(impl_->recycled);
}

// ----- helpers for subclasses -----------------------------------------------------------

void Protocol::emit(Event event) {
    Impl& s = *impl_;
    if (s.event_count < s.events.size())
        s.events[s.event_count] = std::move(event);
    else
        s.events.push_back(std::move(event));
    ++s.event_count;
}

// Queues the frame just received and leaves `frame` holding a spare's buffer for the next.
void Protocol::publish_frame() {
    Impl& s = *impl_;
    if (s.event_count < s.events.size()) {
        Event& slot = s.events[s.event_count];
        if (auto* spare = std::get_if<Frame>(&slot))
            std::swap(*spare, s.frame);
        else
            slot = std::move(s.frame);
    } else {
        s.events.emplace_back(std::move(s.frame));
    }
    ++s.event_count;
}

void Protocol::write(std::string_view bytes) {
    if (impl_->eof_queued) throw InvalidState("cannot write after the end of the stream");
    impl_->out.append(bytes);
}

void Protocol::set_handshake_error(std::exception_ptr error) {
    impl_->handshake_error = std::move(error);
}

void Protocol::handshake_succeeded(std::string subprotocol,
                                   std::vector<std::unique_ptr<Extension>> extensions) {
    Impl& s = *impl_;
    s.state = State::open;
    s.subprotocol = std::move(subprotocol);
    s.extensions = std::move(extensions);
    s.extension_rsv = 0;
    for (const auto& ext : s.extensions)
        s.extension_rsv |= ext->rsv_bits();
}

void Protocol::resume_input() {
    impl_->handshake_parsed = false;
    process_input();
}

void Protocol::handshake_failed(std::exception_ptr error) {
    Impl& s = *impl_;
    s.handshake_error = std::move(error);
    s.state = State::closed;
    // The input is dropped by process_input once it sees `discarding`: a view into it may
    // be in use right now.
    s.discarding = true;
    s.eof_queued = true;
}

// ----- input ----------------------------------------------------------------------------

void Protocol::receive_data(BytesView data) {
    Impl& s = *impl_;
    if (s.eof_received) throw InvalidState("receive_data after receive_eof");
    if (s.discarding || data.empty()) return;
    if (s.in.empty()) {
        const std::size_t used = process(data.as_string_view());
        if (!s.discarding && used < data.size())
            s.in.assign(data.data() + used, data.size() - used);
        return;
    }
    s.in.append(data.data(), data.size());
    process_input();
}

std::size_t Protocol::process(std::string_view input) {
    Impl& s = *impl_;
    std::size_t total = 0;
    while (!s.discarding && total < input.size()) {
        const std::string_view pending = input.substr(total);
        std::size_t used = 0;
        if (s.state == State::connecting) {
            if (s.handshake_parsed) break; // the server still has to answer
            used = receive_handshake(pending);
            if (s.discarding) break;
        } else {
            used = receive_frames(pending);
        }
        if (used == 0) break;
        total += used;
    }
    return total;
}

void Protocol::process_input() {
    Impl& s = *impl_;
    const std::size_t used = process(s.in);
    // Keep only unconsumed bytes: the buffer never holds more than an incomplete header
    // (or head) plus what the last read brought.
    if (s.discarding || used == s.in.size())
        s.in.clear();
    else if (used > 0)
        s.in.erase(0, used);
}

void Protocol::handshake_parsed() {
    impl_->handshake_parsed = true;
}

std::size_t Protocol::receive_frames(std::string_view input) {
    Impl& s = *impl_;
    std::size_t used = 0;
    while (!s.discarding && used < input.size()) {
        if (!s.frame_pending) {
            const auto parsed = detail::parse_frame_header(input.substr(used));
            if (parsed.status == detail::HeaderStatus::need_more) break;
            if (parsed.status == detail::HeaderStatus::error) {
                fail_on_peer(code(CloseCode::protocol_error), parsed.error);
                break;
            }
            if (!start_frame(parsed.header)) break;
            used += parsed.header.header_length;
        }
        const std::uint64_t missing = s.header.payload_length - s.frame.payload.size();
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(missing, input.size() - used));
        if (take > 0) {
            const std::size_t start = s.frame.payload.size();
            if (start + take > s.frame.payload.capacity() &&
                s.recycled.capacity() > s.frame.payload.capacity()) {
                // A buffer the caller gave back: no new memory to fault in.
                s.recycled.assign(s.frame.payload);
                s.frame.payload.swap(s.recycled);
                Bytes().swap(s.recycled);
            }
            if (start + take > s.frame.payload.capacity()) {
                // Grow eightfold, not twofold: a 16 MiB frame is then copied 4.6 MiB on
                // its way instead of 16. Room reserved stays within eight times what the
                // peer sent so far, and within the declared length (checked against
                // max_size).
                const std::uint64_t grown = std::max<std::uint64_t>(
                    start + take, std::uint64_t{8} * s.frame.payload.capacity());
                s.frame.payload.reserve(static_cast<std::size_t>(
                    std::min<std::uint64_t>(grown, s.header.payload_length)));
            }
            s.frame.payload.append(input.data() + used, take);
            used += take;
            char* chunk = s.frame.payload.data() + start;
            if (s.header.masked)
                s.mask_offset = detail::apply_mask(chunk, take, s.header.mask, s.mask_offset);
            // Fail fast on invalid text (RFC 6455 §8.1): check bytes as they arrive, not
            // when the frame or message is complete. Compressed text is checked after
            // decoding instead.
            if (s.message_validated_raw && !is_control(s.frame.opcode) &&
                !s.utf8.feed(chunk, take)) {
                fail_on_peer(code(CloseCode::invalid_payload), "invalid UTF-8 in text message");
                break;
            }
        }
        if (s.frame.payload.size() < s.header.payload_length) break;
        s.frame_pending = false;
        finish_frame();
    }
    return used;
}

bool Protocol::start_frame(const detail::FrameHeader& h) {
    Impl& s = *impl_;
    const std::uint16_t protocol_error = code(CloseCode::protocol_error);
    if (!is_known_opcode(h.opcode)) {
        fail_on_peer(protocol_error, "reserved opcode " + std::to_string(h.opcode));
        return false;
    }
    const auto opcode = static_cast<Opcode>(h.opcode);
    // RFC 6455 §5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values". Extensions act on data frames only.
    const std::uint8_t allowed_rsv = is_control(opcode) ? 0 : s.extension_rsv;
    if ((h.rsv & ~allowed_rsv) != 0) {
        fail_on_peer(protocol_error, "reserved bits must be 0");
        return false;
    }
    // RFC 6455 §5.1: a server MUST close on an unmasked client frame; a client MUST close
    // on a masked server frame.
    if (s.side == Side::server && !h.masked) {
        fail_on_peer(protocol_error, "client frame isn't masked");
        return false;
    }
    if (s.side == Side::client && h.masked) {
        fail_on_peer(protocol_error, "server frame is masked");
        return false;
    }
    if (is_control(opcode)) {
        // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or
        // less and MUST NOT be fragmented."
        if (h.payload_length > max_control_payload) {
            fail_on_peer(protocol_error, "control frame payload longer than 125 bytes");
            return false;
        }
        if (!h.fin) {
            fail_on_peer(protocol_error, "fragmented control frame");
            return false;
        }
    } else if (opcode == Opcode::continuation) {
        if (!s.receiving_message) {
            fail_on_peer(protocol_error, "continuation frame without a message to continue");
            return false;
        }
    } else if (s.receiving_message) {
        // RFC 6455 §5.4: fragments of one message are not interleaved with another.
        fail_on_peer(protocol_error, "new data frame before the previous message ended");
        return false;
    }
    if (!is_control(opcode)) {
        const bool continuation = opcode == Opcode::continuation;
        const std::uint64_t so_far = continuation ? s.message_raw_size : 0;
        const bool compressed = continuation ? s.message_compressed : (h.rsv & 0x4) != 0;
        if (s.options.max_size &&
            h.payload_length > raw_limit(*s.options.max_size, compressed) - so_far) {
            fail_on_peer(code(CloseCode::message_too_big),
                         "message of at least " + std::to_string(so_far + h.payload_length) +
                             " bytes exceeds the limit of " + std::to_string(*s.options.max_size) +
                             " bytes");
            return false;
        }
        if (opcode != Opcode::continuation) {
            s.receiving_message = true;
            s.message_is_text = opcode == Opcode::text;
            s.message_raw_size = 0;
            s.message_decoded_size = 0;
            // RSV1 on the first frame marks a compressed message (RFC 7692 §6): its text
            // can only be validated after decoding.
            s.message_compressed = compressed;
            s.message_validated_raw = s.message_is_text && !compressed;
            s.utf8.reset();
        }
        s.message_raw_size += h.payload_length;
    }
    s.header = h;
    s.frame_pending = true;
    s.mask_offset = 0;
    s.frame.opcode = opcode;
    s.frame.fin = h.fin;
    s.frame.rsv1 = (h.rsv & 0x4) != 0;
    s.frame.rsv2 = (h.rsv & 0x2) != 0;
    s.frame.rsv3 = (h.rsv & 0x1) != 0;
    s.frame.payload.clear();
    // Reserve up to a bound: the length is peer data, and max_size may be unlimited. A
    // spare's buffer (publish_frame) is usually large enough already, else one the caller
    // recycled.
    if (h.payload_length > s.frame.payload.capacity()) {
        // Only for a frame that would outgrow the first reserve anyway: a small message or
        // a control frame must not take (and keep) a buffer of many megabytes.
        if (h.payload_length > recycle_above && !is_control(opcode) &&
            s.recycled.capacity() > s.frame.payload.capacity()) {
            s.frame.payload.swap(s.recycled);
            Bytes().swap(s.recycled);
        } else {
            s.frame.payload.reserve(
                static_cast<std::size_t>(std::min<std::uint64_t>(h.payload_length, recycle_above)));
        }
    }
    return true;
}

void Protocol::finish_frame() {
    Impl& s = *impl_;
    switch (s.frame.opcode) {
    case Opcode::close:
        receive_close();
        return;
    case Opcode::ping:
        // RFC 6455 §5.5.2: answer with a pong carrying the same payload, unless we already
        // sent a close frame (nothing may follow it).
        if (s.state == State::open) send_frame(Opcode::pong, true, 0, s.frame.payload);
        publish_frame();
        return;
    case Opcode::pong:
        publish_frame();
        return;
    default:
        break;
    }
    receive_data_frame();
}

void Protocol::receive_data_frame() {
    // In CLOSING (we sent a close frame) data still arrives: the peer sent it before it saw
    // our close (RFC 6455 §5.5.1), so it is delivered like any other.
    Impl& s = *impl_;
    Frame& frame = s.frame;
    if (!s.extensions.empty()) {
        try {
            for (auto it = s.extensions.rbegin(); it != s.extensions.rend(); ++it) {
                const std::size_t budget =
                    s.options.max_size
                        ? static_cast<std::size_t>(*s.options.max_size - s.message_decoded_size)
                        : SIZE_MAX;
                (*it)->decode(frame, budget);
            }
        } catch (const ProtocolError& e) {
            fail_on_peer(e.close_code(), e.what());
            return;
        } catch (const std::bad_alloc&) {
            throw;
        } catch (const std::exception& e) {
            fail_on_peer(code(CloseCode::internal_error),
                         std::string("extension failed: ") + e.what());
            return;
        }
        s.message_decoded_size += frame.payload.size();
        if (s.options.max_size && s.message_decoded_size > *s.options.max_size) {
            fail_on_peer(code(CloseCode::message_too_big), "decoded message exceeds the limit of " +
                                                               std::to_string(*s.options.max_size) +
                                                               " bytes");
            return;
        }
        if (s.message_is_text && !s.message_validated_raw &&
            !s.utf8.feed(frame.payload.data(), frame.payload.size())) {
            fail_on_peer(code(CloseCode::invalid_payload), "invalid UTF-8 in text message");
            return;
        }
    }
    if (frame.fin) {
        s.receiving_message = false;
        // RFC 6455 §8.1 and Autobahn 6.x: a text message that ends inside a code point
        // is invalid, though each byte so far was acceptable.
        if (s.message_is_text && !s.utf8.complete()) {
            fail_on_peer(code(CloseCode::invalid_payload),
                         "text message ends with an incomplete UTF-8 sequence");
            return;
        }
    }
    publish_frame();
}

void Protocol::receive_close() {
    Impl& s = *impl_;
    const std::string_view payload = s.frame.payload;
    // RFC 6455 §5.5.1: a body, if present, starts with a 2-byte code; the rest is UTF-8.
    if (payload.size() == 1) {
        fail_on_peer(code(CloseCode::protocol_error), "close frame with a 1-byte payload");
        return;
    }
    Close close;
    if (payload.size() >= 2) {
        close.code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                static_cast<unsigned char>(payload[1]));
        if (!is_valid_close_code(close.code)) {
            fail_on_peer(code(CloseCode::protocol_error),
                         "invalid close code " + std::to_string(close.code));
            return;
        }
        close.reason.assign(payload.substr(2));
        if (!detail::is_valid_utf8(close.reason)) {
            fail_on_peer(code(CloseCode::invalid_payload), "close reason isn't valid UTF-8");
            return;
        }
    }
    s.close_received = close;
    if (s.state == State::open) {
        // RFC 6455 §5.5.1: "the endpoint MUST send a Close frame in response ... typically
        // echoing the status code it received".
        s.close_received_then_sent = true;
        s.close_sent = close;
        send_frame(Opcode::close, true, 0, close.serialize());
        s.state = State::closing;
    }
    // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it. Either way,
    // nothing after the close frame is processed.
    s.discarding = true;
    if (s.side == Side::server) s.eof_queued = true;
    publish_frame();
}

void Protocol::receive_eof() {
    Impl& s = *impl_;
    if (s.eof_received) throw InvalidState("receive_eof called twice");
    s.eof_received = true;
    if (s.state == State::closed) return;
    if (s.state == State::connecting) {
        handshake_failed(std::make_exception_ptr(InvalidHandshake(
            s.side == Side::client ? "connection closed while waiting for the HTTP response"
                                   : "connection closed while reading the HTTP request")));
        return;
    }
    if (!s.close_received && !s.discarding) {
        // RFC 6455 §7.1.5: no close frame → close code 1006; nothing is sent.
        s.protocol_error = std::make_exception_ptr(ProtocolError(
            code(CloseCode::abnormal_closure), s.frame_pending || !s.in.empty()
                                                   ? "connection closed in the middle of a frame"
                                                   : "connection closed without a close frame"));
    }
    // A client closes its side once the server closed (RFC 6455 §7.1.1).
    s.eof_queued = true;
    s.state = State::closed;
    s.discarding = true;
    s.in.clear();
}

// ----- commands -------------------------------------------------------------------------

void Protocol::send_frame(Opcode opcode, bool fin, std::uint8_t rsv, std::string_view payload) {
    Impl& s = *impl_;
    detail::serialize_frame(s.out, opcode, fin, rsv, payload, s.next_mask());
}

void Protocol::start_data_frame(Opcode opcode, bool fin, bool& compress) {
    Impl& s = *impl_;
    if (s.state != State::open)
        throw InvalidState("cannot send a message: the connection is not open");
    if (opcode == Opcode::continuation) {
        if (!s.sending_message)
            throw InvalidState("send_continuation without a fragmented message in progress");
        compress = s.sending_compressed;
    } else {
        if (s.sending_message)
            throw InvalidState("cannot start a message before the fragmented one ends");
        s.sending_compressed = compress;
    }
    s.sending_message = !fin;
}

void Protocol::send_data(Opcode opcode, BytesView data, bool fin, bool compress) {
    Impl& s = *impl_;
    start_data_frame(opcode, fin, compress);
    if (s.extensions.empty()) {
        send_frame(opcode, fin, 0, data.as_string_view());
        return;
    }
    Frame frame{opcode, fin, false, false, false, Bytes(data.as_string_view())};
    for (const auto& ext : s.extensions)
        ext->encode(frame, compress);
    const std::uint8_t rsv = static_cast<std::uint8_t>(
        (frame.rsv1 ? 0x4 : 0) | (frame.rsv2 ? 0x2 : 0) | (frame.rsv3 ? 0x1 : 0));
    send_frame(frame.opcode, frame.fin, rsv, frame.payload);
}

std::optional<Protocol::UnbufferedFrame> Protocol::send_unbuffered_header(Opcode opcode,
                                                                        std::uint64_t length) {
    Impl& s = *impl_;
    if (opcode != Opcode::text && opcode != Opcode::binary)
        throw std::invalid_argument("send_unbuffered_header: a text or binary frame only");
    if (!s.extensions.empty()) return std::nullopt;
    bool compress = false;
    start_data_frame(opcode, true, compress);
    const auto mask = s.next_mask();
    detail::serialize_frame_header(s.out, opcode, true, 0, length, mask);
    UnbufferedFrame frame;
    if (mask) {
        frame.masked = true;
        frame.mask_key = *mask;
    }
    return frame;
}

void Protocol::send_text(std::string_view data, bool fin, bool compress) {
    send_data(Opcode::text, BytesView(data), fin, compress);
}

void Protocol::send_binary(BytesView data, bool fin, bool compress) {
    send_data(Opcode::binary, data, fin, compress);
}

void Protocol::send_continuation(BytesView data, bool fin) {
    send_data(Opcode::continuation, data, fin, true);
}

void Protocol::send_close() {
    send_close_frame(Close{});
}

void Protocol::send_close(std::uint16_t close_code, std::string_view reason) {
    send_close_frame(Close{close_code, std::string(reason)});
}

void Protocol::send_close_frame(Close close) {
    Impl& s = *impl_;
    if (s.state != State::open)
        throw InvalidState("cannot send a close frame: the connection is not open");
    // Validate before changing any state, so a bad argument leaves the engine usable.
    const std::string payload = close.serialize();
    s.close_sent = std::move(close);
    send_frame(Opcode::close, true, 0, payload);
    s.state = State::closing;
}

void Protocol::send_control(Opcode opcode, BytesView data) {
    Impl& s = *impl_;
    if (s.state != State::open)
        throw InvalidState("cannot send a ping or pong: the connection is not open");
    if (data.size() > max_control_payload)
        throw std::invalid_argument("control frame payload longer than 125 bytes");
    send_frame(opcode, true, 0, data.as_string_view());
}

void Protocol::send_ping(BytesView data) {
    send_control(Opcode::ping, data);
}
void Protocol::send_pong(BytesView data) {
    send_control(Opcode::pong, data);
}

void Protocol::fail(std::uint16_t close_code, std::string_view reason) {
    Impl& s = *impl_;
    if (s.state == State::closed) return;
    // RFC 6455 §7.1.7: send a close frame if the connection is open, then stop processing
    // input. 1006 means "no close frame" and is never sent.
    const bool drop = close_code == code(CloseCode::abnormal_closure);
    if (s.state == State::open && !drop) {
        Close close{close_code, std::string(truncate_utf8(reason, 123))};
        if (!is_valid_close_code(close.code)) close.code = code(CloseCode::internal_error);
        send_frame(Opcode::close, true, 0, close.serialize());
        s.close_sent = std::move(close);
    }
    if (s.state == State::open) s.state = State::closing;
    if (s.state == State::connecting) s.state = State::closed;
    // A server closes TCP at once; a client waits for the server to close it, so that the
    // server, not the client, keeps the TIME_WAIT (RFC 6455 §7.1.1). Dropping the
    // connection (1006) closes it from either side: there is no close frame to wait on.
    if (s.side == Side::server || s.state == State::closed || drop) s.eof_queued = true;
    s.discarding = true;
    s.frame_pending = false;
}

void Protocol::fail_on_peer(std::uint16_t close_code, const std::string& why) {
    Impl& s = *impl_;
    if (!s.protocol_error) {
        if (close_code == code(CloseCode::message_too_big))
            s.protocol_error = std::make_exception_ptr(PayloadTooBig(why));
        else
            s.protocol_error = std::make_exception_ptr(ProtocolError(close_code, why));
    }
    fail(close_code, why);
}

} // namespace syncws
