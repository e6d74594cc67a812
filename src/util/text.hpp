#pragma once
// Small text helpers shared across the layers.
#include <array>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>
#include <system_error>

namespace hoist {

// ASCII lower case; other bytes unchanged (header names, config keys and
// values, AWS error messages). No locale involved.
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A time in UTC, by a strftime format (at most 63 characters of output).
inline std::string format_utc(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 64> buffer{};
  const std::size_t n = std::strftime(buffer.data(), buffer.size(), format, &tm);
  return {buffer.data(), n};
}

// "<what> <path>: <errno's message>" ("cannot read /x: No such file or
// directory"), worded as strerror words it but safe on any thread (strerror
// may share one buffer between threads, and transfers fail on worker
// threads). Call it straight after the call that set errno.
inline std::string errno_text(std::string_view what, std::string_view path) {
  const int error = errno;
  return std::string(what) + " " + std::string(path) + ": " + std::generic_category().message(error);
}

}  // namespace hoist
