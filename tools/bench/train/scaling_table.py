#!/usr/bin/env python3
"""Summarize the logs of run_scaling.sh as a Markdown table.

Usage: scaling_table.py LOG...

For each log: ranks, seconds per step (bench_step line) and peak memory of
the largest rank.  From the -log_view table it takes the time per step of the
rollout, the loss, the adjoint, the loss's reductions and ring exchange, the
potential's exchange, the row fetches of sharded data and the gradient
allreduce (maximum over ranks).  It
adds the flops per rank per step and the max/min ratio over the ranks of the
rollout and adjoint times (their compute imbalance; the step itself ends in
an allreduce, so its ratio is always about 1).
"""
import re
import sys

EVENTS = ["WLMTrainStep", "WLMTrainRollout", "WLMTrainLoss", "WLMTrainAdjoint", "WLMLossAllreduce",
          "WLMLossRingExch", "WLMPotExchange", "WLMTrainFetch", "WLMTrainAllreduce"]


def parse(path):
    text = open(path).read()
    head = re.search(r"^bench_step: (\d+) ranks, ([0-9.]+) s per step \(slowest rank, mean of (\d+)\).*?\(MB\):([ 0-9]+)$", text, re.M)
    if not head:
        return None
    ranks, seconds, steps = int(head.group(1)), float(head.group(2)), int(head.group(3))
    memory = max(int(v) for v in head.group(4).split())
    rows = {}
    for name in EVENTS:
        m = re.search(r"^%s\s+(\d+)\s+[0-9.]+\s+([0-9.e+-]+)\s+([0-9.]+)\s+([0-9.e+-]+)" % name, text, re.M)
        if m:
            rows[name] = (int(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)))
    # the warm-up step is logged too: per-step values divide by steps + 1
    calls = steps + 1
    return ranks, seconds, memory, rows, calls


def main():
    print("| run | P | s/step | rollout | loss | adjoint | loss reductions | ring exchange | potential exchange | data fetch | grad allreduce | Gflop/rank/step | rollout/adjoint max/min | MB/rank |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        parsed = parse(path)
        if not parsed:
            continue
        ranks, seconds, memory, rows, calls = parsed
        name = re.sub(r"\.log$", "", path.split("/")[-1])

        def per_step(event):
            return "%.3f" % (rows[event][1] / calls) if event in rows else "-"
        step = rows.get("WLMTrainStep")
        flops = "%.2f" % (step[3] / calls / 1e9) if step else "-"
        ratio = "%.2f/%.2f" % (rows["WLMTrainRollout"][2], rows["WLMTrainAdjoint"][2]) if "WLMTrainRollout" in rows and "WLMTrainAdjoint" in rows else "-"
        print("| %s | %d | %.3f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
            name, ranks, seconds, per_step("WLMTrainRollout"), per_step("WLMTrainLoss"), per_step("WLMTrainAdjoint"),
            per_step("WLMLossAllreduce"), per_step("WLMLossRingExch"), per_step("WLMPotExchange"), per_step("WLMTrainFetch"),
            per_step("WLMTrainAllreduce"), flops, ratio, memory))


if __name__ == "__main__":
    main()
