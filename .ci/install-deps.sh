#!/usr/bin/env bash
# Installs what building and testing hoist needs on a fresh Debian 12
# machine (uses sudo when not root). Safe to run again: skips what is there.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_pkgs=(build-essential cmake ninja-build pkg-config libcurl4-openssl-dev libssl-dev zlib1g-dev
  nlohmann-json3-dev libpugixml-dev libcli11-dev libgtest-dev libgmock-dev shellcheck clang-format-14 curl rclone python3)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The emulator and the independent clients the tests check results with.
if ! command -v moto_server >/dev/null || ! python3 -c "import boto3, moto" 2>/dev/null; then
  python3 -m pip install --quiet "moto[server]" boto3 awscli
fi
