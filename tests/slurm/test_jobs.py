"""Tests of the batch scripts in jobs/ and of tools/wlm-sweep, with real trainings of wlm_mpi.

Usage: test_jobs.py MODE SOURCE_ROOT WLM_MPI [UNITTEST_ARGS...]   (e.g. -k stop)

MODE slurm: starts munged, slurmctld and slurmd with tools/slurm/start.sh
  (as root, on free ports, state in a temporary directory) and submits the
  job scripts with sbatch.  At the end, also after a failure, it cancels its
  jobs and stops exactly the daemons it started, by PID.  Without the SLURM
  packages it fails and prints the install command.
MODE local: runs the same batch scripts with bash, mpiexec in place of srun
  and SLURM_ARRAY_TASK_ID set by hand.  It checks the scripts' run logic
  (run directories, signal forwarding, resuming) on machines without SLURM.

Every training uses configs/sweeps/ocean-small-short.yaml (200 steps on the
small ocean vortex).  Checks:
  - a training run (sbatch --wait) writes every output into runs/<config>-<job id>;
  - a run sent the stop signal writes a checkpoint and exits 0, and submitting
    the same script again continues it to a model.h5 whose parameters equal,
    bit for bit, those of the uninterrupted run;
  - the sweep configs/sweeps/ocean-small-short.runlist (2 learning rates x 2
    seeds) run as a job array (throttled to 2 tasks) and run by the local
    runner give identical tables;
  - (slurm) sbatch accepts jobs/multinode.sbatch.
"""

import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

MODE, ROOT, WLM_MPI = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
CONFIG = "configs/sweeps/ocean-small-short.yaml"
SWEEP_SPEC = "configs/sweeps/ocean-small-short.json"
RUNLIST = "configs/sweeps/ocean-small-short.runlist"
STEPS = 200
SWEEP_TOOL = os.path.join(ROOT, "tools", "wlm-sweep")
WAIT_SECONDS = 240


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return "(%s missing)" % path


def h5_contents(path):
    """Every dataset and attribute of an HDF5 file, keyed by path (attributes as path@name)."""
    contents = {}
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            contents["@" + name] = value

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                contents[name] = obj[()]
            for key, value in obj.attrs.items():
                contents[name + "@" + key] = value
        f.visititems(visit)
    return contents


def final_records(metrics):
    """The last train and eval records of a metrics.jsonl, without the timing fields."""
    last = {}
    with open(metrics) as f:
        for line in f:
            record = json.loads(line)
            for key in ("elapsed", "sec_per_step"):
                record.pop(key, None)
            last[record["kind"]] = record
    return last


def metrics_steps(metrics):
    try:
        with open(metrics) as f:
            return [json.loads(line)["step"] for line in f if '"kind": "train"' in line]
    except (OSError, ValueError):
        return []


def csv_without_timing(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("elapsed", None)
        row.pop("sec_per_step", None)
    return rows


def free_port_pair():
    """A port p such that p and p + 1 are free on this host (slurmctld and slurmd)."""
    for _ in range(100):
        port = random.randrange(20000, 40000, 2)
        try:
            for p in (port, port + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of TCP ports found for slurmctld and slurmd")


class LocalBackend:
    """Runs the batch scripts with bash; mpiexec starts the ranks."""

    def __init__(self, tmp, env):
        self.tmp, self.env, self.count = tmp, env, 0

    def start(self):
        pass

    def submit(self, script, args, ntasks, env=None):
        run_env = dict(self.env, WLM_LAUNCHER="mpiexec -n %d" % ntasks, **(env or {}))
        self.count += 1
        log = open(os.path.join(self.tmp, "local-%d-%s.out" % (self.count, os.path.basename(script))), "w")
        with log:
            process = subprocess.Popen(["bash", os.path.join(ROOT, script)] + args, cwd=ROOT, env=run_env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        process.log = log.name
        return process

    def job_id(self, job):
        return "local%d" % job.pid  # the script's $$

    def wait(self, job):
        try:
            code = job.wait(WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            job.kill()
            raise AssertionError("job did not finish within %d s; log:\n%s" % (WAIT_SECONDS, read_text(job.log)))
        return code, read_text(job.log)

    def stop_signal(self, job):
        os.kill(job.pid, signal.SIGUSR1)

    def run_sweep(self, runlist, out):
        """Array tasks, two at a time, as SLURM would start them after wlm-sweep submit."""
        os.makedirs(os.path.join(out, "logs"), exist_ok=True)
        shutil.copy(runlist, os.path.join(out, "runlist"))
        count = sum(1 for line in read_text(runlist).splitlines() if line.strip() and not line.lstrip().startswith("#"))
        codes = []
        for first in range(0, count, 2):
            tasks = [self.submit("jobs/sweep.sbatch", [os.path.join(out, "runlist"), out], 1,
                                 {"SLURM_ARRAY_TASK_ID": str(i)}) for i in range(first, min(first + 2, count))]
            codes += [self.wait(t)[0] for t in tasks]
        return max(codes), ""

    def cleanup(self):
        pass


class SlurmBackend:
    """Submits with sbatch to a SLURM started for this test."""

    def __init__(self, tmp, env):
        self.tmp, self.env, self.jobs = tmp, env, []
        self.state = os.path.join(tmp, "slurm")

    def start(self):
        port = free_port_pair()
        started = subprocess.run([os.path.join(ROOT, "tools", "slurm", "start.sh"), self.state, str(port)],
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
        self.env["SLURM_CONF"] = os.path.join(self.state, "slurm.conf")
        if started.returncode != 0:
            raise RuntimeError("tools/slurm/start.sh failed (exit status %d):\n%s%s" % (
                started.returncode, started.stdout, started.stderr))
        print(started.stdout, flush=True)

    def sbatch(self, args, wait=False):
        command = ["sbatch", "--parsable", "--time=10", "--output", os.path.join(self.tmp, "%x-%j.out")]
        command += (["--wait"] if wait else []) + args
        result = subprocess.run(command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=WAIT_SECONDS)
        job = result.stdout.strip().split(";")[0] if result.stdout.strip() else None
        if job:
            self.jobs.append(job)
        return result, job

    def submit(self, script, args, ntasks, env=None):
        result, job = self.sbatch(["-n", str(ntasks), script] + args)
        if result.returncode != 0 or not job:
            raise AssertionError("sbatch %s failed: %s" % (script, result.stderr))
        return job

    def job_id(self, job):
        return job

    def job_fields(self, job):
        shown = subprocess.run(["scontrol", "show", "job", "-o", job], env=self.env, capture_output=True, text=True)
        if shown.returncode != 0:
            return None
        return dict(item.split("=", 1) for item in shown.stdout.split() if "=" in item)

    def wait(self, job):
        deadline = time.time() + WAIT_SECONDS
        log = os.path.join(self.tmp, "wlm-train-%s.out" % job)
        while time.time() < deadline:
            fields = self.job_fields(job)
            if fields is None:
                raise AssertionError("scontrol no longer lists job %s; log:\n%s" % (job, read_text(log)))
            state = fields.get("JobState", "")
            if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "SUSPENDED"):
                code = int(fields.get("ExitCode", "1:0").split(":")[0])
                return (code if state == "COMPLETED" or code else 1), read_text(log)
            time.sleep(0.3)
        raise AssertionError("job %s did not finish within %d s; log:\n%s" % (job, WAIT_SECONDS, read_text(log)))

    def stop_signal(self, job):
        # Like --signal=B:USR1: only the batch shell receives it and must pass it on.
        subprocess.run(["scancel", "--signal=USR1", "--batch", job], env=self.env, check=True)

    def run_sweep(self, runlist, out):
        result = subprocess.run([SWEEP_TOOL, "submit", runlist, "--out", out, "--throttle", "2", "--np", "1", "--wait",
                                 "--sbatch-arg=--time=10"], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=WAIT_SECONDS)
        return result.returncode, result.stdout + result.stderr

    def cleanup(self):
        if self.jobs:
            subprocess.run(["scancel"] + self.jobs, env=self.env, capture_output=True)
        stopped = subprocess.run([os.path.join(ROOT, "tools", "slurm", "stop.sh"), self.state],
                                 capture_output=True, text=True)
        print(stopped.stdout + stopped.stderr, flush=True)


class JobScriptTest(unittest.TestCase):
    backend = None
    tmp = None
    _reference = None

    @classmethod
    def reference(cls):
        """The uninterrupted training run, started once with the default run directory (job-id name)."""
        if cls._reference is None:
            if MODE == "slurm":
                result, job = cls.backend.sbatch(["--job-name", "wlm-train", "-n", "2", "jobs/train.sbatch", CONFIG],
                                                 wait=True)
                code, log = result.returncode, read_text(os.path.join(cls.tmp, "wlm-train-%s.out" % job))
            else:
                job = cls.backend.submit("jobs/train.sbatch", [CONFIG], 2)
                code, log = cls.backend.wait(job)
                job = cls.backend.job_id(job)
            cls._reference = (code, log, os.path.join(cls.tmp, "runs", "ocean-small-short-%s" % job))
        return cls._reference

    def test_train_run(self):
        code, log, directory = self.reference()
        self.assertEqual(code, 0, "training job failed:\n" + log)
        for name in ("model.h5", "checkpoint.h5", "metrics.jsonl", "predictions_raw.h5", "predictions_ema.h5",
                     "options.txt", "run.json", "jobs.txt"):
            self.assertTrue(os.path.isfile(os.path.join(directory, name)), "%s missing from %s" % (name, directory))
        with open(os.path.join(directory, "run.json")) as f:
            self.assertEqual(json.load(f)["ranks"], 2)
        final = final_records(os.path.join(directory, "metrics.jsonl"))
        self.assertEqual(final["eval"]["step"], STEPS)
        self.assertTrue(np.isfinite(final["eval"]["ema"]["w1_test"]))

    def test_stop_and_resume(self):
        directory = os.path.join(self.tmp, "preempted")
        job = self.backend.submit("jobs/train.sbatch", [CONFIG, directory], 2)
        deadline = time.time() + WAIT_SECONDS
        while not metrics_steps(os.path.join(directory, "metrics.jsonl")) and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(metrics_steps(os.path.join(directory, "metrics.jsonl")), "the run logged no step in time")
        self.backend.stop_signal(job)
        code, log = self.backend.wait(job)

        self.assertEqual(code, 0, "a stopped run must exit 0:\n" + log)
        self.assertIn("wlm-job: received a stop signal", log)
        self.assertIn("Received a stop signal: wrote", log)
        self.assertFalse(os.path.exists(os.path.join(directory, "model.h5")),
                         "the run finished before the stop signal arrived; the test needs a longer run")
        with h5py.File(os.path.join(directory, "checkpoint.h5"), "r") as f:
            stopped_at = int(f.attrs["step"])
        self.assertTrue(0 < stopped_at < STEPS, "checkpoint at step %d" % stopped_at)

        code, log = self.backend.wait(self.backend.submit("jobs/train.sbatch", [CONFIG, directory], 2))
        self.assertEqual(code, 0, "the resubmitted run failed:\n" + log)
        self.assertIn("resume", log)
        reference_code, reference_log, reference = self.reference()
        self.assertEqual(reference_code, 0, reference_log)
        expected, resumed = h5_contents(os.path.join(reference, "model.h5")), h5_contents(os.path.join(directory, "model.h5"))
        self.assertEqual(sorted(expected), sorted(resumed))
        for key in expected:
            self.assertTrue(np.array_equal(np.asarray(expected[key]), np.asarray(resumed[key])),
                            "model.h5 %s differs between the resumed and the uninterrupted run" % key)
        self.assertEqual(final_records(os.path.join(reference, "metrics.jsonl")),
                         final_records(os.path.join(directory, "metrics.jsonl")))

    def test_sweep_tables(self):
        expanded = os.path.join(self.tmp, "expanded.runlist")
        subprocess.run([SWEEP_TOOL, "expand", SWEEP_SPEC, "-o", expanded], cwd=ROOT, check=True, capture_output=True)
        strip = lambda path: [l.split() for l in read_text(path).splitlines() if l.strip() and not l.startswith("#")]
        self.assertEqual(strip(expanded), strip(os.path.join(ROOT, RUNLIST)),
                         "%s is out of date; regenerate it with tools/wlm-sweep expand %s -o %s" % (RUNLIST, SWEEP_SPEC, RUNLIST))

        array_out, local_out = os.path.join(self.tmp, "sweep-array"), os.path.join(self.tmp, "sweep-local")
        code, output = self.backend.run_sweep(os.path.join(ROOT, RUNLIST), array_out)
        self.assertEqual(code, 0, "array sweep failed:\n%s\n%s" % (output, "\n".join(
            read_text(os.path.join(array_out, "logs", n)) for n in sorted(os.listdir(os.path.join(array_out, "logs"))))))
        local = subprocess.run([SWEEP_TOOL, "run", RUNLIST, "--out", local_out, "-j", "2"], cwd=ROOT, env=self.env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT_SECONDS)
        self.assertEqual(local.returncode, 0, local.stdout + local.stderr)

        for out in (array_out, local_out):
            collected = subprocess.run([SWEEP_TOOL, "collect", RUNLIST, "--out", out], cwd=ROOT,
                                       capture_output=True, text=True)
            self.assertEqual(collected.returncode, 0, collected.stdout + collected.stderr)
        with open(os.path.join(array_out, "summary.csv")) as f:
            summary = list(csv.DictReader(f))
        self.assertEqual([row["configuration"] for row in summary], ["short-lr1e-3", "short-lr3e-3"])
        for row in summary:
            self.assertEqual((row["runs"], row["finished"]), ("2", "2"))
            self.assertTrue(float(row["w1_test_ema_std"]) > 0, "seeds gave identical results")
        self.assertIn("## Best configuration per metric", read_text(os.path.join(array_out, "summary.md")))
        for name in ("summary.csv", "summary.md"):
            self.assertEqual(read_text(os.path.join(array_out, name)), read_text(os.path.join(local_out, name)),
                             "%s differs between the array and the local runner" % name)
        self.assertEqual(csv_without_timing(os.path.join(array_out, "summary-runs.csv")),
                         csv_without_timing(os.path.join(local_out, "summary-runs.csv")))

    @unittest.skipUnless(MODE == "slurm", "sbatch --test-only needs SLURM")
    def test_multinode_accepted(self):
        result, _ = self.backend.sbatch(["--test-only", "-N", "1", "--ntasks-per-node", "2", "jobs/multinode.sbatch",
                                         CONFIG])
        self.assertEqual(result.returncode, 0, result.stderr)


def main():
    if MODE not in ("slurm", "local"):
        sys.exit("usage: test_jobs.py slurm|local SOURCE_ROOT WLM_MPI")
    tmp = tempfile.mkdtemp(prefix="wlm-jobs-%s-" % MODE)
    env = dict(os.environ, WLM_ROOT=ROOT, WLM_MPI=WLM_MPI, WLM_RUNS_DIR=os.path.join(tmp, "runs"))
    # meson ends a test that times out with SIGTERM: turn it into an exception so the daemons are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    backend, ok = None, False
    try:
        backend = SlurmBackend(tmp, env) if MODE == "slurm" else LocalBackend(tmp, env)
        backend.start()
        JobScriptTest.backend, JobScriptTest.tmp, JobScriptTest.env = backend, tmp, env
        result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[4:], exit=False).result
        ok = result.wasSuccessful()
    finally:
        if backend:
            backend.cleanup()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("outputs kept in %s" % tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
