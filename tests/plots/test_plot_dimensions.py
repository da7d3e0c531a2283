"""Tests of wlm-plot on a population in 3-D: projections for the clouds and paths, and the rejected potential plot.

wlm_generate writes 4 snapshots of 40 particles of a damped harmonic system
in 3-D.  wlm_mpi trains on them for a few steps, rolls the first snapshot
out and probes the potential.  In 3-D the probe is a slice through the
population mean, which the potential plot must reject with one line.

Usage: test_plot_dimensions.py TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5 WLM_GENERATE
"""

import os

import numpy as np

import plotcheck
from plotcheck import PLOT, ToolTest, gif_size, run_wlm, train

import wlmresults


class ThreeDimensions(ToolTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = cls.path("data3.h5")
        run_wlm(["-wlm_generate_type", "harmonic", "-wlm_generate_n", 40, "-wlm_generate_snapshots", 4, "-wlm_generate_dim", 3,
                 "-wlm_generate_output", cls.data], program=plotcheck.WLM_GENERATE)
        cls.run_dir = train(cls.path("run3"), steps=3, data=cls.data)
        checkpoint = os.path.join(cls.run_dir, "checkpoint.h5")
        cls.rollout = cls.path("rollout3.h5")
        run_wlm(["-wlm_data", cls.data, "-wlm_potential_hidden", "16,16", "-wlm_mode", "forecast", "-wlm_checkpoint", checkpoint,
                 "-wlm_forecast_output", cls.rollout])
        cls.probe = cls.path("probe3.h5")
        run_wlm(["-wlm_data", cls.data, "-wlm_potential_hidden", "16,16", "-wlm_mode", "probe", "-wlm_checkpoint", checkpoint,
                 "-wlm_probe_grid", "5", "-wlm_probe_output", cls.probe])

    def test_snapshots_pca(self):
        # 3 predicted snapshots of the forecast protocol: 2 columns, 2 rows
        self.plot("snapshots", self.run_dir, "-o", self.path("pca.png"), size=(760, 830))

    def test_snapshots_first_coordinates(self):
        self.plot("snapshots", self.run_dir, "--projection", "first", "--columns", "3", "-o", self.path("first.png"), size=(1140, 450))

    def test_trajectories_pca(self):
        self.plot("trajectories", self.rollout, "--observed", "--arrows", "-o", self.path("paths3.png"), size=(1000, 850))

    def test_animate_pca(self):
        output = self.plot("animate", self.rollout, "-o", self.path("movie3.gif"))
        self.assertEqual(gif_size(output), (800, 700))

    def test_potential_rejects_three_dimensions(self):
        self.reject(PLOT, "was probed in d = 3; the potential plot needs d = 2", "potential", self.probe, "-o", self.path("potential3.png"))

    def test_probe_single_grid_value_is_square(self):
        probe = wlmresults.Probe(self.probe)
        self.assertEqual(probe.potential.shape, (5, 5))
        self.assertEqual(probe.acceleration.shape, (5, 5, 3))

    def test_pca_axes(self):
        # the leading principal axis of points spread along (1, 1, 0) is that direction, and the share of variance is in the label
        rng = np.random.default_rng(0)
        points = np.outer(rng.normal(size=200), [1.0, 1.0, 0.0]) + 0.01 * rng.normal(size=(200, 3))
        projection = wlmresults.Projection("auto", points)
        self.assertEqual(projection.method, "pca")
        axis = projection.axes[:, 0]
        self.assertAlmostEqual(abs(axis @ np.array([1.0, 1.0, 0.0])) / np.sqrt(2), 1.0, places=4)
        self.assertTrue(projection.labels[0].startswith("PC1 (100% of variance)"), projection.labels[0])
        projected = projection(points)
        self.assertEqual(projected.shape, (200, 2))
        self.assertAlmostEqual(abs(projected[:, 0]).max(), abs(points @ axis - points.mean(axis=0) @ axis).max(), places=12)


if __name__ == "__main__":
    plotcheck.main()
