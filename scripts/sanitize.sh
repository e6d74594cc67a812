#!/usr/bin/env bash
# The unit tests alone under AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, in the Debug build build-asan: the first
# finding fails its test. `HOIST_SANITIZE=1 scripts/test.sh` (what CI runs)
# runs every test there, the end-to-end ones driving the instrumented hoist.
# Usage: scripts/sanitize.sh [more ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
HOIST_SANITIZE=1 exec scripts/test.sh -E '^(py\.|layering\.|format$|tidy$)' "$@"
