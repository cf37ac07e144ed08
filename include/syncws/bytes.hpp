// Byte buffers and views used across syncws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace syncws {

/// An owning byte buffer. `std::string` rather than `std::vector<uint8_t>` so payloads move
/// into `Message` and out to sockets without conversions, and small payloads need no
/// allocation (SSO).
using Bytes = std::string;

/// A non-owning view of binary data: what `send_binary` and friends take.
///
/// C++17 has no `std::span`, so this small type stands in for it. It converts implicitly
/// from `std::string`, `std::string_view`, `std::vector<std::uint8_t>` and
/// `std::vector<char>`, and explicitly from a pointer and a size.
///
/// Thread safety: a view is a value; the bytes it points to must outlive it.
class BytesView {
public:
    constexpr BytesView() noexcept = default;
    constexpr BytesView(const void* data, std::size_t size) noexcept
        : data_(static_cast<const char*>(data)), size_(size) {}
    constexpr BytesView(std::string_view s) noexcept : data_(s.data()), size_(s.size()) {}
    BytesView(const std::string& s) noexcept : data_(s.data()), size_(s.size()) {}
    BytesView(const char* s) = delete; // ambiguous: text belongs in std::string_view
    BytesView(const std::vector<std::uint8_t>& v) noexcept
        : data_(reinterpret_cast<const char*>(v.data())), size_(v.size()) {}
    BytesView(const std::vector<char>& v) noexcept : data_(v.data()), size_(v.size()) {}

    constexpr const char* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const char* begin() const noexcept { return data_; }
    constexpr const char* end() const noexcept { return data_ + size_; }
    const std::uint8_t* bytes() const noexcept {
        return reinterpret_cast<const std::uint8_t*>(data_);
    }
    constexpr std::string_view as_string_view() const noexcept { return {data_, size_}; }

private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace syncws
