#!/usr/bin/python3
"""Time a GeomLoss-style tensorized Sinkhorn divergence (value and gradient) in PyTorch on the CPU.

Usage: /usr/bin/python3 tools/bench/loss/sinkhorn_torch.py N DIM P BLUR THREADS DTYPE [REPS]
  DTYPE is float64 or float32.  Clouds: x ~ N(0, I), y ~ N(0.5, I), N particles
  each, the same numbers as bench_sinkhorn draws (see wlmrandom.py).

This is the counterpart of bench_sinkhorn for docs/benchmarks.md, written for
this project in the style of GeomLoss's "tensorized" backend: full N x N cost
matrices, log-sum-exp softmins, the same annealing as wlm (scaling 0.9, from
the bounding-box diagonal to the blur, averaged symmetric updates, one last
update with autograd on), debiasing with both self terms, and the gradient by
autograd through the last update only.  It prints the median and fastest time
of REPS calls and the peak resident memory of the process (getrusage), with
the memory after the imports for reference.
"""
import resource
import sys
import time

import numpy as np
import torch

from wlmrandom import benchmark_clouds


def cost(x, y, p):
    """|x - y|^p / p, [len(x), len(y)], from x^2 - 2 x.y + y^2 as GeomLoss's tensorized backend does."""
    d2 = (x * x).sum(-1)[:, None] - 2 * x @ y.T + (y * y).sum(-1)[None, :]
    d2 = d2.clamp_min(0)
    return d2 / 2 if p == 2 else d2.sqrt()


def softmin(eps, C, h):
    return -eps * (h[None, :] - C / eps).logsumexp(dim=1)


def sinkhorn_divergence(x, a, y, b, p, blur, scaling=0.9):
    la, lb = a.log(), b.log()
    # gradients flow through the first argument of the costs only
    Cxy, Cyx = cost(x, y.detach(), p), cost(y, x.detach(), p)
    Cxx, Cyy = cost(x, x.detach(), p), cost(y, y.detach(), p)
    both = torch.cat([x.detach(), y])
    diameter = (both.max(0)[0] - both.min(0)[0]).norm().item()
    eps_list = [diameter**p] + [np.exp(e) for e in np.arange(p * np.log(diameter), p * np.log(blur), p * np.log(scaling))] + [blur**p]
    with torch.no_grad():
        eps = eps_list[0]
        f, g = softmin(eps, Cxy, lb), softmin(eps, Cyx, la)
        fa, gb = softmin(eps, Cxx, la), softmin(eps, Cyy, lb)
        for eps in eps_list:
            fn, gn = softmin(eps, Cxy, lb + g / eps), softmin(eps, Cyx, la + f / eps)
            fan, gbn = softmin(eps, Cxx, la + fa / eps), softmin(eps, Cyy, lb + gb / eps)
            f, g, fa, gb = 0.5 * (f + fn), 0.5 * (g + gn), 0.5 * (fa + fan), 0.5 * (gb + gbn)
    eps = eps_list[-1]
    f, g = softmin(eps, Cxy, (lb + g / eps).detach()), softmin(eps, Cyx, (la + f / eps).detach())
    fa, gb = softmin(eps, Cxx, (la + fa / eps).detach()), softmin(eps, Cyy, (lb + gb / eps).detach())
    return (a * (f - fa)).sum() + (b * (g - gb)).sum(), len(eps_list) + 2


def main():
    n, dim, p, blur, threads, dtype = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    reps = int(sys.argv[7]) if len(sys.argv) > 7 else 3
    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    xs, ys = benchmark_clouds(n, n, dim)
    x = torch.tensor(xs, dtype=dt, requires_grad=True)
    y = torch.tensor(ys, dtype=dt)
    a = torch.full((n,), 1.0 / n, dtype=dt)
    b = torch.full((n,), 1.0 / n, dtype=dt)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        value, steps = sinkhorn_divergence(x, a, y, b, p, blur)
        (grad,) = torch.autograd.grad(value, [x])
        times.append(time.perf_counter() - t0)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch n {n} dim {dim} p {p} blur {blur} threads {threads} {dtype} steps {steps} value {value.item():.10g} "
          f"median {times[len(times) // 2]:.4f} s fastest {times[0]:.4f} s maxrss {rss:.1f} MB (after imports {rss_imports:.1f} MB)")


if __name__ == "__main__":
    main()
