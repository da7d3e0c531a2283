#!/usr/bin/env python3
"""Plot the strong-scaling runs of run_scaling.sh: seconds per step and memory per rank against ranks.

Usage: scaling_plot.py OUT.png LOG...

Each log named strong-<model>-<N>-p<P>[-variant].log gives one point; runs of
one model, N and variant form one line.  The left panel shows the seconds per
training step of the slowest rank with the ideal 1/P line from the 1-rank run,
the right one the peak resident memory of the largest rank.
"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

NAME = re.compile(r"strong-(\w+)-(\d+)-p(\d+)(?:-(\w+))?\.log$")
HEAD = re.compile(r"^bench_step: (\d+) ranks, ([0-9.]+) s per step .*?\(MB\):([ 0-9]+)$", re.M)


def read_runs(paths):
    """Returns {(model, N, variant): [(P, seconds, MB)]} from the logs that match the naming scheme."""
    runs = {}
    for path in paths:
        name = NAME.search(path)
        try:
            with open(path) as log:
                head = HEAD.search(log.read())
        except OSError as err:
            sys.exit("error: cannot read log %s (%s); pass the logs written by run_scaling.sh" % (path, err.strerror))
        if not name or not head:
            continue
        model, n, p, variant = name.group(1), int(name.group(2)), int(name.group(3)), name.group(4) or "default"
        memory = max(int(v) for v in head.group(3).split())
        runs.setdefault((model, n, variant), []).append((p, float(head.group(2)), memory))
    return runs


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: scaling_plot.py OUT.png LOG...")
    runs = read_runs(sys.argv[2:])
    if not runs:
        sys.exit("error: no strong-scaling log with a bench_step line among the arguments; pass the logs of run_scaling.sh")

    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    colors = plt.get_cmap("tab20").colors
    for index, ((model, n, variant), points) in enumerate(sorted(runs.items())):
        points.sort()
        ranks = [p for p, _, _ in points]
        label = "%s N=%.0e%s" % (model, n, "" if variant == "default" else " (%s)" % variant)
        color = colors[(2 * index) % 20 if index < 10 else (2 * index + 1) % 20]
        time_ax.loglog(ranks, [s for _, s, _ in points], "o-", color=color, label=label)
        if ranks[0] == 1 and len(ranks) > 1:
            time_ax.loglog(ranks, [points[0][1] / p for p in ranks], ":", color=color)
        mem_ax.semilogy(ranks, [m for _, _, m in points], "o-", color=color, label=label)

    time_ax.set_xlabel("ranks P (4 oversubscribes 2 cores)")
    time_ax.set_ylabel("seconds per training step")
    time_ax.set_title("one rollout sharded over P ranks (dotted: ideal)")
    mem_ax.set_xlabel("ranks P")
    mem_ax.set_ylabel("peak memory per rank (MB)")
    mem_ax.set_title("memory of the largest rank")
    for ax in (time_ax, mem_ax):
        ax.set_xticks([1, 2, 4])
        ax.set_xticklabels(["1", "2", "4"])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    mem_ax.legend(fontsize=7, loc="upper right")

    fig.tight_layout()
    fig.savefig(sys.argv[1], dpi=100)


if __name__ == "__main__":
    main()
