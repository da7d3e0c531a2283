"""Tests of tools/wlm-convert: every subcommand on small inputs built in a temporary directory.

Valid inputs are converted, read back with tools/wlmsnapshots.py and compared
with the arrays they were built from, then loaded by the C reader
(snapshots_inspect, on 1 and 2 ranks).  Invalid inputs must fail with exit
status 2, a one-line message naming the problem, and no output file.

Usage: test_convert.py TOOLS_DIR SNAPSHOTS_INSPECT MPIEXEC
"""

import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

TOOLS, INSPECT, MPIEXEC = sys.argv[1:4]
sys.path.insert(0, TOOLS)
import wlmsnapshots  # noqa: E402

CONVERT = os.path.join(TOOLS, "wlm-convert")


def run_convert(*args):
    return subprocess.run([sys.executable, CONVERT] + [str(a) for a in args], capture_output=True, text=True)


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wlm-convert-test-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def convert(self, *args):
        """Run wlm-convert, expect success, and return the file it wrote, read back."""
        result = run_convert(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        output = args[list(args).index("-o") + 1]
        self.assertFalse(os.path.exists(output + ".tmp"), "temporary file left behind")
        return wlmsnapshots.read(output)

    def reject(self, fragment, *args):
        """Run wlm-convert, expect exit status 2 with one line naming the problem, and no output."""
        output = args[list(args).index("-o") + 1] if "-o" in args else None
        result = run_convert(*args)
        self.assertEqual(result.returncode, 2, "expected a rejection, got: %s %s" % (result.stdout, result.stderr))
        message = result.stderr.strip()
        self.assertEqual(message.count("\n"), 0, "message is not one line: %r" % message)
        self.assertIn(fragment, message)
        if output:
            self.assertFalse(os.path.exists(output), "output written despite the error")
            self.assertFalse(os.path.exists(output + ".tmp"), "temporary file left behind")

    def inspect(self, path, T, N, d, ranks=1):
        """Load a converted file with the C reader and check its shape."""
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
        result = subprocess.run([MPIEXEC, "-n", str(ranks), INSPECT, "-file", path, "-expect_snapshots", str(T), "-expect_dim", str(d)]
                                + (["-expect_particles", str(N)] if N is not None else []), capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result.stdout


class NpzTest(ConverterTest):
    def write_npz(self, name, **arrays):
        np.savez(self.path(name), **arrays)
        return self.path(name)

    def padded(self):
        """Three snapshots of 5 particles in 2-D; particle 4 is missing at t0 and particle 2 at t1."""
        rng = np.random.default_rng(1)
        X = rng.normal(size=(3, 5, 2))
        V = rng.normal(size=(3, 5, 2))
        X[0, 4] = np.nan
        V[0, 4] = np.nan
        X[1, 2] = np.nan
        return X, V

    def test_padded_particles_dropped(self):
        X, V = self.padded()
        source = self.write_npz("padded.npz", positions=X, velocities=V)
        snap = self.convert("npz", source, "-o", self.path("out.h5"), "--ids", "--dt", "0.5", "--t0", "1", "--coordinate-names", "lon,lat")
        np.testing.assert_array_equal(snap.times, [1.0, 1.5, 2.0])
        np.testing.assert_array_equal(snap.counts, [4, 4, 5])
        np.testing.assert_array_equal(snap.positions[0], X[0, :4])
        np.testing.assert_array_equal(snap.positions[1], X[1, [0, 1, 3, 4]])
        np.testing.assert_array_equal(snap.velocities[1], V[1, [0, 1, 3, 4]])
        np.testing.assert_array_equal(snap.ids[1], [0, 1, 3, 4])
        self.assertIsNone(snap.weights)
        self.assertEqual(snap.attrs["coordinate_names"], "lon,lat")
        self.assertEqual(snap.attrs["source"], os.path.abspath(source))
        self.assertIn("wlm-convert npz", snap.attrs["command"])
        out = self.inspect(self.path("out.h5"), 3, None, 2, ranks=2)
        self.assertIn("3 snapshots, 4 to 5 particles, 2 dimensions", out)

    def test_explicit_times_without_velocities(self):
        X, _ = self.padded()
        source = self.write_npz("positions-only.npz", positions=X)
        snap = self.convert("npz", source, "-o", self.path("out.h5"), "--times", "0,0.1,0.3")
        np.testing.assert_array_equal(snap.times, [0.0, 0.1, 0.3])
        self.assertIsNone(snap.velocities)
        self.assertIsNone(snap.ids)

    def test_replaces_existing_output(self):
        X, V = self.padded()
        source = self.write_npz("padded.npz", positions=X, velocities=V)
        self.convert("npz", source, "-o", self.path("out.h5"))
        snap = self.convert("npz", source, "-o", self.path("out.h5"), "--no-velocities")
        self.assertIsNone(snap.velocities)

    def test_bad_inputs_rejected(self):
        X, V = self.padded()
        out = self.path("out.h5")
        partial = X.copy()
        partial[2, 1, 0] = np.nan
        self.reject("positions[2, 1] = [nan,", "npz", self.write_npz("partial.npz", positions=partial), "-o", out)

        infinite = X.copy()
        infinite[1, 3, 1] = np.inf
        self.reject("positions[1, 3, 1] is infinite", "npz", self.write_npz("inf.npz", positions=infinite), "-o", out)

        empty = X.copy()
        empty[2] = np.nan
        self.reject("snapshot 2 has no particles", "npz", self.write_npz("empty.npz", positions=empty), "-o", out)
        self.reject("must be a numeric array of shape (T, N, d)", "npz", self.write_npz("flat.npz", positions=X[0]), "-o", out)
        self.reject("velocities has shape (3, 4, 2) but positions has (3, 5, 2)", "npz",
                    self.write_npz("shape.npz", positions=X, velocities=V[:, :4]), "-o", out)

        nanv = V.copy()
        nanv[2, 0, 1] = np.nan
        self.reject("velocities[2, 0, 1] = nan for a particle whose position is given", "npz",
                    self.write_npz("nanv.npz", positions=X, velocities=nanv), "-o", out)

        good = self.write_npz("good.npz", positions=X, velocities=V)
        self.reject("--times gives 2 times but the input has 3 snapshots", "npz", good, "-o", out, "--times", "0,1")
        self.reject("times must increase strictly", "npz", good, "-o", out, "--times", "0,2,1")
        self.reject("--dt 0 is invalid", "npz", good, "-o", out, "--dt", "0")
        self.reject("has no array 'x'; its arrays are positions, velocities", "npz", good, "-o", out, "--positions-key", "x")
        self.reject("has no array 'v'", "npz", good, "-o", out, "--velocities-key", "v")
        self.reject("coordinate_names = 'x,y,z' lists 3 entries but the data have 2 coordinates", "npz", good, "-o", out, "--coordinate-names", "x,y,z")

        with open(self.path("text.npz"), "w") as f:
            f.write("not an archive\n")
        self.reject("cannot read", "npz", self.path("text.npz"), "-o", out)
        self.reject("does not exist", "npz", good, "-o", self.path("missing/out.h5"))
        self.reject("the following arguments are required: -o/--output", "npz", good)

    def test_failed_conversion_keeps_old_output(self):
        X, V = self.padded()
        good = self.write_npz("good.npz", positions=X, velocities=V)
        self.convert("npz", good, "-o", self.path("out.h5"))
        with open(self.path("out.h5"), "rb") as f:
            before = f.read()
        result = run_convert("npz", good, "-o", self.path("out.h5"), "--dt", "-1")
        self.assertEqual(result.returncode, 2)
        with open(self.path("out.h5"), "rb") as f:
            self.assertEqual(f.read(), before)


class EmbryoidTest(ConverterTest):
    def write(self, name, cells=40, components=8, labels=None, **override):
        rng = np.random.default_rng(2)
        arrays = {
            "pcs": rng.normal(size=(cells, components)) * np.arange(1, components + 1) + 3.0,
            "pcs_delta": rng.normal(size=(cells, components)),
            "sample_labels": labels if labels is not None else rng.integers(0, 3, size=cells).astype(np.float64),
        }
        arrays.update(override)
        np.savez(self.path(name), **arrays)
        return self.path(name), arrays

    def test_numeric_labels_standardized(self):
        source, a = self.write("eb.npz")
        snap = self.convert("embryoid", source, "-o", self.path("eb.h5"), "--pcs", "3", "--standardize", "--ids")
        X, V, labels = a["pcs"][:, :3], a["pcs_delta"][:, :3], a["sample_labels"]
        mean, std = X.mean(axis=0), X.std(axis=0)
        np.testing.assert_array_equal(snap.times, [0.0, 1.0, 2.0])
        np.testing.assert_allclose(snap.attrs["standardize_mean"], mean, rtol=1e-15)
        np.testing.assert_allclose(snap.attrs["standardize_std"], std, rtol=1e-15)
        for k in range(3):
            cells = np.flatnonzero(labels == k)
            np.testing.assert_array_equal(snap.ids[k], cells)
            np.testing.assert_allclose(snap.positions[k] * std + mean, X[cells], rtol=1e-13)
            np.testing.assert_allclose(snap.velocities[k] * std, V[cells], rtol=1e-13)
        stacked = np.concatenate(snap.positions)
        np.testing.assert_allclose(stacked.mean(axis=0), 0, atol=1e-13)
        np.testing.assert_allclose(stacked.std(axis=0), 1, rtol=1e-13)
        self.assertEqual(snap.attrs["coordinate_names"], "PC1,PC2,PC3")
        self.inspect(self.path("eb.h5"), 3, None, 3)

    def test_text_labels_natural_order(self):
        labels = np.array(["day10", "day2", "day0", "day2", "day10", "day0"])
        source, a = self.write("eb.npz", cells=6, labels=labels)
        snap = self.convert("embryoid", source, "-o", self.path("eb.h5"), "--pcs", "2", "--no-velocities")
        self.assertEqual(snap.attrs["snapshot_labels"], "day0,day2,day10")
        np.testing.assert_array_equal(snap.times, [0, 1, 2])
        np.testing.assert_array_equal(snap.positions[2], a["pcs"][[0, 4], :2])
        self.assertIsNone(snap.velocities)
        snap = self.convert("embryoid", source, "-o", self.path("eb.h5"), "--pcs", "2", "--time-order", "day10,day2,day0", "--times", "0,5,7")
        np.testing.assert_array_equal(snap.times, [0, 5, 7])
        np.testing.assert_array_equal(snap.positions[0], a["pcs"][[0, 4], :2])

    def test_bad_inputs_rejected(self):
        out = self.path("out.h5")
        source, a = self.write("eb.npz")
        self.reject("--pcs 9 is invalid", "embryoid", source, "-o", out, "--pcs", "9")
        self.reject("--pcs 0 is invalid", "embryoid", source, "-o", out, "--pcs", "0")
        bad, _ = self.write("labels.npz", sample_labels=np.zeros(39))
        self.reject("sample_labels has shape (39,) but pcs has 40 cells", "embryoid", bad, "-o", out, "--pcs", "2")
        constant = a["pcs"].copy()
        constant[:, 1] = 4.0
        bad, _ = self.write("constant.npz", pcs=constant)
        self.reject("coordinate 1 is constant over all cells", "embryoid", bad, "-o", out, "--pcs", "2", "--standardize")
        bad, _ = self.write("delta.npz", pcs_delta=np.zeros((40, 7)))
        self.reject("pcs_delta has shape (40, 7) but pcs has (40, 8)", "embryoid", bad, "-o", out, "--pcs", "2")
        nan = a["pcs"].copy()
        nan[5, 0] = np.nan
        bad, _ = self.write("nan.npz", pcs=nan)
        self.reject("pcs[5, 0] = nan is not finite", "embryoid", bad, "-o", out, "--pcs", "2")
        self.reject("label 'day1' of", "embryoid", self.write("text.npz", cells=3, labels=np.array(["day0", "day1", "day0"]))[0],
                    "-o", out, "--pcs", "2", "--time-order", "day0")
        np.savez(self.path("nopcs.npz"), sample_labels=np.zeros(3))
        self.reject("has no array 'pcs'", "embryoid", self.path("nopcs.npz"), "-o", out, "--pcs", "2")


class CsvTest(ConverterTest):
    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def test_rows_grouped_by_time(self):
        source = self.write("cells.csv", "time,x,y,vx,vy,w,id\n"
                                         "1.5,1,2,0.1,0.2,1,10\n"
                                         "0,3,4,0.3,0.4,2,11\n"
                                         "\n"
                                         "1.5,5,6,0.5,0.6,0,12\n"
                                         "0,7,8,0.7,0.8,1,13\n"
                                         "3,9,10,0.9,1.0,0.5,14\n")
        snap = self.convert("csv", source, "-o", self.path("out.h5"), "--columns", "x,y", "--velocity-columns", "vx,vy",
                            "--weight-column", "w", "--id-column", "id")
        np.testing.assert_array_equal(snap.times, [0, 1.5, 3])
        np.testing.assert_array_equal(snap.positions[0], [[3, 4], [7, 8]])
        np.testing.assert_array_equal(snap.positions[1], [[1, 2], [5, 6]])
        np.testing.assert_array_equal(snap.velocities[2], [[0.9, 1.0]])
        np.testing.assert_array_equal(snap.weights[1], [1, 0])
        np.testing.assert_array_equal(snap.ids[0], [11, 13])
        self.assertEqual(snap.attrs["coordinate_names"], "x,y")
        self.inspect(self.path("out.h5"), 3, None, 2, ranks=2)

    def test_default_columns(self):
        source = self.write("cells.csv", "t;a;b;c\n0;1;2;3\n1;4;5;6\n")
        snap = self.convert("csv", source, "-o", self.path("out.h5"), "--time-column", "t", "--delimiter", ";", "--ids")
        self.assertEqual(snap.dim, 3)
        self.assertEqual(snap.attrs["coordinate_names"], "a,b,c")
        np.testing.assert_array_equal(snap.ids[1], [1])

    def test_bad_inputs_rejected(self):
        out = self.path("out.h5")
        good = self.write("good.csv", "time,x,y\n0,1,2\n1,3,4\n")
        self.reject("has no column 'day'; its columns are time, x, y", "csv", good, "-o", out, "--time-column", "day")
        self.reject("--velocity-columns names 1 columns but there are 2 coordinate columns", "csv", good, "-o", out, "--columns", "x,y", "--velocity-columns", "x")
        self.reject("line 3: column 'x' = 'abc' is not a number", "csv", self.write("text.csv", "time,x,y\n0,1,2\n1,abc,4\n"), "-o", out)
        self.reject("line 2: column 'y' = nan is not finite", "csv", self.write("nan.csv", "time,x,y\n0,1,nan\n"), "-o", out)
        self.reject("line 3 has 2 fields; column 'y' needs 3", "csv", self.write("short.csv", "time,x,y\n0,1,2\n1,3\n"), "-o", out)
        self.reject("is empty; it needs a header row", "csv", self.write("empty.csv", ""), "-o", out)
        self.reject("has a header but no data rows", "csv", self.write("header.csv", "time,x\n"), "-o", out)
        self.reject("weight of particle 1 in snapshot 0 is -1.0; masses must be non-negative", "csv",
                    self.write("weights.csv", "time,x,w\n0,1,1\n0,2,-1\n"), "-o", out, "--weight-column", "w")
        self.reject("weights of snapshot 0 sum to 0.0", "csv", self.write("zero.csv", "time,x,w\n0,1,0\n"), "-o", out, "--weight-column", "w")
        self.reject("column 'id' = '1.5' is not an integer", "csv", self.write("ids.csv", "time,x,id\n0,1,1.5\n"), "-o", out, "--id-column", "id")
        self.reject("has no coordinate columns besides time", "csv", self.write("time.csv", "time\n0\n"), "-o", out)


class H5adTest(ConverterTest):
    def write(self, name, encoding="categorical-group", codes=None, velocity_shape=None):
        """An AnnData-like file with 12 cells: obsm/X_pca (12, 4), obsm/velocity_pca, obs/day in the requested encoding."""
        rng = np.random.default_rng(3)
        E = rng.normal(size=(12, 4))
        D = rng.normal(size=velocity_shape or (12, 4))
        codes = np.array([2, 0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2], dtype=np.int8) if codes is None else codes
        categories = np.array(["d0", "d1", "d2"], dtype=object)
        with h5py.File(self.path(name), "w") as f:
            f.attrs["encoding-type"] = "anndata"
            f.create_dataset("obsm/X_pca", data=E)
            f.create_dataset("obsm/velocity_pca", data=D)
            obs = f.create_group("obs")
            strings = h5py.string_dtype()
            if encoding == "categorical-group":
                g = obs.create_group("day")
                g.attrs["encoding-type"] = "categorical"
                g.attrs["ordered"] = False
                g.create_dataset("codes", data=codes)
                g.create_dataset("categories", data=categories, dtype=strings)
            elif encoding == "categorical-reference":
                cats = obs.create_dataset("__categories/day", data=categories, dtype=strings)
                d = obs.create_dataset("day", data=codes)
                d.attrs["categories"] = cats.ref
            elif encoding == "numeric":
                obs.create_dataset("day", data=np.array([0.0, 1.5, 3.0])[codes])
            elif encoding == "text":
                obs.create_dataset("day", data=categories[codes], dtype=strings)
        return self.path(name), E, D, codes

    def check(self, snap, E, codes, k=4, D=None):
        for label in range(3):
            np.testing.assert_array_equal(snap.positions[label], E[codes == label, :k])
            if D is not None:
                np.testing.assert_array_equal(snap.velocities[label], D[codes == label, :k])

    def test_encodings(self):
        for encoding in ("categorical-group", "categorical-reference", "text"):
            with self.subTest(encoding=encoding):
                source, E, D, codes = self.write(encoding + ".h5ad", encoding)
                snap = self.convert("h5ad", source, "-o", self.path("out.h5"), "--embedding", "X_pca", "--time-key", "day",
                                    "--velocity-key", "velocity_pca", "--dims", "3")
                np.testing.assert_array_equal(snap.times, [0, 1, 2])
                self.assertEqual(snap.attrs["snapshot_labels"], "d0,d1,d2")
                self.check(snap, E, codes, 3, D)
        source, E, D, codes = self.write("numeric.h5ad", "numeric")
        snap = self.convert("h5ad", source, "-o", self.path("out.h5"), "--embedding", "X_pca", "--time-key", "day", "--ids")
        np.testing.assert_array_equal(snap.times, [0, 1.5, 3])
        self.assertIsNone(snap.velocities)
        np.testing.assert_array_equal(snap.ids[1], np.flatnonzero(codes == 1))
        self.check(snap, E, codes)
        self.inspect(self.path("out.h5"), 3, 4, 4, ranks=2)

    def test_missing_labels(self):
        codes = np.array([2, 0, 1, 1, -1, 2, 2, 1, 0, 0, 1, 2], dtype=np.int8)
        source, E, D, _ = self.write("missing.h5ad", codes=codes)
        self.reject("1 cells have no value in obs/day (first: cell 4); pass --drop-missing", "h5ad", source, "-o", self.path("out.h5"),
                    "--embedding", "X_pca", "--time-key", "day")
        snap = self.convert("h5ad", source, "-o", self.path("out.h5"), "--embedding", "X_pca", "--time-key", "day", "--drop-missing", "--ids")
        np.testing.assert_array_equal(snap.counts, [3, 4, 4])
        self.assertNotIn(4, np.concatenate(snap.ids))

    def test_bad_inputs_rejected(self):
        out = self.path("out.h5")
        source, _, _, _ = self.write("good.h5ad")
        self.reject("has no obsm embedding 'X_umap'; its obsm keys are X_pca, velocity_pca", "h5ad", source, "-o", out, "--embedding", "X_umap", "--time-key", "day")
        self.reject("has no obs column 'time'", "h5ad", source, "-o", out, "--embedding", "X_pca", "--time-key", "time")
        self.reject("--dims 5 is invalid: obsm/X_pca has 4 components", "h5ad", source, "-o", out, "--embedding", "X_pca", "--time-key", "day", "--dims", "5")
        bad, _, _, _ = self.write("shape.h5ad", velocity_shape=(12, 3))
        self.reject("obsm/velocity_pca has shape (12, 3) but obsm/X_pca has (12, 4)", "h5ad", bad, "-o", out,
                    "--embedding", "X_pca", "--time-key", "day", "--velocity-key", "velocity_pca")
        with open(self.path("text.h5ad"), "w") as f:
            f.write("not hdf5\n")
        self.reject("cannot read", "h5ad", self.path("text.h5ad"), "-o", out, "--embedding", "X_pca", "--time-key", "day")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
