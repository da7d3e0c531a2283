#!/bin/sh
# Runs the scaling measurements of docs/scaling.md: one training step of a
# rollout sharded over a group of P ranks (-wlm_ensemble_ranks P), for the
# external and the random-batch meanfield potential, in d = 5.  Usage, from
# the repository root after meson compile -C build:
#
#   tools/bench/train/run_scaling.sh [BUILD_DIR] [DATA_DIR] [OUT_DIR]
#
# DATA_DIR receives the generated data sets (about 360 MB); OUT_DIR one log
# per run with the bench_step line and the -log_view -log_sync table.  The
# runs take about 15 minutes on a 2-core machine; 4 ranks oversubscribe it.
set -eu
build=${1:-build}
data=${2:-data/scaling}
out=${3:-scaling-logs}
bench=$build/tools/bench/train/bench_step
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$data" "$out"

# damped harmonic populations in 5 dimensions, 4 snapshots 0.5 apart, with velocities
for n in 10000 100000 1000000; do
  [ -f "$data/harmonic5d_$n.h5" ] || "$build/src/apps/wlm_generate" -wlm_generate_type harmonic -wlm_generate_dim 5 \
    -wlm_generate_n $n -wlm_generate_snapshots 4 -wlm_generate_dt 0.5 -wlm_generate_seed 0 \
    -wlm_generate_output "$data/harmonic5d_$n.h5" -wlm_generate_view false
done

# one rollout per step over 1 training interval with 2 Verlet steps; the Sinkhorn loss compares 2048 particles
common="-wlm_protocol forecast -wlm_train_fraction 0.75 -wlm_horizon_max 1 -wlm_substeps 2 -wlm_velocity data -wlm_loss_type sinkhorn -wlm_loss_blur 0.5 -wlm_loss_particles 2048 -bench_steps 2 -log_view -log_sync"
external="-wlm_potential_type external -wlm_potential_hidden 32,32"
meanfield="-wlm_potential_type meanfield -wlm_potential_hidden 32,32 -wlm_potential_meanfield_pair_hidden 32,32 -wlm_potential_meanfield_batch 16"

# run NAME RANKS DATA_N OPTIONS...: one group of RANKS ranks
run() {
  name=$1 ranks=$2 n=$3
  shift 3
  nice -n 10 mpiexec -n "$ranks" "$bench" -wlm_data "$data/harmonic5d_$n.h5" -wlm_ensemble_ranks "$ranks" $common "$@" > "$out/$name.log" 2>&1
  grep "^bench_step:" "$out/$name.log" | sed "s/^/$name: /"
}

echo "== strong scaling: one rollout of N particles on P ranks"
for n in 10000 100000; do
  for p in 1 2 4; do
    run "strong-external-$n-p$p" $p $n $external
    run "strong-meanfield-$n-p$p" $p $n $meanfield
  done
done
run strong-external-10000-p2-ring 2 10000 $external -wlm_loss_exchange ring
for p in 1 2; do
  run "strong-external-1000000-p$p" $p 1000000 $external
done
run strong-meanfield-1000000-p2 2 1000000 $meanfield

echo "== weak scaling: 25000 particles per rank"
for p in 1 2 4; do
  run "weak-external-p$p" $p 100000 $external -wlm_batch_particles $((25000 * p))
  run "weak-meanfield-p$p" $p 100000 $meanfield -wlm_batch_particles $((25000 * p))
done
