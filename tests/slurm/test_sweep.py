"""Tests of tools/wlm-sweep that need neither SLURM nor real trainings.

Usage: test_sweep.py SOURCE_ROOT WLM_MPI

The option check runs the real wlm_mpi (a dry run on the short ocean config).
Submission goes to a stand-in sbatch that records its arguments.  The local
runner starts a stand-in wlm_mpi that writes the files of a finished run.
The tables are computed from metrics.jsonl files written here with known
numbers, whose means and sample standard deviations are worked out by hand.
"""

import csv
import json
import math
import os
import shlex
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT, WLM_MPI = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TOOL = os.path.join(ROOT, "tools", "wlm-sweep")
CONFIG = "configs/sweeps/ocean-small-short.yaml"

# Stand-in for wlm_mpi: writes metrics.jsonl and model.h5 into -wlm_output and
# records its arguments; exits 1 when the arguments contain -wlm_seed 13.
FAKE_WLM = """#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "-wlm_output" ] && out=$a; prev=$a; done
mkdir -p "$out"
echo "$@" >> "$out/arguments.txt"
case " $* " in *" -wlm_seed 13 "*) echo "[rank 0] error: injected failure"; exit 1;; esac
echo '{"step": 10, "kind": "eval", "raw": {"w1_test": 0.5}, "ema": {"w1_test": 0.25}}' > "$out/metrics.jsonl"
: > "$out/model.h5"
"""

# Stand-in for sbatch: records its arguments, one per line.
FAKE_SBATCH = """#!/bin/sh
for a in "$@"; do echo "$a"; done > "$(dirname "$0")/sbatch-arguments.txt"
echo 4242
"""


def write(path, text, executable=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if executable:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def read(path):
    with open(path) as f:
        return f.read()


def eval_record(step, raw, ema, persistence=0.5):
    return {"step": step, "kind": "eval", "elapsed": 1.0, "friction": 0.1, "friction_ema": 0.1,
            "raw": {"w1": {"1": raw}, "w2": {"1": raw}, "w1_test": raw, "w1_train": None},
            "ema": {"w1": {"1": ema}, "w2": {"1": ema}, "w1_test": ema, "w1_train": None},
            "persistence": {"w1": {"1": persistence}, "w2": {"1": persistence}, "w1_test": persistence, "w1_train": None},
            "freestream": {"w1": {"1": 0.2}, "w2": {"1": 0.2}, "w1_test": 0.2, "w1_train": None}}


class SweepToolTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wlm-sweep-test-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def sweep(self, *args, env=None):
        return subprocess.run([TOOL] + [str(a) for a in args], cwd=ROOT, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))

    def runlist(self, text):
        path = self.path("test.runlist")
        write(path, text)
        return path

    def reject(self, text, *fragments, dry_run=False):
        """Expect "check" to exit 2 with every fragment in its message."""
        result = self.sweep("check", self.runlist(text), "--wlm-mpi", WLM_MPI, *([] if dry_run else ["--no-dry-run"]))
        self.assertEqual(result.returncode, 2, "expected a rejection:\n" + result.stdout + result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        return result.stderr

    # --- expand -----------------------------------------------------------

    def test_expand_grid_times_seeds(self):
        result = self.sweep("expand", "--config", CONFIG, "--prefix", "g", "--grid", "wlm_lr=1e-3,3e-3",
                            "--grid", "wlm_substeps=5,10", "--option", "wlm_steps=50", "--seeds", "0,1,2")
        self.assertEqual(result.returncode, 0, result.stderr)
        runs = [shlex.split(l) for l in result.stdout.splitlines() if l and not l.startswith("#")]
        self.assertEqual(len(runs), 2 * 2 * 3)
        self.assertEqual(runs[0], ["g-lr1e-3-substeps5-s0", CONFIG, "-wlm_steps", "50", "-wlm_lr", "1e-3",
                                   "-wlm_substeps", "5", "-wlm_seed", "0"])
        self.assertEqual(runs[-1][0], "g-lr3e-3-substeps10-s2")
        self.assertEqual(len({r[0] for r in runs}), len(runs))

    def test_expand_list_with_names_and_configs(self):
        spec = {"prefix": "p", "configs": [CONFIG, "configs/demo.yaml"], "seeds": [7],
                "list": [{"name": "small", "wlm_potential_hidden": [8, 8]}, {"wlm_potential_hidden": [64, 64]}]}
        write(self.path("spec.json"), json.dumps(spec))
        result = self.sweep("expand", self.path("spec.json"), "-o", self.path("out.runlist"))
        self.assertEqual(result.returncode, 0, result.stderr)
        runs = [shlex.split(l) for l in read(self.path("out.runlist")).splitlines() if not l.startswith("#")]
        self.assertEqual([r[0] for r in runs], ["p-ocean-small-short-small-s7", "p-ocean-small-short-potential_hidden64_64-s7",
                                                "p-demo-small-s7", "p-demo-potential_hidden64_64-s7"])
        self.assertEqual(runs[0][2:], ["-wlm_potential_hidden", "8,8", "-wlm_seed", "7"])

    def test_expand_rejects_clashing_names(self):
        result = self.sweep("expand", "--config", CONFIG, "--grid", "wlm_potential_hidden=8", "--list", "x=1",
                            "--list", "x=1")
        self.assertEqual(result.returncode, 2)
        self.assertIn("two runs would be named", result.stderr)

    def test_expand_rejects_unknown_key(self):
        write(self.path("spec.json"), json.dumps({"configs": [CONFIG], "grids": {}}))
        result = self.sweep("expand", self.path("spec.json"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown key(s) grids", result.stderr)

    # --- check ------------------------------------------------------------

    def test_check_accepts_valid_runlist(self):
        result = self.sweep("check", "configs/sweeps/ocean-small-short.runlist", "--wlm-mpi", WLM_MPI)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("4 runs in 2 configurations", result.stdout)

    def test_check_rejects_missing_config(self):
        self.reject("a %s -wlm_seed 0\n\nb configs/no-such.yaml -wlm_seed 1\n" % CONFIG,
                    "line 3: config file configs/no-such.yaml not found")

    def test_check_rejects_duplicate_name(self):
        self.reject("# comment\na %s -wlm_seed 0\nb %s\na %s -wlm_seed 1\n" % (CONFIG, CONFIG, CONFIG),
                    "line 4: duplicate run name 'a' (first used on line 2)")

    def test_check_rejects_unknown_option(self):
        message = self.reject("a %s -wlm_seed 0\nb %s -wlm_lr_typo 3 -wlm_seed 0\n" % (CONFIG, CONFIG),
                              "line 2: wlm_mpi rejects the configuration of run b", "-wlm_lr_typo", dry_run=True)
        self.assertNotIn("line 1", message)

    def test_check_rejects_bad_value(self):
        self.reject("a %s -wlm_protocol sideways\n" % CONFIG, "line 1: wlm_mpi rejects", "sideways", dry_run=True)

    def test_check_rejects_reserved_and_stray_words(self):
        self.reject("a %s -wlm_output x\nb %s 0.1\nc/d %s\ne\n" % (CONFIG, CONFIG, CONFIG),
                    "line 1: option -wlm_output is set by wlm-sweep", "line 2: value '0.1' does not follow an option",
                    "line 3: run name 'c/d' is invalid", "line 4: expected NAME CONFIG")

    def test_negative_value_is_a_value(self):
        result = self.sweep("check", self.runlist("a %s -wlm_forecast_start -1\n" % CONFIG), "--no-dry-run")
        self.assertEqual(result.returncode, 0, result.stderr)

    # --- submit -----------------------------------------------------------

    def fake_sbatch_env(self):
        write(self.path("bin", "sbatch"), FAKE_SBATCH, executable=True)
        return {"PATH": self.path("bin") + os.pathsep + os.environ["PATH"]}

    def test_submit_rejects_bad_runlist_before_sbatch(self):
        runlist = self.runlist("a %s\na %s -wlm_seed 1\n" % (CONFIG, CONFIG))
        result = self.sweep("submit", runlist, "--out", self.path("out"), "--no-dry-run", env=self.fake_sbatch_env())
        self.assertEqual(result.returncode, 2)
        self.assertIn("line 2: duplicate run name 'a'", result.stderr)
        self.assertFalse(os.path.exists(self.path("bin", "sbatch-arguments.txt")), "sbatch ran")
        self.assertFalse(os.path.exists(self.path("out")), "sweep directory created")

    def test_submit_array_of_unfinished_runs(self):
        runlist = self.runlist("".join("r%d %s -wlm_seed %d\n" % (i, CONFIG, i) for i in range(5)))
        write(self.path("out", "r1", "model.h5"), "")
        result = self.sweep("submit", runlist, "--out", self.path("out"), "--throttle", "2", "--np", "3",
                            "--no-dry-run", "--sbatch-arg=--partition=short", env=self.fake_sbatch_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        arguments = read(self.path("bin", "sbatch-arguments.txt")).splitlines()
        self.assertEqual(arguments[arguments.index("--array") + 1], "0,2-4%2")
        self.assertEqual(arguments[arguments.index("--ntasks") + 1], "3")
        self.assertIn("--partition=short", arguments)
        self.assertEqual(arguments[-3:], [os.path.join(ROOT, "jobs", "sweep.sbatch"), self.path("out", "runlist"),
                                          self.path("out")])
        self.assertEqual(read(self.path("out", "runlist")), read(runlist))

    def test_submit_rejects_other_runlist_in_directory(self):
        env = self.fake_sbatch_env()
        self.assertEqual(self.sweep("submit", self.runlist("a %s\n" % CONFIG), "--out", self.path("out"),
                                    "--no-dry-run", env=env).returncode, 0)
        result = self.sweep("submit", self.runlist("b %s\n" % CONFIG), "--out", self.path("out"), "--no-dry-run", env=env)
        self.assertEqual(result.returncode, 2)
        self.assertIn("belongs to a sweep of another runlist", result.stderr)

    # --- exec: the arguments of each state --------------------------------

    def exec_arguments(self, runlist):
        result = self.sweep("exec", runlist, "0", "--out", self.path("out"), "--launcher", "echo", "--wlm-mpi", "wlm_mpi")
        self.assertEqual(result.returncode, 0, result.stderr)
        return read(self.path("out", "logs", "a.log")).splitlines()[-1]

    def test_exec_starts_resumes_and_restarts(self):
        runlist = self.runlist("a %s -wlm_seed 3\n" % CONFIG)
        directory = self.path("out", "a")
        self.assertEqual(self.exec_arguments(runlist),
                         "wlm_mpi -options_file %s -wlm_seed 3 -wlm_output %s" % (CONFIG, directory))
        write(os.path.join(directory, "metrics.jsonl"), "")
        self.assertTrue(self.exec_arguments(runlist).endswith("-wlm_output %s -wlm_output_overwrite true" % directory))
        write(os.path.join(directory, "checkpoint.h5"), "")
        self.assertTrue(self.exec_arguments(runlist).endswith("-wlm_restart %s/checkpoint.h5" % directory))
        write(os.path.join(directory, "model.h5"), "")
        result = self.sweep("exec", runlist, "0", "--out", self.path("out"), "--launcher", "false")
        self.assertEqual(result.returncode, 0)
        self.assertIn("already finished", result.stdout)

    # --- local runner -----------------------------------------------------

    def test_run_skips_finished_and_reports_failures(self):
        write(self.path("bin", "wlm_mpi"), FAKE_WLM, executable=True)
        runlist = self.runlist("".join("r%d %s -wlm_seed %d\n" % (i, CONFIG, i) for i in (0, 1, 2, 13)))
        write(self.path("out", "r1", "model.h5"), "")
        result = self.sweep("run", runlist, "--out", self.path("out"), "-j", "2", "--launcher", "env",
                            "--wlm-mpi", self.path("bin", "wlm_mpi"), "--no-dry-run")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("FAILED r13", result.stdout)
        self.assertIn("not finished: r13", result.stdout)
        for name in ("r0", "r2"):
            self.assertTrue(os.path.isfile(self.path("out", name, "model.h5")))
        self.assertFalse(os.path.exists(self.path("out", "r1", "arguments.txt")), "a finished run ran again")
        states = self.sweep("check", runlist, "--out", self.path("out"), "--no-dry-run").stdout
        self.assertRegex(states, r"r13\s+failed")
        self.assertRegex(states, r"r0\s+done")

    # --- collect ----------------------------------------------------------

    def test_collect_mean_std_best_and_unfinished(self):
        lines = ["a-s0 {c} -wlm_lr 1 -wlm_seed 0", "a-s1 {c} -wlm_lr 1 -wlm_seed 1",
                 "b-s0 {c} -wlm_lr 2 -wlm_seed 0", "b-s1 {c} -wlm_lr 2 -wlm_seed 1",
                 "c-s0 {c} -wlm_lr 3 -wlm_seed 0", "c-s1 {c} -wlm_lr 3 -wlm_seed 1", "c-s2 {c} -wlm_lr 3 -wlm_seed 2"]
        runlist = self.runlist("\n".join(l.format(c=CONFIG) for l in lines) + "\n")
        # raw W1: a = 0.1, 0.3 (mean 0.2, std sqrt(0.02)); b = 0.15, 0.15 (mean 0.15, std 0).
        # ema W1: a = 0.05, 0.07 (mean 0.06); b = 0.2, 0.4 (mean 0.3).
        # c: one finished seed with the lowest numbers (0.01), one stopped, one failed.
        finished = {"a-s0": (0.1, 0.05), "a-s1": (0.3, 0.07), "b-s0": (0.15, 0.2), "b-s1": (0.15, 0.4), "c-s0": (0.01, 0.01)}
        for name, (raw, ema) in finished.items():
            write(self.path("out", name, "metrics.jsonl"),
                  json.dumps({"step": 10, "kind": "train", "loss": raw * 2, "sec_per_step": 0.1}) + "\n" +
                  json.dumps(eval_record(0, 9, 9)) + "\n" + json.dumps(eval_record(10, raw, ema)) + "\n")
            write(self.path("out", name, "model.h5"), "")
        write(self.path("out", "c-s1", "metrics.jsonl"), json.dumps({"step": 5, "kind": "train", "loss": 1}) + "\n")
        write(self.path("out", "c-s1", "checkpoint.h5"), "")
        write(self.path("out", "logs", "c-s2.log"), "== wlm-sweep start\n[rank 0] error: Cannot open file\n")

        result = self.sweep("collect", runlist, "--out", self.path("out"))
        self.assertEqual(result.returncode, 1, "unfinished runs must give exit status 1")
        self.assertIn("not finished: c-s1 (stopped", result.stderr)
        self.assertIn("not finished: c-s2 (failed", result.stderr)

        with open(self.path("out", "summary.csv")) as f:
            summary = {row["configuration"]: row for row in csv.DictReader(f)}
        self.assertEqual(list(summary), ["a", "b", "c"])
        self.assertAlmostEqual(float(summary["a"]["w1_test_raw_mean"]), 0.2, places=15)
        self.assertAlmostEqual(float(summary["a"]["w1_test_raw_std"]), math.sqrt(0.02), places=15)
        self.assertEqual(float(summary["b"]["w1_test_raw_std"]), 0.0)
        self.assertAlmostEqual(float(summary["b"]["w1_test_ema_mean"]), 0.3, places=15)
        self.assertAlmostEqual(float(summary["a"]["loss_mean"]), 0.4, places=15)
        self.assertEqual((summary["c"]["runs"], summary["c"]["finished"]), ("3", "1"))
        self.assertEqual(summary["c"]["w1_test_raw_std"], "")

        markdown = read(self.path("out", "summary.md"))
        self.assertIn("| a | 2/2 | 0.2 ± 0.14 | 0.06 ± 0.014 |", markdown)
        # c has lower numbers but unfinished seeds, so it is never the best.
        self.assertIn("| W1 test (raw) | b | 0.15 ± 0 |", markdown)
        self.assertIn("| W1 test (ema) | a | 0.06 ± 0.014 |", markdown)
        self.assertIn("- c-s1: stopped", markdown)
        self.assertIn("- c-s2: failed", markdown)

        with open(self.path("out", "summary-runs.csv")) as f:
            runs = {row["name"]: row for row in csv.DictReader(f)}
        self.assertEqual(runs["a-s1"]["w1_test_raw"], "0.3")
        self.assertEqual(runs["a-s1"]["step"], "10")
        self.assertEqual(runs["c-s1"]["state"], "stopped")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
