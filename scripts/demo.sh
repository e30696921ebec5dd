#!/usr/bin/env bash
# Builds ouroboros in Release and runs the seed tour: every example of Python's memory model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DOURO_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target seed_tour
./build/release/examples/seed_tour
