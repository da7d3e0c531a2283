"""Tests of invalid input to wlm-plot and wlm-summary: exit status 2, one line naming the problem, no traceback, no image.

The valid files of the wrong kind (a model, a probe, interpolation
predictions, a run directory) come from a short interpolation run and a
forecast rollout of wlm_mpi on the small ocean data.

Usage: test_plot_errors.py TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5 WLM_GENERATE
"""

import os
import shutil
import unittest

import h5py
import numpy as np

import plotcheck
from plotcheck import PLOT, SUMMARY, ToolTest, run_wlm, train


class InvalidInput(ToolTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_dir = train(cls.path("run"), "-wlm_protocol", "interpolate", "-wlm_holdout", "2,5", steps=5)
        checkpoint = os.path.join(cls.run_dir, "checkpoint.h5")
        cls.rollout = cls.path("rollout.h5")
        run_wlm(["-wlm_data", plotcheck.OCEAN, "-wlm_potential_hidden", "16,16", "-wlm_mode", "forecast", "-wlm_checkpoint", checkpoint,
                 "-wlm_forecast_output", cls.rollout])
        cls.probe = cls.path("probe.h5")
        run_wlm(["-wlm_data", plotcheck.OCEAN, "-wlm_potential_hidden", "16,16", "-wlm_mode", "probe", "-wlm_checkpoint", checkpoint,
                 "-wlm_probe_grid", "4", "-wlm_probe_output", cls.probe])
        cls.text = cls.path("notes.txt")
        with open(cls.text, "w") as f:
            f.write("not a wlm file\n")
        cls.foreign = cls.path("foreign.h5")
        with h5py.File(cls.foreign, "w") as f:
            f["values"] = np.arange(3.0)
        cls.image = cls.path("out.png")

    def plot_rejects(self, fragment, *args):
        return self.reject(PLOT, fragment, *args)

    def test_missing_file(self):
        for command in ("snapshots", "trajectories", "potential"):
            self.plot_rejects("no such file", command, self.path("missing.h5"), "-o", self.image)
        self.plot_rejects("no such run directory or metrics file", "curves", self.path("missing"), "-o", self.image)
        self.plot_rejects("no such file", "animate", self.path("missing.h5"), "-o", self.path("out.gif"))

    def test_not_hdf5(self):
        self.plot_rejects("notes.txt is not an HDF5 file", "snapshots", self.text, "-o", self.image)
        self.plot_rejects("notes.txt is not an HDF5 file", "potential", self.text, "-o", self.image)

    def test_not_a_wlm_file(self):
        self.plot_rejects("foreign.h5 is not a wlm prediction or rollout file (format = '')", "snapshots", self.foreign, "-o", self.image)
        self.plot_rejects("foreign.h5 is not a wlm probe file", "potential", self.foreign, "-o", self.image)

    def test_wrong_kind_of_wlm_file(self):
        self.plot_rejects("is not a wlm probe file (format = 'wlm-snapshots')", "potential", self.rollout, "-o", self.image)
        self.plot_rejects("format = 'wlm-probe'): it is a probe of the potential; plot it with wlm-plot potential", "snapshots", self.probe, "-o", self.image)
        self.plot_rejects("format = 'wlm-model'", "trajectories", os.path.join(self.run_dir, "model.h5"), "-o", self.image)
        self.plot_rejects("format = 'wlm-checkpoint'", "animate", os.path.join(self.run_dir, "checkpoint.h5"), "-o", self.path("out.gif"))

    def test_trajectories_need_one_rollout(self):
        self.plot_rejects("contains separate rollouts started from snapshots 1,4", "trajectories", os.path.join(self.run_dir, "predictions_raw.h5"),
                          "-o", self.image)

    def test_arrows_need_velocities(self):
        # the rollout without its velocities, as the predictions of a forecast evaluation are
        predictions = self.path("forecast_predictions.h5")
        with h5py.File(self.rollout, "r") as source, h5py.File(predictions, "w") as f:
            for name, value in source.attrs.items():
                f.attrs[name] = value
            group = f.create_group("snapshots")
            for name in ("time", "count", "offset", "position"):
                group[name] = source["snapshots"][name][()]
        self.plot_rejects("has no velocities, so --arrows cannot be drawn", "trajectories", predictions, "--arrows", "-o", self.image)

    def test_observed_data_dimension(self):
        data3 = self.path("data3.h5")
        run_wlm(["-wlm_generate_type", "harmonic", "-wlm_generate_n", 10, "-wlm_generate_snapshots", 3, "-wlm_generate_dim", 3,
                 "-wlm_generate_output", data3], program=plotcheck.WLM_GENERATE)
        self.plot_rejects("has dimension 2 but the observed data", "snapshots", self.run_dir, "--data", data3, "-o", self.image)

    def test_observed_data_not_found(self):
        moved = self.path("moved.h5")
        shutil.copy(self.rollout, moved)
        with h5py.File(moved, "a") as f:
            f.attrs["source"] = "data/nowhere.h5"
        self.plot_rejects("observed data data/nowhere.h5 (recorded in", "animate", moved, "-o", self.path("out.gif"))
        self.plot_rejects("--data", "snapshots", moved, "--data", self.path("none.h5"), "-o", self.image)

    def test_run_directory_without_metrics(self):
        self.plot_rejects("has no metrics.jsonl", "curves", self.dir, "-o", self.image)
        self.reject(SUMMARY, "has no metrics.jsonl", self.dir)

    def test_run_still_training(self):
        running = self.path("running")
        os.makedirs(running)
        shutil.copy(os.path.join(self.run_dir, "metrics.jsonl"), running)
        self.plot_rejects("has no predictions_ema.h5 yet; wlm_mpi writes the predictions when training ends", "snapshots", running, "-o", self.image)

    def test_corrupt_metrics(self):
        metrics = self.path("bad", "metrics.jsonl")
        os.makedirs(os.path.dirname(metrics))
        with open(metrics, "w") as f:
            f.write('{"step": 1, "kind": "train", "loss": 1.0}\n{"step": 2, "kind": "train", "loss": \n')
        self.plot_rejects("metrics.jsonl line 2 is not valid JSON", "curves", os.path.dirname(metrics), "-o", self.image)
        self.reject(SUMMARY, "metrics.jsonl line 2 is not valid JSON", metrics)
        with open(metrics, "w") as f:
            f.write('{"step": 1, "loss": 1.0}\n')
        self.reject(SUMMARY, "line 1 is not a wlm metrics record", metrics)
        self.reject(SUMMARY, "is an HDF5 file; give the run directory or its metrics.jsonl", self.rollout)

    def test_output_errors(self):
        self.plot_rejects("of the output does not exist", "potential", self.probe, "-o", self.path("nowhere", "out.png"))
        self.plot_rejects("has the extension '.txt'", "potential", self.probe, "-o", self.path("out.txt"))
        self.plot_rejects("has the extension '.png'; use one of .gif, .mp4", "animate", self.rollout, "-o", self.image)
        self.plot_rejects("--size '20x20' is invalid", "potential", self.probe, "--size", "20x20", "-o", self.image)
        self.plot_rejects("--size 'wide' is not of the form WIDTHxHEIGHT", "potential", self.probe, "--size", "wide", "-o", self.image)

    @unittest.skipIf(shutil.which("ffmpeg"), "ffmpeg is installed, so MP4 output works")
    def test_mp4_without_ffmpeg(self):
        self.plot_rejects("needs ffmpeg, which was not found on PATH; write a .gif instead", "animate", self.rollout, "-o", self.path("out.mp4"))

    def test_option_values(self):
        self.plot_rejects("--times 'a,b' is not a comma-separated list of numbers", "snapshots", self.run_dir, "--times", "a,b", "-o", self.image)
        self.plot_rejects("--panels 'loss,speed': unknown panel 'speed'", "curves", self.run_dir, "--panels", "loss,speed", "-o", self.image)
        self.plot_rejects("--labels gives 2 labels for 1 runs", "curves", self.run_dir, "--labels", "a,b", "-o", self.image)
        self.plot_rejects("--substeps 0 is invalid", "animate", self.rollout, "--substeps", "0", "-o", self.path("out.gif"))
        self.plot_rejects("--particles -3 is negative", "trajectories", self.rollout, "--particles", "-3", "-o", self.image)

    def test_usage_errors(self):
        self.plot_rejects("invalid choice: 'histogram'", "histogram", self.rollout)
        self.plot_rejects("the following arguments are required: input", "potential")
        self.reject(SUMMARY, "the following arguments are required: RUN")
        self.reject(SUMMARY, "not allowed with argument", self.run_dir, "--csv", "--markdown")


if __name__ == "__main__":
    plotcheck.main()
