#pragma once
// Small text helpers shared across the layers.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
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

// Sizes and rates for people: "1.2 MB", "640 B" (powers of 1000).
inline std::string human_bytes(double bytes) {
  constexpr std::array<const char*, 5> kUnits = {"B", "KB", "MB", "GB", "TB"};
  std::size_t unit = 0;
  while (bytes >= 1000 && unit + 1 < kUnits.size()) {
    bytes /= 1000;
    ++unit;
  }
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits.at(unit));
  return buffer.data();
}

}  // namespace hoist
