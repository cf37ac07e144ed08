// A WebSocket connection with blocking calls, safe from any thread.
#pragma once

#include <syncws/bytes.hpp>
#include <syncws/errors.hpp>
#include <syncws/frame.hpp>
#include <syncws/http.hpp>
#include <syncws/log.hpp>
#include <syncws/protocol.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws {

/// A whole message: text (UTF-8, validated) or binary.
struct Message {
    bool binary = false;
    std::string data;

    bool is_text() const noexcept { return !binary; }
    bool is_binary() const noexcept { return binary; }
    std::string_view view() const noexcept { return data; }
};

/// Behaviour of an open connection; the defaults are Python websockets' proven ones.
struct ConnectionOptions {
    /// Largest message received, after decompression; beyond it the connection fails with
    /// 1009. `std::nullopt`: no limit.
    std::optional<std::size_t> max_size = 1024 * 1024;
    /// Receive queue high-water mark, in frames: above it the connection stops reading, so TCP
    /// pushes back on the peer. Reading resumes at `max_queue / 4`.
    std::size_t max_queue = 16;
    /// Keepalive: a ping every `ping_interval`; a pong must come within `ping_timeout`, or
    /// the connection fails with 1011 ("keepalive ping timeout"). Zero disables.
    std::chrono::milliseconds ping_interval{20000};
    std::chrono::milliseconds ping_timeout{20000};
    /// How long `close()` (and a peer-initiated closing) waits for the closing handshake
    /// and the TCP close before dropping the connection. A server closes TCP itself once
    /// the close frames crossed; it waits for the client's close after a protocol error and
    /// over TLS (the client's close_notify).
    std::chrono::milliseconds close_timeout{10000};
    /// Write buffer water marks, in bytes: `send` blocks while more than `write_high` bytes
    /// wait to be written, until they drop to `write_low`. (Over TLS, up to 64 KiB of
    /// encrypted records the socket did not take yet wait beyond them.) A message of
    /// `write_high` bytes or more, on a connection with no extension (compression)
    /// negotiated and with nothing else waiting, is written straight from the caller's
    /// buffer instead of copied (a client masks it a piece at a time on its way): its
    /// `send` returns once the socket has taken all of it (or copies the rest when the
    /// receive queue is full, so that the caller can drain it).
    std::size_t write_high = 1024 * 1024;
    std::size_t write_low = 256 * 1024;
    /// Stack size of the connection's I/O thread (it needs little).
    std::size_t thread_stack_size = 256 * 1024;
    /// Where syncws logs; silent when empty. It runs on the connection's threads (and a
    /// server's keeper): it must not block for long or call `Server::shutdown()`.
    Logger logger;
};

namespace detail {
class ConnectionCore;
}

/// An open WebSocket connection: `send_*`, `recv`, `ping`, `close`, from any thread.
///
/// One I/O thread per connection runs the protocol in the background: it reads, writes
/// what `send` queued, answers pings and keeps the keepalive and close deadlines even while
/// nobody calls `recv`. Messages are received in order; whole messages sent from different
/// threads never interleave (a second sender waits).
///
/// Thread safety: every member may be called from any thread, concurrently. Only one
/// thread should receive at a time (a second `recv` waits for the first).
/// Destruction closes the connection (1000, or 1001 from a server) if it is still open,
/// waits up to `close_timeout`, and joins its thread: it never detaches.
class Connection {
public:
    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    ~Connection();

    // ----- sending ---------------------------------------------------------------------

    /// Sends a text message. `compress = false` skips compression for this message.
    /// Blocks while the write buffer is above its high-water mark (and a message of
    /// `write_high` bytes or more until it is written: see `ConnectionOptions`).
    /// Throws: `ConnectionClosed` if the connection is closing or closed, or closes before
    /// such a message is written.
    void send_text(std::string_view text, bool compress = true);
    /// Sends a binary message. Same rules as `send_text`.
    void send_binary(BytesView data, bool compress = true);
    /// Sends `message` as text or binary.
    void send(const Message& message);
    /// Sends one message in fragments, one frame per piece, as `next` produces them until
    /// it returns nothing. Other senders wait until the message ends; pings and pongs may
    /// go between the fragments (RFC 6455 §5.4).
    void send_fragments(bool binary, const std::function<std::optional<std::string>()>& next);
    /// Sends a whole message only if it can be queued without waiting: false (and nothing
    /// sent) if another message is being sent, the write buffer is above its high-water
    /// mark, or the connection isn't open. Never throws for a closed connection.
    bool try_send(std::string_view data, bool binary = false) const;

    // ----- receiving -------------------------------------------------------------------

    /// Waits for the next message.
    /// Throws: `ConnectionClosedOK` at the end of a normal closing, `ConnectionClosedError`
    /// (root cause nested) otherwise.
    Message recv();
    /// Like `recv`, into `message`, whose memory is used again, as range-for does: the
    /// next large message (64 KiB or more) is received into it, and a small one (up to
    /// 512 bytes) needs no allocation. Fresh memory for a large message costs a page fault
    /// per 4 KiB. What `message` held is lost even if this throws.
    void recv(Message& message);
    /// Like `recv`, but returns nothing if no message completes within `timeout`; the
    /// connection stays usable (a message partly received is kept for the next call).
    std::optional<Message> recv_for(std::chrono::milliseconds timeout);
    /// Receives one message fragment by fragment: calls `on_fragment` with each frame's
    /// payload as it arrives, then returns whether the message was binary. For messages too
    /// large to hold whole. Throws like `recv`.
    bool
    recv_streaming(const std::function<void(std::string_view fragment, bool last)>& on_fragment);

    /// Range-for over received messages: ends quietly on a normal close, throws
    /// `ConnectionClosedError` on an abnormal one.
    class iterator;
    iterator begin();
    iterator end();

    // ----- ping, pong, close -----------------------------------------------------------

    /// Sends a ping with 4 random bytes (or `data`); the future becomes ready with the
    /// round-trip time when its pong arrives (a pong also acknowledges earlier pings), or
    /// holds `ConnectionClosed` if the connection closes first.
    std::future<std::chrono::nanoseconds> ping(std::optional<std::string> data = std::nullopt);
    /// Sends an unsolicited pong (RFC 6455 §5.5.3), e.g. as a unidirectional heartbeat.
    void pong(BytesView data = {});
    /// The latest measured round-trip time (keepalive or `ping`), 0 before the first.
    std::chrono::nanoseconds latency() const;

    /// Performs the closing handshake: sends a close frame after every message sent
    /// before, waits for the peer's close and the TCP close, at most `close_timeout`. A
    /// server closes TCP itself once the close frames crossed (see `close_timeout`).
    /// Wakes every blocked `recv` and `send`. Safe to call more than once and from any
    /// thread; returns when the connection is closed. Never throws for network errors.
    void close(std::uint16_t code = 1000, std::string_view reason = {});

    // ----- state -----------------------------------------------------------------------

    State state() const;
    /// The close frames received and sent, once there are some.
    std::optional<Close> close_received() const;
    std::optional<Close> close_sent() const;
    bool close_received_then_sent() const;
    /// RFC 6455 §7.1.5 close code: the received one, 1005 if none given, 1006 if the
    /// connection was lost without a close frame.
    std::uint16_t close_code() const;
    std::string close_reason() const;

    const std::string& subprotocol() const;
    /// What was negotiated, as `Sec-WebSocket-Extensions` would say it ("" if nothing).
    std::string extensions() const;
    const Request& request() const;
    const Response& response() const;
    std::string local_address() const;
    std::string remote_address() const;
    Side side() const;

    /// For the runtime's own use: the shared state behind this handle.
    explicit Connection(std::shared_ptr<detail::ConnectionCore> core);

protected:
    std::shared_ptr<detail::ConnectionCore> core_;
};

/// Input iterator over a connection's messages (see `Connection::begin`).
class Connection::iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Message;
    using difference_type = std::ptrdiff_t;
    using pointer = Message*;
    using reference = Message&;

    iterator() = default;
    explicit iterator(Connection* connection);
    Message& operator*() { return message_; }
    Message* operator->() { return &message_; }
    iterator& operator++();
    friend bool operator==(const iterator& a, const iterator& b) {
        return a.connection_ == b.connection_;
    }
    friend bool operator!=(const iterator& a, const iterator& b) { return !(a == b); }

private:
    void advance();
    Connection* connection_ = nullptr;
    Message message_;
};

} // namespace syncws
