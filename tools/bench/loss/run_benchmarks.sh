#!/bin/sh
# Runs the loss and transport benchmarks recorded in docs/benchmarks.md
# ("Losses and exact transport").  Usage, from the repository root after
# meson compile -C build:
#
#   tools/bench/loss/run_benchmarks.sh [BUILD_DIR] > results.txt
#
# The whole run takes about an hour on a 2-core machine, most of it in the
# N = 100000 Sinkhorn calls; set WLM_BENCH_QUICK=1 to skip those and the
# PyTorch runs at N = 10000.
set -eu
build=${1:-build}
bench=$build/tools/bench/loss
here=$(dirname "$0")
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

echo "== machine"
lscpu | grep -E "Model name|^CPU\(s\)|L2 cache|L3 cache"
$bench/bench_sinkhorn -n 100 -reps 1 -wlm_loss_blur 0.1 -dgemm_n 2000 | grep dgemm

echo "== Sinkhorn divergence, value and gradient, p = 2, blur 0.1, scaling 0.9"
for dim in 2 5; do
  for n in 1000 10000; do
    reps=3
    [ "$n" -eq 10000 ] && reps=1
    $bench/bench_sinkhorn -n $n -dim $dim -wlm_loss_blur 0.1 -reps $reps -wlm_threads 1
    $bench/bench_sinkhorn -n $n -dim $dim -wlm_loss_blur 0.1 -reps $reps -wlm_threads 2
    $py $here/sinkhorn_torch.py $n $dim 2 0.1 1 float64 $reps || echo "torch n $n dim $dim float64: failed"
    $py $here/sinkhorn_torch.py $n $dim 2 0.1 2 float32 $reps || echo "torch n $n dim $dim float32: failed"
    [ "${WLM_BENCH_QUICK:-0}" = 1 ] && break
  done
done
echo "== Sinkhorn, p = 1, dim 2"
$bench/bench_sinkhorn -n 1000 -dim 2 -wlm_loss_p 1 -wlm_loss_blur 0.1 -reps 3 -wlm_threads 1
$py $here/sinkhorn_torch.py 1000 2 1 0.1 1 float64 3
echo "== Sinkhorn on 2 ranks of 1 thread (clouds split over the ranks)"
mpiexec -n 2 $bench/bench_sinkhorn -n 10000 -dim 2 -wlm_loss_blur 0.1 -reps 1 -ranks_share
if [ "${WLM_BENCH_QUICK:-0}" != 1 ]; then
  echo "== Sinkhorn at N = 100000 (2 threads; PyTorch's tensorized matrices would need 80 GB each)"
  for dim in 2 5; do
    $bench/bench_sinkhorn -n 100000 -dim $dim -wlm_loss_blur 0.1 -reps 1 -wlm_threads 2
  done
fi

echo "== exact W1 (uniform masses)"
for n in 400 2000 5000; do
  reps=3
  [ "$n" -eq 5000 ] && reps=1
  $bench/bench_wasserstein -n $n -dim 2 -p 1 -reps $reps
  $py $here/wasserstein_pot.py $n 2 1 $reps
done
echo "== exact W2, n = 2000"
$bench/bench_wasserstein -n 2000 -dim 2 -p 2 -reps 3
$py $here/wasserstein_pot.py 2000 2 2 3
