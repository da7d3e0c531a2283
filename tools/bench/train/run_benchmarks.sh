#!/bin/sh
# Times training steps of the ocean configs, as recorded in docs/benchmarks.md
# ("Training"): seconds per optimizer step at the paper's model sizes (the
# set-transformer potential) and at the settings of docs/results.md (the
# external-field model), on 1 and 2 ranks with the same total work (2 rollouts
# per step), which gives the data-parallel speed-up.
# Usage (from the repository root, after building in ./build):
#   tools/bench/train/run_benchmarks.sh [steps]
# Prints one line per case: config, ranks, steps and seconds per step (the
# training time of the last metrics.jsonl record divided by the steps, so
# set-up and evaluation are excluded).
set -eu
cd "$(dirname "$0")/../../.."
steps=${1:-100}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for config in ocean-small-paper ocean-big-paper ocean-small ocean-big; do
  for np in 1 2; do
    dir="$out/$config-np$np"
    mpiexec -n $np --bind-to none build/src/apps/wlm_mpi -options_file configs/$config.yaml \
      -wlm_steps "$steps" -wlm_batch_rollouts 2 -wlm_eval_every 0 -wlm_log_every "$steps" \
      -wlm_checkpoint_every 0 -wlm_output "$dir" -wlm_output_overwrite -options_left > "$dir.log" 2>&1 ||
      { echo "$config on $np rank(s) failed; see the log:"; tail -20 "$dir.log"; exit 1; }
    /usr/bin/python3 - "$dir" "$config" "$np" <<'PY'
import json, sys
directory, config, ranks = sys.argv[1:]
with open(directory + "/metrics.jsonl") as f:
    last = [r for r in map(json.loads, f) if r.get("kind") == "train"][-1]
print("%-18s ranks %s  steps %4d  s/step %.4f" % (config, ranks, last["step"], last["elapsed"] / last["step"]))
PY
  done
done
