"""Compares wlm_generate's boids with an independent numpy implementation of one step.

Runs wlm_generate on 2 ranks (a small box, so that the boundary term acts),
reads the file, and recomputes every snapshot k+1 from snapshot k with the
update rule: with O_i and I_i the other particles closer than 1 and 0.3,
  a_i = 0.005 mean_O (x_j - x_i) - 0.1 sum_I (x_j - x_i) + 0.3 mean_O (v_j - v_i)
        - 0.5 sign(x_ik) where |x_ik| > L,
  v_i <- normalize(v_i + dt a_i),  x_i <- x_i + dt v_i.
Positions and velocities must agree to 1e-12.

Usage: check_boids.py WLM_GENERATE MPIEXEC TOOLS_DIR
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

WLM_GENERATE, MPIEXEC, TOOLS = sys.argv[1:4]
sys.path.insert(0, TOOLS)
import wlmsnapshots  # noqa: E402

DT, BOX = 0.5, 1.5


def step(x, v):
    diff = x[None, :, :] - x[:, None, :]          # diff[i, j] = x_j - x_i
    r2 = (diff ** 2).sum(axis=2)
    np.fill_diagonal(r2, np.inf)
    outer, inner = r2 < 1.0, r2 < 0.3 ** 2
    count = outer.sum(axis=1)[:, None]
    cohesion = (diff * outer[:, :, None]).sum(axis=1)
    alignment = ((v[None, :, :] - v[:, None, :]) * outer[:, :, None]).sum(axis=1)
    separation = (diff * inner[:, :, None]).sum(axis=1)
    a = -0.1 * separation + np.where(count > 0, (0.005 * cohesion + 0.3 * alignment) / np.maximum(count, 1), 0.0)
    a -= 0.5 * np.sign(x) * (np.abs(x) > BOX)
    w = v + DT * a
    v_new = w / np.linalg.norm(w, axis=1)[:, None]
    return x + DT * v_new, v_new


def main():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    with tempfile.TemporaryDirectory(prefix="wlm-boids-test-") as tmp:
        output = os.path.join(tmp, "boids.h5")
        subprocess.run([MPIEXEC, "-n", "2", WLM_GENERATE, "-wlm_generate_type", "boids", "-wlm_generate_n", "300", "-wlm_generate_snapshots", "6",
                        "-wlm_generate_dt", str(DT), "-wlm_generate_seed", "5", "-wlm_generate_boids_boundary", str(BOX),
                        "-wlm_generate_output", output, "-wlm_generate_view", "0"], check=True, env=env, timeout=60)
        snap = wlmsnapshots.read(output)
    active = 0
    for k in range(len(snap.times) - 1):
        x, v = snap.positions[k], snap.velocities[k]
        active += int((np.abs(x) > BOX).sum())
        x_next, v_next = step(x, v)
        dx = np.abs(x_next - snap.positions[k + 1]).max()
        dv = np.abs(v_next - snap.velocities[k + 1]).max()
        print("step %d: max |dx| = %.3g, max |dv| = %.3g" % (k, dx, dv))
        if dx > 1e-12 or dv > 1e-12:
            print("FAIL: step %d differs from the numpy reference" % k)
            return 1
    if active == 0:
        print("FAIL: the boundary term never acted; the check does not cover it")
        return 1
    print("boids agree with the numpy reference (%d boundary events)" % active)
    return 0


if __name__ == "__main__":
    sys.exit(main())
