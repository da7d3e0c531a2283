#!/usr/bin/python3
"""PyTorch float64 versions of the wlm potential models, and a timing benchmark.

The models read one flat parameter vector with the same layout as wlm
(src/potential/mlp.c, meanfield.c, attention.c), so the same numbers give the
same energy.  Forces come from autograd, and the two force-cotangent products
(grad_X (Lambda . F) and grad_theta (Lambda . F)) from a double backward pass.

Run the benchmark with the system interpreter, which has torch 1.13:

    /usr/bin/python3 tools/bench/potential/torch_potential.py [--threads 1] [--repeat 5]

It prints one line per configuration: seconds per force evaluation and per
force plus both products (median of --repeat runs after one warm-up run).
"force" keeps the autograd graph (create_graph=True) as training does;
"force+products" is U, F and the double backward of Lambda . F with respect
to the positions and the parameters.  Set OPENBLAS_NUM_THREADS=1 as well,
since torch.set_num_threads() does not limit the BLAS threads.
tests/potential/fixtures/make_torch_reference.py imports the models from here.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

LN_EPS = 1e-5


def activation(name, z):
    """Return the activation of wlm's dense layers; GELU is the tanh form."""
    if name == "silu":
        return F.silu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "softplus":
        return F.softplus(z, beta=1.0, threshold=50.0)
    if name == "gelu":
        return F.gelu(z, approximate="tanh")
    raise ValueError(f"unknown activation {name}")


class Reader:
    """Hands out consecutive slices of a flat parameter vector."""

    def __init__(self, theta):
        self.theta = theta
        self.offset = 0

    def take(self, *shape):
        count = math.prod(shape)
        piece = self.theta[self.offset:self.offset + count].reshape(*shape)
        self.offset += count
        return piece


def mlp_size(nin, widths):
    size, win = 0, nin
    for w in widths:
        size += (win + 1) * w
        win = w
    return size + win + 1


def mlp(reader, widths, act, a):
    """Apply an MLP with one output to rows a [m, nin]; returns [m]."""
    win = a.shape[1]
    for w in widths:
        W, b = reader.take(win, w), reader.take(w)
        a = activation(act, a @ W + b)
        win = w
    wo, bo = reader.take(win), reader.take(1)
    return a @ wo + bo


def with_time(a, t, time_input):
    if not time_input:
        return a
    return torch.cat([a, torch.full((a.shape[0], 1), t, dtype=a.dtype)], dim=1)


def external_energy(cfg, theta, x, w, t):
    reader = Reader(theta)
    V = mlp(reader, cfg["hidden"], cfg["activation"], with_time(x, t, cfg["time_input"]))
    return (w * V).sum()


def external_size(cfg, dim):
    return mlp_size(dim + (1 if cfg["time_input"] else 0), cfg["hidden"])


def meanfield_energy(cfg, theta, x, w, t):
    """U = sum_i w_i V(x_i) + 1/2 sum_{i != j} w_i w_j c(|r|^2) m(r) over ordered pairs."""
    reader = Reader(theta)
    n, dim = x.shape
    U = torch.zeros((), dtype=x.dtype)
    if cfg["external"]:
        U = U + (w * mlp(reader, cfg["hidden"], cfg["activation"], with_time(x, t, cfg["time_input"]))).sum()
    pair_theta = theta[reader.offset:]
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    off = i != j
    i, j = i[off], j[off]
    r = x[i] - x[j]
    s = (r * r).sum(dim=1)
    if cfg["pair_input"] == "distance2":
        m = mlp(Reader(pair_theta), cfg["pair_hidden"], cfg["pair_activation"], with_time(s[:, None], t, cfg["time_input"]))
    else:
        mp = mlp(Reader(pair_theta), cfg["pair_hidden"], cfg["pair_activation"], with_time(r, t, cfg["time_input"]))
        mm = mlp(Reader(pair_theta), cfg["pair_hidden"], cfg["pair_activation"], with_time(-r, t, cfg["time_input"]))
        m = 0.5 * (mp + mm)
    if cfg["cutoff"] > 0:
        R2 = cfg["cutoff"] ** 2
        c = torch.where(s < R2, torch.clamp(1.0 - s / R2, min=0.0) ** 3, torch.zeros_like(s))
    else:
        c = torch.ones_like(s)
    return U + 0.5 * (w[i] * w[j] * c * m).sum()


def meanfield_size(cfg, dim):
    tin = 1 if cfg["time_input"] else 0
    size = external_size(cfg, dim) if cfg["external"] else 0
    pair_in = (1 if cfg["pair_input"] == "distance2" else dim) + tin
    return size + mlp_size(pair_in, cfg["pair_hidden"])


def attention_energy(cfg, theta, x, w, t):
    """U = sum_i w_i psi_i of the set transformer; scores are shifted by log w_j."""
    D, H, L, Fw, E = cfg["hidden"], cfg["heads"], cfg["layers"], cfg["ffn"], cfg["time_width"]
    n, dim = x.shape
    Dh = D // H
    reader = Reader(theta)
    h = x @ reader.take(dim, D) + reader.take(D)
    if cfg["time_input"]:
        a, c = reader.take(E), reader.take(E)
        u = F.silu(t * a + c)
        h = h + (u @ reader.take(E, D) + reader.take(D))
    logw = torch.log(w)
    for _ in range(L):
        g1, b1n = reader.take(D), reader.take(D)
        Wqkv, bqkv = reader.take(D, 3 * D), reader.take(3 * D)
        Wo, bo = reader.take(D, D), reader.take(D)
        g2, b2n = reader.take(D), reader.take(D)
        W1, b1 = reader.take(D, Fw), reader.take(Fw)
        W2, b2 = reader.take(Fw, D), reader.take(D)
        a1 = F.layer_norm(h, (D,), g1, b1n, LN_EPS)
        qkv = a1 @ Wqkv + bqkv
        q = qkv[:, :D].reshape(n, H, Dh).transpose(0, 1)
        k = qkv[:, D:2 * D].reshape(n, H, Dh).transpose(0, 1)
        v = qkv[:, 2 * D:].reshape(n, H, Dh).transpose(0, 1)
        scores = q @ k.transpose(1, 2) / math.sqrt(Dh) + logw
        o = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(n, D)
        h = h + o @ Wo + bo
        a2 = F.layer_norm(h, (D,), g2, b2n, LN_EPS)
        h = h + F.gelu(a2 @ W1 + b1, approximate="tanh") @ W2 + b2
    wh, bh = reader.take(D), reader.take(1)
    return (w * (h @ wh + bh)).sum()


def attention_size(cfg, dim):
    D, L, Fw, E = cfg["hidden"], cfg["layers"], cfg["ffn"], cfg["time_width"]
    block = 2 * D + 3 * D * D + 3 * D + D * D + D + 2 * D + D * Fw + Fw + Fw * D + D
    time = 2 * E + E * D + D if cfg["time_input"] else 0
    return dim * D + D + time + L * block + D + 1


MODELS = {
    "external": (external_energy, external_size),
    "meanfield": (meanfield_energy, meanfield_size),
    "attention": (attention_energy, attention_size),
}


def forces(energy, cfg, theta, x, w, t):
    """Return U and F = -dU/dx, keeping the graph for a second derivative."""
    x = x.detach().requires_grad_(True)
    U = energy(cfg, theta, x, w, t)
    (grad,) = torch.autograd.grad(U, x, create_graph=True)
    return U, -grad, x


def forces_and_products(energy, cfg, theta, x, w, t, lam):
    """Return U, F, grad_x (lam . F) and grad_theta (lam . F) by double backward."""
    theta = theta.detach().requires_grad_(True)
    U, Fx, xg = forces(energy, cfg, theta, x, w, t)
    gx, gtheta = torch.autograd.grad((lam * Fx).sum(), (xg, theta))
    return U.detach(), Fx.detach(), gx, gtheta


def time_call(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


BENCH_CASES = [
    ("attention", dict(hidden=64, heads=4, layers=4, ffn=512, time_width=16, time_input=False), 1000),
    ("attention", dict(hidden=256, heads=1, layers=4, ffn=64, time_width=16, time_input=False), 400),
    ("external", dict(hidden=[64, 64], activation="silu", time_input=False), 1000),
    ("external", dict(hidden=[64, 64], activation="silu", time_input=False), 100000),
]
# NOTE: meanfield is left out: autograd keeps every pair's activations, about 0.5 GB per
# hidden layer of width 64 at N = 1000 and several times that for the double backward.


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, as one wlm rank)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case after one warm-up run")
    parser.add_argument("--dim", type=int, default=2, help="spatial dimension")
    parser.add_argument("--cases", default="all", help="comma-separated indices into the case list (default all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, float64, {torch.get_num_threads()} thread(s)")
    cases = BENCH_CASES if args.cases == "all" else [BENCH_CASES[int(k)] for k in args.cases.split(",")]
    for kind, cfg, n in cases:
        energy, size = MODELS[kind]
        theta = 0.1 * torch.randn(size(cfg, args.dim), generator=gen, dtype=torch.float64)
        x = torch.randn(n, args.dim, generator=gen, dtype=torch.float64)
        lam = torch.randn(n, args.dim, generator=gen, dtype=torch.float64)
        w = torch.full((n,), 1.0 / n, dtype=torch.float64)
        t_force = time_call(lambda: forces(energy, cfg, theta, x, w, 0.0), args.repeat)
        t_all = time_call(lambda: forces_and_products(energy, cfg, theta, x, w, 0.0, lam), args.repeat)
        label = " ".join(f"{k}={v}" for k, v in cfg.items())
        print(f"{kind:9s} N={n:6d} {label}: force {t_force:.4f} s, force+products {t_all:.4f} s")


if __name__ == "__main__":
    main()
