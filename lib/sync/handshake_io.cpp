#include "handshake_io.hpp"

#include <syncws/errors.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace syncws::detail {

void flush_engine(Protocol& engine, net::Stream& stream) {
    if (engine.has_output()) {
        Bytes out;
        engine.take_output(out);
        stream.write_all(out.data(), out.size());
    }
    if (engine.eof_to_send()) stream.shutdown_write();
}

void drain_events(Protocol& engine, std::vector<Event>& events) {
    while (auto event = engine.next_event())
        events.push_back(std::move(*event));
}

HandshakeResult run_handshake(Protocol& engine, net::Stream& stream, net::Deadline deadline,
                              const std::string& what, PeerBytes peer_bytes) {
    HandshakeResult result;
    // Small: a handshake head is at most a few KiB, and frames after it are rare. Not
    // zero-filled: pages the kernel does not write into stay out of the resident set.
    constexpr std::size_t buffer_size = 16 * 1024;
    const std::unique_ptr<char[]> buffer(new char[buffer_size]);
    bool eof = false;
    for (;;) {
        flush_engine(engine, stream);
        std::vector<Event> events;
        drain_events(engine, events);
        for (auto& event : events) {
            if (!result.request && !result.response) {
                if (auto* request = std::get_if<Request>(&event)) {
                    result.request = std::move(*request);
                    continue;
                }
                if (auto* response = std::get_if<Response>(&event)) {
                    result.response = std::move(*response);
                    continue;
                }
            }
            result.early.push_back(std::move(event));
        }
        if (result.request || result.response || engine.state() == State::closed || eof)
            return result;
        std::optional<std::size_t> got;
        if (std::exchange(peer_bytes, PeerBytes::awaited) == PeerBytes::likely_in) {
            // A deadline already past: what is there, without blocking.
            got = stream.read_some_until(buffer.get(), buffer_size, net::Deadline::min());
        }
        if (!got) {
            if (!stream.wait_readable(deadline)) throw Timeout("timed out during " + what);
            got = stream.read_some(buffer.get(), buffer_size);
        }
        const std::size_t n = *got;
        if (n == 0) {
            engine.receive_eof();
            eof = true;
        } else {
            engine.receive_data(BytesView(buffer.get(), n));
        }
    }
}

} // namespace syncws::detail
