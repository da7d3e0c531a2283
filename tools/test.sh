#!/bin/sh
# Build wlm in ./build (configuring it on first use) and run every test suite:
# unit, mpi (1 to 3 ranks, oversubscribed) and regression.  Prints meson's
# closing summary; the exit status is non-zero when any test fails.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs "$@"
