#!/usr/bin/env bash
# Builds hoist and runs every test: the unit and end-to-end tests (ctest:
# unit tests, then end-to-end tests against moto on 127.0.0.1) and clang-tidy
# over the sources (scripts/tidy.sh).
# Usage: scripts/test.sh [ctest args...]
#
# clang-tidy runs beside ctest at the lowest priority (nice 19): it takes the
# CPU the end-to-end tests leave idle while they wait on moto and containers,
# and gives it back at once when they want it. With ctest args (e.g. -R
# py.test_run) only ctest runs, with them; the ctest "tidy" matches tidy.
#
# HOIST_SANITIZE=1: the build is build-asan (Debug, AddressSanitizer and
# UBSan; .ci/run uses it): the unit tests and the hoist binary the end-to-end
# tests drive run instrumented, and the first finding fails its test.
# HOIST_TIDY_PATHS: what tidy checks (default: all scripts/tidy.sh lists).
# HOIST_TIDY_CHECKS: added to .clang-tidy's checks (see scripts/tidy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
build=${HOIST_BUILD_DIR:-build}
if [ "${HOIST_SANITIZE:-0}" = 1 ]; then
  config=(-DCMAKE_BUILD_TYPE=Debug -DHOIST_SANITIZE=ON)
  build=${HOIST_BUILD_DIR:-build-asan}
  # Any finding stops the process: a leak, bad memory or undefined behaviour.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fi
cmake -S . -B "$build" -G Ninja "${config[@]}" -DHOIST_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"

if [ $# -gt 0 ]; then
  cd "$build"
  exec ctest --output-on-failure -j2 "$@"
fi

tidy_log=$build/tidy.log
# shellcheck disable=SC2086  # HOIST_TIDY_PATHS is a list of paths
setsid nice -n 19 scripts/tidy.sh "$build" ${HOIST_TIDY_PATHS:-} >"$tidy_log" 2>&1 &
tidy=$!  # its own process group: an interrupted run stops every clang-tidy
trap 'kill -- "-$tidy" 2>/dev/null || true' EXIT
status=0
(cd "$build" && ctest --output-on-failure -j2 -E '^tidy$') || status=$?
echo "test.sh: ctest done; waiting for clang-tidy ($tidy_log)"
tidy_status=0
wait "$tidy" || tidy_status=$?
trap - EXIT
case $tidy_status in
  0) tail -n 1 "$tidy_log" ;;
  77) echo "test.sh: clang-tidy is not installed: tidy skipped" ;;
  *)
    grep -v -e ': clean' -e 'warnings generated' "$tidy_log" || true
    status=1
    ;;
esac
exit "$status"
