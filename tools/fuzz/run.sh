#!/bin/sh
# Build the libFuzzer harnesses with clang in build-fuzz and run each one for
# a bounded time, after replaying every saved crash input.
#
# Usage: tools/fuzz/run.sh [SECONDS_PER_HARNESS]
#   default 30 s per harness (about 60 s for both, the CI setting);
#   a longer search: tools/fuzz/run.sh 3600
#
# Exits non-zero when a harness crashes; libFuzzer then prints the input's
# file name under build-fuzz/fuzz-artifacts.  Copy it to
# tools/fuzz/regressions/<harness>/ so that every later run replays it.
# Without clang the script prints a note and exits 0.  tools/fuzz/README.md
# describes the harnesses, including fuzz_snapshots_raw, which is not run here.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-30}

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang not found, skipping (install clang and libclang-rt-14-dev)"
  exit 0
fi
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Ddefault_library=static >/dev/null
meson compile -C build-fuzz fuzz_snapshots fuzz_snapshots_raw fuzz_options >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$root/build-fuzz/fuzz-artifacts"
mkdir -p "$artifacts" "$work/snapshots" "$work/options"

# seed corpora: committed inputs of fuzz_snapshots (a valid 3-snapshot file), the example configs and broken option files
data="$root/configs/data/ocean_vortex_small.h5"
cp "$root"/tools/fuzz/corpus/snapshots/* "$work/snapshots/"
cp "$root"/configs/*.yaml "$root"/tools/fuzz/corpus/options/* "$work/options/"

export WLM_FUZZ_DATA="$data"
# leaks are not checked: Open MPI's initialization alone leaks a few allocations
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:quarantine_size_mb=16"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

for harness in fuzz_snapshots fuzz_options; do
  binary="$root/build-fuzz/tools/fuzz/$harness"
  regressions="$root/tools/fuzz/regressions/$harness"
  corpus="$work/${harness#fuzz_}"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    echo "fuzz: $harness replays $(ls "$regressions" | wc -l) saved inputs"
    "$binary" -runs=0 "$regressions"/* > "$work/$harness.replay.log" 2>&1 || { cat "$work/$harness.replay.log"; exit 1; }
  fi
  echo "fuzz: $harness for $seconds s"
  # The RSS of fuzz_options grows by about 10 MB/s (see fuzz_options.c), so long runs go in
  # chunks of at most 120 s that share the corpus; -timeout: an input over 10 s counts as a hang.
  left=$seconds
  while [ "$left" -gt 0 ]; do
    chunk=$((left < 120 ? left : 120))
    left=$((left - chunk))
    if ! "$binary" -max_total_time="$chunk" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$artifacts/$harness-" "$corpus" > "$work/$harness.log" 2>&1; then
      tail -n 60 "$work/$harness.log"
      echo "fuzz: $harness failed; the input is in $artifacts" >&2
      exit 1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$harness.log" | sed "s/^/fuzz: $harness /"
  done
done
