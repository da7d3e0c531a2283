#!/usr/bin/python3
"""End-to-end checks of the wlm_mpi driver as a user runs it.

Usage: test_wlm_mpi.py WLM_MPI SOURCE_DIR  (meson passes both).  Each test
runs the real executable on the small ocean vortex data in a temporary
directory: train, then evaluate, forecast and probe from the checkpoint; a
stop signal and the restart; option errors before any work.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

WLM_MPI = None
DATA = None
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
BASE = ["-wlm_protocol", "interpolate", "-wlm_holdout", "1,3,5,7", "-wlm_velocity", "data",
        "-wlm_potential_type", "external", "-wlm_potential_time_input", "-wlm_potential_hidden", "16,16",
        "-wlm_substeps", "2", "-wlm_friction", "0.1", "-wlm_lr", "1e-3", "-wlm_log_every", "10"]


def run(args, ranks=1, timeout=120):
    command = ["mpiexec", "-n", str(ranks), WLM_MPI] if ranks > 1 else [WLM_MPI]
    return subprocess.run(command + ["-wlm_data", DATA] + args, env=ENV, capture_output=True, text=True, timeout=timeout)


def metrics(directory):
    with open(os.path.join(directory, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


class Driver(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_dir = os.path.join(cls.tmp.name, "run")
        cls.trained = run(BASE + ["-wlm_steps", "30", "-wlm_output", cls.run_dir], ranks=2)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_train_outputs(self):
        self.assertEqual(self.trained.returncode, 0, self.trained.stderr)
        for name in ["options.txt", "run.json", "metrics.jsonl", "model.h5", "checkpoint.h5",
                     "predictions_raw.h5", "predictions_ema.h5"]:
            self.assertTrue(os.path.isfile(os.path.join(self.run_dir, name)), name)
        with open(os.path.join(self.run_dir, "run.json")) as f:
            self.assertEqual(json.load(f)["ranks"], 2)
        lines = metrics(self.run_dir)
        evaluation = [m for m in lines if m["kind"] == "eval"][-1]
        self.assertEqual(evaluation["step"], 30)
        self.assertEqual(sorted(evaluation["raw"]["w1"]), ["1", "3", "5", "7"])
        for key in ["raw", "ema", "persistence", "freestream"]:
            self.assertTrue(0 < evaluation[key]["w1_test"] < 10, key)
        self.assertIn("Summary after 30 steps", self.trained.stdout)

    def test_predictions_file(self):
        with h5py.File(os.path.join(self.run_dir, "predictions_raw.h5"), "r") as f:
            snaps = f["snapshots"]
            self.assertEqual(list(snaps["time"][:]), [1.0, 3.0, 5.0, 7.0])
            self.assertEqual(snaps["position"].shape, (4 * 111, 2))
            self.assertTrue(np.all(np.isfinite(snaps["position"][:])))

    def test_evaluate_reproduces_final_eval(self):
        out = os.path.join(self.tmp.name, "eval")
        result = run(BASE + ["-wlm_mode", "evaluate", "-wlm_checkpoint",
                             os.path.join(self.run_dir, "checkpoint.h5"), "-wlm_output", out])
        self.assertEqual(result.returncode, 0, result.stderr)
        trained = [m for m in metrics(self.run_dir) if m["kind"] == "eval"][-1]
        evaluated = [m for m in metrics(out) if m["kind"] == "eval"][-1]
        for key in ["raw", "ema"]:
            for snapshot, value in trained[key]["w1"].items():
                self.assertAlmostEqual(evaluated[key]["w1"][snapshot], value, places=9)

    def test_forecast_file(self):
        path = os.path.join(self.tmp.name, "forecast.h5")
        result = run(BASE + ["-wlm_mode", "forecast", "-wlm_checkpoint", os.path.join(self.run_dir, "checkpoint.h5"),
                             "-wlm_forecast_times", "0.5,1,2.5", "-wlm_forecast_output", path])
        self.assertEqual(result.returncode, 0, result.stderr)
        with h5py.File(path, "r") as f, h5py.File(DATA, "r") as d:
            snaps = f["snapshots"]
            self.assertEqual(list(snaps["time"][:]), [0.0, 0.5, 1.0, 2.5])
            self.assertEqual(snaps["velocity"].shape, (4 * 111, 2))
            start = d["snapshots"]["position"][:111]
            self.assertTrue(np.array_equal(snaps["position"][:111], start))

    def test_probe_file(self):
        path = os.path.join(self.tmp.name, "probe.h5")
        result = run(BASE + ["-wlm_mode", "probe", "-wlm_checkpoint", os.path.join(self.run_dir, "checkpoint.h5"),
                             "-wlm_probe_grid", "12,9", "-wlm_probe_output", path], ranks=2)
        self.assertEqual(result.returncode, 0, result.stderr)
        with h5py.File(path, "r") as f:
            self.assertEqual(f["probe/potential"].shape, (9, 12))
            self.assertEqual(f["probe/acceleration"].shape, (9, 12, 2))
            self.assertTrue(np.all(np.isfinite(f["probe/potential"][:])))

    def test_unknown_option_fails_before_work(self):
        out = os.path.join(self.tmp.name, "typo")
        result = run(BASE + ["-wlm_stesp", "10", "-wlm_output", out], ranks=2)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("-wlm_stesp", result.stdout + result.stderr)
        self.assertFalse(os.path.exists(out))

    def test_existing_run_is_kept(self):
        result = run(BASE + ["-wlm_steps", "5", "-wlm_output", self.run_dir])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("already holds a run", result.stderr)
        self.assertEqual([m for m in metrics(self.run_dir) if m["kind"] == "eval"][-1]["step"], 30)

    def test_help_lists_options(self):
        result = subprocess.run([WLM_MPI, "-help"], env=ENV, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        for option in ["-wlm_protocol", "-wlm_potential_type", "-wlm_loss_blur", "-ts_type", "-wlm_velocity"]:
            self.assertIn(option, result.stdout)

    def test_sigterm_checkpoints_and_restarts(self):
        out = os.path.join(self.tmp.name, "stopped")
        command = [WLM_MPI, "-wlm_data", DATA] + BASE + ["-wlm_steps", "100000", "-wlm_output", out]
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.exists(os.path.join(out, "metrics.jsonl")):
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 0, stderr)
        self.assertIn("Received a stop signal", stdout)
        with h5py.File(os.path.join(out, "checkpoint.h5"), "r") as f:
            stopped_at = int(f.attrs["step"])
        self.assertGreater(stopped_at, 0)
        resumed = run(BASE + ["-wlm_steps", str(stopped_at + 5), "-wlm_output", out, "-wlm_restart"])
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertEqual([m for m in metrics(out) if m["kind"] == "eval"][-1]["step"], stopped_at + 5)


if __name__ == "__main__":
    WLM_MPI, source = sys.argv[1], sys.argv[2]
    DATA = os.path.join(source, "configs", "data", "ocean_vortex_small.h5")
    unittest.main(argv=sys.argv[:1], verbosity=2)
