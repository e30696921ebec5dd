#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/fuzz_heap (clang, ASan+UBSan, the model interpreter of
# tests/model_graph.hpp driven by fuzzer bytes) and runs it from the committed seed corpus; then
# tests/fuzz/fuzz_snapshot_load (tracemalloc dump files) for a quarter of the time, at least 10 s.
# Usage: scripts/fuzz.sh [seconds] [--merge]
#   seconds   how long to fuzz (default 60; CI runs 45)
#   --merge   afterwards, merge the inputs that found new coverage into tests/fuzz/corpus/
#             (libFuzzer -merge=1 -use_counters=0: only inputs that add new edges are kept)
# Environment: OURO_FUZZ_BUILD_DIR (default build/clang-fuzz), OURO_FUZZ_MAX_LEN (default 4096),
# OURO_FUZZ_SEED (libFuzzer -seed; default random, printed in the log).
# A failing input is saved as $OURO_FUZZ_BUILD_DIR/crash-* ; replay it with
#   $OURO_FUZZ_BUILD_DIR/tests/fuzz/fuzz_heap FILE      (OURO_MODEL_TRACE=1 prints every operation)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 merge=0
for a in "$@"; do
  case $a in
    --merge) merge=1 ;;
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [seconds] [--merge]" >&2; exit 2 ;;
    *) seconds=$a ;;
  esac
done
scripts/deps.sh
build=${OURO_FUZZ_BUILD_DIR:-build/clang-fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOURO_WERROR=ON \
  -DOURO_BUILD_FUZZ=ON -DOURO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target fuzz_heap fuzz_snapshot_load -j "$(nproc)"

work="$build/corpus"  # the run's corpus: the committed seeds plus what this run finds
mkdir -p "$work"
cp -n tests/fuzz/corpus/* "$work"/ 2>/dev/null || true
seed_args=()
[[ -n ${OURO_FUZZ_SEED:-} ]] && seed_args=(-seed="$OURO_FUZZ_SEED")
echo "=== fuzz_heap: ${seconds} s from $(ls tests/fuzz/corpus | wc -l) seed inputs ==="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build/tests/fuzz/fuzz_heap" "$work" "${seed_args[@]}" -max_total_time="$seconds" -max_len="${OURO_FUZZ_MAX_LEN:-4096}" \
  -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/" 2>"$build/fuzz.log" ||
  { tail -n 80 "$build/fuzz.log"; echo "fuzz_heap failed: log in $build/fuzz.log" >&2; exit 1; }
grep -E '^(INFO: Seed|#[0-9]+ +DONE|Done|stat::)' "$build/fuzz.log"

load_seconds=$((seconds / 4 > 10 ? seconds / 4 : 10))
load_work="$build/snapshot_corpus"
mkdir -p "$load_work"
cp -n tests/fuzz/snapshot_corpus/* "$load_work"/ 2>/dev/null || true
echo "=== fuzz_snapshot_load: ${load_seconds} s ==="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build/tests/fuzz/fuzz_snapshot_load" "$load_work" "${seed_args[@]}" -max_total_time="$load_seconds" -max_len=4096 \
  -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/snapshot-" 2>"$build/fuzz_snapshot.log" ||
  { tail -n 60 "$build/fuzz_snapshot.log"; echo "fuzz_snapshot_load failed: log in $build/fuzz_snapshot.log" >&2; exit 1; }
grep -E '^(#[0-9]+ +DONE|Done)' "$build/fuzz_snapshot.log" || true

if ((merge)); then
  "$build/tests/fuzz/fuzz_heap" -merge=1 -use_counters=0 tests/fuzz/corpus "$work" 2>>"$build/fuzz.log"
  echo "tests/fuzz/corpus: $(ls tests/fuzz/corpus | wc -l) inputs, $(du -sh tests/fuzz/corpus | cut -f1)"
fi
