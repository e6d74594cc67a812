#!/usr/bin/env bash
# The emulated cloud's Docker engine and its offline base image (DESIGN B5).
#
#   scripts/containers.sh engine   makes sure an engine answers and the base
#                                  image is there; prints DOCKER_HOST=unix://...
#   scripts/containers.sh status   says which engine answers and whether the
#                                  base image is current (exit 1: no engine)
#   scripts/containers.sh stop     ends the dockerd this script started
#
# The engine is $DOCKER_HOST or the default socket when either answers
# `docker info`; else a private dockerd whose state lives under
# ${HOIST_DOCKER_DIR:-/var/tmp/hoist-docker} (kept across runs, so the base
# image is built once). It runs without a bridge, iptables or forwarding:
# containers get loopback only (or the host's network with --network host),
# never a private address range.
#
# The base image is built offline from Debian packages with mmdebstrap and
# `docker import`ed under every name hoist's generated Dockerfile may use that
# it truthfully is (bookworm's python3 is 3.11). Its label hoist.base is the
# sha256 of the recipe below; a different label means rebuild.
#
# Concurrent callers (ctest -j2) serialize on a lock: one starts dockerd, one
# builds the base image, the others wait and reuse them.
set -euo pipefail

dir="${HOIST_DOCKER_DIR:-/var/tmp/hoist-docker}"
sock="$dir/docker.sock"
pidfile="$dir/docker.pid"
# Seconds to wait for a starting dockerd, and for another caller's lock.
engine_wait="${HOIST_DOCKER_WAIT:-60}"
lock_wait="${HOIST_DOCKER_LOCK_WAIT:-900}"

BASE_SUITE=bookworm
BASE_PACKAGES=(python3 python3-pip python3-venv python-is-python3 python3-yaml python3-dateutil
  python3-jinja2 ca-certificates)
# Every FROM name the base truthfully satisfies: bookworm's python3 is 3.11.
BASE_TAGS=(public.ecr.aws/docker/library/python:3.11-slim)

die() {
  echo "containers.sh: $*" >&2
  exit 1
}

answers() { # HOST: does an engine answer there?
  timeout 20 docker -H "$1" info >/dev/null 2>&1
}

find_engine() { # prints the DOCKER_HOST of an engine that answers
  local h
  for h in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "unix://$sock"; do
    if [[ -n $h ]] && answers "$h"; then
      echo "$h"
      return 0
    fi
  done
  return 1
}

our_pid() { # the pid of the dockerd this script started, if it lives
  local pid
  [[ -f $pidfile ]] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null &&
    echo "$pid"
}

start_dockerd() {
  command -v dockerd >/dev/null ||
    die "no Docker engine answers and dockerd is not installed: run .ci/install-deps.sh (apt-get install docker.io)"
  # containerd's socket lives under the exec root; unix socket paths are short.
  local csock="$dir/exec/containerd/containerd.sock.ttrpc"
  ((${#csock} < 100)) || die "HOIST_DOCKER_DIR=$dir is too long for a unix socket path: use a shorter one"
  mkdir -p "$dir/data" "$dir/exec"
  # Our own (empty) daemon.json, not the host's /etc/docker/daemon.json.
  [[ -f $dir/daemon.json ]] || echo '{}' >"$dir/daemon.json"
  local pid
  if ! pid=$(our_pid); then
    rm -f "$pidfile" "$sock"
    echo "containers.sh: starting dockerd (state in $dir, log $dir/dockerd.log)" >&2
    # Its own session, every descriptor closed or redirected (fd 9 is the
    # lock; a caller's pipe on another would never see EOF).
    setsid dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
      -H "unix://$sock" --pidfile "$pidfile" \
      --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
      </dev/null >>"$dir/dockerd.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    pid=$!
  fi
  local t0=$SECONDS
  while ((SECONDS - t0 < engine_wait)); do
    if [[ -S $sock ]] && answers "unix://$sock"; then
      echo "containers.sh: dockerd answers after $((SECONDS - t0)) s" >&2
      return 0
    fi
    kill -0 "$pid" 2>/dev/null ||
      die "dockerd exited at start: $(tail -n 1 "$dir/dockerd.log" 2>/dev/null) (log: $dir/dockerd.log)"
    sleep 0.2
  done
  die "dockerd did not answer on $sock within ${engine_wait}s (log: $dir/dockerd.log)"
}

# ---- the base image ----
build_base() { # HOST HASH
  command -v mmdebstrap >/dev/null ||
    die "the base image is missing and mmdebstrap is not installed: run .ci/install-deps.sh (apt-get install mmdebstrap)"
  local host=$1 hash=$2 tmp
  tmp=$(mktemp -d "$dir/base.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  echo "containers.sh: building the base image ${BASE_TAGS[0]} from Debian $BASE_SUITE (log $dir/base.log)" >&2
  local t0=$SECONDS
  # pip must install into the system python as in the python image: no
  # PEP 668 marker. No apt lists: the image is not meant to apt-get.
  # shellcheck disable=SC2016 # the hooks expand $1 (the chroot) themselves
  if ! mmdebstrap --variant=apt --include="$(
    IFS=,
    echo "${BASE_PACKAGES[*]}"
  )" \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$BASE_SUITE" "$tmp/rootfs.tar" >"$dir/base.log" 2>&1; then
    die "mmdebstrap failed: $(tail -n 1 "$dir/base.log") (log: $dir/base.log)"
  fi
  docker -H "$host" import \
    --change "LABEL hoist.base=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$tmp/rootfs.tar" "${BASE_TAGS[0]}" >>"$dir/base.log"
  local tag
  for tag in "${BASE_TAGS[@]:1}"; do
    docker -H "$host" tag "${BASE_TAGS[0]}" "$tag"
  done
  # What hoist's Dockerfile needs: pip and python on PATH, pip free to install.
  docker -H "$host" run --rm --network none "${BASE_TAGS[0]}" sh -c \
    'command -v pip && command -v python && ! ls /usr/lib/python3*/EXTERNALLY-MANAGED 2>/dev/null &&
     python -c "import yaml, dateutil, jinja2, venv"' >>"$dir/base.log" 2>&1 ||
    die "the new base image lacks pip, python or its packages (log: $dir/base.log)"
  rm -rf "$tmp"
  trap - EXIT
  echo "containers.sh: base image built in $((SECONDS - t0)) s" >&2
}

base_hash() { # the recipe: build_base itself and the lists above
  {
    declare -f build_base
    printf '%s\n' "$BASE_SUITE" "${BASE_PACKAGES[@]}" "${BASE_TAGS[@]}"
  } | sha256sum | cut -d' ' -f1
}

base_label() { # HOST TAG: the tag's hoist.base label, empty when missing
  docker -H "$1" image inspect -f '{{index .Config.Labels "hoist.base"}}' "$2" 2>/dev/null || true
}

base_current() { # HOST HASH: every tag is there with this label
  local tag
  for tag in "${BASE_TAGS[@]}"; do
    [[ $(base_label "$1" "$tag") == "$2" ]] || return 1
  done
}

warn_bridge() { # HOST: an engine not ours may give containers a private address
  local subnets
  subnets=$(docker -H "$1" network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
  if [[ -n ${subnets// /} ]]; then
    echo "containers.sh: warning: the engine at $1 has a bridge network ($subnets): containers on its" \
      "default network get a private address; unset DOCKER_HOST (or stop that engine) to use a private" \
      "engine without one" >&2
  fi
}

take_lock() {
  mkdir -p "$dir"
  exec 9>"$dir/lock"
  flock -w "$lock_wait" 9 || die "another containers.sh held $dir/lock for ${lock_wait}s"
}

case "${1:-}" in
engine)
  command -v docker >/dev/null ||
    die "the docker CLI is not installed: run .ci/install-deps.sh (apt-get install docker.io)"
  take_lock
  if ! host=$(find_engine); then
    start_dockerd
    host="unix://$sock"
  elif [[ $host != "unix://$sock" ]]; then
    warn_bridge "$host"
  fi
  hash=$(base_hash)
  base_current "$host" "$hash" || build_base "$host" "$hash"
  echo "DOCKER_HOST=$host"
  ;;
status)
  if ! host=$(find_engine); then
    echo "engine: none answers (\$DOCKER_HOST, /var/run/docker.sock, unix://$sock)"
    exit 1
  fi
  if pid=$(our_pid) && [[ $host == "unix://$sock" ]]; then
    echo "engine: $host (dockerd pid $pid, started by containers.sh, state in $dir)"
  else
    echo "engine: $host"
  fi
  hash=$(base_hash)
  for tag in "${BASE_TAGS[@]}"; do
    label=$(base_label "$host" "$tag")
    if [[ -z $label ]]; then
      echo "base: $tag missing"
    elif [[ $label == "$hash" ]]; then
      echo "base: $tag current"
    else
      echo "base: $tag stale (hoist.base=$label, recipe $hash)"
    fi
  done
  ;;
stop)
  take_lock
  if ! pid=$(our_pid); then
    echo "containers.sh: no dockerd of ours is running" >&2
    exit 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # dockerd ends the containerd it started; after a KILL it cannot.
  cpid=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null || true)
  if [[ $cpid =~ ^[0-9]+$ ]] && grep -qa containerd "/proc/$cpid/cmdline" 2>/dev/null; then
    kill -TERM "$cpid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "containers.sh: dockerd $pid stopped" >&2
  ;;
*)
  echo "usage: $0 engine|status|stop" >&2
  exit 2
  ;;
esac
