#include "raw_peer.hpp"

#include "handshake_io.hpp"
#include "socket.hpp"
#include "tcp.hpp"

#include <syncws/errors.hpp>
#include <syncws/uri.hpp>

#include <sys/socket.h>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace syncws::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t read_size = 64 * 1024;

} // namespace

std::unique_ptr<RawPeer> RawPeer::connect(std::uint16_t port, std::string_view resource,
                                          ClientHandshakeOptions handshake,
                                          ProtocolOptions options) {
    const auto deadline = Clock::now() + generous;
    auto stream = net::connect_tcp("127.0.0.1", port, deadline);
    Uri uri = parse_uri("ws://127.0.0.1:" + std::to_string(port) + std::string(resource));
    auto engine = std::make_unique<ClientProtocol>(uri, std::move(handshake), std::move(options));
    const Request request = engine->connect();
    engine->send_request(request);
    auto result = detail::run_handshake(*engine, *stream, deadline, "raw peer handshake",
                                        detail::PeerBytes::awaited);
    if (const auto error = engine->handshake_error()) std::rethrow_exception(error);
    auto peer = std::make_unique<RawPeer>(std::move(stream), std::move(engine));
    peer->request_ = request;
    peer->response_ = std::move(*result.response);
    for (auto& event : result.early)
        if (auto* frame = std::get_if<Frame>(&event)) peer->pending_.push_back(std::move(*frame));
    return peer;
}

std::unique_ptr<RawPeer> RawPeer::accept(net::Listener& listener,
                                         ServerHandshakeOptions handshake,
                                         ProtocolOptions options) {
    const auto deadline = Clock::now() + generous;
    std::unique_ptr<net::Stream> stream = listener.accept();
    if (!stream) throw InvalidState("raw peer: the listener was closed");
    auto engine = std::make_unique<ServerProtocol>(std::move(handshake), std::move(options));
    // Whether the request is in yet is a race: either path of run_handshake serves.
    auto result = detail::run_handshake(*engine, *stream, deadline, "raw peer handshake",
                                        detail::PeerBytes::likely_in);
    if (!result.request) {
        if (const auto error = engine->handshake_error()) std::rethrow_exception(error);
        throw InvalidHandshake("raw peer: the client left during the handshake");
    }
    const Response response = engine->accept(*result.request);
    engine->send_response(response);
    detail::flush_engine(*engine, *stream);
    detail::drain_events(*engine, result.early);
    auto peer = std::make_unique<RawPeer>(std::move(stream), std::move(engine));
    peer->request_ = std::move(*result.request);
    peer->response_ = response;
    for (auto& event : result.early)
        if (auto* frame = std::get_if<Frame>(&event)) peer->pending_.push_back(std::move(*frame));
    return peer;
}

RawPeer::RawPeer(std::unique_ptr<net::Stream> stream, std::unique_ptr<Protocol> engine)
    : stream_(std::move(stream)), engine_(std::move(engine)) {}

RawPeer::~RawPeer() = default;

void RawPeer::set_auto_reply(bool on) {
    std::lock_guard lock(mutex_);
    auto_reply_ = on;
}

void RawPeer::flush_locked(std::unique_lock<std::mutex>& lock) {
    if (engine_->has_output()) {
        Bytes out;
        engine_->take_output(out);
        lock.unlock();
        send_raw(out);
        lock.lock();
    }
    // The engine says when TCP should be half-closed (a server after the closing handshake).
    if (engine_->eof_to_send() && !eof_sent_) {
        eof_sent_ = true;
        lock.unlock();
        shutdown_write();
        lock.lock();
    }
}

void RawPeer::after_command(std::unique_lock<std::mutex>& lock) {
    flush_locked(lock);
}

void RawPeer::send_text(std::string_view text, bool fin) {
    std::unique_lock lock(mutex_);
    engine_->send_text(text, fin);
    after_command(lock);
}

void RawPeer::send_texts_at_once(const std::vector<std::string>& texts) {
    std::unique_lock lock(mutex_);
    for (const auto& text : texts)
        engine_->send_text(text);
    after_command(lock);
}

void RawPeer::send_binary(std::string_view data, bool fin) {
    std::unique_lock lock(mutex_);
    engine_->send_binary(BytesView(data), fin);
    after_command(lock);
}

void RawPeer::send_continuation(std::string_view data, bool fin) {
    std::unique_lock lock(mutex_);
    engine_->send_continuation(BytesView(data), fin);
    after_command(lock);
}

void RawPeer::send_ping(std::string_view data) {
    std::unique_lock lock(mutex_);
    engine_->send_ping(BytesView(data));
    after_command(lock);
}

void RawPeer::send_pong(std::string_view data) {
    std::unique_lock lock(mutex_);
    engine_->send_pong(BytesView(data));
    after_command(lock);
}

void RawPeer::send_close(std::uint16_t code, std::string_view reason) {
    std::unique_lock lock(mutex_);
    engine_->send_close(code, reason);
    after_command(lock);
}

void RawPeer::send_raw(std::string_view bytes) {
    // Writes are serialized so that two sending threads never interleave bytes.
    std::lock_guard lock(write_mutex_);
    if (!stream_) throw InvalidState("raw peer: the connection was dropped");
    stream_->write_all(bytes.data(), bytes.size());
}

std::optional<Frame> RawPeer::read_frame(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<char> buffer(read_size);
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (!pending_.empty()) {
                Frame frame = std::move(pending_.front());
                pending_.pop_front();
                return frame;
            }
            if (eof_) return std::nullopt;
        }
        if (!stream_) return std::nullopt;
        if (!stream_->wait_readable(deadline))
            throw Timeout("raw peer: nothing received within " + std::to_string(timeout.count()) +
                          " ms");
        std::size_t n = 0;
        try {
            n = stream_->read_some(buffer.data(), buffer.size());
        } catch (const NetworkError&) {
            n = 0; // a reset is the end of the stream too
        }
        std::unique_lock lock(mutex_);
        if (n == 0) {
            eof_ = true;
            engine_->receive_eof();
        } else {
            engine_->receive_data(BytesView(buffer.data(), n));
        }
        while (auto event = engine_->next_event())
            if (auto* frame = std::get_if<Frame>(&*event)) pending_.push_back(std::move(*frame));
        if (auto_reply_) {
            try {
                flush_locked(lock);
            } catch (const Error&) {
                // The other side is gone; the test sees it from the reads.
            }
        } else {
            Bytes discarded;
            engine_->take_output(discarded);
        }
        if (n == 0 && pending_.empty()) return std::nullopt;
    }
}

std::optional<Message> RawPeer::read_message(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Message message;
    bool started = false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto frame = read_frame(left.count() > 0 ? left : std::chrono::milliseconds(0));
        if (!frame) return std::nullopt;
        if (is_control(frame->opcode)) continue;
        if (!started) {
            message.binary = frame->opcode == Opcode::binary;
            started = true;
        }
        message.data += frame->payload;
        if (frame->fin) return message;
    }
}

bool RawPeer::read_to_eof(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    try {
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (!read_frame(left.count() > 0 ? left : std::chrono::milliseconds(0))) return true;
        }
    } catch (const Timeout&) {
        return false;
    }
}

void RawPeer::shutdown_write() {
    std::lock_guard lock(write_mutex_);
    if (stream_) stream_->shutdown_write();
}

void RawPeer::drop() {
    // Called with no read in progress (see the header): closing the descriptor is safe.
    std::lock_guard lock(write_mutex_);
    stream_.reset();
}

void RawPeer::abort() noexcept {
    if (stream_) stream_->abort();
}

void RawPeer::set_socket_buffers(int bytes) {
    auto* socket = dynamic_cast<net::SocketStream*>(stream_.get());
    if (!socket) throw InvalidState("raw peer: not a socket stream");
    for (int option : {SO_RCVBUF, SO_SNDBUF}) {
        if (::setsockopt(socket->native_handle(), SOL_SOCKET, option, &bytes, sizeof bytes) != 0)
            throw std::system_error(errno, std::generic_category(), "setsockopt");
    }
}

RawServer::RawServer() : listener(net::Listener::tcp("127.0.0.1", 0)) {}

std::string RawServer::uri(std::string_view resource) const {
    return "ws://127.0.0.1:" + std::to_string(port()) + std::string(resource);
}

std::string read_http_head(net::Stream& stream, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string head;
    char c = 0;
    // Byte by byte, so that nothing after the head is consumed.
    while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
        if (!stream.wait_readable(deadline)) throw Timeout("no HTTP head");
        if (stream.read_some(&c, 1) == 0) return {};
        head.push_back(c);
    }
    return head;
}

} // namespace syncws::test
