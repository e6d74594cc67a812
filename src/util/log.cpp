#include "util/log.hpp"

#include <atomic>
#include <iostream>
#include <mutex>
#include <regex>

namespace hoist::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;

void emit(std::string_view prefix, std::string_view message) {
  std::lock_guard lock(g_mutex);
  std::cerr << prefix << redact(message) << '\n';
}
}  // namespace

void set_level(Level l) {
  g_level = l;
}
Level level() {
  return g_level;
}
void info(std::string_view m) {
  if (g_level >= Level::info) emit("", m);
}
void verbose(std::string_view m) {
  if (g_level >= Level::verbose) emit("hoist: ", m);
}
void debug(std::string_view m) {
  if (g_level >= Level::debug) emit("hoist: debug: ", m);
}
void warn(std::string_view m) {
  emit("hoist: warning: ", m);
}

std::string redact(std::string_view text) {
  static const std::regex query(R"(((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"']*)",
                                std::regex::icase);
  static const std::regex header(R"(((?:Authorization|x-amz-security-token)\s*:\s*)[^\r\n]*)", std::regex::icase);
  std::string out = std::regex_replace(std::string(text), query, "$1[redacted]");
  return std::regex_replace(out, header, "$1[redacted]");
}

}  // namespace hoist::log
