#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs each for FUZZ_SECONDS seconds (default 60), starting from the committed seed
# corpus in tests/fuzz/corpus/<target>/. New interesting inputs go to build-fuzz/corpus/<target>/,
# never into the source tree. Any crash, sanitizer finding, leak, timeout or escaped exception fails
# the script and leaves the input in build-fuzz/artifacts/<target>/; to keep it, copy it into
# tests/fuzz/corpus/<target>/ (the Catch2 suite replays every file there) and add a named test to
# tests/test_fuzz_regressions.cpp.
#
# Usage: tests/fuzz/run.sh [target ...]     (default: all four)
# Environment: FUZZ_SECONDS (60), BUILD (build-fuzz), JOBS (2), CXX (clang++)
# Needs the Debian packages clang, libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) and
# libomp-14-dev (OpenMP for clang); `make fuzz` installs them when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
build=${BUILD:-build-fuzz}
jobs=${JOBS:-2}
cxx=${CXX:-clang++}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(corpus_reader vocab_loader safetensors_parser config_loader translate_request)

if ! command -v "$cxx" > /dev/null; then
  echo "fuzz: $cxx not found; install clang libclang-rt-14-dev libomp-14-dev (or run: make fuzz)" >&2
  exit 1
fi

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" -DSEQGRAD_BUILD_FUZZERS=ON -DSEQGRAD_BUILD_TESTS=OFF \
  -DSEQGRAD_BUILD_APPS=OFF > "$build/configure.log" || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="$build/fuzz_$t.log"
  echo "fuzz: $t for ${seconds}s (log $log)"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a reader must not balloon memory.
  if "$build/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" > "$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$log" | sed "s/^/fuzz: $t: /" || true
  else
    echo "fuzz: $t FAILED; the input is in $artifacts/:" >&2
    ls "$artifacts" >&2
    grep -E "ERROR|runtime error|terminate|invariant|SUMMARY" "$log" | head -20 >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
