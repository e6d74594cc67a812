#!/usr/bin/env bash
# Starts the emulated cloud: moto_server on 127.0.0.1 (a free port), the
# Docker engine (scripts/containers.sh engine), the account's registry
# (tools/ecr_registry.py) and the host runner that plays EC2's part. Prints
# what a client needs, one VAR=value a line (shell-quoted, so eval-able):
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT
#   DOCKER_HOST=unix://...          } instances run containers, or, when no
#   HOIST_REGISTRY=127.0.0.1:PORT   } engine can run (the reason on stderr):
#   HOIST_RUNTIME=process
#
#   scripts/emulator.sh start [STATE_DIR]   e.g. set -a; eval "$(scripts/emulator.sh start)"; set +a
#   scripts/emulator.sh stop  [STATE_DIR]   ends the runner, the registry and moto
#                                           (the engine stays: scripts/containers.sh stop)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
state=${2:-${HOIST_EMULATOR_DIR:-/tmp/hoist-emulator}}

alive() { # NAME: the process in $state/NAME.pid lives
  [[ -f $state/$1.pid ]] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null
}

case "${1:-}" in
start)
  mkdir -p "$state"
  if alive moto && [[ -f $state/env ]]; then
    cat "$state/env"
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

  # Containers when an engine can run; else the process runtime, and why.
  runtime=docker reason="" docker_host="" registry=""
  # (its progress on stderr too: the first start builds the base image)
  engine_rc=0
  { "$here/scripts/containers.sh" engine 2>&1 >&3 | tee "$state/containers.log" >&2; } 3>"$state/engine.out" ||
    engine_rc=$?
  docker_host=$(sed -n 's/^DOCKER_HOST=//p' "$state/engine.out" | tail -n 1)
  if [[ $engine_rc != 0 || -z $docker_host ]]; then
    runtime=process reason="no Docker engine: $(tail -n 1 "$state/containers.log")"
  fi
  if [[ $runtime == docker ]]; then
    rm -f "$state/registry.port"
    python3 "$here/tools/ecr_registry.py" --moto-endpoint "$endpoint" --region us-east-1 \
      --state "$state/registry" --portfile "$state/registry.port" >/dev/null 2>"$state/registry.err" &
    echo $! >"$state/registry.pid"
    for _ in $(seq 150); do
      [[ -f $state/registry.port ]] || ! alive registry && break
      sleep 0.2
    done
    if [[ -f $state/registry.port ]]; then
      registry="127.0.0.1:$(cat "$state/registry.port")"
    else
      runtime=process reason="the registry did not start: $(tail -n 1 "$state/registry.err")"
    fi
  fi

  runner_args=(--runtime "$runtime")
  if [[ $runtime == docker ]]; then
    runner_args+=(--docker-host "$docker_host" --registry "$registry")
  fi
  python3 "$here/tools/hostrunner.py" --endpoint-url "$endpoint" --region us-east-1 \
    --root "$state/hosts" --poll 0.5 --log "$state/hostrunner.log" "${runner_args[@]}" >/dev/null 2>&1 &
  echo $! >"$state/runner.pid"

  {
    printf 'AWS_ENDPOINT_URL=%q\n' "$endpoint"
    if [[ $runtime == docker ]]; then
      printf 'DOCKER_HOST=%q\n' "$docker_host"
      printf 'HOIST_REGISTRY=%q\n' "$registry"
    else
      printf 'HOIST_RUNTIME=process\n'
    fi
  } >"$state/env"
  echo "$reason" >"$state/runtime-reason"
  if [[ $runtime == process ]]; then
    echo "emulator.sh: instances run with HOIST_RUNTIME=process ($reason)" >&2
  fi
  cat "$state/env"
  ;;
stop)
  for f in runner registry moto; do
    if [[ -f $state/$f.pid ]]; then
      kill "$(cat "$state/$f.pid")" 2>/dev/null || true
      rm -f "$state/$f.pid"
    fi
  done
  rm -f "$state/env"
  ;;
*)
  echo "usage: $0 start|stop [STATE_DIR]" >&2
  exit 2
  ;;
esac
