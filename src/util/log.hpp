#pragma once
// Diagnostics to stderr. Secrets never reach here: callers log request
// lines and codes, never headers or query strings of signed requests.
#include <string>
#include <string_view>

namespace hoist::log {

enum class Level { quiet = 0, info = 1, verbose = 2, debug = 3 };

void set_level(Level level);
Level level();
void info(std::string_view message);
void verbose(std::string_view message);
void debug(std::string_view message);
void warn(std::string_view message);

// Removes credentials from text that may hold them: X-Amz-Signature,
// X-Amz-Credential and X-Amz-Security-Token query values, Authorization and
// x-amz-security-token header values.
std::string redact(std::string_view text);

}  // namespace hoist::log
