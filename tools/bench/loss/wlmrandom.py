"""The normal deviates of wlm's WLMRandom streams (src/sys/random.c) in Python.

The benchmark scripts draw their clouds with it so that they time the same
data as bench_sinkhorn and bench_wasserstein: xoshiro256** seeded through
splitmix64 from (seed, stream), uniforms from the top 53 bits, Box-Muller
normals with the second value of each pair kept for the next call.
"""
import math

import numpy as np

MASK = (1 << 64) - 1


def mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Stream:
    def __init__(self, seed, stream):
        z = mix64(seed) ^ mix64((stream + 0x632BE59BD9B4E019) & MASK)
        self.s = []
        for _ in range(4):
            z = mix64(z)
            self.s.append(z)
        self.spare = None

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return ((self.next() >> 11) + 0.5) * 2.0**-53

    def normal(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        u1, u2 = self.uniform(), self.uniform()
        radius = math.sqrt(-2.0 * math.log(u1))
        self.spare = radius * math.sin(2.0 * math.pi * u2)
        return radius * math.cos(2.0 * math.pi * u2)


def benchmark_clouds(n, m, dim):
    """x ~ N(0, I) [n][dim] and y ~ N(0.5, I) [m][dim], drawn as the C benchmarks draw them (seed 2026, stream 0)."""
    r = Stream(2026, 0)
    x = np.array([r.normal() for _ in range(n * dim)]).reshape(n, dim)
    y = np.array([r.normal() + 0.5 for _ in range(m * dim)]).reshape(m, dim)
    return x, y
