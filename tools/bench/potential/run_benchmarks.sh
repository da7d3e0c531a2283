#!/bin/sh
# Runs the potential benchmarks recorded in docs/benchmarks.md: the dgemm
# reference rate, wlm on 1 and 2 ranks, and PyTorch float64 on one thread.
# Usage (from the repository root, after building in ./build):
#   tools/bench/potential/run_benchmarks.sh [repeat]
# Every BLAS runs on one thread per rank.
set -eu
cd "$(dirname "$0")/../../.."
repeat=${1:-5}
bench=build/tools/bench/potential/bench_potential
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

attention64="-wlm_potential_type attention -wlm_potential_attention_hidden 64 -wlm_potential_attention_heads 4 -wlm_potential_attention_layers 4 -wlm_potential_attention_ffn 512"
attention256="-wlm_potential_type attention -wlm_potential_attention_hidden 256 -wlm_potential_attention_heads 1 -wlm_potential_attention_layers 4 -wlm_potential_attention_ffn 64"
external="-wlm_potential_type external -wlm_potential_hidden 64,64"
meanfield="-wlm_potential_type meanfield -wlm_potential_hidden 64,64 -wlm_potential_meanfield_pair_hidden 64,64"

echo "== dgemm reference rate (one core)"
build/tools/bench/potential/bench_dgemm -seconds 2
for np in 1 2; do
  echo "== wlm on $np rank(s)"
  for case in "1000|$attention64" "400|$attention256" "1000|$external" "100000|$external" "1000|$meanfield"; do
    n=${case%%|*}
    opts=${case#*|}
    echo "-- N $n $opts"
    mpiexec -n $np --bind-to none $bench -n $n -repeat "$repeat" $opts | grep -E "forces|products|gradient"
  done
  # pair sums grow as N^2: one force evaluation at N = 10000 shows the scaling towards 100000
  echo "-- N 10000 $meanfield (forces only, one timed call)"
  mpiexec -n $np --bind-to none $bench -n 10000 -repeat 1 -skip_products $meanfield | grep -E "forces"
done
echo "== PyTorch float64, one thread"
/usr/bin/python3 tools/bench/potential/torch_potential.py --repeat "$repeat"
