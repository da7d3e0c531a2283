"""Tests of wlm-plot snapshots and curves and of wlm-summary on the outputs of two short training runs.

One run interpolates the held-out snapshots 1, 3, 5 and 7 of the small
ocean data (2 ranks), the other forecasts with 60% of the snapshots for
training (1 rank).  The figures must have the expected pixel size and
content.  The W1 values in the panel titles and the tables must be those of
metrics.jsonl, and POT (ot.emd2) must find the same exact W1 between the
predicted and observed clouds as wlm did.

Usage: test_plot_evaluation.py TOOLS_DIR WLM_MPI MPIEXEC OCEAN_SMALL_H5
"""

import argparse
import csv
import importlib.machinery
import importlib.util
import io
import json
import os
import shutil

import plotcheck
from plotcheck import PLOT, SUMMARY, ToolTest, run_tool, train

import wlmresults
import wlmsnapshots


def load_plot_module():
    """Import tools/wlm-plot, whose file name has no .py suffix, as a module."""
    loader = importlib.machinery.SourceFileLoader("wlm_plot", PLOT)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("wlm_plot", loader))
    loader.exec_module(module)
    return module


def last_eval(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if '"eval"' in line][-1]


class EvaluationOutputs(ToolTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.interp = train(cls.path("interp"), "-wlm_protocol", "interpolate", "-wlm_holdout", "1,3,5,7", "-wlm_rollout_start", "any", ranks=2)
        cls.forecast = train(cls.path("forecast"), "-wlm_protocol", "forecast", "-wlm_train_fraction", "0.6")

    def test_snapshots_run_directory(self):
        # 4 panels: 2 columns of 380 pixels, 2 rows of 380 plus the 70-pixel header
        self.plot("snapshots", self.interp, "-o", self.path("interp.png"), size=(760, 830))

    def test_snapshots_size_option(self):
        self.plot("snapshots", self.interp, "--weights", "raw", "-o", self.path("sized.png"), "--size", "900x500", size=(900, 500))

    def test_snapshots_forecast_predictions(self):
        # 8 predicted snapshots: 3 columns, 3 rows
        self.plot("snapshots", os.path.join(self.forecast, "predictions_raw.h5"), "-o", self.path("forecast.png"), size=(1140, 1210))

    def test_snapshots_selected_times(self):
        self.plot("snapshots", self.interp, "--times", "3,7", "-o", self.path("two.png"), size=(760, 450))

    def test_snapshots_projection_pca(self):
        self.plot("snapshots", self.interp, "--projection", "pca", "--columns", "4", "-o", self.path("pca.png"), size=(1520, 450))

    def test_snapshot_titles_hold_metrics_w1(self):
        module = load_plot_module()
        path = os.path.join(self.interp, "predictions_ema.h5")
        pred = wlmsnapshots.read(path)
        data = wlmsnapshots.read(plotcheck.OCEAN)
        args = argparse.Namespace(metrics=None, times=None)
        panels, heading, _, _ = module.evaluation_panels(pred, path, data, args)
        evaluation = last_eval(self.interp)
        self.assertEqual(len(panels), 4)
        self.assertIn("step 20", heading)
        for panel, k in zip(panels, (1, 3, 5, 7)):
            self.assertIn("snapshot %d," % k, panel["title"])
            self.assertIn("W1 ema %s" % wlmresults.format_number(evaluation["ema"]["w1"][str(k)]), panel["title"])
            self.assertIn("persist. %s" % wlmresults.format_number(evaluation["persistence"]["w1"][str(k)]), panel["title"])

    def test_prediction_w1_matches_pot(self):
        # independent check of the pairing of predicted and observed snapshots: POT's exact W1 equals wlm's
        data = wlmsnapshots.read(plotcheck.OCEAN)
        for run in (self.interp, self.forecast):
            evaluation = last_eval(run)
            for weights in ("raw", "ema"):
                pred = wlmsnapshots.read(os.path.join(run, "predictions_%s.h5" % weights))
                for i, k in enumerate(wlmresults.predicted_indices(pred)):
                    w1 = wlmresults.exact_w1(pred.positions[i], data.positions[k])
                    if w1 is None:
                        self.skipTest("POT (python3-pot) is not installed")
                    self.assertAlmostEqual(w1, evaluation[weights]["w1"][str(k)], delta=1e-7 * max(1.0, w1), msg="%s %s snapshot %d" % (run, weights, k))

    def test_snapshots_find_relative_data(self):
        # wlm_mpi records the data path as given; the tool finds it from any directory above the run
        project = self.path("project")
        os.makedirs(os.path.join(project, "data"))
        shutil.copy(plotcheck.OCEAN, os.path.join(project, "data", "ocean.h5"))
        train(os.path.join("runs", "relative"), "-wlm_protocol", "interpolate", "-wlm_holdout", "4", steps=5, data=os.path.join("data", "ocean.h5"), cwd=project)
        output = self.path("relative.png")
        result = run_tool(PLOT, "snapshots", os.path.join(project, "runs", "relative"), "-o", output, cwd="/")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(plotcheck.png_size(output), (380, 450))

    def test_curves_one_run(self):
        self.plot("curves", self.interp, "-o", self.path("curves.png"), size=(1440, 450))

    def test_curves_overlay(self):
        self.plot("curves", self.interp, os.path.join(self.forecast, "metrics.jsonl"), "--panels", "loss,w1,lr", "--labels", "interpolate,forecast",
                  "--smooth", "2", "-o", self.path("overlay.png"), size=(1440, 450))

    def test_curves_panels_and_size(self):
        self.plot("curves", self.interp, self.forecast, "--panels", "friction,grad_norm", "--split", "train", "--size", "1000x400",
                  "-o", self.path("panels.png"), size=(1000, 400))

    def test_metrics_restart_keeps_latest(self):
        # a first run logged steps 5 to 15 and checkpointed at 5; the restarted run repeats 10 and 15 with its clock from 0
        os.makedirs(self.path("restarted"))
        path = self.path("restarted", "metrics.jsonl")
        with open(path, "w") as f:
            for step, loss, elapsed in ((5, 1.0, 0.5), (10, 0.9, 1.0), (15, 0.8, 1.5), (10, 0.5, 0.25), (15, 0.4, 0.5), (20, 0.3, 0.75)):
                f.write(json.dumps({"step": step, "kind": "train", "loss": loss, "elapsed": elapsed}) + "\n")
            f.write('{"step": 25, "kind": "tra')
        train_records, evals = wlmresults.read_metrics(path)
        self.assertEqual([r["step"] for r in train_records], [5, 10, 15, 20])
        self.assertEqual([r["loss"] for r in train_records], [1.0, 0.5, 0.4, 0.3])
        self.assertEqual(evals, [])
        run = wlmresults.Run(self.path("restarted"))
        self.assertEqual(run.steps, 20)
        self.assertAlmostEqual(run.train_seconds, 0.5 + 0.75)

    def test_summary_text(self):
        result = run_tool(SUMMARY, self.interp, self.forecast)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        runs = [line for line in lines if line.startswith("interp ")]
        self.assertEqual(len(runs), 1 + 4, result.stdout)   # the runs row and 4 snapshot rows
        evaluation = last_eval(self.interp)
        self.assertIn(wlmresults.format_number(evaluation["raw"]["w1_test"], 4), runs[0])
        self.assertIn("interpolate", runs[0])
        self.assertIn("holdout 1,3,5,7", runs[0])
        self.assertEqual(len([line for line in lines if line.startswith("forecast ")]), 1 + 8)

    def test_summary_csv(self):
        result = run_tool(SUMMARY, self.interp, self.forecast, "--csv", "--table", "snapshots")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        self.assertEqual(len(rows), 4 + 8)
        evaluation = last_eval(self.forecast)
        for row in rows[4:]:
            k = row["snapshot"]
            self.assertAlmostEqual(float(row["model ema"]), evaluation["ema"]["w1"][k], delta=1e-9)
            self.assertAlmostEqual(float(row["free streaming"]), evaluation["freestream"]["w1"][k], delta=1e-9)
            self.assertEqual(row["test"], "yes" if int(k) >= 5 else "no")
            self.assertEqual(float(row["time"]), float(k))

        result = run_tool(SUMMARY, self.forecast, "--csv", "--table", "runs")
        row = next(csv.DictReader(io.StringIO(result.stdout)))
        self.assertEqual(int(row["steps"]), 20)
        self.assertAlmostEqual(float(row["W1 last train snapshot"]), evaluation["persistence_last"]["w1_test"], delta=1e-9)
        self.assertAlmostEqual(float(row["friction"]), evaluation["friction"], delta=1e-9)

    def test_summary_markdown(self):
        result = run_tool(SUMMARY, self.interp, "--markdown")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| run | data | protocol |", result.stdout)
        self.assertIn("|---|---|---|", result.stdout)
        self.assertEqual(result.stdout.count("\n| interp |"), 1 + 4)


if __name__ == "__main__":
    plotcheck.main()
