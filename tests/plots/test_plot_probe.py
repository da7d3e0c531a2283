"""Tests of wlm_mpi -wlm_mode probe, the input of wlm-plot potential.

For a population X of N particles and a grid point g the probe writes

  phi(g) = (U(X + g) - U(X)) / w,   a(g) = F_g / w,   w = 1 / (N + 1).

Checks:
- harmonic model, U = k/2 sum_i w_i |x_i|^2 + c/4 sum_ij w_i w_j |x_i - x_j|^2: then
  phi(g) = k/2 |g|^2 + c/2 w sum_i |x_i - g|^2 and a(g) = -k g - c w (N g - sum_i x_i),
  with k and c read from the checkpoint; on 1, 2 and 3 ranks;
- external and meanfield models: a = -grad phi, by central differences on a
  3 x 3 grid of spacing 1e-4 around a point;
- external model without time input: phi = V(g) does not depend on the population;
- the grid: -wlm_probe_bounds gives the coordinates, and one -wlm_probe_grid value a square grid.

Usage: test_plot_probe.py TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5 WLM_GENERATE
"""

import os

import h5py
import numpy as np

import plotcheck
from plotcheck import ToolTest, run_wlm, train

import wlmresults


class ProbeMode(ToolTest):
    def probe(self, run, name, *options, ranks=1, potential=()):
        """Probe the checkpoint of a run and return the file read back."""
        output = self.path(name)
        widths = [] if "harmonic" in potential else ["-wlm_potential_hidden", "16,16"]
        run_wlm(["-wlm_data", plotcheck.OCEAN, "-wlm_mode", "probe", "-wlm_checkpoint", os.path.join(run, "checkpoint.h5"),
                 "-wlm_probe_output", output] + widths + list(potential) + list(options), ranks=ranks)
        return wlmresults.Probe(output)

    def test_harmonic_formula(self):
        run = train(self.path("harmonic"), "-wlm_potential_type", "harmonic", steps=5, hidden=None)
        with h5py.File(os.path.join(run, "checkpoint.h5"), "r") as f:
            k, c = f["optimizer/params"][:2]   # the current weights (-wlm_forecast_ema false)
        self.assertGreater(abs(c), 0)
        for ranks in (1, 2, 3):
            probe = self.probe(run, "harmonic%d.h5" % ranks, "-wlm_probe_grid", "7,5", "-wlm_probe_bounds", "-1,0.5,-0.6,0.4",
                               "-wlm_forecast_ema", "false", "-wlm_forecast_start", "2", ranks=ranks, potential=["-wlm_potential_type", "harmonic"])
            np.testing.assert_allclose(probe.x, np.linspace(-1, 0.5, 7), rtol=0, atol=1e-15)
            np.testing.assert_allclose(probe.y, np.linspace(-0.6, 0.4, 5), rtol=0, atol=1e-15)
            self.assertEqual(probe.snapshot, 2)
            self.assertEqual(probe.time, 2.0)
            self.assertEqual(probe.weights, "raw")
            X = probe.population
            N = len(X)
            self.assertEqual(N, 111)
            w = 1.0 / (N + 1)
            G = np.stack(np.meshgrid(probe.x, probe.y), axis=-1)   # [ny][nx][2]
            phi = 0.5 * k * (G ** 2).sum(-1) + 0.5 * c * w * ((G[:, :, None, :] - X[None, None]) ** 2).sum(-1).sum(-1)
            acceleration = -k * G - c * w * (N * G - X.sum(axis=0))
            np.testing.assert_allclose(probe.potential, phi, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(probe.acceleration, acceleration, rtol=1e-12, atol=1e-14)

    def test_acceleration_is_minus_gradient(self):
        h = 1e-4
        x0, y0 = -0.55, -0.2
        bounds = "%.17g,%.17g,%.17g,%.17g" % (x0 - h, x0 + h, y0 - h, y0 + h)
        for potential in ("external", "meanfield"):
            run = train(self.path(potential), "-wlm_potential_type", potential, steps=3)
            probe = self.probe(run, potential + ".h5", "-wlm_probe_grid", "3", "-wlm_probe_bounds", bounds, ranks=2,
                               potential=["-wlm_potential_type", potential])
            self.assertEqual(probe.potential.shape, (3, 3))
            gradient = np.array([probe.potential[1, 2] - probe.potential[1, 0], probe.potential[2, 1] - probe.potential[0, 1]]) / (2 * h)
            a = probe.acceleration[1, 1]
            self.assertGreater(np.abs(a).max(), 1e-3, "%s: the force is too small to test" % potential)
            np.testing.assert_allclose(-gradient, a, rtol=1e-6, atol=1e-6 * np.abs(a).max(), err_msg=potential)

    def test_external_ignores_population(self):
        run = train(self.path("external_static"), "-wlm_potential_time_input", "false", steps=3)
        first = self.probe(run, "static0.h5", "-wlm_probe_grid", "6,4", "-wlm_probe_bounds", "-1,0,-1,0.5", "-wlm_forecast_start", "0")
        second = self.probe(run, "static4.h5", "-wlm_probe_grid", "6,4", "-wlm_probe_bounds", "-1,0,-1,0.5", "-wlm_forecast_start", "4")
        self.assertFalse(np.allclose(first.population, second.population))
        np.testing.assert_allclose(first.potential, second.potential, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(first.acceleration, second.acceleration, rtol=1e-12, atol=1e-14)

    def test_default_bounds_cover_population(self):
        run = train(self.path("bounds"), steps=2)
        probe = self.probe(run, "bounds.h5", "-wlm_probe_grid", "4")
        self.assertEqual(probe.potential.shape, (4, 4))
        lo, hi = probe.population.min(axis=0), probe.population.max(axis=0)
        np.testing.assert_allclose([probe.x[0], probe.x[-1]], [lo[0] - 0.1 * (hi[0] - lo[0]), hi[0] + 0.1 * (hi[0] - lo[0])], rtol=1e-9)
        np.testing.assert_allclose([probe.y[0], probe.y[-1]], [lo[1] - 0.1 * (hi[1] - lo[1]), hi[1] + 0.1 * (hi[1] - lo[1])], rtol=1e-9)


if __name__ == "__main__":
    plotcheck.main()
