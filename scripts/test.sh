#!/usr/bin/env bash
# Builds and runs the whole test suite twice: a Debug build with GCC (misuse checks on, warnings
# are errors; a Release build is also compiled, for GCC's optimiser-driven warnings) and an
# ASan+UBSan build with Clang, where the randomized model runs 1,000,000 operations. Then a short libFuzzer run (scripts/fuzz.sh) and valgrind memcheck over the seed
# tour and a stress subset (scripts/valgrind.sh). Also compiles the benchmarks warning-free.
# Usage: scripts/test.sh [--quick]   (--quick: the GCC Debug pass only)
# Soak mode (not in CI): see docs/reliability.md, e.g.
#   OURO_MODEL_SOAK_SECONDS=600 build/clang-asan/tests/ouro_tests --gtest_filter='RandomModel.*'
#   bash scripts/fuzz.sh 3600
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh libbenchmark-dev
jobs=$(nproc)

run_suite() {  # name, compiler, extra cmake args...
  local name=$1 cxx=$2; shift 2
  echo "=== $name ==="
  cmake -S . -B "build/$name" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DOURO_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  ctest --test-dir "build/$name" -j "$jobs" --output-on-failure
}

run_suite gcc-debug g++ -DCMAKE_BUILD_TYPE=Debug -DOURO_BUILD_BENCH=ON -DOURO_FAULT_INJECTION=ON

echo "=== gcc-release: everything compiles warning-free at -O3 (GCC's flow warnings need optimisation) ==="
cmake -S . -B build/gcc-release -G Ninja -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Release -DOURO_WERROR=ON \
  -DOURO_BUILD_BENCH=ON >/dev/null
cmake --build build/gcc-release -j "$jobs"

echo "=== packaging: find_package after install, and add_subdirectory ==="
rm -rf build/install build/consumer-installed build/consumer-subdir
cmake --install build/gcc-debug --prefix build/install >/dev/null
cmake -S tests/package -B build/consumer-installed -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer-installed >/dev/null
./build/consumer-installed/consumer
cmake -S tests/package -B build/consumer-subdir -G Ninja -DOURO_SOURCE_DIR="$PWD" >/dev/null
cmake --build build/consumer-subdir >/dev/null
./build/consumer-subdir/consumer
if [[ ${1:-} != --quick ]]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 OURO_MODEL_OPS=1000000 \
    run_suite clang-asan clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOURO_SANITIZE=ON -DOURO_CHECKS=ON -DOURO_FAULT_INJECTION=ON
  bash scripts/fuzz.sh 45
  bash scripts/valgrind.sh
fi
