// A WebSocket peer made of a plain socket and a syncws engine driven by hand, for runtime
// tests that must send exact frames, withhold answers (pongs, the closing handshake, reads)
// or drop the TCP connection without a close frame.
#pragma once

#include "listener.hpp"
#include "stream.hpp"

#include <syncws/connection.hpp>
#include <syncws/protocol.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncws::test {

/// How long a test waits for something that should happen at once: long enough for a slow,
/// loaded (or sanitized) CI machine, reached only when the test fails.
inline constexpr std::chrono::seconds generous{30};

/// One end of a WebSocket connection whose every byte the test controls.
///
/// Frames go through a real engine (so they are valid and masked as they should be), but
/// nothing happens behind the test's back: bytes are read only inside `read_frame` /
/// `read_message` / `read_to_eof`, and the engine's automatic answers (pongs, the close echo)
/// are written only while `auto_reply` is on. `send_raw` writes arbitrary bytes.
///
/// Thread safety: one thread may read while another sends; `abort` from any thread.
class RawPeer {
public:
    /// Connects to 127.0.0.1:`port` over TCP and performs a client handshake for `resource`.
    /// Throws like `syncws::connect` (handshake failures as the engine's error).
    static std::unique_ptr<RawPeer> connect(std::uint16_t port, std::string_view resource = "/",
                                            ClientHandshakeOptions handshake = {},
                                            ProtocolOptions options = {});

    /// Accepts one connection on `listener` and performs a server handshake: 101 unless the
    /// request is invalid. The request is kept (see `request`).
    /// Throws `Timeout` if no client completes a handshake within `generous`.
    static std::unique_ptr<RawPeer> accept(net::Listener& listener,
                                           ServerHandshakeOptions handshake = {},
                                           ProtocolOptions options = {});

    RawPeer(std::unique_ptr<net::Stream> stream, std::unique_ptr<Protocol> engine);
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;
    ~RawPeer();

    /// Whether the engine's own answers (pong to a ping, close echo) are written. On by
    /// default; off, they are discarded, as by a peer that never answers.
    void set_auto_reply(bool on);

    // ----- sending (written at once, on the calling thread) -------------------------------
    void send_text(std::string_view text, bool fin = true);
    void send_binary(std::string_view data, bool fin = true);
    void send_continuation(std::string_view data, bool fin);
    /// Whole text messages in one write, so that they arrive in one read.
    void send_texts_at_once(const std::vector<std::string>& texts);
    void send_ping(std::string_view data);
    void send_pong(std::string_view data);
    void send_close(std::uint16_t code, std::string_view reason = {});
    /// Writes `bytes` as they are, bypassing the engine.
    void send_raw(std::string_view bytes);

    // ----- receiving ----------------------------------------------------------------------
    /// The next frame (data or control), or nothing at the end of the stream.
    /// Throws `Timeout` if nothing arrives before `deadline`.
    std::optional<Frame> read_frame(std::chrono::milliseconds timeout = generous);
    /// The next whole data message, skipping control frames, or nothing at the end of the
    /// stream. Throws `Timeout` like `read_frame`.
    std::optional<Message> read_message(std::chrono::milliseconds timeout = generous);
    /// Reads (and answers, if `auto_reply`) until the end of the stream; true if it came
    /// before the timeout.
    bool read_to_eof(std::chrono::milliseconds timeout = generous);

    // ----- the connection -----------------------------------------------------------------
    /// Half-closes the TCP connection (FIN), as after a closing handshake.
    void shutdown_write();
    /// Drops the TCP connection without a close frame: the descriptor is closed.
    void drop();
    /// Wakes a blocked read; later reads return the end of the stream.
    void abort() noexcept;

    /// Sets the kernel's receive and send buffer sizes (SO_RCVBUF / SO_SNDBUF), so that
    /// backpressure tests don't depend on TCP autotuning.
    void set_socket_buffers(int bytes);

    Protocol& engine() { return *engine_; }
    net::Stream& stream() { return *stream_; }
    /// The client's request (server side) and the server's response (client side).
    const Request& request() const { return request_; }
    const Response& response() const { return response_; }

private:
    void flush_locked(std::unique_lock<std::mutex>& lock);
    void after_command(std::unique_lock<std::mutex>& lock);

    std::unique_ptr<net::Stream> stream_;
    std::mutex mutex_; // guards engine_, pending_, auto_reply_, eof_, eof_sent_
    std::mutex write_mutex_;
    std::unique_ptr<Protocol> engine_;
    std::deque<Frame> pending_;
    bool auto_reply_ = true;
    bool eof_ = false;
    bool eof_sent_ = false;
    Request request_;
    Response response_;
};

/// A listening socket on 127.0.0.1 with an ephemeral port, for `RawPeer::accept` and for
/// hand-written HTTP servers.
struct RawServer {
    RawServer();
    std::uint16_t port() const { return listener->port(); }
    /// "ws://127.0.0.1:<port><resource>".
    std::string uri(std::string_view resource = "/") const;
    std::unique_ptr<RawPeer> accept(ServerHandshakeOptions handshake = {},
                                    ProtocolOptions options = {}) {
        return RawPeer::accept(*listener, std::move(handshake), std::move(options));
    }
    std::unique_ptr<net::Listener> listener;
};

/// Reads an HTTP head (up to and including the blank line) from `stream`; "" at the end of
/// the stream. Throws `Timeout` after `timeout`.
std::string read_http_head(net::Stream& stream, std::chrono::milliseconds timeout = generous);

} // namespace syncws::test
