"""Read the outputs of wlm_mpi for plots and tables, with numpy, h5py and the standard library.

A training run (wlm_mpi -wlm_output DIR) writes into DIR:

  options.txt        one option per line, "-name value"
  run.json           version, git revision, rank count, data file, protocol, start time
  metrics.jsonl      one JSON object per line: kind "train" (step, elapsed, loss,
                     grad_norm, friction, lr, sec_per_step) or kind "eval" (step,
                     friction, friction_ema and the objects raw, ema, persistence,
                     freestream and, for forecasts, persistence_last, each with maps
                     w1 and w2 from snapshot index to distance and the means
                     w1_test and w1_train)
  model.h5           final potential, groups /model and /model_ema
  predictions_raw.h5, predictions_ema.h5
                     predicted snapshots of the final evaluation (snapshot format,
                     docs/file-format.md) with the attributes prediction_weights,
                     prediction_protocol, predicted_snapshots, rollout_starts, source

wlm_mpi -wlm_mode forecast writes a rollout in the snapshot format (first
snapshot: the initial population, velocities included) and -wlm_mode probe
a file with root attribute format = "wlm-probe" and a group /probe (x, y,
potential [ny][nx], acceleration [ny][nx][d], population [N][d]).

Every reader raises InputError with a one-line message that names the file
and the problem, so that the command-line tools can exit with status 2
instead of a traceback.
"""

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

import wlmsnapshots
from wlmsnapshots import InputError

class Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line with exit status 2, like input errors."""

    def error(self, message):
        sys.stderr.write("%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))
        sys.exit(2)


def parse_list(text, convert=float, option=""):
    """Split a comma-separated option value, converting each entry."""
    try:
        return [convert(item.strip()) for item in text.split(",") if item.strip() != ""]
    except ValueError:
        raise InputError("%s %r is not a comma-separated list of %s" % (option, text, "integers" if convert is int else "numbers"))


def parse_size(text):
    """Parse a pixel size WIDTHxHEIGHT, for example 1200x800."""
    parts = text.lower().split("x")
    try:
        width, height = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise InputError("--size %r is not of the form WIDTHxHEIGHT in pixels, for example 1200x800" % text)
    if len(parts) != 2 or width < 100 or height < 100:
        raise InputError("--size %r is invalid; give WIDTHxHEIGHT with both at least 100 pixels" % text)
    return width, height


# ---------------------------------------------------------------------------
# HDF5 files

def open_h5(path, what):
    """Open an HDF5 file for reading, or raise InputError naming what the file should have been."""
    if os.path.isdir(path):
        raise InputError("%s is a directory, not a %s" % (path, what))
    if not os.path.exists(path):
        raise InputError("%s: no such file (expected a %s)" % (path, what))
    try:
        if not h5py.is_hdf5(path):
            raise InputError("%s is not an HDF5 file, so it cannot be a %s" % (path, what))
        return h5py.File(path, "r")
    except OSError as error:
        raise InputError("cannot open %s as a %s: %s" % (path, what, error))


def file_format(path, what):
    """Return the root attribute format of an HDF5 file ("" when it has none)."""
    with open_h5(path, what) as f:
        value = f.attrs.get("format", "")
    return value.decode() if isinstance(value, bytes) else str(value)


HINTS = {
    "wlm-probe": "it is a probe of the potential; plot it with wlm-plot potential",
    "wlm-model": "it is a trained model (model.h5); the predictions are in predictions_raw.h5 and predictions_ema.h5",
    "wlm-checkpoint": "it is a checkpoint; write a rollout with wlm_mpi -wlm_mode forecast -wlm_checkpoint FILE",
    "wlm-snapshots": "it is a snapshot file",
}


def read_snapshots(path, what="wlm snapshot file"):
    """Read a file in the snapshot format, with the checks of wlmsnapshots.read."""
    fmt = file_format(path, what)
    if fmt != wlmsnapshots.FORMAT_NAME:
        hint = HINTS.get(fmt, "wlm snapshot files have the root attribute format = %r" % wlmsnapshots.FORMAT_NAME)
        raise InputError("%s is not a %s (format = %r): %s" % (path, what, fmt, hint))
    try:
        return wlmsnapshots.read(path)
    except (KeyError, ValueError, OSError) as error:
        raise InputError("%s is a damaged snapshot file: %s" % (path, error))


def read_model(path):
    """Return the attributes of /model_ema (else /model) of a model.h5, or None when the file is absent."""
    if not os.path.isfile(path):
        return None
    with open_h5(path, "wlm model file") as f:
        for group in ("model_ema", "model"):
            if group in f:
                return {name: _attribute(value) for name, value in f[group].attrs.items()}
    return None


def _attribute(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Probe:
    """Contents of a probe file: grid x[nx], y[ny], potential[ny][nx], acceleration[ny][nx][d], population[N][d]."""

    def __init__(self, path):
        fmt = file_format(path, "wlm probe file")
        if fmt != "wlm-probe":
            hint = HINTS.get(fmt, "probe files have the root attribute format = 'wlm-probe'")
            raise InputError("%s is not a wlm probe file (format = %r): %s; write one with wlm_mpi -wlm_mode probe -wlm_checkpoint FILE"
                             % (path, fmt, hint))
        with open_h5(path, "wlm probe file") as f:
            try:
                g = f["probe"]
                self.x = g["x"][()]
                self.y = g["y"][()]
                self.potential = g["potential"][()]
                self.acceleration = g["acceleration"][()]
                self.population = g["population"][()]
                self.snapshot = int(g.attrs["snapshot"])
                self.time = float(g.attrs["time"])
                self.weights = _attribute(g.attrs["weights"])
            except KeyError as error:
                raise InputError("%s is a damaged probe file: %s" % (path, error))
        ny, nx = len(self.y), len(self.x)
        if self.potential.shape != (ny, nx) or self.acceleration.shape[:2] != (ny, nx) or self.acceleration.ndim != 3:
            raise InputError("%s: potential %s and acceleration %s do not match the grid of %d x %d points"
                             % (path, self.potential.shape, self.acceleration.shape, nx, ny))
        self.dim = self.acceleration.shape[2]
        self.path = path


# ---------------------------------------------------------------------------
# Run directories

def read_options(path):
    """Parse options.txt into a dict from option name (without the dash) to its value ("" for a flag)."""
    options = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("-"):
                continue
            name, _, value = line.partition(" ")
            options[name.lstrip("-")] = value.strip()
    return options


def read_metrics(path):
    """Read metrics.jsonl into (train records, eval records), each a list of dicts in step order.

    A run continued with -wlm_restart appends records for steps that the
    first run may already have logged after its last checkpoint.  So a
    record replaces every earlier record of the same kind at the same or a
    later step.  A last line without its newline (a run writing it right
    now) is skipped.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.jsonl")
    if not os.path.isfile(path):
        raise InputError("%s: no such file (expected the metrics.jsonl of a wlm_mpi run)" % path)
    records = {"train": [], "eval": []}
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1].strip():
        sys.stderr.write("note: skipped the unterminated last line of %s (is the run still writing it?)\n" % path)
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError("%s line %d is not valid JSON (%s); is this the metrics.jsonl of a wlm_mpi run?" % (path, number, error))
        if not isinstance(record, dict) or record.get("kind") not in records or not isinstance(record.get("step"), int):
            raise InputError("%s line %d is not a wlm metrics record (it needs \"kind\": \"train\" or \"eval\" and an integer \"step\")"
                             % (path, number))
        kept = records[record["kind"]]
        while kept and kept[-1]["step"] >= record["step"]:
            kept.pop()
        kept.append(record)
    return records["train"], records["eval"]


class Run:
    """A wlm_mpi output directory, or a lone metrics.jsonl.

    Attributes: path (the directory), name, options (dict, empty when
    options.txt is absent), info (run.json, empty when absent), train and
    evals (metrics records), model (attributes of model.h5, or None).
    """

    def __init__(self, path):
        if os.path.isfile(path) and not h5py.is_hdf5(path):
            directory, metrics = os.path.dirname(path) or ".", path
        elif os.path.isdir(path):
            directory, metrics = path, os.path.join(path, "metrics.jsonl")
            if not os.path.isfile(metrics):
                raise InputError("%s has no metrics.jsonl; give a directory written by wlm_mpi -wlm_output DIR" % path)
        elif os.path.exists(path):
            raise InputError("%s is an HDF5 file; give the run directory or its metrics.jsonl" % path)
        else:
            raise InputError("%s: no such run directory or metrics file" % path)
        self.path = directory
        self.name = os.path.basename(os.path.normpath(os.path.abspath(directory)))
        self.train, self.evals = read_metrics(metrics)
        if not self.train and not self.evals:
            raise InputError("%s contains no metrics records yet; has the run started?" % metrics)
        options = os.path.join(directory, "options.txt")
        self.options = read_options(options) if os.path.isfile(options) else {}
        self.info = {}
        info = os.path.join(directory, "run.json")
        if os.path.isfile(info):
            try:
                with open(info) as f:
                    self.info = json.load(f)
            except ValueError as error:
                raise InputError("%s is not valid JSON: %s" % (info, error))
        self.model = read_model(os.path.join(directory, "model.h5"))

    @property
    def last_eval(self):
        return self.evals[-1] if self.evals else None

    @property
    def steps(self):
        return max([r["step"] for r in self.train + self.evals])

    @property
    def train_seconds(self):
        """Training time in seconds, evaluations excluded.

        wlm_mpi starts this clock again at 0 when a run continues with
        -wlm_restart, so the last value of each such segment is added up.
        """
        records = self.train or self.evals
        total, previous = 0.0, 0.0
        for record in records:
            elapsed = record.get("elapsed") or 0.0
            if elapsed < previous:
                total += previous
            previous = elapsed
        return total + previous

    @property
    def protocol(self):
        return self.info.get("protocol") or self.options.get("wlm_protocol") or "forecast"

    @property
    def potential_type(self):
        if self.model and "type" in self.model:
            return str(self.model["type"])
        return self.options.get("wlm_potential_type", "external")

    @property
    def data(self):
        return self.info.get("data") or self.options.get("wlm_data", "")

    def predictions_path(self, weights):
        return os.path.join(self.path, "predictions_%s.h5" % weights)


def scored_test_snapshots(evaluation, protocol):
    """Return the indices of the test snapshots scored by an eval record.

    Interpolation scores only held-out snapshots.  A forecast scores every
    snapshot after the first training one, and only its test entries have a
    persistence_last value.
    """
    keys = evaluation["raw"]["w1"].keys()
    if protocol == "forecast" and "persistence_last" in evaluation:
        keys = evaluation["persistence_last"]["w1"].keys()
    return sorted(int(k) for k in keys)


def snapshot_w1(evaluation, key, snapshot):
    """W1 of one entry of an eval record, or None when it was not scored."""
    value = evaluation.get(key, {}).get("w1", {}).get(str(snapshot))
    return None if value is None else float(value)


# ---------------------------------------------------------------------------
# Observed data and predictions

def find_data(source, near, explicit=None):
    """Locate the observed snapshot file of a run.

    source is the path recorded by wlm_mpi, relative to the directory it
    ran in.  It is tried as given, then below each parent of near (the run
    directory or the prediction file), because runs usually sit below the
    directory they were started from.  explicit (--data) wins.
    """
    if explicit:
        if not os.path.isfile(explicit):
            raise InputError("--data %s: no such file" % explicit)
        return explicit
    if not source:
        raise InputError("%s does not record its observed data; pass --data FILE" % near)
    if os.path.isabs(source):
        candidates = [source]
    else:
        candidates = [source]
        directory = os.path.dirname(os.path.abspath(near))
        while True:
            candidates.append(os.path.join(directory, source))
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise InputError("observed data %s (recorded in %s) not found from the current directory or above %s; pass --data FILE"
                     % (source, near, os.path.dirname(os.path.abspath(near))))


def snapshot_at_time(snap, t, tolerance=1e-9):
    """Index of the snapshot of snap at time t, or None."""
    scale = max(1.0, float(np.abs(snap.times).max()))
    k = int(np.argmin(np.abs(snap.times - t)))
    return k if abs(snap.times[k] - t) <= tolerance * scale else None


def predicted_indices(pred):
    """Observed snapshot index of each predicted snapshot (attribute predicted_snapshots), or None for a rollout."""
    text = pred.attrs.get("predicted_snapshots")
    if text is None:
        return None
    indices = parse_list(str(text), int, "predicted_snapshots")
    if len(indices) != len(pred.times):
        raise InputError("predicted_snapshots lists %d snapshots but the file contains %d" % (len(indices), len(pred.times)))
    return indices


def rollout_starts(pred):
    text = pred.attrs.get("rollout_starts")
    return None if text is None else parse_list(str(text), int, "rollout_starts")


def paired_rollout(snap, path):
    """Positions [T][N][d] (and velocities or None) of a rollout whose particles keep their row in every snapshot.

    Rows are paired by id when the file has ids, else by order; a file of
    separate rollouts (interpolation predictions) is rejected.
    """
    starts = rollout_starts(snap)
    if starts is not None and len(set(starts)) > 1:
        raise InputError("%s contains separate rollouts started from snapshots %s, not one rollout; "
                         "write one with wlm_mpi -wlm_mode forecast -wlm_checkpoint FILE" % (path, ",".join(map(str, starts))))
    counts = snap.counts
    if snap.ids is None and counts.min() != counts.max():
        raise InputError("%s has %d to %d particles per snapshot and no ids, so its particles cannot be followed; "
                         "give a rollout written by wlm_mpi -wlm_mode forecast" % (path, counts.min(), counts.max()))
    if snap.ids is None:
        X = np.stack(snap.positions)
        V = None if snap.velocities is None else np.stack(snap.velocities)
        return X, V
    common = snap.ids[0]
    for ids in snap.ids[1:]:
        common = np.intersect1d(common, ids)
    if len(common) == 0:
        raise InputError("%s: no particle id occurs in every snapshot, so no path can be drawn" % path)
    order = [np.searchsorted(ids, common, sorter=np.argsort(ids)) for ids in snap.ids]
    rows = [np.argsort(ids)[o] for ids, o in zip(snap.ids, order)]
    X = np.stack([x[r] for x, r in zip(snap.positions, rows)])
    V = None if snap.velocities is None else np.stack([v[r] for v, r in zip(snap.velocities, rows)])
    return X, V


# ---------------------------------------------------------------------------
# Projections for d > 2

class Projection:
    """Map points in R^d to the plane: the first two coordinates, or the two leading principal components.

    The principal axes are fitted once, on the points passed to the
    constructor, so that every panel of a figure shares them.
    """

    def __init__(self, method, points, names=None):
        points = np.asarray(points, dtype=np.float64)
        d = points.shape[1]
        names = [n.strip() for n in str(names).split(",")] if names else ["x%d" % k for k in range(d)]
        if d == 1:
            raise InputError("the data have 1 coordinate; the plots need at least 2")
        if method == "auto":
            method = "first" if d == 2 else "pca"
        self.method = method
        if method == "first":
            self.labels = names[:2]
            self.mean, self.axes = None, None
        elif method == "pca":
            self.mean = points.mean(axis=0)
            _, s, vt = np.linalg.svd(points - self.mean, full_matrices=False)
            self.axes = vt[:2].T
            share = s ** 2 / max((s ** 2).sum(), np.finfo(float).tiny)
            self.labels = ["PC%d (%.0f%% of variance)" % (k + 1, 100 * share[k]) for k in range(2)]
        else:
            raise InputError("projection %r is unknown; use auto, first or pca" % method)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.method == "first":
            return x[..., :2]
        return (x - self.mean) @ self.axes

    def vectors(self, v):
        """Project velocities (directions, no centering)."""
        v = np.asarray(v, dtype=np.float64)
        return v[..., :2] if self.method == "first" else v @ self.axes


# ---------------------------------------------------------------------------
# Distances

def exact_w1(x, y):
    """Exact W1 between two uniformly weighted clouds with POT (ot.emd2), or None when POT is not installed."""
    try:
        import ot
    except ImportError:
        return None
    cost = ot.dist(x, y, metric="euclidean")
    return float(ot.emd2(np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y)), cost, numItermax=10 ** 7))


def format_number(value, digits=3):
    """Format a number with `digits` significant digits, trailing zeros kept ("-" for missing values)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return "%#.*g" % (digits, value)
