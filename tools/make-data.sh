#!/bin/sh
# Generate the synthetic data sets of the experiments into data/ (git-ignored):
#   data/boids.h5                       1000 boids, 101 snapshots 0.5 apart
#   data/sde_<potential>_<mode>.h5      gradient-flow SDE, 1000 particles, 21 snapshots 0.01 apart,
#                                       5 potentials x {trajectories, independent}
# Usage (from the repository root, after building):  tools/make-data.sh [build-dir]
set -eu
build=${1:-build}
generate="$build/src/apps/wlm_generate"
[ -x "$generate" ] || { echo "make-data: $generate not found; build first (meson setup build && meson compile -C build)" >&2; exit 1; }
mkdir -p data

"$generate" -wlm_generate_type boids -wlm_generate_n 1000 -wlm_generate_snapshots 101 -wlm_generate_dt 0.5 \
  -wlm_generate_seed 0 -wlm_generate_output data/boids.h5 -wlm_generate_view false
for potential in quadratic styblinski_tang bohachevsky oakley_ohagan wavy_plateau; do
  for mode in trajectories independent; do
    "$generate" -wlm_generate_type sde -wlm_generate_sde_potential "$potential" -wlm_generate_sde_mode "$mode" \
      -wlm_generate_n 1000 -wlm_generate_snapshots 21 -wlm_generate_dt 0.01 -wlm_generate_seed 0 \
      -wlm_generate_velocities false -wlm_generate_output "data/sde_${potential}_${mode}.h5" -wlm_generate_view false
  done
done
ls -l data
