#!/usr/bin/env bash
# The scoreboard: ouroboros against CPython, std::make_shared, Boehm GC and three mallocs, in one run.
# Installs what it needs from Debian's packages, builds ouroboros and the peer programs in Release
# (build/bench), runs every workload side by side and prints medians, spreads and ratios.
# Writes build/bench/results.json; a full run also regenerates docs/benchmarks.md (between its
# markers), docs/benchmarks.json and the SVG charts.
#
# The workloads are declared in bench/run.py (WORKLOADS) and bench/CMakeLists.txt (OURO_BENCH_WORKLOADS).
#
# Usage: scripts/bench.sh [--quick] [--write-docs] [--only REGEX] [--bt-n N] [--procs K]
#   --quick       small sizes, a smoke run (about two minutes); leaves docs/ alone unless --write-docs
#   --only REGEX  run only the jobs whose "group:impl" matches (e.g. 'collect_|binary_trees')
#   BENCH_JOBS=1  parallel compile jobs (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh python3 libgc-dev libmimalloc-dev libjemalloc-dev libbenchmark-dev

args=("$@")
write_docs=--write-docs
for a in "$@"; do
  [[ $a == --quick ]] && write_docs=
done
for a in "$@"; do
  [[ $a == --write-docs ]] && write_docs=
done

cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DOURO_BUILD_BENCH=ON \
  -DOURO_BUILD_TESTS=OFF -DOURO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench -j "${BENCH_JOBS:-$(nproc)}"
exec python3 bench/run.py --build-dir build/bench --command "scripts/bench.sh${*:+ $*}" ${write_docs} "${args[@]}"
