#pragma once
// Small text helpers shared across the layers.
#include <string>
#include <string_view>

namespace hoist {

// ASCII lower case; other bytes unchanged (header names, config keys and
// values, AWS error messages). No locale involved.
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace hoist
