#!/usr/bin/env bash
# The main job, end to end, on emulated AWS (no account needed): builds
# hoist, starts moto, the Docker engine, the registry and the host runner
# (scripts/emulator.sh), runs examples/wordcount through `hoist run`, and
# shows where the results are and which runtime the instance used.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HOIST_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target hoist

state=$(mktemp -d /tmp/hoist-demo.XXXXXX)
trap 'scripts/emulator.sh stop "$state"' EXIT
# One VAR=value a line: AWS_ENDPOINT_URL, then DOCKER_HOST and HOIST_REGISTRY
# (containers) or HOIST_RUNTIME=process (no engine could run).
set -a
eval "$(scripts/emulator.sh start "$state")"
set +a
if [[ ${HOIST_RUNTIME:-docker} == process ]]; then
  echo "== runtime: the process runtime (instances run the job with the host's python3 in a venv)," \
    "because $(cat "$state/runtime-reason")"
else
  echo "== runtime: Docker containers (engine $DOCKER_HOST, registry $HOIST_REGISTRY)"
fi
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
