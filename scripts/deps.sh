#!/usr/bin/env bash
# Installs what building and testing ouroboros needs, from Debian's packages, when it is missing.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
need=(cmake ninja-build g++ clang libgtest-dev libgmock-dev libdw-dev python3 "$@")
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
