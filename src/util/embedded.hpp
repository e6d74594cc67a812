#pragma once
#include <string_view>

namespace hoist::embedded {
// Bytes of a file embedded at build time ("agent/bootstrap.sh"), or empty.
std::string_view get(std::string_view name);
}  // namespace hoist::embedded
