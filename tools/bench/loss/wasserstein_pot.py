#!/usr/bin/python3
"""Time POT's exact W1 or W2 (ot.dist + ot.emd2) on the clouds of bench_wasserstein.

Usage: /usr/bin/python3 tools/bench/loss/wasserstein_pot.py N DIM P [REPS]

Clouds: x ~ N(0, I), y ~ N(0.5, I), N particles each, the same numbers as
bench_wasserstein draws (see wlmrandom.py); uniform masses.  POT needs the
dense N x N cost matrix, so the time of ot.dist is reported beside the time
of the network simplex itself.  ot.emd2 runs with numItermax=10**8 (its
default of 10**5 stops before the optimum at these sizes) and the script
checks that it reached the optimum.  Prints median and fastest times and the
peak resident memory of the process (getrusage).
"""
import resource
import sys
import time

import numpy as np
import ot

from wlmrandom import benchmark_clouds


def main():
    n, dim, p = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    x, y = benchmark_clouds(n, n, dim)
    a = np.full(n, 1.0 / n)
    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dist_times, emd_times = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        C = ot.dist(x, y, metric="euclidean" if p == 1 else "sqeuclidean")
        t1 = time.perf_counter()
        value, log = ot.emd2(a, a, C, numItermax=10**8, log=True)
        t2 = time.perf_counter()
        assert log["warning"] is None, log["warning"]
        dist_times.append(t1 - t0)
        emd_times.append(t2 - t1)
        del C
    total = sorted(d + e for d, e in zip(dist_times, emd_times))
    value = value if p == 1 else np.sqrt(value)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"POT W{p} n {n} dim {dim} value {value:.15g} median {total[len(total) // 2]:.4f} s fastest {total[0]:.4f} s "
          f"(ot.dist median {sorted(dist_times)[reps // 2]:.4f} s, ot.emd2 median {sorted(emd_times)[reps // 2]:.4f} s) "
          f"maxrss {rss:.1f} MB (after imports {rss_imports:.1f} MB)")


if __name__ == "__main__":
    main()
