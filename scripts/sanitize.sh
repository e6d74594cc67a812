#!/usr/bin/env bash
# The unit tests under AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, in a Debug build of their own; the first
# finding stops them with a failure.
# Usage: scripts/sanitize.sh [gtest args...]
# The build directory is $HOIST_ASAN_BUILD_DIR (default build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HOIST_ASAN_BUILD_DIR:-build-asan}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHOIST_SANITIZE=ON -DHOIST_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target hoist_unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$build/tests/hoist_unit_tests" "$@"
