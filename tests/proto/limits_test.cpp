// ProtocolOptions::max_size, on both sides: checked from each frame header before the payload
// is buffered, summed over a message's fragments, failing with 1009 and a PayloadTooBig.
#include "proto_assertions.hpp"
#include "proto_support.hpp"

#include <syncws/errors.hpp>
#include <syncws/protocol.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace syncws::test {
namespace {

class Limits : public SideTest {
protected:
    // The header of a frame the peer sends, announcing `length` bytes (none of them sent).
    std::string header_announcing(Opcode opcode, std::uint64_t length, bool fin = true) const {
        std::string h;
        h.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(opcode)));
        const unsigned mask_bit = peer() == Side::client ? 0x80 : 0;
        if (length <= 125) {
            h.push_back(static_cast<char>(mask_bit | length));
        } else if (length <= 0xffff) {
            h.push_back(static_cast<char>(mask_bit | 126));
            h.push_back(static_cast<char>(length >> 8));
            h.push_back(static_cast<char>(length & 0xff));
        } else {
            h.push_back(static_cast<char>(mask_bit | 127));
            for (int shift = 56; shift >= 0; shift -= 8)
                h.push_back(static_cast<char>((length >> shift) & 0xff));
        }
        if (peer() == Side::client) h += bytes({0x37, 0xfa, 0x21, 0x3d});
        return h;
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Limits, ::testing::Values(Side::client, Side::server),
                         side_name);

constexpr std::uint16_t message_too_big = 1009;
constexpr std::size_t limit = 1000;

TEST_P(Limits, FailsOnTheHeaderOfAnOversizedFrame) {
    // RFC 6455 §10.4: "implementations SHOULD impose a limit on frame sizes and the total
    // message size"; §7.4.1: 1009 for "a message that is too big for it to process". Only
    // the header arrives: the engine must not wait for (or buffer) the payload.
    for (Opcode opcode : {Opcode::binary, Opcode::text}) {
        SCOPED_TRACE("opcode " + std::to_string(static_cast<int>(opcode)));
        const std::string header = header_announcing(opcode, limit + 1);
        // The header is what this test means it to be (and agrees with the frame builder).
        ASSERT_EQ(header, in(opcode, std::string(limit + 1, 'a')).substr(0, header.size()));
        expect_every_way(maker(test_options(limit)), header,
                         failure(message_too_big, "message of at least 1001 bytes exceeds the "
                                                  "limit of 1000 bytes"));
        // A far larger announcement, in a 64-bit length field.
        expect_every_way(maker(test_options(limit)),
                         header_announcing(opcode, std::uint64_t{1} << 62),
                         failure(message_too_big, "exceeds the limit of 1000 bytes"));
        // A fragmented message's first fragment counts the same way.
        expect_every_way(maker(test_options(limit)), header_announcing(opcode, limit + 1, false),
                         failure(message_too_big, "1001"));
    }
}

TEST_P(Limits, SendsTheCloseFrameBeforeAnyPayloadByteArrives) {
    auto p = engine(test_options(limit));
    const Outcome o = feed(*p, header_announcing(Opcode::binary, 70000));
    EXPECT_TRUE(o.events.empty());
    EXPECT_EQ(p->state(), State::closing);
    ASSERT_TRUE(p->close_sent().has_value());
    EXPECT_EQ(p->close_sent()->code, message_too_big);
    expect_failed(*p, o.output, "", message_too_big, "70000");
}

TEST_P(Limits, AcceptsAMessageOfExactlyMaxSize) {
    const std::string payload = pattern(limit);
    expect_every_way(maker(test_options(limit)), in(Opcode::binary, payload),
                     success({make_frame(Opcode::binary, payload)}));
    const std::string text(limit, 't');
    expect_every_way(maker(test_options(limit)), in(Opcode::text, text),
                     success({make_frame(Opcode::text, text)}));
    // In fragments that add up to exactly the limit, the last one empty.
    expect_every_way(maker(test_options(limit)),
                     in(Opcode::binary, payload.substr(0, 600), false) +
                         in(Opcode::continuation, payload.substr(600), false) +
                         in(Opcode::continuation, ""),
                     success({make_frame(Opcode::binary, payload.substr(0, 600), false),
                              make_frame(Opcode::continuation, payload.substr(600), false),
                              make_frame(Opcode::continuation, "")}));
}

TEST_P(Limits, FailsAtTheFragmentThatCrossesMaxSize) {
    // The first two fragments (900 bytes) are delivered; the third announces 101 more.
    const std::string a = pattern(600, 1), b = pattern(300, 2), c = pattern(101, 3);
    const std::vector<Frame> before = {make_frame(Opcode::binary, a, false),
                                       make_frame(Opcode::continuation, b, false)};
    const std::string start = in(Opcode::binary, a, false) + in(Opcode::continuation, b, false);
    expect_every_way(maker(test_options(limit)), start + in(Opcode::continuation, c),
                     failure(message_too_big, "message of at least 1001 bytes", before));
    // Its header alone is enough.
    expect_every_way(maker(test_options(limit)),
                     start + header_announcing(Opcode::continuation, 101),
                     failure(message_too_big, "1001", before));
    // One byte less fits.
    expect_every_way(
        maker(test_options(limit)), start + in(Opcode::continuation, c.substr(1)),
        success({before[0], before[1], make_frame(Opcode::continuation, c.substr(1))}));
}

TEST_P(Limits, CountsEachMessageSeparately) {
    const std::string full = pattern(limit);
    expect_every_way(maker(test_options(limit)),
                     in(Opcode::binary, full) + in(Opcode::text, std::string(limit, 'x')) +
                         in(Opcode::binary, full.substr(0, 500), false) +
                         in(Opcode::continuation, full.substr(500)),
                     success({make_frame(Opcode::binary, full),
                              make_frame(Opcode::text, std::string(limit, 'x')),
                              make_frame(Opcode::binary, full.substr(0, 500), false),
                              make_frame(Opcode::continuation, full.substr(500))}));
    // Smaller messages whose sum stays below the limit before the last fragment would
    // cross it if the count carried over from the previous message.
    const std::string part = pattern(300);
    expect_every_way(
        maker(test_options(limit)),
        in(Opcode::binary, pattern(600)) + in(Opcode::binary, part, false) +
            in(Opcode::continuation, part),
        success({make_frame(Opcode::binary, pattern(600)), make_frame(Opcode::binary, part, false),
                 make_frame(Opcode::continuation, part)}));
}

TEST_P(Limits, DoesNotCountControlFramesBetweenFragments) {
    const std::string a = pattern(600), b = pattern(400, 2), ping = pattern(125, 3);
    expect_every_way(maker(test_options(limit)),
                     in(Opcode::binary, a, false) + in(Opcode::ping, ping) +
                         in(Opcode::pong, ping) + in(Opcode::continuation, b),
                     success({make_frame(Opcode::binary, a, false), make_frame(Opcode::ping, ping),
                              make_frame(Opcode::pong, ping), make_frame(Opcode::continuation, b)},
                             wire_frame(side(), Opcode::pong, ping)));
}

TEST_P(Limits, MaxSizeZeroAcceptsOnlyEmptyMessages) {
    expect_every_way(maker(test_options(0)),
                     in(Opcode::text, "") + in(Opcode::binary, "", false) +
                         in(Opcode::continuation, "") + in(Opcode::ping, "p"),
                     success({make_frame(Opcode::text, ""), make_frame(Opcode::binary, "", false),
                              make_frame(Opcode::continuation, ""), make_frame(Opcode::ping, "p")},
                             wire_frame(side(), Opcode::pong, "p")));
    expect_every_way(maker(test_options(0)), in(Opcode::text, "x"),
                     failure(message_too_big, "limit of 0 bytes"));
}

TEST_P(Limits, NoMaxSizeAcceptsLargeMessages) {
    // The default limit is 1 MiB; 1,100,000 bytes exceed it...
    const std::string payload = pattern(1'100'000, 4);
    const std::string frame = in(Opcode::binary, payload);
    expect_every_way(maker(test_options()), header_announcing(Opcode::binary, payload.size()),
                     failure(message_too_big, "limit of 1048576 bytes"));
    // ...and without a limit they are accepted.
    expect_every_way(maker(test_options(std::nullopt)), frame,
                     success({make_frame(Opcode::binary, payload)}));
    // A frame announcing 2^62 bytes is not refused either: the engine waits for them.
    expect_every_way(maker(test_options(std::nullopt)),
                     header_announcing(Opcode::binary, std::uint64_t{1} << 62) + "some",
                     success({}));
}

TEST_P(Limits, RecordsAPayloadTooBigWithAReadableMessage) {
    auto p = engine(test_options(limit));
    feed(*p, header_announcing(Opcode::text, 4096));
    ASSERT_TRUE(p->protocol_error());
    try {
        std::rethrow_exception(p->protocol_error());
    } catch (const PayloadTooBig& e) {
        EXPECT_EQ(e.close_code(), 1009);
        EXPECT_STREQ(e.what(), "message of at least 4096 bytes exceeds the limit of 1000 bytes");
    } catch (...) {
        FAIL() << "protocol_error() is not a PayloadTooBig";
    }
    // The same object through its bases.
    try {
        std::rethrow_exception(p->protocol_error());
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.close_code(), static_cast<std::uint16_t>(CloseCode::message_too_big));
    }
    try {
        std::rethrow_exception(p->protocol_error());
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos);
    }
    // And the peer reads the same explanation in the close frame.
    ASSERT_TRUE(p->close_sent().has_value());
    EXPECT_EQ(p->close_sent()->reason,
              "message of at least 4096 bytes exceeds the limit of 1000 bytes");
}

TEST_P(Limits, ProtocolErrorCarriesItsCloseCode) {
    EXPECT_EQ(ProtocolError(1007, "bad text").close_code(), 1007);
    EXPECT_STREQ(ProtocolError(1002, "bad frame").what(), "bad frame");
    const PayloadTooBig too_big("too big");
    EXPECT_EQ(too_big.close_code(), 1009);
    EXPECT_STREQ(too_big.what(), "too big");
    const ProtocolError& as_base = too_big;
    EXPECT_EQ(as_base.close_code(), 1009);
    // A failure other than size is a plain ProtocolError with its own code.
    auto p = engine(test_options(limit));
    feed(*p, in(Opcode::binary, "x", true, 0x4));
    ASSERT_TRUE(p->protocol_error());
    try {
        std::rethrow_exception(p->protocol_error());
    } catch (const PayloadTooBig&) {
        FAIL() << "a 1002 failure must not be a PayloadTooBig";
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.close_code(), 1002);
    }
}

TEST_P(Limits, DoesNotLimitWhatWeSend) {
    // max_size protects the receiver; our own messages are the caller's business.
    auto p = engine(test_options(limit));
    const std::string big = pattern(limit * 3);
    p->send_binary(BytesView(big));
    EXPECT_EQ(output(*p), wire_frame(side(), Opcode::binary, big));
    EXPECT_EQ(p->state(), State::open);
}

} // namespace
} // namespace syncws::test
