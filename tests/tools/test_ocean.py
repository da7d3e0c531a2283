"""Converts the two ocean vortex files and loads them with the C reader on 2 ranks.

The files (ocean_vortex_small.npz and ocean_vortex_big.npz, arrays positions
and velocities of shape (T, N, 2)) are not part of the repository.  They are
looked for in $WLM_DATA_DIR, else in the directory given as the last argument.
When either is absent the test prints the directory it searched and exits with
status 77, which meson reports as skipped.

Usage: test_ocean.py TOOLS_DIR SNAPSHOTS_INSPECT MPIEXEC DEFAULT_DATA_DIR
"""

import os
import subprocess
import sys
import tempfile

TOOLS, INSPECT, MPIEXEC, DEFAULT_DATA = sys.argv[1:5]
EXPECTED = {"ocean_vortex_small": (9, 111, 2), "ocean_vortex_big": (11, 400, 2)}


def main():
    data = os.environ.get("WLM_DATA_DIR", DEFAULT_DATA)
    missing = [name for name in EXPECTED if not os.path.isfile(os.path.join(data, name + ".npz"))]
    if missing:
        print("SKIP: %s.npz not found in %s; set WLM_DATA_DIR to the directory holding the ocean vortex files" % (missing[0], os.path.abspath(data)))
        return 77
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    with tempfile.TemporaryDirectory(prefix="wlm-ocean-test-") as tmp:
        for name, (T, N, d) in EXPECTED.items():
            output = os.path.join(tmp, name + ".h5")
            subprocess.run([sys.executable, os.path.join(TOOLS, "wlm-convert"), "npz", os.path.join(data, name + ".npz"), "-o", output,
                            "--coordinate-names", "x,y"], check=True)
            result = subprocess.run([MPIEXEC, "-n", "2", INSPECT, "-file", output, "-expect_snapshots", str(T), "-expect_particles", str(N),
                                     "-expect_dim", str(d)], capture_output=True, text=True, env=env, timeout=60)
            print(result.stdout, end="")
            if result.returncode != 0:
                print("FAIL: %s: %s" % (name, result.stderr.strip()))
                return 1
            if "%d snapshots, %d particles, %d dimensions" % (T, N, d) not in result.stdout:
                print("FAIL: %s: summary does not report (T, N, d) = (%d, %d, %d)" % (name, T, N, d))
                return 1
            print("%s: (T, N, d) = (%d, %d, %d)" % (name, T, N, d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
