"""RSS over time of scripts/bench/bursts.c (bursts of allocation separated by
idle periods) under every allocator: samples VmRSS every 20 ms and writes
rss-over-time.csv, rss-over-time.svg (RSS against time, one line per
allocator) and rss-over-time.md (peak, mean, and mean while idle).
    python3 rss_over_time.py BURSTS_BINARY OUT_DIR NAME=LIB...
NAME=- runs without a preloaded library (glibc). BURSTS and IDLE_MS in the
environment change the shape (default 4 bursts, 1500 ms idle)."""
import os
import subprocess
import sys
import time

from report import COLORS, ORDER

BURSTS = int(os.environ.get("BURSTS", "4"))
IDLE_MS = int(os.environ.get("IDLE_MS", "1500"))


def sample(binary, lib):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib != "-":
        env["LD_PRELOAD"] = lib
    start = time.monotonic()
    p = subprocess.Popen([binary, str(BURSTS), str(IDLE_MS)], env=env,
                         stdout=subprocess.DEVNULL)
    points = []
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        points.append((time.monotonic() - start, int(line.split()[1]) / 1024))
        except OSError:
            pass
        time.sleep(0.02)
    return points, p.returncode


def svg(series, path):
    w, h, left, bottom, top, right = 900, 420, 60, 40, 20, 150
    tmax = max(t for pts in series.values() for t, _ in pts)
    rmax = max(r for pts in series.values() for _, r in pts) * 1.05
    x = lambda t: left + (w - left - right) * t / tmax
    y = lambda r: top + (h - top - bottom) * (1 - r / rmax)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="14">RSS (MiB) against time (s): {BURSTS} bursts of '
           f'allocation, each followed by {IDLE_MS} ms idle</text>']
    for i in range(6):
        r = rmax * i / 5
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(r):.1f}" y2="{y(r):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(r) + 4:.1f}" text-anchor="end">{r:.0f}</text>')
    for i in range(int(tmax) + 1):
        out.append(f'<text x="{x(i):.1f}" y="{h - bottom + 16}" text-anchor="middle">{i}</text>')
    for n, (name, pts) in enumerate(series.items()):
        color = COLORS.get(name, "#333")
        d = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r in pts)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{d}"/>')
        out.append(f'<rect x="{w - right + 10}" y="{top + 18 * n}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{w - right + 28}" y="{top + 18 * n + 10}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def idle_mean(pts):
    # Idle: the last 80% of each idle period, when the program allocates
    # nothing; recognised as samples where RSS has not moved by more than
    # 1 MiB in 200 ms.
    quiet = [r for i, (t, r) in enumerate(pts)
             if i >= 10 and abs(r - pts[i - 10][1]) < 1]
    return sum(quiet) / len(quiet) if quiet else float("nan")


def main():
    binary, out_dir = sys.argv[1], sys.argv[2]
    libs = dict(a.split("=", 1) for a in sys.argv[3:])
    names = [n for n in ORDER if n in libs] + [n for n in libs if n not in ORDER]
    series, rows = {}, []
    for name in names:
        if libs[name] != "-" and not os.path.exists(libs[name]):
            print(f"rss_over_time: {name}: {libs[name]} not found, left out", file=sys.stderr)
            continue
        pts, rc = sample(binary, libs[name])
        if rc != 0:
            print(f"rss_over_time: {name}: exit {rc}, left out", file=sys.stderr)
            continue
        series[name] = pts
        rss = [r for _, r in pts]
        rows.append((name, max(rss), sum(rss) / len(rss), idle_mean(pts)))
    with open(os.path.join(out_dir, "rss-over-time.csv"), "w") as f:
        f.write("allocator,seconds,rss_mib\n")
        for name, pts in series.items():
            for t, r in pts:
                f.write(f"{name},{t:.3f},{r:.1f}\n")
    svg(series, os.path.join(out_dir, "rss-over-time.svg"))
    with open(os.path.join(out_dir, "rss-over-time.md"), "w") as f:
        f.write(f"| allocator | peak RSS (MiB) | mean RSS (MiB) | mean RSS while idle (MiB) |\n")
        f.write("|---|---:|---:|---:|\n")
        for name, peak, mean, idle in rows:
            f.write(f"| {name} | {peak:.0f} | {mean:.0f} | {idle:.0f} |\n")
    print(open(os.path.join(out_dir, "rss-over-time.md")).read())


if __name__ == "__main__":
    main()
