// The logging hook: syncws prints nothing unless you give it a Logger.
#pragma once

#include <functional>
#include <string_view>

namespace syncws {

enum class LogLevel { debug, info, warning, error };

/// Receives syncws's log lines. Called from syncws's threads (connection I/O, accept
/// loop, handler tasks), never while a syncws lock is held; must be thread-safe and should
/// be quick. Empty (the default) means silence.
using Logger = std::function<void(LogLevel level, std::string_view message)>;

/// "debug", "info", "warning", "error".
constexpr std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warning:
        return "warning";
    case LogLevel::error:
        return "error";
    }
    return "?";
}

} // namespace syncws
