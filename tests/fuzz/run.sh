#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] - builds the libFuzzer harnesses with clang
# (libraries instrumented too, ASan + UBSan) in their own build dir and runs
# each for SECONDS (default 60), starting from the seeds in tests/fuzz/seeds.
# Prints the runs of each; exits 1 if one crashed (the input is kept under
# the build dir's fuzz-artifacts/: make it a unit test).
#   VIGIL_FUZZ_BUILD  build dir (default build-fuzz in the source tree)
#   VIGIL_FUZZ_JOBS   harnesses run at once (default: the cores)
set -euo pipefail
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${VIGIL_FUZZ_BUILD:-$src/build-fuzz}
command -v clang > /dev/null || { echo "run.sh: clang is needed (apt-get install clang)" >&2; exit 2; }
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang cmake -S "$src" -B "$build" -DVIGIL_FUZZ=ON -DVIGIL_TESTS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$san" > "$build.cmake.log" 2>&1 \
  || { cat "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j2 --target fuzz > "$build.build.log" 2>&1 \
  || { tail -40 "$build.build.log" >&2; exit 1; }
# Seeds (tests/fuzz/seeds/NAME): one valid input of each kind to mutate;
# a dictionary (tests/fuzz/NAME.dict: the format's keywords) where there is
# one.
seeds=$src/tests/fuzz/seeds

mkdir -p "$build/fuzz-artifacts"
# fuzz_one NAME: runs one harness for $secs s; its summary in
# $build/fuzz-NAME.sum, its exit status in $build/fuzz-NAME.rc.
fuzz_one() {
  local name=$1 corpus log dict=() r runs
  corpus=$build/fuzz-corpus/$name; mkdir -p "$corpus"
  log=$build/fuzz-$name.log
  [ -f "$src/tests/fuzz/$name.dict" ] && dict=(-dict="$src/tests/fuzz/$name.dict")
  set +e
  ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$name" "$corpus" "$seeds/$name" \
    "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$name-" > "$log" 2>&1
  r=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$r" = 0 ]; then
    printf 'fuzz_%-7s %10s runs in %ss, no crash\n' "$name" "${runs:-?}" "$secs"
  else
    printf 'fuzz_%-7s CRASH after %s runs (exit %s): see %s\n' "$name" "${runs:-?}" "$r" "$log"
    grep -m1 -A12 "ERROR:" "$log" || tail -20 "$log"
  fi > "$build/fuzz-$name.sum"
  echo "$r" > "$build/fuzz-$name.rc"
}
# The harnesses run side by side, as many at once as there are cores
# (VIGIL_FUZZ_JOBS), each for its whole $secs: the same fuzzing each, in
# less time.
par=${VIGIL_FUZZ_JOBS:-$(nproc)}
names=(codec jsonl config hl7 fhir state)
rc=0
for ((i = 0; i < ${#names[@]}; i += par)); do
  for name in "${names[@]:i:par}"; do
    rm -f "$build/fuzz-$name.rc"
    fuzz_one "$name" &
  done
  wait
done
for name in "${names[@]}"; do
  cat "$build/fuzz-$name.sum"
  [ "$(cat "$build/fuzz-$name.rc" 2>/dev/null)" = 0 ] || rc=1
done
exit $rc
