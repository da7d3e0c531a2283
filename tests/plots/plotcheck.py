"""Helpers of the tests of tools/wlm-plot and tools/wlm-summary.

The tests produce real outputs with wlm_mpi on the small ocean vortex data
(9 snapshots of 111 drifters in 2-D) and run the tools on them in a
temporary directory.  They read the images back: the pixel size from the
PNG or GIF header (standard library only) and the colors with matplotlib.

Every test program takes the same arguments:
  TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5 [WLM_GENERATE]
"""

import os
import struct
import subprocess
import sys
import tempfile
import unittest

TOOLS, WLM_MPI, MPIEXEC, OCEAN = sys.argv[1:5]
WLM_GENERATE = sys.argv[5] if len(sys.argv) > 5 else None
PLOT = os.path.join(TOOLS, "wlm-plot")
SUMMARY = os.path.join(TOOLS, "wlm-summary")
sys.path.insert(0, TOOLS)

MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def run_wlm(args, ranks=1, cwd=None, program=None):
    """Run wlm_mpi (or program) on `ranks` ranks; raise with its output when it fails."""
    command = [MPIEXEC, "-n", str(ranks), program or WLM_MPI] + [str(a) for a in args]
    result = subprocess.run(command, capture_output=True, text=True, env=MPI_ENV, cwd=cwd, timeout=120)
    if result.returncode != 0:
        raise RuntimeError("%s failed with status %d:\n%s\n%s" % (" ".join(command), result.returncode, result.stdout[-3000:], result.stderr[-3000:]))
    return result.stdout


def train(output, *options, ranks=1, steps=20, data=None, cwd=None, hidden="16,16"):
    """Train on the small ocean data for a few steps, with an evaluation every 10 steps; returns the output directory.

    hidden sets the layer widths of the MLP potentials; pass None for the harmonic type, which has none.
    """
    widths = ["-wlm_potential_hidden", hidden] if hidden else []
    run_wlm(["-wlm_data", data or OCEAN, "-wlm_steps", steps, "-wlm_log_every", 5, "-wlm_eval_every", 10, "-wlm_ema_decay", 0.9,
             "-wlm_output", output] + widths + list(options), ranks=ranks, cwd=cwd)
    return output


def run_tool(tool, *args, cwd=None):
    return subprocess.run([sys.executable, tool] + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=120)


def png_size(path):
    """(width, height) from the IHDR chunk, which follows the 8-byte PNG signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError("%s is not a PNG file" % path)
    return struct.unpack(">II", head[16:24])


def gif_size(path):
    """(width, height) of the logical screen, little-endian after the 6-byte GIF signature."""
    with open(path, "rb") as f:
        head = f.read(10)
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise AssertionError("%s is not a GIF file" % path)
    return struct.unpack("<HH", head[6:10])


def distinct_colors(path):
    """Number of distinct RGB colors of a PNG: a blank or single-color image has 1."""
    import matplotlib.image
    import numpy as np
    pixels = (matplotlib.image.imread(path)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


class ToolTest(unittest.TestCase):
    """A temporary directory per test class, where setUpClass writes the wlm_mpi outputs."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="wlm-plot-test-")
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, *names):
        return os.path.join(cls.dir, *names)

    def plot(self, *args, size=None):
        """Run wlm-plot, expect success, and return the image it wrote after checking that it is not blank."""
        output = args[list(args).index("-o") + 1]
        result = run_tool(PLOT, *args)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue(os.path.isfile(output), "no image written: %s" % result.stdout)
        self.assertGreater(os.path.getsize(output), 1000)
        self.assertFalse([name for name in os.listdir(os.path.dirname(output)) if ".tmp" in name], "temporary file left behind")
        if output.endswith(".png"):
            if size is not None:
                self.assertEqual(png_size(output), size)
            self.assertGreater(distinct_colors(output), 50, "image has almost no content")
        return output

    def reject(self, tool, fragment, *args):
        """Run a tool, expect exit status 2 with one line naming the problem, no traceback and no image."""
        output = args[list(args).index("-o") + 1] if "-o" in args else None
        result = run_tool(tool, *args)
        self.assertEqual(result.returncode, 2, "expected a rejection, got status %d: %s %s" % (result.returncode, result.stdout, result.stderr))
        message = result.stderr.strip()
        self.assertNotIn("Traceback", message)
        self.assertEqual(message.count("\n"), 0, "message is not one line: %r" % message)
        self.assertIn(fragment, message)
        if output:
            self.assertFalse(os.path.exists(output), "output written despite the error")
        return message


def main():
    unittest.main(argv=sys.argv[:1], verbosity=2)
