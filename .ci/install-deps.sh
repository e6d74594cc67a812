#!/usr/bin/env bash
# Installs what building and testing hoist needs on a fresh Debian 12
# machine (uses sudo when not root). Safe to run again: skips what is there.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_pkgs=(build-essential cmake ninja-build pkg-config time libcurl4-openssl-dev libssl-dev zlib1g-dev
  nlohmann-json3-dev libpugixml-dev libcli11-dev libgtest-dev libgmock-dev shellcheck clang-format-14 clang-tidy-14 curl rclone python3
  # The emulated cloud's containers (DESIGN B5): the engine, the registry, the offline base image.
  docker.io docker-registry mmdebstrap)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No service starts while installing: docker.io's would start the system
  # dockerd with its docker0 bridge (a private range), docker-registry's would
  # listen on :5000. scripts/containers.sh runs an engine of its own, without
  # a bridge, and tools/ecr_registry.py a registry on 127.0.0.1.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then
    $SUDO rm -f "$policy"
    trap - EXIT
  fi
fi

# The emulator and the independent clients the tests check results with.
if ! command -v moto_server >/dev/null || ! python3 -c "import boto3, moto" 2>/dev/null; then
  python3 -m pip install --quiet "moto[server]" boto3 awscli
fi
