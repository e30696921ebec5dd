#!/usr/bin/env bash
# Valgrind memcheck over the seed tour and a stress subset of the test suite, on an
# optimized build with debug info (Clang RelWithDebInfo, misuse checks and fault injection compiled
# in; Clang rather than GCC because GCC 12 -O2 warns falsely in the tests; DWARF 4, which
# valgrind 3.19 reads, not Clang's default DWARF 5): every run
# must report zero errors and nothing definitely or indirectly lost.
# Usage: scripts/valgrind.sh [--quick]
#   default   the seed tour, then the whole test suite except the 10 M-object structures, their
#             deep size and the 10 M releases (Deep.Long*, SizeofDeep.AChainOfTenMillion*,
#             RefTest.LongChain*) and the resident-memory measurement, the model at 200,000 ops
#   --quick   the seed tour and the model test at 20,000 operations
# Environment: OURO_VALGRIND_BUILD_DIR (default build/clang-valgrind), OURO_VALGRIND_MODEL_OPS
# (operations of the randomized model in the full run; default 200000), OURO_VALGRIND_REUSE=DIR
# (run the binaries of an existing build instead, unconfigured: scripts/test.sh passes its GCC
# Release build, so CI checks the code users ship without compiling the library a fourth time;
# the sanitizer pass covers the misuse checks and fault injection that build leaves out).
#
# What memcheck sees: everything from malloc / operator new (objects over 512 bytes, weak
# reference tables, scratch arrays, containers, the library's own bookkeeping) and every read of
# uninitialised memory. Objects of 512 bytes or less live in the pool allocator's mmap'd arenas,
# which memcheck treats as one allocation: their leaks are caught by the tests' own accounting
# (sys::mallocstats().bytes_in_use == 0, get_objects() empty, constructed == destroyed) and a
# freed block's reuse by the model's canaries.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh valgrind
if [[ -n ${OURO_VALGRIND_REUSE:-} ]]; then
  build=$OURO_VALGRIND_REUSE
else
  build=${OURO_VALGRIND_BUILD_DIR:-build/clang-valgrind}
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOURO_WERROR=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gdwarf-4 -DNDEBUG" -DOURO_FAULT_INJECTION=ON -DOURO_CHECKS=ON >/dev/null
fi
cmake --build "$build" --target seed_tour ouro_tests -j "$(nproc)"

vg=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-fds=no --quiet)
t=$build/tests/ouro_tests
failed=0
run() {  # label, command...
  local label=$1; shift
  local log="$build/valgrind-${label}.log" t0=$SECONDS
  if "${vg[@]}" --log-file="$log" "$@" >"$build/valgrind-${label}.out" 2>&1; then
    echo "valgrind $label: 0 errors, 0 bytes definitely/indirectly lost ($((SECONDS - t0)) s)"
  else
    echo "valgrind $label: FAILED (exit $?): $log" >&2
    cat "$log" >&2
    tail -n 30 "$build/valgrind-${label}.out" >&2
    failed=1
  fi
}

echo "=== valgrind memcheck ($build) ==="
run seed_tour "$build/examples/seed_tour"
if [[ ${1:-} == --quick ]]; then
  OURO_MODEL_OPS=20000 run model "$t" --gtest_filter='RandomModel*'
else
  # The whole suite but the 10 M structures and their deep size (the 1 M fan-out and the 1 M-deep
  # tree stay), with the randomized model at 200,000 operations. The resident-memory test is left
  # to the native passes: memcheck's shadow of the arenas stays resident after the heap returns
  # their pages, so the process's RSS says nothing about the heap under valgrind.
  OURO_MODEL_OPS=${OURO_VALGRIND_MODEL_OPS:-200000} run suite "$t" \
    --gtest_filter='-Deep.Long*:RefTest.LongChain*:SizeofDeep.AChainOfTenMillion*:Allocator.ResidentMemory*'
  grep -h -E '^\[ (model|faults) ' "$build/valgrind-suite.out" | cut -c1-160 || true
fi
exit $failed
