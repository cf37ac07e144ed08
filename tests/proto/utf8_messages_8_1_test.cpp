// RFC 6455 §8.1 (and §5.6) text messages must be UTF-8, on both sides: fail-fast validation
// with 1007 while a message arrives, code points split across fragments, messages ending
// mid-sequence, binary messages left alone, and Autobahn's 6.x sequences.
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

class Utf8_8_1 : public SideTest {
protected:
    // The first `payload_bytes` bytes of the frame the peer sends: header plus that much of
    // the payload (masked on a server), i.e. a frame that has not finished arriving.
    std::string partial(Opcode opcode, std::string_view payload, bool fin,
                        std::size_t payload_bytes) const {
        const std::string frame = in(opcode, payload, fin);
        const std::size_t header = frame.size() - payload.size();
        return frame.substr(0, header + payload_bytes);
    }
};

INSTANTIATE_TEST_SUITE_P(BothSides, Utf8_8_1, ::testing::Values(Side::client, Side::server),
                         side_name);

constexpr std::uint16_t invalid_payload = 1007;

// "κόσμε", Autobahn's and Markus Kuhn's test word: 2- and 3-byte sequences.
const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

TEST_P(Utf8_8_1, AcceptsCodePointsSplitAcrossFragmentsAtEveryByte) {
    // RFC 6455 §8.1 validates the message, not each frame: a code point may straddle
    // fragments (Autobahn 6.2.3, 6.2.4).
    for (const std::string& text : {kosme, std::string("\xf0\x9f\x98\x80 emoji")}) {
        for (std::size_t cut = 1; cut < text.size(); ++cut) {
            SCOPED_TRACE("cut at " + std::to_string(cut));
            const std::string a = text.substr(0, cut), b = text.substr(cut);
            expect_every_way(
                maker(), in(Opcode::text, a, false) + in(Opcode::continuation, b),
                success({make_frame(Opcode::text, a, false), make_frame(Opcode::continuation, b)}));
        }
    }
    // A 4-byte code point in four fragments.
    expect_every_way(maker(),
                     in(Opcode::text, "\xf0", false) + in(Opcode::continuation, "\x9f", false) +
                         in(Opcode::continuation, "\x98", false) + in(Opcode::continuation, "\x80"),
                     success({make_frame(Opcode::text, "\xf0", false),
                              make_frame(Opcode::continuation, "\x9f", false),
                              make_frame(Opcode::continuation, "\x98", false),
                              make_frame(Opcode::continuation, "\x80")}));
}

TEST_P(Utf8_8_1, FailsOnAnInvalidByteBeforeTheFirstFragmentEnds) {
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that
    // the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
    // WebSocket Connection_." Only the header and three payload bytes of a 10-byte first
    // fragment arrive: the close frame must already be out.
    const std::string payload = "ab\xff"
                                "cdefghi";
    for (bool fin : {false, true}) {
        SCOPED_TRACE(fin ? "single frame" : "first fragment");
        expect_every_way(maker(), partial(Opcode::text, payload, fin, 3),
                         failure(invalid_payload, "invalid UTF-8"));

        auto p = engine();
        const Outcome o = feed(*p, partial(Opcode::text, payload, fin, 3));
        EXPECT_EQ(p->state(), State::closing);
        ASSERT_TRUE(p->close_sent().has_value());
        EXPECT_EQ(p->close_sent()->code, invalid_payload);
        EXPECT_TRUE(o.events.empty());
        EXPECT_EQ(o.output.substr(0, 1), bytes({0x88}));
    }
}

TEST_P(Utf8_8_1, FailsOnAnInvalidByteBeforeAContinuationFrameEnds) {
    // "\xce" then "\xc0": C0 can neither continue the sequence nor start one.
    expect_every_way(
        maker(),
        in(Opcode::text, "a\xce", false) + partial(Opcode::continuation, "\xc0zzzzzzzz", true, 1),
        failure(invalid_payload, "invalid UTF-8", {make_frame(Opcode::text, "a\xce", false)}));
}

TEST_P(Utf8_8_1, FailsFastOnAutobahn6_4Cases) {
    const std::string part2 = "\xf4\x90\x80\x80"; // 0x110000: beyond Unicode
    // 6.4.1: three fragments; the second makes the text invalid at its second byte (0x90),
    // and the engine must not wait for the third.
    expect_every_way(
        maker(), in(Opcode::text, kosme, false) + partial(Opcode::continuation, part2, false, 2),
        failure(invalid_payload, "invalid UTF-8", {make_frame(Opcode::text, kosme, false)}));
    // 6.4.2: the first fragment ends with F4, the second is the single byte 0x90.
    expect_every_way(
        maker(), in(Opcode::text, kosme + "\xf4", false) + in(Opcode::continuation, "\x90", false),
        failure(invalid_payload, "invalid UTF-8",
                {make_frame(Opcode::text, kosme + "\xf4", false)}));
    // 6.4.3 / 6.4.4: one frame, delivered in pieces; up to the 0x90 byte suffices.
    const std::string whole = kosme + part2 + "edited";
    expect_every_way(maker(), partial(Opcode::text, whole, true, kosme.size() + 2),
                     failure(invalid_payload, "invalid UTF-8"));
}

TEST_P(Utf8_8_1, FailsAtTheFirstBadByteOfALongText) {
    // Past the validator's 16- and 32-byte ASCII blocks, in every split.
    std::string text(200, 'a');
    text += "\xce\xba\xe1\xbd\xb9 more text \xed\xa0\x80 after";
    const std::size_t bad = text.find("\xed\xa0") + 1;
    expect_every_way(maker(), partial(Opcode::text, text, true, bad + 1),
                     failure(invalid_payload, "invalid UTF-8"));
    // One byte less is still acceptable so far.
    expect_every_way(maker(), partial(Opcode::text, text, true, bad), success({}));
}

TEST_P(Utf8_8_1, FailsAMessageThatEndsInsideACodePoint) {
    // Each byte is acceptable as it arrives; the message as a whole is not UTF-8.
    expect_every_way(maker(), in(Opcode::text, "ab\xce"), failure(invalid_payload, "incomplete"));
    expect_every_way(maker(), in(Opcode::text, "\xf0\x9f\x98"),
                     failure(invalid_payload, "incomplete"));
    // Fragmented: the fragments so far are reported, the final (empty) one fails.
    expect_every_way(
        maker(), in(Opcode::text, "ab\xe1\xbd", false) + in(Opcode::continuation, ""),
        failure(invalid_payload, "incomplete", {make_frame(Opcode::text, "ab\xe1\xbd", false)}));
    // With a ping between: it was answered before the failure.
    expect_every_way(
        maker(),
        in(Opcode::text, "\xce", false) + in(Opcode::ping, "p") + in(Opcode::continuation, ""),
        failure(invalid_payload, "incomplete",
                {make_frame(Opcode::text, "\xce", false), make_frame(Opcode::ping, "p")},
                wire_frame(side(), Opcode::pong, "p")));
}

TEST_P(Utf8_8_1, DoesNotFeedControlFramePayloadsToTheTextValidator) {
    // A ping between two halves of a code point carries arbitrary bytes.
    expect_every_way(
        maker(),
        in(Opcode::text, "\xce", false) + in(Opcode::ping, "\xff\xfe") + in(Opcode::pong, "\xba") +
            in(Opcode::continuation, "\xba"),
        success({make_frame(Opcode::text, "\xce", false), make_frame(Opcode::ping, "\xff\xfe"),
                 make_frame(Opcode::pong, "\xba"), make_frame(Opcode::continuation, "\xba")},
                wire_frame(side(), Opcode::pong, "\xff\xfe")));
}

TEST_P(Utf8_8_1, AcceptsInvalidUtf8InBinaryMessages) {
    const std::string junk = "\xff\xfe\xc0\xaf\xed\xa0\x80\xf4\x90\xce";
    expect_every_way(maker(), in(Opcode::binary, junk),
                     success({make_frame(Opcode::binary, junk)}));
    expect_every_way(maker(), in(Opcode::binary, "\xff", false) + in(Opcode::continuation, "\xce"),
                     success({make_frame(Opcode::binary, "\xff", false),
                              make_frame(Opcode::continuation, "\xce")}));
    // A binary message ending in a lead byte leaves nothing behind for the next text
    // message: its leading continuation byte is invalid on its own.
    expect_every_way(
        maker(), in(Opcode::binary, "\xce") + in(Opcode::text, "\xba"),
        failure(invalid_payload, "invalid UTF-8", {make_frame(Opcode::binary, "\xce")}));
    expect_every_way(maker(), in(Opcode::binary, "\xce") + in(Opcode::text, "ok"),
                     success({make_frame(Opcode::binary, "\xce"), make_frame(Opcode::text, "ok")}));
}

TEST_P(Utf8_8_1, AcceptsEmptyTextMessages) {
    // Autobahn 6.1.1-6.1.3.
    expect_every_way(maker(), in(Opcode::text, ""), success({make_frame(Opcode::text, "")}));
    expect_every_way(
        maker(),
        in(Opcode::text, "", false) + in(Opcode::continuation, "", false) +
            in(Opcode::continuation, ""),
        success({make_frame(Opcode::text, "", false), make_frame(Opcode::continuation, "", false),
                 make_frame(Opcode::continuation, "")}));
    expect_every_way(maker(),
                     in(Opcode::text, "", false) + in(Opcode::continuation, "middle", false) +
                         in(Opcode::continuation, ""),
                     success({make_frame(Opcode::text, "", false),
                              make_frame(Opcode::continuation, "middle", false),
                              make_frame(Opcode::continuation, "")}));
}

// ----- Autobahn 6.x ------------------------------------------------------------------------

struct AutobahnCase {
    std::string name;
    std::string text;
    bool valid; // Autobahn's verdict
};

std::vector<AutobahnCase> autobahn_cases() {
    std::vector<AutobahnCase> cases = {
        {"6.2.1", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", true},
        {"6.5.1", "hello\x24world", true},
        {"6.5.2", "hello\xc2\xa2world", true},
        {"6.5.3", "hello\xe2\x82\xacworld", true},
        {"6.5.4", "hello\xf0\xa4\xad\xa2world", true},
        {"6.5.5", kosme, true},
        {"6.7.1", std::string(1, '\0'), true},
        {"6.7.2", "\xc2\x80", true},
        {"6.7.3", "\xe0\xa0\x80", true},
        {"6.7.4", "\xf0\x90\x80\x80", true},
        {"6.8.1", "\xf8\x88\x80\x80\x80", false},
        {"6.8.2", "\xfc\x84\x80\x80\x80\x80", false},
        {"6.9.1", "\x7f", true},
        {"6.9.2", "\xdf\xbf", true},
        {"6.9.3", "\xef\xbf\xbf", true},
        {"6.9.4", "\xf4\x8f\xbf\xbf", true},
        {"6.10.1", "\xf7\xbf\xbf\xbf", false},
        {"6.10.2", "\xfb\xbf\xbf\xbf\xbf", false},
        {"6.10.3", "\xfd\xbf\xbf\xbf\xbf\xbf", false},
        {"6.11.1", "\xed\x9f\xbf", true},
        {"6.11.2", "\xee\x80\x80", true},
        {"6.11.3", "\xef\xbf\xbd", true},
        {"6.11.4", "\xf4\x8f\xbf\xbf", true},
        {"6.11.5", "\xf4\x90\x80\x80", false},
        {"6.12.1", "\x80", false},
        {"6.12.2", "\xbf", false},
        {"6.12.3", "\x80\xbf", false},
        {"6.12.4", "\x80\xbf\x80", false},
        {"6.12.5", "\x80\xbf\x80\xbf", false},
        {"6.12.6", "\x80\xbf\x80\xbf\x80", false},
        {"6.12.7", "\x80\xbf\x80\xbf\x80\xbf", false},
        {"6.14.1", "\xc0", false},
        {"6.14.2", "\xe0\x80", false},
        {"6.14.3", "\xf0\x80\x80", false},
        {"6.14.4", "\xf8\x80\x80\x80", false},
        {"6.14.5", "\xfc\x80\x80\x80\x80", false},
        {"6.14.6", "\xdf", false},
        {"6.14.7", "\xef\xbf", false},
        {"6.14.8", "\xf7\xbf\xbf", false},
        {"6.14.9", "\xfb\xbf\xbf\xbf", false},
        {"6.14.10", "\xfd\xbf\xbf\xbf\xbf", false},
        {"6.15.1",
         "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"
         "\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf",
         false},
        {"6.16.1", "\xfe", false},
        {"6.16.2", "\xff", false},
        {"6.16.3", "\xfe\xfe\xff\xff", false},
        {"6.17.1", "\xc0\xaf", false},
        {"6.17.2", "\xe0\x80\xaf", false},
        {"6.17.3", "\xf0\x80\x80\xaf", false},
        {"6.17.4", "\xf8\x80\x80\x80\xaf", false},
        {"6.17.5", "\xfc\x80\x80\x80\x80\xaf", false},
        {"6.18.1", "\xc1\xbf", false},
        {"6.18.2", "\xe0\x9f\xbf", false},
        {"6.18.3", "\xf0\x8f\xbf\xbf", false},
        {"6.18.4", "\xf8\x87\xbf\xbf\xbf", false},
        {"6.18.5", "\xfc\x83\xbf\xbf\xbf\xbf", false},
        {"6.19.1", "\xc0\x80", false},
        {"6.19.2", "\xe0\x80\x80", false},
        {"6.19.3", "\xf0\x80\x80\x80", false},
        {"6.19.4", "\xf8\x80\x80\x80\x80", false},
        {"6.19.5", "\xfc\x80\x80\x80\x80\x80", false},
        {"6.20.1", "\xed\xa0\x80", false},
        {"6.20.2", "\xed\xad\xbf", false},
        {"6.20.3", "\xed\xae\x80", false},
        {"6.20.4", "\xed\xaf\xbf", false},
        {"6.20.5", "\xed\xb0\x80", false},
        {"6.20.6", "\xed\xbe\x80", false},
        {"6.20.7", "\xed\xbf\xbf", false},
        {"6.21.1", "\xed\xa0\x80\xed\xb0\x80", false},
        {"6.21.2", "\xed\xa0\x80\xed\xbf\xbf", false},
        {"6.21.3", "\xed\xad\xbf\xed\xb0\x80", false},
        {"6.21.4", "\xed\xad\xbf\xed\xbf\xbf", false},
        {"6.21.5", "\xed\xae\x80\xed\xb0\x80", false},
        {"6.21.6", "\xed\xae\x80\xed\xbf\xbf", false},
        {"6.21.7", "\xed\xaf\xbf\xed\xb0\x80", false},
        {"6.21.8", "\xed\xaf\xbf\xed\xbf\xbf", false},
        // Noncharacters are valid UTF-8 (RFC 3629 encodes every scalar value).
        {"6.22.1", "\xef\xbf\xbe", true},
        {"6.22.2", "\xef\xbf\xbf", true},
        {"6.22.3", "\xf0\x9f\xbf\xbe", true},
        {"6.22.4", "\xf0\x9f\xbf\xbf", true},
        {"6.22.33", "\xf4\x8f\xbf\xbe", true},
        {"6.22.34", "\xf4\x8f\xbf\xbf", true},
        {"6.23.1", "\xef\xbf\xb9", true},
        {"6.23.5", "\xef\xbf\xbd", true},
        {"6.23.7", "\xef\xbf\xbf", true},
    };
    // 6.6.x: every prefix of "κόσμε"; valid exactly when it ends on a code point boundary.
    for (std::size_t i = 1; i <= kosme.size(); ++i) {
        const bool boundary = i == 2 || i == 5 || i == 7 || i == 9 || i == 11;
        cases.push_back({"6.6." + std::to_string(i), kosme.substr(0, i), boundary});
    }
    // 6.12.8: every continuation byte 80-BE.
    std::string continuations;
    for (unsigned b = 0x80; b < 0xbf; ++b)
        continuations.push_back(static_cast<char>(b));
    cases.push_back({"6.12.8", continuations, false});
    // 6.13.x: lonely start bytes, each followed by a space.
    const unsigned ranges[][2] = {
        {0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}};
    int n = 1;
    for (const auto& range : ranges) {
        std::string s;
        for (unsigned b = range[0]; b < range[1]; ++b) {
            s.push_back(static_cast<char>(b));
            s.push_back(' ');
        }
        cases.push_back({"6.13." + std::to_string(n++), s, false});
    }
    return cases;
}

TEST(Utf8_8_1_Reference, AgreesWithAutobahnVerdicts) {
    // The reference checker decides where the engine must fail below; it must agree with
    // Autobahn on every case first.
    for (const auto& c : autobahn_cases())
        EXPECT_EQ(reference_utf8(c.text).valid, c.valid) << c.name;
}

TEST_P(Utf8_8_1, AutobahnSequencesInOneFrame) {
    for (const auto& c : autobahn_cases()) {
        SCOPED_TRACE("Autobahn " + c.name);
        const Utf8Verdict verdict = reference_utf8(c.text);
        if (c.valid) {
            expect_every_way(maker(), in(Opcode::text, c.text),
                             success({make_frame(Opcode::text, c.text)}));
        } else {
            const char* why =
                verdict.first_bad == std::string::npos ? "incomplete" : "invalid UTF-8";
            expect_every_way(maker(), in(Opcode::text, c.text), failure(invalid_payload, why));
        }
        if (HasFailure()) return;
    }
}

TEST_P(Utf8_8_1, AutobahnSequencesInOneByteFragments) {
    // Fail fast (Autobahn 6.4): every fragment before the first bad byte is reported, the
    // fragment holding it fails the connection; a message cut inside a code point fails on
    // its last fragment.
    for (const auto& c : autobahn_cases()) {
        SCOPED_TRACE("Autobahn " + c.name);
        std::string input;
        std::vector<Frame> frames;
        for (std::size_t i = 0; i < c.text.size(); ++i) {
            const Opcode opcode = i == 0 ? Opcode::text : Opcode::continuation;
            const bool fin = i + 1 == c.text.size();
            input += in(opcode, c.text.substr(i, 1), fin);
            frames.push_back(make_frame(opcode, c.text.substr(i, 1), fin));
        }
        const Utf8Verdict verdict = reference_utf8(c.text);
        if (c.valid) {
            expect_every_way(maker(), input, success(frames));
        } else if (verdict.first_bad != std::string::npos) {
            frames.resize(verdict.first_bad);
            expect_every_way(maker(), input, failure(invalid_payload, "invalid UTF-8", frames));
        } else {
            frames.pop_back();
            expect_every_way(maker(), input, failure(invalid_payload, "incomplete", frames));
        }
        if (HasFailure()) return;
    }
}

} // namespace
} // namespace syncws::test
