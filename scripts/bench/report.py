"""Turns the suite's results.csv into results.md (tables of ratios) and
chart.svg (time and peak-RSS ratios to glibc per workload and allocator).
    python3 report.py RESULTS.csv OUT_DIR "machine description"

When OUT_DIR is this repository's docs/bench (a full run of scripts/bench.sh,
not --quick), it also writes the one-line headline and the summary table (the geometric means of
results.md, one row per allocator) into README.md, between the lines
<!-- bench-summary:start --> and <!-- bench-summary:end -->.
"""
import csv
import math
import os
import sys
from collections import OrderedDict

ORDER = ["glibc", "snmalloc-rs", "upstream-snmalloc", "jemalloc", "mimalloc", "tcmalloc",
         "snmalloc-rs-global"]
COLORS = {"glibc": "#9e9e9e", "snmalloc-rs": "#d62728", "upstream-snmalloc": "#ff9896",
          "jemalloc": "#1f77b4", "mimalloc": "#2ca02c", "tcmalloc": "#9467bd",
          "snmalloc-rs-global": "#8c564b"}


def load(path):
    data = OrderedDict()
    for row in csv.DictReader(open(path)):
        data.setdefault(row["workload"], OrderedDict())[row["allocator"]] = row
    return data


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def allocators(data):
    seen = {a for rows in data.values() for a in rows}
    return [a for a in ORDER if a in seen] + sorted(seen - set(ORDER))


def failed(row):
    return set(row["exit"].split("|")) != {"0"}


def ratio(rows, a, base, field):
    if a not in rows or base not in rows or failed(rows[a]) or failed(rows[base]):
        return None
    b = float(rows[base][field])
    return float(rows[a][field]) / b if b > 0 else None


def fmt(x):
    return "–" if x is None else f"{x:.2f}"


def cell(rows, a, base, field):
    if a in rows and failed(rows[a]):
        return f"fail (exit {rows[a]['exit']})"
    return fmt(ratio(rows, a, base, field))


def ratios(data, a, base, field):
    """a's ratios to base over the workloads where both ran and succeeded."""
    return [r for r in (ratio(rows, a, base, field) for rows in data.values()) if r]


def table(data, allocs, field, base, title):
    out = [f"### {title}", "",
           "| workload | " + " | ".join(allocs) + " |",
           "|---|" + "---:|" * len(allocs)]
    for w, rows in data.items():
        out.append(f"| {w} | " + " | ".join(cell(rows, a, base, field) for a in allocs) + " |")
    gm = [geomean(ratios(data, a, base, field)) for a in allocs]
    out.append("| **geometric mean** | " + " | ".join(f"**{g:.2f}**" for g in gm) + " |")
    return out


SUMMARY_START = "<!-- bench-summary:start -->"
SUMMARY_END = "<!-- bench-summary:end -->"
HEADLINE_START = "<!-- bench-headline:start -->"
HEADLINE_END = "<!-- bench-headline:end -->"
PEERS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]


def summary(data, allocs):
    """The geometric-mean rows of results.md, one line per allocator."""
    up = any("upstream-snmalloc" in rows for rows in data.values())
    cols = [("median_s", "glibc", "time vs glibc"), ("peak_rss_kib", "glibc", "peak RSS vs glibc")]
    if up:
        cols.append(("median_s", "upstream-snmalloc", "time vs upstream snmalloc"))
    out = ["| allocator | " + " | ".join(c[2] for c in cols) + " | workloads |",
           "|---|" + "---:|" * len(cols) + "---:|"]
    for a in allocs:
        gms = [f"{geomean(ratios(data, a, base, field)):.2f}" for field, base, _ in cols]
        n = len(ratios(data, a, "glibc", "median_s"))
        out.append(f"| {a} | " + " | ".join(gms) + f" | {n} of {len(data)} |")
    return out


def headline(data):
    """The README's one line under the title: our time and peak RSS as
    ratios to each peer's (geometric means over the workloads both ran)."""
    parts = []
    for peer in PEERS:
        t = geomean(ratios(data, "snmalloc-rs", peer, "median_s"))
        m = geomean(ratios(data, "snmalloc-rs", peer, "peak_rss_kib"))
        if t == t and m == m:  # not NaN: the peer ran
            parts.append(f"{t:.2f}x {peer}'s time at {m:.2f}x its peak RSS")
    return ("Microsoft's snmalloc for any program, unchanged (`LD_PRELOAD`), and for Rust: "
            + "; ".join(parts)
            + " (geometric means over the workloads of [docs/bench](docs/bench/results.md)).")


def replace_between(text, start_mark, end_mark, lines):
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        return None
    return text[:start] + start_mark + "\n" + "\n".join(lines) + "\n" + text[end:]


def update_readme(data, allocs, out_dir):
    here = os.path.dirname(os.path.abspath(__file__))
    readme = os.path.normpath(os.path.join(here, "..", "..", "README.md"))
    docs_bench = os.path.normpath(os.path.join(here, "..", "..", "docs", "bench"))
    if os.path.realpath(out_dir) != os.path.realpath(docs_bench):
        return  # a quick or scratch run: the README shows docs/bench only
    if not os.path.exists(readme):
        print(f"report: warning: {readme} not found; summary not written", file=sys.stderr)
        return
    text = open(readme).read()
    new = text
    for start, end, lines in [(SUMMARY_START, SUMMARY_END, summary(data, allocs)),
                              (HEADLINE_START, HEADLINE_END, [headline(data)])]:
        replaced = replace_between(new, start, end, lines)
        if replaced is None:
            print(f"report: warning: {readme} has no {start} ... {end} lines; not written",
                  file=sys.stderr)
        else:
            new = replaced
    if new != text:
        open(readme, "w").write(new)


def winners(data, allocs):
    out = []
    for w, rows in data.items():
        timed = {a: float(rows[a]["median_s"]) for a in allocs if a in rows and not failed(rows[a])}
        if not timed:
            out.append(f"- {w}: every run failed")
            continue
        best = min(timed, key=timed.get)
        ours = timed.get("snmalloc-rs")
        up = timed.get("upstream-snmalloc")
        vs_up = f"; vs upstream snmalloc {ours / up:.3f}×" if ours and up else ""
        if best == "snmalloc-rs":
            out.append(f"- {w}: snmalloc-rs fastest{vs_up}")
        elif ours:
            out.append(f"- {w}: **{best}** fastest, snmalloc-rs {ours / timed[best]:.2f}× its time{vs_up}")
    return out


def notes(data):
    out = []
    for w, rows in data.items():
        for a, r in rows.items():
            if r["same_output"] != "true":
                out.append(f"- {w}/{a}: output differed from glibc's")
            if failed(r):
                out.append(f"- {w}/{a}: exit status {r['exit']}: the run failed; its figures are left out")
    return out


def svg(data, allocs, path, machine):
    workloads = list(data)
    group_w, bar_w, left, top = 14 * len(allocs) + 16, 14, 60, 40
    width = left + group_w * len(workloads) + 20
    panel_h, gap = 240, 90
    lo, hi = -3.0, 2.0  # log2 range: 1/8 .. 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + 2 * panel_h + gap + 90}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">snmalloc-rs benchmark suite: '
             f'ratio to glibc (lower is better, log scale)</text>',
             f'<text x="{left}" y="32" fill="#555">{machine}</text>']
    for panel, (field, label) in enumerate([("median_s", "wall time"), ("peak_rss_kib", "peak RSS")]):
        y0 = top + panel * (panel_h + gap)

        def y(v):
            v = max(min(math.log2(v), hi), lo)
            return y0 + (hi - v) / (hi - lo) * panel_h

        for tick in [0.125, 0.25, 0.5, 1, 2, 4]:
            ty = y(tick)
            parts.append(f'<line x1="{left}" x2="{width - 20}" y1="{ty:.1f}" y2="{ty:.1f}" '
                         f'stroke="{"#333" if tick == 1 else "#ddd"}"/>')
            parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:g}</text>')
        parts.append(f'<text x="12" y="{y0 + panel_h / 2:.1f}" transform="rotate(-90 12 {y0 + panel_h / 2:.1f})" '
                     f'text-anchor="middle">{label}</text>')
        for i, w in enumerate(workloads):
            gx = left + i * group_w + 8
            for j, a in enumerate(allocs):
                r = ratio(data[w], a, "glibc", field)
                if r is None:
                    if a in data[w] and failed(data[w][a]):
                        parts.append(f'<text x="{gx + j * bar_w + 2}" y="{y(1) - 3:.1f}" font-size="9" '
                                     f'fill="{COLORS.get(a, "#bcbd22")}">✗</text>')
                    continue
                y1, y2 = sorted([y(1), y(r)])
                parts.append(f'<rect x="{gx + j * bar_w}" y="{y1:.1f}" width="{bar_w - 2}" '
                             f'height="{max(y2 - y1, 1):.1f}" fill="{COLORS.get(a, "#bcbd22")}">'
                             f'<title>{w} {a}: {r:.2f}</title></rect>')
            parts.append(f'<text x="{gx + group_w / 2 - 8:.1f}" y="{y0 + panel_h + 14}" '
                         f'text-anchor="end" transform="rotate(-35 {gx + group_w / 2 - 8:.1f} {y0 + panel_h + 14})">{w}</text>')
    ly = top + 2 * panel_h + gap + 50
    for j, a in enumerate(allocs):
        lx = left + j * 150
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{COLORS.get(a, "#bcbd22")}"/>')
        parts.append(f'<text x="{lx + 16}" y="{ly + 10}">{a}</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts) + "\n")


def main():
    path, out_dir, machine = sys.argv[1], sys.argv[2], sys.argv[3]
    data = load(path)
    allocs = allocators(data)
    md = [f"Measured on: {machine}. Medians of interleaved runs "
          f"({next(iter(next(iter(data.values())).values()))['runs']} per allocator per workload).", ""]
    md += table(data, allocs, "median_s", "glibc", "Wall time, ratio to glibc (lower is better)") + [""]
    md += table(data, allocs, "peak_rss_kib", "glibc", "Peak RSS, ratio to glibc (lower is better)") + [""]
    if any("upstream-snmalloc" in rows for rows in data.values()):
        md += table(data, allocs, "median_s", "upstream-snmalloc",
                    "Wall time, ratio to upstream snmalloc's shim") + [""]
        md += table(data, allocs, "peak_rss_kib", "upstream-snmalloc",
                    "Peak RSS, ratio to upstream snmalloc's shim") + [""]
    md += ["### Fastest per workload", ""] + winners(data, allocs) + [""]
    md += ["### Absolute figures (glibc)", "", "| workload | median | min | max | peak RSS |", "|---|---:|---:|---:|---:|"]
    for w, rows in data.items():
        g = rows.get("glibc")
        if g:
            md.append(f"| {w} | {float(g['median_s']):.3f} s | {float(g['min_s']):.3f} s | "
                      f"{float(g['max_s']):.3f} s | {float(g['peak_rss_kib']) / 1024:.1f} MiB |")
    n = notes(data)
    if n:
        md += ["", "### Notes", ""] + n
    open(f"{out_dir}/results.md", "w").write("\n".join(md) + "\n")
    svg(data, allocs, f"{out_dir}/chart.svg", machine)
    update_readme(data, allocs, out_dir)


if __name__ == "__main__":
    main()
