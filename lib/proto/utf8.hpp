// Incremental, fail-fast UTF-8 validation (RFC 3629, as RFC 6455 §5.6 and §8.1 require).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace syncws::detail {

/// Validates UTF-8 fed in pieces that may split a code point anywhere.
///
/// `feed` returns false as soon as a byte makes the text invalid (overlong forms,
/// surrogates U+D800–U+DFFF, code points above U+10FFFF, bad continuation bytes), so a
/// text message can fail before it is complete. `complete()` tells whether the bytes so
/// far end on a code point boundary: a message that ends mid-sequence is invalid too.
/// ASCII runs are checked many bytes at a time, long multi-byte runs 16 bytes at a time.
class Utf8Validator {
public:
    /// Feeds `size` bytes. Returns false if the text is invalid; after that the
    /// validator stays failed until `reset()`.
    bool feed(const char* data, std::size_t size) noexcept;
    bool feed(std::string_view text) noexcept { return feed(text.data(), text.size()); }
    /// True if no sequence is left unfinished (and nothing failed).
    bool complete() const noexcept { return state_ == accept_state; }
    /// True if a byte fed so far was invalid.
    bool failed() const noexcept { return state_ == reject_state; }
    void reset() noexcept { state_ = accept_state; }

    static constexpr std::uint8_t accept_state = 0;
    static constexpr std::uint8_t reject_state = 1;

private:
    std::uint8_t state_ = accept_state;
};

/// True if `text` is complete, valid UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;

} // namespace syncws::detail
