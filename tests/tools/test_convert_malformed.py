"""Table of malformed inputs for tools/wlm-convert, one row per case.

Each row builds a small input file, runs one subcommand, and expects either a
rejection (exit status 2, one line naming the problem, no output file) or a
conversion whose result is checked.  The cases cover truncated files, wrong
dtypes, object arrays, missing keys, damaged or unused categories and
unsorted times; test_convert.py has the per-subcommand option errors.

Usage: test_convert_malformed.py TOOLS_DIR
"""

import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

TOOLS = sys.argv[1]
sys.path.insert(0, TOOLS)
import wlmsnapshots  # noqa: E402

CONVERT = os.path.join(TOOLS, "wlm-convert")
RNG = np.random.default_rng(5)
X = RNG.normal(size=(3, 5, 2))


def npz(path, **arrays):
    np.savez(path, **arrays)


def truncated_npz(path):
    np.savez(path, positions=X)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) * 9 // 10])


def text(content):
    def write(path):
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
    return write


def h5ad(codes=None, categories=("d0", "d1", "d2"), numeric=None, embedding=None, truncate=False):
    """An AnnData-like file: obsm/X_pca and obs/day as a categorical group (codes) or a numeric column."""
    def write(path):
        cells = len(codes) if numeric is None else len(numeric)
        with h5py.File(path, "w") as f:
            f.attrs["encoding-type"] = "anndata"
            if embedding is None:
                f.create_dataset("obsm/X_pca", data=RNG.normal(size=(cells, 3)))
            else:
                embedding(f, cells)
            obs = f.create_group("obs")
            if numeric is not None:
                obs.create_dataset("day", data=np.asarray(numeric))
            else:
                day = obs.create_group("day")
                day.attrs["encoding-type"] = "categorical"
                day.create_dataset("codes", data=np.asarray(codes, dtype=np.int8))
                day.create_dataset("categories", data=np.array(categories, dtype=object), dtype=h5py.string_dtype())
        if truncate:
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
    return write


def string_embedding(f, cells):
    f.create_dataset("obsm/X_pca", data=np.array([["a", "b"]] * cells, dtype=object), dtype=h5py.string_dtype())


def sparse_embedding(f, cells):
    group = f.create_group("obsm/X_pca")
    group.attrs["encoding-type"] = "csr_matrix"
    group.create_dataset("data", data=np.ones(cells))


H5AD = ["--embedding", "X_pca", "--time-key", "day"]

# name, subcommand, file suffix, writer, extra arguments, expected message fragment (None: the conversion succeeds)
CASES = [
    ("npz truncated archive", "npz", ".npz", truncated_npz, [], "cannot read"),
    ("npz text positions", "npz", ".npz", lambda p: npz(p, positions=X.astype(str)), [], "and type <U"),
    ("npz object positions", "npz", ".npz", lambda p: npz(p, positions=X.astype(object)), [], "cannot be read without pickle"),
    ("npz complex positions", "npz", ".npz", lambda p: npz(p, positions=X.astype(complex)), [], "type complex128"),
    ("npz boolean positions", "npz", ".npz", lambda p: npz(p, positions=X > 0), [], "type bool"),
    ("npz missing positions key", "npz", ".npz", lambda p: npz(p, pos=X), [], "has no array 'positions'; its arrays are pos"),
    ("npz zero snapshots", "npz", ".npz", lambda p: npz(p, positions=np.zeros((0, 5, 2))), [], "T, N and d must be at least 1"),
    ("npz integer positions", "npz", ".npz", lambda p: npz(p, positions=(10 * X).astype(np.int32)), [], None),
    ("csv not UTF-8", "csv", ".csv", text(b"\xff\xfetime,x\n0,1\n"), [], "cannot read"),
    ("csv repeated column", "csv", ".csv", text("time,x,x\n0,1,2\n"), [], "names column 'x' more than once"),
    ("csv without header", "csv", ".csv", text("0,1,2\n1,3,4\n"), [], "has no column 'time'"),
    ("csv truncated row", "csv", ".csv", text("time,x,y\n0,1,2\n1,3"), [], "line 3 has 2 fields"),
    ("csv infinite time", "csv", ".csv", text("time,x\ninf,1\n"), [], "column 'time' = inf is not finite"),
    ("csv text in number", "csv", ".csv", text("time,x\n0,1e\n"), [], "column 'x' = '1e' is not a number"),
    ("csv unsorted times", "csv", ".csv", text("time,x\n2,1\n0,2\n1,3\n0,4\n"), [], None),
    ("h5ad truncated file", "h5ad", ".h5ad", h5ad(codes=[0, 1, 2, 0], truncate=True), H5AD, "cannot read"),
    ("h5ad code outside categories", "h5ad", ".h5ad", h5ad(codes=[0, 5, 1, 0]), H5AD, "code 5 of cell 1 is outside its 3 categories"),
    ("h5ad unused category", "h5ad", ".h5ad", h5ad(codes=[0, 2, 2, 0, 2]), H5AD, None),
    ("h5ad missing category code", "h5ad", ".h5ad", h5ad(codes=[0, -1, 2, 0]), H5AD, "1 cells have no value in obs/day"),
    ("h5ad unsorted numeric times", "h5ad", ".h5ad", h5ad(numeric=[3.0, 0.0, 1.5, 3.0, 0.0, 1.5]), H5AD, None),
    ("h5ad NaN numeric time", "h5ad", ".h5ad", h5ad(numeric=[0.0, np.nan, 1.0]), H5AD, "1 cells have no value in obs/day"),
    ("h5ad text embedding", "h5ad", ".h5ad", h5ad(codes=[0, 1], embedding=string_embedding), H5AD, "is not a dense numeric array"),
    ("h5ad sparse embedding", "h5ad", ".h5ad", h5ad(codes=[0, 1], embedding=sparse_embedding), H5AD, "is not a dense numeric array"),
    ("h5ad missing obs column", "h5ad", ".h5ad", h5ad(codes=[0, 1]), ["--embedding", "X_pca", "--time-key", "age"], "has no obs column 'age'"),
]

# checks of the accepted cases: snapshot times and labels
ACCEPTED = {
    "npz integer positions": lambda s, err: np.testing.assert_array_equal(s.positions[1], (10 * X[1]).astype(np.int32)),
    "csv unsorted times": lambda s, err: (np.testing.assert_array_equal(s.times, [0, 1, 2]),
                                         np.testing.assert_array_equal(s.positions[0][:, 0], [2, 4])),
    "h5ad unused category": lambda s, err: (np.testing.assert_array_equal(s.counts, [2, 3]),
                                           np.testing.assert_equal(s.attrs["snapshot_labels"], "d0,d2"),
                                           np.testing.assert_equal("categories d1 of obs/day have no cells" in err, True)),
    "h5ad unsorted numeric times": lambda s, err: (np.testing.assert_array_equal(s.times, [0, 1.5, 3]),
                                                  np.testing.assert_array_equal(s.counts, [2, 2, 2])),
}


class MalformedInputs(unittest.TestCase):
    def test_table(self):
        self.assertEqual(set(ACCEPTED), {name for name, *_, fragment in CASES if fragment is None})
        with tempfile.TemporaryDirectory(prefix="wlm-convert-malformed-") as tmp:
            for k, (name, command, suffix, write, extra, fragment) in enumerate(CASES):
                with self.subTest(case=name):
                    source = os.path.join(tmp, "input%d%s" % (k, suffix))
                    output = os.path.join(tmp, "out%d.h5" % k)
                    write(source)
                    result = subprocess.run([sys.executable, CONVERT, command, source, "-o", output] + extra,
                                            capture_output=True, text=True, timeout=60)
                    if fragment is None:
                        self.assertEqual(result.returncode, 0, result.stderr)
                        ACCEPTED[name](wlmsnapshots.read(output), result.stderr)
                        continue
                    self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                    message = result.stderr.strip()
                    self.assertNotIn("\n", message)
                    self.assertIn(fragment, message)
                    self.assertFalse(os.path.exists(output))
                    self.assertFalse(os.path.exists(output + ".tmp"))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
