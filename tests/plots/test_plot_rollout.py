"""Tests of wlm-plot trajectories, animate, potential and snapshots on a rollout and a probe.

A model trained for a few steps on the small ocean data is rolled out with
wlm_mpi -wlm_mode forecast to t = 0.5, 1, ..., 4 and probed on a grid with
-wlm_mode probe.  Every image must have the expected pixel size and content, and a GIF the
expected number of frames.

Usage: test_plot_rollout.py TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5 WLM_GENERATE
"""

import importlib.machinery
import importlib.util
import os

import numpy as np

import plotcheck
from plotcheck import PLOT, ToolTest, gif_size, run_wlm, train

FORECAST_TIMES = "0.5,1,1.5,2,2.5,3,3.5,4"


def load_plot_module():
    loader = importlib.machinery.SourceFileLoader("wlm_plot", PLOT)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("wlm_plot", loader))
    loader.exec_module(module)
    return module


def gif_frames(path):
    from PIL import Image
    with Image.open(path) as image:
        return image.n_frames


class RolloutOutputs(ToolTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        run = train(cls.path("run"), "-wlm_protocol", "forecast", steps=10)
        cls.rollout = cls.path("rollout.h5")
        run_wlm(["-wlm_data", plotcheck.OCEAN, "-wlm_potential_hidden", "16,16", "-wlm_mode", "forecast", "-wlm_checkpoint", os.path.join(run, "checkpoint.h5"),
                 "-wlm_forecast_times", FORECAST_TIMES, "-wlm_forecast_output", cls.rollout], ranks=2)
        cls.probe = cls.path("probe.h5")
        run_wlm(["-wlm_data", plotcheck.OCEAN, "-wlm_potential_hidden", "16,16", "-wlm_mode", "probe", "-wlm_checkpoint", os.path.join(run, "checkpoint.h5"),
                 "-wlm_probe_grid", "24,18", "-wlm_probe_output", cls.probe], ranks=2)

    def test_trajectories_default(self):
        self.plot("trajectories", self.rollout, "-o", self.path("paths.png"), size=(1000, 850))

    def test_trajectories_arrows_observed(self):
        self.plot("trajectories", self.rollout, "--arrows", "--observed", "--particles", "30", "--size", "700x600",
                  "-o", self.path("arrows.png"), size=(700, 600))

    def test_snapshots_of_rollout(self):
        # panels at the 5 rollout times with an observed snapshot (t = 0, 1, 2, 3, 4): 3 columns, 2 rows
        self.plot("snapshots", self.rollout, "-o", self.path("rollout.png"), size=(1140, 830))

    def test_animate_gif(self):
        output = self.plot("animate", self.rollout, "-o", self.path("movie.gif"))
        self.assertEqual(gif_size(output), (800, 700))
        self.assertEqual(gif_frames(output), 9)

    def test_animate_substeps_trail(self):
        output = self.plot("animate", self.rollout, "--substeps", "3", "--trail", "2", "--size", "400x300", "--fps", "10",
                           "-o", self.path("smooth.gif"))
        self.assertEqual(gif_size(output), (400, 300))
        self.assertEqual(gif_frames(output), 1 + 8 * 3)

    def test_potential_default(self):
        self.plot("potential", self.probe, "-o", self.path("potential.png"), size=(1000, 850))

    def test_potential_bare(self):
        self.plot("potential", self.probe, "--arrows", "0", "--contours", "0", "--no-population", "--size", "600x500",
                  "-o", self.path("bare.png"), size=(600, 500))

    def test_hermite_frames_exact_for_cubics(self):
        # a cubic path with its derivative at the stored times is reproduced exactly between them
        module = load_plot_module()
        times = np.array([0.0, 0.5, 1.5])

        def path(t):
            return np.array([[t ** 3 - 2 * t, 1 + t ** 2], [0.5 * t ** 3, -t]])

        def velocity(t):
            return np.array([[3 * t ** 2 - 2, 2 * t], [1.5 * t ** 2, -1.0]])

        X = np.stack([path(t) for t in times])
        V = np.stack([velocity(t) for t in times])
        frame_times, frames = module.hermite_frames(times, X, V, 4)
        self.assertEqual(len(frames), 1 + 2 * 4)
        np.testing.assert_allclose(frame_times, [0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.25, 1.5])
        for t, x in zip(frame_times, frames):
            np.testing.assert_allclose(x, path(t), rtol=0, atol=1e-12)


if __name__ == "__main__":
    plotcheck.main()
