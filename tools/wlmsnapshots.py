"""Read, check and write wlm snapshot files (HDF5) with numpy and h5py.

The layout is described in docs/file-format.md: a group /snapshots with
time[T], count[T], offset[T+1], position[Ntot][d] and the optional
velocity[Ntot][d], weight[Ntot] and id[Ntot], all snapshots concatenated in
time order, and root attributes format = "wlm-snapshots", format_version = 1,
dim = d plus free-form attributes (provenance, coordinate names, parameters).

The checks here mirror those of the C reader (WLMSnapshotsLoad), so a file
that write() accepts loads in wlm.
"""

import os

import h5py
import numpy as np

FORMAT_NAME = "wlm-snapshots"
FORMAT_VERSION = 1
RESERVED_ATTRIBUTES = ("format", "format_version", "dim")


class InputError(Exception):
    """Invalid input data; the message names the offending item and the fix."""


class Snapshots:
    """Snapshots in memory: times[T] and per-snapshot arrays of shape (N_k, d) or (N_k,).

    velocities, weights and ids are None when absent, else lists parallel to
    positions. attrs maps root attribute names to str, int, float or 1-D
    float arrays.
    """

    def __init__(self, times, positions, velocities=None, weights=None, ids=None, attrs=None):
        self.times = np.asarray(times, dtype=np.float64)
        self.positions = [np.asarray(x, dtype=np.float64) for x in positions]
        self.velocities = None if velocities is None else [np.asarray(v, dtype=np.float64) for v in velocities]
        self.weights = None if weights is None else [np.asarray(w, dtype=np.float64) for w in weights]
        self.ids = None if ids is None else [np.asarray(i, dtype=np.int64) for i in ids]
        self.attrs = dict(attrs or {})

    @property
    def dim(self):
        return self.positions[0].shape[1]

    @property
    def counts(self):
        return np.array([len(x) for x in self.positions], dtype=np.int64)

    def summary(self):
        """Return one line with T, the particle counts, d and the optional fields."""
        counts = self.counts
        n = str(counts[0]) if counts.min() == counts.max() else "%d to %d" % (counts.min(), counts.max())
        fields = [name for name, value in (("velocity", self.velocities), ("weight", self.weights), ("id", self.ids)) if value is not None]
        return "%d snapshots, %s particles, %d dimensions, times %g to %g, fields: %s" % (
            len(self.times), n, self.dim, self.times[0], self.times[-1], ", ".join(["position"] + fields))


def check(snap):
    """Raise InputError unless snap satisfies every rule of the format."""
    T = len(snap.times)
    if T < 1:
        raise InputError("no snapshots: the data contain no time with at least one particle")
    if snap.times.ndim != 1 or len(snap.positions) != T:
        raise InputError("%d times but %d position arrays" % (T, len(snap.positions)))
    for k in range(T):
        if not np.isfinite(snap.times[k]):
            raise InputError("time of snapshot %d is %r; times must be finite" % (k, snap.times[k]))
        if k > 0 and not snap.times[k] > snap.times[k - 1]:
            raise InputError("time of snapshot %d (%r) is not greater than that of snapshot %d (%r); times must increase strictly"
                             % (k, snap.times[k], k - 1, snap.times[k - 1]))
    d = snap.positions[0].shape[1] if snap.positions[0].ndim == 2 else 0
    if d < 1:
        raise InputError("positions have dimension %d; particles need at least 1 coordinate" % d)
    for k, x in enumerate(snap.positions):
        _check_rows("position", k, snap.times[k], x, (len(x), d))
        if snap.velocities is not None:
            _check_rows("velocity", k, snap.times[k], snap.velocities[k], (len(x), d))
        if snap.weights is not None:
            w = snap.weights[k]
            _check_rows("weight", k, snap.times[k], w, (len(x),))
            if (w < 0).any():
                i = int(np.argmax(w < 0))
                raise InputError("weight of particle %d in snapshot %d is %r; masses must be non-negative" % (i, k, w[i]))
            if not w.sum() > 0:
                raise InputError("weights of snapshot %d sum to %r; every snapshot needs a positive total mass" % (k, w.sum()))
        if snap.ids is not None and snap.ids[k].shape != (len(x),):
            raise InputError("snapshot %d has %d ids for %d particles" % (k, snap.ids[k].size, len(x)))
    for name in ("coordinate_names", "coordinate_units"):
        if name in snap.attrs and len(str(snap.attrs[name]).split(",")) != d:
            raise InputError("%s = %r lists %d entries but the data have %d coordinates"
                             % (name, snap.attrs[name], len(str(snap.attrs[name]).split(",")), d))
    for name in snap.attrs:
        if name in RESERVED_ATTRIBUTES:
            raise InputError("attribute %r is written by the format itself; choose another name" % name)


def _check_rows(field, k, t, a, shape):
    if a.shape != shape:
        raise InputError("%s of snapshot %d (t = %g) has shape %s, expected %s" % (field, k, t, a.shape, shape))
    if shape[0] == 0:
        raise InputError("snapshot %d (t = %g) has no particles; every snapshot needs at least one" % (k, t))
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InputError("%s of particle %d in snapshot %d (t = %g) is %r; values must be finite"
                         % (field, row, k, t, a[row].tolist()))


def write(path, snap):
    """Check snap and write it to path atomically: path + ".tmp" first, then a rename."""
    check(snap)
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            f.attrs["dim"] = np.int64(snap.dim)
            for name, value in snap.attrs.items():
                f.attrs[name] = _attribute_value(value)
            g = f.create_group("snapshots")
            counts = snap.counts
            g.create_dataset("time", data=snap.times, dtype="<f8")
            g.create_dataset("count", data=counts, dtype="<i8")
            g.create_dataset("offset", data=np.concatenate([[0], np.cumsum(counts)]), dtype="<i8")
            g.create_dataset("position", data=np.concatenate(snap.positions), dtype="<f8")
            if snap.velocities is not None:
                g.create_dataset("velocity", data=np.concatenate(snap.velocities), dtype="<f8")
            if snap.weights is not None:
                g.create_dataset("weight", data=np.concatenate(snap.weights), dtype="<f8")
            if snap.ids is not None:
                g.create_dataset("id", data=np.concatenate(snap.ids), dtype="<i8")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _attribute_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return np.int64(value)
    if isinstance(value, (int, np.integer)):
        return np.int64(value)
    if isinstance(value, (float, np.floating)):
        return np.float64(value)
    return np.asarray(value, dtype=np.float64)


def read(path):
    """Read a snapshot file into a Snapshots object, with the same checks as check()."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT_NAME:
            raise InputError("%s: root attribute format = %r, expected %r" % (path, f.attrs.get("format"), FORMAT_NAME))
        if int(f.attrs.get("format_version", 0)) != FORMAT_VERSION:
            raise InputError("%s: format_version = %r is not %d" % (path, f.attrs.get("format_version"), FORMAT_VERSION))
        g = f["snapshots"]
        offset = g["offset"][()]
        split = lambda a: [a[offset[k]:offset[k + 1]] for k in range(len(offset) - 1)]
        position = g["position"][()]
        if position.ndim != 2 or position.shape[1] != int(f.attrs["dim"]):
            raise InputError("%s: position has shape %s but dim = %d" % (path, position.shape, int(f.attrs["dim"])))
        snap = Snapshots(
            g["time"][()], split(position),
            split(g["velocity"][()]) if "velocity" in g else None,
            split(g["weight"][()]) if "weight" in g else None,
            split(g["id"][()]) if "id" in g else None,
            {name: _python_value(value) for name, value in f.attrs.items() if name not in RESERVED_ATTRIBUTES})
        if not np.array_equal(g["count"][()], snap.counts):
            raise InputError("%s: count does not match offset" % path)
    check(snap)
    return snap


def _python_value(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value
