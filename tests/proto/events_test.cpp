// The pull API's event queue: order, the two forms of next_event, and buffer reuse.
#include "proto_support.hpp"

#include <gtest/gtest.h>

namespace syncws::test {
namespace {

std::string binary_frame(std::string_view payload) {
    return frame_bytes(Side::client, Opcode::binary, payload);
}

const Frame& frame_in(const Event& event) {
    const auto* frame = std::get_if<Frame>(&event);
    if (!frame) throw std::logic_error("event is not a frame");
    return *frame;
}

TEST(Events, BothFormsKeepArrivalOrder) {
    auto server = open_engine(Side::server);
    std::string input;
    for (int i = 0; i < 10; ++i)
        input += binary_frame("message " + std::to_string(i));
    server->receive_data(BytesView(input));

    Event reused;
    for (int i = 0; i < 10; ++i) {
        const std::string expected = "message " + std::to_string(i);
        if (i % 3 == 0) {
            auto event = server->next_event();
            ASSERT_TRUE(event.has_value());
            EXPECT_EQ(frame_in(*event).payload, expected);
        } else {
            ASSERT_TRUE(server->next_event(reused));
            EXPECT_EQ(frame_in(reused).payload, expected);
        }
    }
    EXPECT_FALSE(server->next_event(reused));
    EXPECT_FALSE(server->next_event().has_value());
}

TEST(Events, ReusedBuffersNeverLeakEarlierBytes) {
    auto server = open_engine(Side::server);
    Event reused;
    // Long payloads first, then shorter ones built in the buffers the long ones gave back.
    for (std::size_t length : {200u, 100u, 3u, 0u, 150u, 1u}) {
        for (int round = 0; round < 3; ++round) {
            const std::string payload(length, static_cast<char>('a' + round));
            const std::string input = binary_frame(payload) + binary_frame(payload);
            server->receive_data(BytesView(input));
            for (int n = 0; n < 2; ++n) {
                ASSERT_TRUE(server->next_event(reused));
                EXPECT_EQ(frame_in(reused).payload, payload) << "length " << length;
            }
            EXPECT_FALSE(server->next_event(reused));
        }
    }
}

TEST(Events, ALargeBufferHandedBackIsNotKeptForSmallFrames) {
    auto server = open_engine(Side::server);
    Event reused;
    const std::string large(1 << 20, 'L');
    server->receive_data(BytesView(binary_frame(large)));
    ASSERT_TRUE(server->next_event(reused));
    ASSERT_EQ(frame_in(reused).payload.size(), large.size());

    // The megabyte buffer goes back to the engine with the next call; a small frame built
    // in it would pin a megabyte per connection for as long as the connection lives.
    for (int i = 0; i < 4; ++i) {
        server->receive_data(BytesView(binary_frame("small")));
        ASSERT_TRUE(server->next_event(reused));
        EXPECT_EQ(frame_in(reused).payload, "small");
        EXPECT_LE(frame_in(reused).payload.capacity(), 16u * 1024) << "frame " << i;
    }
}

TEST(Events, ALargeFrameIsReceivedIntoARecycledBuffer) {
    auto server = open_engine(Side::server);
    Bytes buffer(1 << 20, 'x'); // an old message: its bytes must not show
    const char* memory = buffer.data();
    server->recycle(std::move(buffer));
    const std::string payload(300 * 1024, 'P');
    server->receive_data(BytesView(binary_frame(payload)));
    auto event = server->next_event();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(frame_in(*event).payload, payload);
    EXPECT_EQ(frame_in(*event).payload.data(), memory);
}

TEST(Events, AFrameUnderWayMovesIntoARecycledBufferWhenItOutgrowsItsOwn) {
    auto server = open_engine(Side::server);
    const std::string payload(300 * 1024, 'Q');
    const std::string input = binary_frame(payload);
    // The header and the first bytes arrive before the buffer is recycled: they move over.
    server->receive_data(BytesView(std::string_view(input).substr(0, 1000)));
    Bytes buffer(1 << 20, 'x'); // an old message: its bytes must not show
    const char* memory = buffer.data();
    server->recycle(std::move(buffer));
    server->receive_data(BytesView(std::string_view(input).substr(1000)));
    auto event = server->next_event();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(frame_in(*event).payload, payload);
    EXPECT_EQ(frame_in(*event).payload.data(), memory);
}

TEST(Events, TheEngineKeepsTheLargestRecycledBufferUntilReleased) {
    auto server = open_engine(Side::server);
    Bytes large(1 << 20, 'x');
    const char* large_memory = large.data();
    Bytes smaller(1 << 18, 'y');
    server->recycle(std::move(large));
    server->recycle(std::move(smaller)); // kept: the one with more room
    const std::string payload(500 * 1024, 'R');
    server->receive_data(BytesView(binary_frame(payload)));
    auto event = server->next_event();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(frame_in(*event).payload.data(), large_memory);

    Bytes another(1 << 20, 'z');
    server->recycle(std::move(another));
    server->release_recycled();
    server->receive_data(BytesView(binary_frame(payload)));
    event = server->next_event();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(frame_in(*event).payload, payload);
    EXPECT_LT(frame_in(*event).payload.capacity(), std::size_t{1} << 20)
        << "built in the released megabyte";
}

TEST(Events, SmallAndControlFramesLeaveTheRecycledBufferToALargeOne) {
    auto server = open_engine(Side::server);
    Bytes buffer(1 << 20, 'x');
    const char* memory = buffer.data();
    server->recycle(std::move(buffer));
    const std::string ping = frame_bytes(Side::client, Opcode::ping, std::string(100, 'p'));
    server->receive_data(BytesView(binary_frame(std::string(100, 's')) + ping));
    for (int i = 0; i < 2; ++i) {
        auto event = server->next_event();
        ASSERT_TRUE(event.has_value());
        EXPECT_LT(frame_in(*event).payload.capacity(), std::size_t{1} << 16) << "event " << i;
    }
    const std::string payload(300 * 1024, 'L');
    server->receive_data(BytesView(binary_frame(payload)));
    auto event = server->next_event();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(frame_in(*event).payload.data(), memory);
}

TEST(Events, AHandshakeEventSwapsOutAFrameThatLaterFramesReuse) {
    // A server engine in CONNECTING: the request event is taken into an Event that held a
    // frame; that frame becomes the spare the first data frame is built in.
    ServerProtocol server(ServerHandshakeOptions{}, test_options());
    const std::string request = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    server.receive_data(BytesView(request));
    Event reused = Frame{Opcode::text, true, false, false, false, std::string(64, 's')};
    ASSERT_TRUE(server.next_event(reused));
    const auto* parsed = std::get_if<Request>(&reused);
    ASSERT_NE(parsed, nullptr);
    EXPECT_EQ(parsed->target, "/chat");
    server.send_response(server.accept(*parsed));
    ASSERT_EQ(server.state(), State::open);

    for (const std::string payload : {"first", "second, longer than the first one", ""}) {
        server.receive_data(BytesView(binary_frame(payload)));
        ASSERT_TRUE(server.next_event(reused));
        EXPECT_EQ(frame_in(reused).opcode, Opcode::binary);
        EXPECT_EQ(frame_in(reused).payload, payload);
    }
    EXPECT_FALSE(server.next_event(reused));
}

} // namespace
} // namespace syncws::test
