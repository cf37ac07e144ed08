// The assembler on its own: message assembly from the consumer's batch, flow control that
// counts the batch, and a reader and a consumer on two threads.
#include "assembler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace syncws::detail {
namespace {

using namespace std::chrono_literals;

Frame data_frame(std::string payload, bool fin = true, Opcode opcode = Opcode::binary) {
    Frame frame;
    frame.opcode = opcode;
    frame.fin = fin;
    frame.payload = std::move(payload);
    return frame;
}

void put_all(Assembler& assembler, std::vector<Frame> frames) {
    std::vector<Bytes> spares;
    assembler.put(frames, spares);
    EXPECT_TRUE(frames.empty());
}

std::string next_data(Assembler& assembler) {
    Message message;
    EXPECT_EQ(assembler.get(message, std::chrono::steady_clock::now() + 5s),
              Assembler::Result::message);
    return message.data;
}

TEST(Assembler, MessagesComeInOrderAcrossBatches) {
    Assembler assembler(100, 10, [] {}, nullptr);
    put_all(assembler, {data_frame("a"), data_frame("b1", false), data_frame("b2", false)});
    EXPECT_EQ(next_data(assembler), "a");
    // Taken into the consumer's batch with "a": the rest of "b" comes in a later batch.
    put_all(assembler, {data_frame("b3", true, Opcode::continuation), data_frame("c")});
    EXPECT_EQ(next_data(assembler), "b1b2b3");
    EXPECT_EQ(next_data(assembler), "c");
    Message message;
    EXPECT_EQ(assembler.get(message, std::chrono::steady_clock::now() + 10ms),
              Assembler::Result::timeout);
}

TEST(Assembler, ReadyWhileTheBatchHoldsFrames) {
    Assembler assembler(100, 10, [] {}, nullptr);
    EXPECT_FALSE(assembler.ready());
    put_all(assembler, {data_frame("a"), data_frame("b")});
    EXPECT_EQ(next_data(assembler), "a");
    // "b" sits in the consumer's batch, not in the reader's queue: still ready.
    EXPECT_TRUE(assembler.ready());
    EXPECT_EQ(next_data(assembler), "b");
    EXPECT_FALSE(assembler.ready());
}

TEST(Assembler, FramesInTheBatchCountForFlowControl) {
    int rooms = 0;
    Assembler assembler(4, 2, [&] { ++rooms; }, nullptr);
    put_all(assembler, {data_frame("1"), data_frame("2"), data_frame("3")});
    EXPECT_TRUE(assembler.may_read());
    EXPECT_EQ(next_data(assembler), "1"); // takes "2" and "3" into the batch
    // 2 in the batch + 3 queued = 5 > 4: the reader must stop.
    put_all(assembler, {data_frame("4"), data_frame("5"), data_frame("6")});
    EXPECT_FALSE(assembler.may_read());
    EXPECT_EQ(next_data(assembler), "2"); // 4 left
    EXPECT_EQ(next_data(assembler), "3"); // 3 left
    EXPECT_FALSE(assembler.may_read());
    EXPECT_EQ(rooms, 0);
    EXPECT_EQ(next_data(assembler), "4"); // 2 left: the low mark
    EXPECT_EQ(rooms, 1);
    EXPECT_TRUE(assembler.may_read());
    EXPECT_EQ(next_data(assembler), "5");
    EXPECT_EQ(next_data(assembler), "6");
    EXPECT_EQ(rooms, 1);
}

TEST(Assembler, ClosedAfterWhatWasQueued) {
    Assembler assembler(100, 10, [] {}, nullptr);
    put_all(assembler, {data_frame("a"), data_frame("b")});
    EXPECT_EQ(next_data(assembler), "a");
    put_all(assembler, {data_frame("c")});
    assembler.close();
    put_all(assembler, {data_frame("dropped")});
    EXPECT_EQ(next_data(assembler), "b");
    EXPECT_EQ(next_data(assembler), "c");
    Message message;
    EXPECT_EQ(assembler.get(message, std::nullopt), Assembler::Result::closed);
}

TEST(Assembler, StreamingTakesFromTheBatch) {
    Assembler assembler(100, 10, [] {}, nullptr);
    put_all(assembler, {data_frame("x"), data_frame("p1", false, Opcode::text),
                        data_frame("p2", true, Opcode::continuation)});
    EXPECT_EQ(next_data(assembler), "x");
    std::vector<std::pair<std::string, bool>> fragments;
    bool binary = true;
    EXPECT_EQ(assembler.get_streaming(
                  [&](std::string_view data, bool last) { fragments.emplace_back(data, last); },
                  binary),
              Assembler::Result::message);
    EXPECT_FALSE(binary);
    ASSERT_EQ(fragments.size(), 2u);
    EXPECT_EQ(fragments[0], std::make_pair(std::string("p1"), false));
    EXPECT_EQ(fragments[1], std::make_pair(std::string("p2"), true));
}

TEST(Assembler, BuffersOfConsumedMessagesGoBackToTheReader) {
    Assembler assembler(100, 10, [] {}, nullptr);
    put_all(assembler,
            {data_frame(std::string(100, 'a')), data_frame(std::string(100, 'b')),
             data_frame(std::string(1000, 'c')), data_frame(std::string(100, 'd'))});
    Message message;
    std::vector<const char*> small_buffers;
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(assembler.get(message, std::nullopt), Assembler::Result::message);
        if (message.data.size() == 100) small_buffers.push_back(message.data.data());
    }
    EXPECT_EQ(message.data, std::string(100, 'd'));
    // The consumer hands its spares over when it next takes frames from the queue.
    put_all(assembler, {data_frame("e")});
    ASSERT_EQ(assembler.get(message, std::nullopt), Assembler::Result::message);
    EXPECT_EQ(message.data, "e");
    std::vector<Frame> none;
    std::vector<Bytes> spares;
    assembler.put(none, spares);
    // "c" is neither small nor large: dropped.
    ASSERT_EQ(spares.size(), 3u);
    EXPECT_EQ(spares[0].data(), small_buffers[0]);
    EXPECT_EQ(spares[1].data(), small_buffers[1]);
    EXPECT_EQ(spares[2].data(), small_buffers[2]);
    spares.clear();
    assembler.put(none, spares);
    EXPECT_TRUE(spares.empty()); // handed over once
}

TEST(Assembler, LargeBuffersAreRecycledWhenTheConsumerMovesOn) {
    std::vector<Bytes> recycled;
    Assembler assembler(
        100, 10, [] {}, nullptr, [&](Bytes&& buffer) { recycled.push_back(std::move(buffer)); });
    const std::string large(Assembler::large_capacity, 'L');
    put_all(assembler, {data_frame(large), data_frame("small")});
    Message message;
    ASSERT_EQ(assembler.get(message, std::nullopt), Assembler::Result::message);
    const char* large_buffer = message.data.data();
    EXPECT_TRUE(recycled.empty()); // still the caller's
    ASSERT_EQ(assembler.get(message, std::nullopt), Assembler::Result::message);
    EXPECT_EQ(message.data, "small");
    ASSERT_EQ(recycled.size(), 1u);
    EXPECT_EQ(recycled[0].data(), large_buffer);
}

// A reader that stops at the high mark and waits for on_room, as the I/O loop does, and a
// consumer on another thread: every message arrives once, in order, and the reader is never
// left paused with nobody to resume it (the test would hang).
TEST(Assembler, PausedReaderIsAlwaysResumed) {
    constexpr int messages = 200000;
    std::mutex room_mutex;
    std::condition_variable room_cv;
    bool room = false;
    Assembler assembler(
        8, 2,
        [&] {
            std::lock_guard lock(room_mutex);
            room = true;
            room_cv.notify_one();
        },
        nullptr);
    std::atomic<int> pauses{0};
    std::thread reader([&] {
        int sent = 0;
        while (sent < messages) {
            if (!assembler.may_read()) {
                ++pauses;
                std::unique_lock lock(room_mutex);
                room_cv.wait(lock, [&] { return room; });
                room = false;
                continue;
            }
            std::vector<Frame> batch;
            const int n = 1 + sent % 5;
            for (int i = 0; i < n && sent < messages; ++i)
                batch.push_back(data_frame(std::to_string(sent++)));
            std::vector<Bytes> spares;
            assembler.put(batch, spares);
        }
        assembler.close();
    });
    int expected = 0;
    Message message;
    while (assembler.get(message, std::nullopt) == Assembler::Result::message) {
        ASSERT_EQ(message.data, std::to_string(expected));
        ++expected;
    }
    reader.join();
    EXPECT_EQ(expected, messages);
    EXPECT_GT(pauses.load(), 0); // the high mark was reached, so resuming was exercised
}

} // namespace
} // namespace syncws::detail
