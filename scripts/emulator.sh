#!/usr/bin/env bash
# Starts the emulated cloud: moto_server on 127.0.0.1 (a free port) and the
# host runner that plays EC2's part. Prints the endpoint; `stop` ends both.
#   scripts/emulator.sh start [STATE_DIR]   -> prints AWS_ENDPOINT_URL=...
#   scripts/emulator.sh stop  [STATE_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
state=${2:-${HOIST_EMULATOR_DIR:-/tmp/hoist-emulator}}

case "${1:-}" in
start)
  mkdir -p "$state"
  if [ -f "$state/moto.pid" ] && kill -0 "$(cat "$state/moto.pid")" 2>/dev/null; then
    echo "AWS_ENDPOINT_URL=$(cat "$state/endpoint")"
    exit 0
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  endpoint="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -s -o /dev/null "$endpoint/moto-api/" && break
    sleep 0.2
  done
  echo "$endpoint" >"$state/endpoint"
  python3 "$here/tools/hostrunner.py" --endpoint-url "$endpoint" --region us-east-1 \
    --root "$state/hosts" --poll 0.5 --log "$state/hostrunner.log" >/dev/null 2>&1 &
  echo $! >"$state/runner.pid"
  echo "AWS_ENDPOINT_URL=$endpoint"
  ;;
stop)
  for f in runner moto; do
    if [ -f "$state/$f.pid" ]; then
      kill "$(cat "$state/$f.pid")" 2>/dev/null || true
      rm -f "$state/$f.pid"
    fi
  done
  ;;
*)
  echo "usage: $0 start|stop [STATE_DIR]" >&2
  exit 2
  ;;
esac
