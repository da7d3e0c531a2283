#!/usr/bin/python3
"""Accuracy regressions on the two ocean vortex experiments.

Usage: test_ocean.py WLM_MPI SOURCE_DIR  (meson passes both).

Each case trains with the project's config for the experiment under
`mpiexec -n 2`, with a fixed seed and a short budget, and reads the final
evaluation from metrics.jsonl.  The bounds come from the spread over seeds
at the same budget (docs/results.md, "Regression bounds"):

- small vortex, interpolation, the whole config (1000 steps): mean held-out
  W1 of the averaged weights 0.0453 +- 0.0010 over seeds 0-4, largest 0.0468.
  The bound 0.050 is about five standard deviations above the mean, so a
  failure means a real loss of accuracy, not an unlucky seed.
- big vortex, forecast of snapshot 10 from snapshot 0, the config cut to 500
  steps at a constant learning rate: W1 of the current weights 0.221, 0.233
  and 0.285 for seeds 0-2 (mean 0.246, standard deviation 0.034).  The bound
  0.40 is about 4.5 standard deviations above the mean and still well below
  the 1.50 of copying snapshot 0.

The persistence baseline does not depend on training.  It is checked against
exact W1 values between the observed snapshots, computed independently with
scipy's linear_sum_assignment.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

WLM_MPI = None
SOURCE = None
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

SMALL_BOUND = 0.050
BIG_BOUND = 0.40
# Exact W1 of copying the previous snapshot (small vortex, held-out 1, 3, 5, 7) and of copying
# snapshot 0 to snapshot 10 (big vortex).  Computed with scipy.optimize.linear_sum_assignment
# on the Euclidean cost between the snapshots of the converted data files.
SMALL_PERSISTENCE = {"1": 0.4149, "3": 0.4367, "5": 0.5987, "7": 0.6190}
BIG_PERSISTENCE = 1.5007


def train(config, extra):
    """Runs wlm_mpi on two ranks with a config and returns the last evaluation record."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        command = ["mpiexec", "-n", "2", WLM_MPI, "-options_file", os.path.join(SOURCE, config),
                   "-wlm_output", out, "-wlm_log_every", "0", "-options_left"] + extra
        result = subprocess.run(command, cwd=SOURCE, env=ENV, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise AssertionError("wlm_mpi failed:\n" + result.stdout[-3000:] + result.stderr[-3000:])
        with open(os.path.join(out, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
    evaluations = [r for r in records if r.get("kind") == "eval"]
    if not evaluations:
        raise AssertionError("metrics.jsonl contains no evaluation record")
    return evaluations[-1]


class Ocean(unittest.TestCase):
    def test_small_vortex_interpolation(self):
        last = train("configs/ocean-small.yaml", ["-wlm_eval_every", "0", "-wlm_seed", "0"])
        for snapshot, value in SMALL_PERSISTENCE.items():
            self.assertAlmostEqual(last["persistence"]["w1"][snapshot], value, places=3)
        self.assertLess(last["ema"]["w1_test"], SMALL_BOUND)
        self.assertLess(last["ema"]["w1_test"], 0.25 * last["freestream"]["w1_test"])

    def test_big_vortex_forecast(self):
        last = train("configs/ocean-big.yaml", ["-wlm_steps", "500", "-wlm_lr_schedule", "constant", "-wlm_eval_every", "0", "-wlm_seed", "0"])
        self.assertAlmostEqual(last["persistence"]["w1"]["10"], BIG_PERSISTENCE, places=3)
        self.assertLess(last["raw"]["w1"]["10"], BIG_BOUND)


if __name__ == "__main__":
    # both paths are relative to the build directory, and the runs start in the source directory
    WLM_MPI, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
