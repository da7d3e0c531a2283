#!/bin/sh
# Build wlm in ./build (configuring it on first use) and run every test suite:
# unit, mpi (1 to 3 ranks, oversubscribed) and regression.  Prints meson's
# closing summary, then runs the fuzz harnesses for about 60 s in total
# (tools/fuzz/run.sh; WLM_FUZZ=0 skips them).  The exit status is non-zero
# when any test or harness fails.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs "$@"
if [ "${WLM_FUZZ:-1}" != 0 ]; then
  tools/fuzz/run.sh 30
fi
