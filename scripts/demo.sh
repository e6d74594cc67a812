#!/usr/bin/env bash
# The main job, end to end, on emulated AWS (no account needed): builds
# hoist, starts moto and the host runner, runs examples/wordcount through
# `hoist run`, and shows where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HOIST_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target hoist

state=$(mktemp -d /tmp/hoist-demo.XXXXXX)
trap 'scripts/emulator.sh stop "$state"' EXIT
eval "export $(scripts/emulator.sh start "$state")"
# Fake credentials for the emulator; nothing here can reach real AWS.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

out="$state/results"
echo "== hoist run examples/wordcount (emulated AWS at $AWS_ENDPOINT_URL)"
"$build/hoist" run examples/wordcount -i examples/wordcount/sample-input -o "$out" --yes -- --top 5
echo
echo "== results in $out:"
ls -l "$out"
echo
head -n 20 "$out/report.md" 2>/dev/null || true
