#!/usr/bin/python3
"""Failure behaviour of the wlm_mpi driver: no hang, intact checkpoints, safe outputs.

Usage: test_reliability.py WLM_MPI SOURCE_DIR  (meson passes both).  Each test
runs the real executable on the small ocean vortex data.  Failures on one
rank are injected through WLM_TEST_FAIL (see src/sys/faultinject.c); the
restart, SIGTERM and existing-run cases are in test_wlm_mpi.py.
"""
import hashlib
import os
import shutil
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
ENV.pop("WLM_TEST_FAIL", None)
BASE = ["-wlm_protocol", "interpolate", "-wlm_holdout", "1,3,5,7", "-wlm_velocity", "data",
        "-wlm_potential_type", "external", "-wlm_potential_time_input", "-wlm_potential_hidden", "16,16",
        "-wlm_substeps", "2", "-wlm_friction", "0.1", "-wlm_lr", "1e-3", "-wlm_log_every", "10"]
# An error on one rank must end every rank well within this; a hang would reach the timeout instead.
FAIL_FAST_SECONDS = 30


def run(args, ranks=1, data=None, fail=None, timeout=120, launcher=()):
    command = ["mpiexec", "-n", str(ranks)] + list(launcher) + [WLM_MPI] if ranks > 1 or launcher else [WLM_MPI]
    env = dict(ENV, WLM_TEST_FAIL=fail) if fail else ENV
    return subprocess.run(command + ["-wlm_data", data or DATA] + BASE + args, env=env, capture_output=True,
                          text=True, timeout=timeout)


def checkpoint_state(path):
    """Return the step and the SHA-256 of the restored state, computed as src/train/integrity.c documents."""
    with h5py.File(path, "r") as f:
        digest = hashlib.sha256(np.array([f.attrs["step"], f.attrs["adam_t"]], dtype="<i8").tobytes())
        for name in ["params", "m", "v", "ema"]:
            digest.update(f["optimizer"][name][:].astype("<f8").tobytes())
        return int(f.attrs["step"]), digest.hexdigest(), f.attrs["content_sha256"]


class FailOnOneRank(unittest.TestCase):
    """An error raised on rank 1 alone ends the whole job quickly, with the message and the rank."""

    def check_injected(self, point, ranks):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.time()
            result = run(["-wlm_steps", "6", "-wlm_eval_every", "3", "-wlm_checkpoint_every", "2",
                          "-wlm_output", os.path.join(tmp, "run")], ranks=ranks, fail=point + ":1",
                         timeout=FAIL_FAST_SECONDS)
            elapsed = time.time() - start
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('[rank 1] error: Injected test failure at point "%s"' % point, result.stderr)
        self.assertLess(elapsed, FAIL_FAST_SECONDS)

    def test_load_two_ranks(self):
        self.check_injected("load", 2)

    def test_load_three_ranks(self):
        self.check_injected("load", 3)

    def test_first_step_two_ranks(self):
        self.check_injected("step", 2)

    def test_first_step_three_ranks(self):
        self.check_injected("step", 3)

    def test_evaluation_two_ranks(self):
        self.check_injected("eval", 2)

    def test_evaluation_three_ranks(self):
        self.check_injected("eval", 3)

    def test_checkpoint_two_ranks(self):
        self.check_injected("checkpoint", 2)

    def test_checkpoint_three_ranks(self):
        self.check_injected("checkpoint", 3)

    def test_collective_check_on_one_rank(self):
        # a check on PETSC_COMM_WORLD that fails on rank 1 only: rank 0 cannot print it, so rank 1 must
        self.check_injected("step-collective", 3)


class Divergence(unittest.TestCase):
    """Non-finite losses and a runaway friction stop the run at that step and keep the last checkpoint."""

    def test_nan_loss_keeps_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            # rank 1's loss becomes NaN at its fourth step; checkpoints are written after steps 2 and 4
            result = run(["-wlm_steps", "10", "-wlm_checkpoint_every", "2", "-wlm_output", out], ranks=2,
                         fail="nan:1:3")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("Training diverged at step 4 (counting from 1): loss nan", result.stderr)
            self.assertIn("-wlm_lr", result.stderr)
            step, computed, recorded = checkpoint_state(os.path.join(out, "checkpoint.h5"))
            self.assertEqual(step, 2)
            self.assertEqual(computed, recorded)
            self.assertFalse(os.path.exists(os.path.join(out, "checkpoint.h5.tmp")))

    def test_runaway_friction_stops(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            result = run(["-wlm_steps", "50", "-wlm_checkpoint_every", "1", "-wlm_lr_friction", "0.5",
                          "-wlm_friction_max", "0.2", "-wlm_output", out])
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("the learned friction is", result.stderr)
            self.assertIn("above -wlm_friction_max 0.2", result.stderr)
            self.assertIn("-wlm_lr_friction", result.stderr)
            with h5py.File(os.path.join(out, "checkpoint.h5"), "r") as f:
                self.assertLessEqual(np.exp(f["optimizer"]["params"][-1]), 0.2)

    def test_invalid_guard_options_rejected(self):
        # PETSc prints reals with %g as "0." and "-1.", so the option and the reason are checked apart
        for option, value, fragment in [("-wlm_friction_max", "0", "is invalid; use a positive friction"),
                                         ("-wlm_output_reserve", "-1", "is negative; give the free space")]:
            with self.subTest(option=option), tempfile.TemporaryDirectory() as tmp:
                result = run(["-wlm_steps", "2", option, value, "-wlm_output", os.path.join(tmp, "run")])
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("error: %s %s" % (option, value), result.stderr)
                self.assertIn(fragment, result.stderr)


class CheckpointIdentity(unittest.TestCase):
    """Checkpoints record their content, data file and model options, and a restart verifies them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.run_dir = os.path.join(cls.tmp.name, "run")
        cls.trained = run(["-wlm_steps", "4", "-wlm_output", cls.run_dir])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy_run(self, name):
        target = os.path.join(self.tmp.name, name)
        shutil.copytree(self.run_dir, target)
        return target

    def test_records_match_independent_hashes(self):
        self.assertEqual(self.trained.returncode, 0, self.trained.stderr)
        path = os.path.join(self.run_dir, "checkpoint.h5")
        step, computed, recorded = checkpoint_state(path)
        self.assertEqual(step, 4)
        self.assertEqual(computed, recorded)
        with open(DATA, "rb") as f:
            data = f.read()
        with h5py.File(path, "r") as f:
            self.assertEqual(f.attrs["data_sha256"], hashlib.sha256(data).hexdigest())
            self.assertEqual(f.attrs["data_size"], len(data))
            self.assertIn("hidden widths 16,16, activation silu\n", f.attrs["model"])
            self.assertIn("friction learned, variant exact\n", f.attrs["model"])

    def test_damaged_checkpoint_rejected_even_forced(self):
        out = self.copy_run("damaged")
        with h5py.File(os.path.join(out, "checkpoint.h5"), "r+") as f:
            f["optimizer"]["params"][0] += 1e-12
        for extra in [[], ["-wlm_restart_force"]]:
            result = run(["-wlm_steps", "6", "-wlm_output", out, "-wlm_restart"] + extra)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("is damaged", result.stderr)

    def test_changed_data_rejected_unless_forced(self):
        out = self.copy_run("otherdata")
        data = os.path.join(self.tmp.name, "changed.h5")
        shutil.copy(DATA, data)
        with h5py.File(data, "r+") as f:
            f["snapshots"]["position"][0, 0] += 0.01
        result = run(["-wlm_steps", "6", "-wlm_output", out, "-wlm_restart"], data=data)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("was trained on", result.stderr)
        self.assertIn("-wlm_restart_force", result.stderr)
        forced = run(["-wlm_steps", "6", "-wlm_output", out, "-wlm_restart", "-wlm_restart_force"], data=data)
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertEqual(checkpoint_state(os.path.join(out, "checkpoint.h5"))[0], 6)

    def test_default_given_explicitly_accepted(self):
        # the original run left -wlm_potential_activation at its default; naming the default keeps the model
        out = self.copy_run("explicitdefault")
        result = run(["-wlm_potential_activation", "silu", "-wlm_steps", "5", "-wlm_output", out, "-wlm_restart"])
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_changed_model_option_rejected_unless_forced(self):
        out = self.copy_run("otheroptions")
        changed = ["-wlm_potential_activation", "tanh", "-wlm_steps", "6", "-wlm_output", out, "-wlm_restart"]
        result = run(changed)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("was written by a different model", result.stderr)
        self.assertIn("activation silu", result.stderr)
        self.assertIn("activation tanh", result.stderr)
        forced = run(changed + ["-wlm_restart_force"])
        self.assertEqual(forced.returncode, 0, forced.stderr)
        self.assertIn("Warning: -wlm_restart_force accepts", forced.stdout)

    def test_checkpoint_without_records_loads_with_warning(self):
        out = self.copy_run("old")
        with h5py.File(os.path.join(out, "checkpoint.h5"), "r+") as f:
            for name in ["content_sha256", "data_size", "data_sha256", "model"]:
                del f.attrs[name]
        result = run(["-wlm_steps", "5", "-wlm_output", out, "-wlm_restart"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("has no checksum", result.stdout)

    def test_evaluate_on_other_data_notes_it(self):
        data = os.path.join(self.tmp.name, "evaldata.h5")
        shutil.copy(DATA, data)
        with h5py.File(data, "r+") as f:
            f["snapshots"]["position"][0, 0] += 0.01
        result = run(["-wlm_mode", "evaluate", "-wlm_checkpoint", os.path.join(self.run_dir, "checkpoint.h5"),
                      "-wlm_output", os.path.join(self.tmp.name, "eval")], data=data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("was trained on other data", result.stdout)


class OutputSafety(unittest.TestCase):
    """The output directory is checked before work, and a failed write keeps the previous checkpoint."""

    def test_output_under_a_file_rejected(self):
        with tempfile.TemporaryDirectory() as tmp:
            blocker = os.path.join(tmp, "file")
            open(blocker, "w").close()
            result = run(["-wlm_steps", "2", "-wlm_output", os.path.join(blocker, "run")])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Cannot use output directory", result.stderr)
        self.assertIn("Not a directory", result.stderr)

    def test_insufficient_space_rejected_before_work(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            # a reserve of 2^40 MiB is more than any file system here has free
            result = run(["-wlm_steps", "2", "-wlm_output_reserve", str(2 ** 40), "-wlm_output", out], ranks=2)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("MiB free but this run needs about", result.stderr)
            self.assertFalse(os.path.exists(os.path.join(out, "metrics.jsonl")))

    def test_overwrite_replaces_previous_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            self.assertEqual(run(["-wlm_steps", "3", "-wlm_output", out]).returncode, 0)
            result = run(["-wlm_steps", "2", "-wlm_output", out, "-wlm_output_overwrite"])
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(checkpoint_state(os.path.join(out, "checkpoint.h5"))[0], 2)

    def test_file_size_limit_keeps_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            self.assertEqual(run(["-wlm_steps", "2", "-wlm_output", out]).returncode, 0)
            path = os.path.join(out, "checkpoint.h5")
            with open(path, "rb") as f:
                before = f.read()
            limit = 16384  # bytes: above options.txt and metrics.jsonl, below a checkpoint of this model (about 24 KB)
            self.assertGreater(len(before), limit)
            # The limit applies to wlm_mpi only, because Open MPI's shared-memory files would exceed it too.
            # The launched process starts with SIGXFSZ at its default action, so wlm_mpi must ignore it itself.
            result = run(["-wlm_steps", "6", "-wlm_checkpoint_every", "1", "-wlm_output", out, "-wlm_restart"],
                         ranks=1, launcher=["prlimit", "--fsize=%d" % limit])
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("Could not write checkpoint", result.stderr)
            self.assertIn("is unchanged", result.stderr)
            self.assertIn("File too large", result.stderr)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), before)
            self.assertFalse(os.path.exists(path + ".tmp"))


if __name__ == "__main__":
    WLM_MPI, source = sys.argv[1], sys.argv[2]
    DATA = os.path.join(source, "configs", "data", "ocean_vortex_small.h5")
    unittest.main(argv=sys.argv[:1], verbosity=2)
