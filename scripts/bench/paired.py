#!/usr/bin/env python3
"""Ratios of two allocators' runs, paired by round, from the runs.csv that
scripts/bench.sh writes (snmalloc-run --compare --runs-csv): the runs of a
round are interleaved, so that a ratio within a round is free of the
machine's drift between rounds.

    scripts/bench/paired.py RUNS_CSV A B

For each workload: the median of A/B over the rounds and its range (the
smallest and largest ratio of a round), for time and for peak RSS; then the
geometric mean over the workloads of each, with the geometric means of the
per-workload minima and maxima as its range. Exit status 0, 2 on a bad
command line or a file without both allocators.
"""

import csv
import math
import statistics
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path, a, b = sys.argv[1:]
    runs = defaultdict(dict)  # (workload, round) -> allocator -> (s, kib)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["exit"] != "0":
                continue
            key = (row["workload"], int(row["round"]))
            runs[key][row["allocator"]] = (float(row["seconds"]), float(row["max_rss_kib"]))
    ratios = defaultdict(lambda: ([], []))  # workload -> (time ratios, rss ratios)
    for (workload, _), by in sorted(runs.items()):
        if a in by and b in by and by[b][0] > 0 and by[b][1] > 0:
            ratios[workload][0].append(by[a][0] / by[b][0])
            ratios[workload][1].append(by[a][1] / by[b][1])
    if not ratios:
        print(f"{path}: no round has both {a} and {b}", file=sys.stderr)
        return 2

    def cell(v):
        return f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})"

    print(f"| workload | rounds | time {a}/{b} (range) | peak RSS {a}/{b} (range) |")
    print("|---|---:|---:|---:|")
    summary = ([], [], [], [], [], [])
    for workload, (t, r) in ratios.items():
        print(f"| {workload} | {len(t)} | {cell(t)} | {cell(r)} |")
        for i, v in enumerate((statistics.median(t), min(t), max(t),
                               statistics.median(r), min(r), max(r))):
            summary[i].append(v)

    def geo(v):
        return math.exp(sum(math.log(x) for x in v) / len(v))

    t, tlo, thi, r, rlo, rhi = (geo(v) for v in summary)
    print(f"| geometric mean | {len(ratios)} workloads | {t:.3f} ({tlo:.3f}-{thi:.3f}) "
          f"| {r:.3f} ({rlo:.3f}-{rhi:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
