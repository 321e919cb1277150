#!/usr/bin/env bash
# The SNMALLOC_DECAY settings side by side (time and peak RSS, and RSS while
# a bursty program idles): what chose the default (docs/memory.md).
#   scripts/bench/decay.sh      after scripts/bench.sh has built the workloads
# Writes docs/bench/decay.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/bench run=target/release/snmalloc-run lib=$PWD/target/release/libsnmalloc_rs.so
[ -x "$bin/bursts" ] && [ -x "$run" ] || { echo "decay.sh: run scripts/bench.sh first" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
settings=(0 250 1000 kernel)
csv=$tmp/decay.csv
compare() {
  local label=$1; shift
  local a=()
  for s in "${settings[@]}"; do
    printf '#!/bin/sh\nSNMALLOC_DECAY=%s LD_PRELOAD=%s exec %s "$@"\n' "$s" "$lib" "$1" > "$tmp/$label-$s"
    chmod +x "$tmp/$label-$s"
    a+=(--alt "decay-$s=$tmp/$label-$s")
  done
  echo "decay: $label" >&2
  "$run" --compare -n 5 "${a[@]}" --csv "$csv" --label "$label" -- "$@" > /dev/null 2>&1 || true
}
compare bigblocks "$PWD/$bin/bigblocks" 400
compare large "$PWD/$bin/large" 600
compare churn "$PWD/$bin/churn" 30000000
compare larson "$PWD/$bin/larson" 4 20 150000
compare python3 "$(command -v python3)" scripts/bench/py_alloc.py 5
compare sqlite3 "$(command -v sqlite3)" :memory: ".read $bin/workload.sql"
for s in "${settings[@]}"; do
  echo "decay: bursts, $s" >&2
  mkdir -p "$tmp/$s"
  SNMALLOC_DECAY=$s python3 scripts/bench/rss_over_time.py "$bin/bursts" "$tmp/$s" "decay-$s=$lib" > /dev/null
done
python3 - "$csv" "$tmp" "${settings[@]}" > docs/bench/decay.md <<'PY'
import csv, sys, collections
rows = collections.OrderedDict()
for r in csv.DictReader(open(sys.argv[1])):
    rows.setdefault(r["workload"], {})[r["allocator"]] = r
names = [f"decay-{s}" for s in sys.argv[3:]]
print("| workload | " + " | ".join(f"{n} time / RSS" for n in names) + " |")
print("|---|" + "---:|" * len(names))
for w, a in rows.items():
    g = a["glibc"]
    cells = []
    for n in names:
        if n not in a:
            cells.append("–")
            continue
        t = float(a[n]["median_s"]) / float(g["median_s"])
        m = float(a[n]["peak_rss_kib"]) / float(g["peak_rss_kib"])
        cells.append(f"{t:.2f} / {m:.2f}")
    print(f"| {w} | " + " | ".join(cells) + " |")
print()
print("Ratios to glibc: median time of 5 interleaved runs / peak RSS.")
print()
print("scripts/bench/bursts.c (4 bursts of about 250 MiB, each followed by 1.5 s idle):")
print()
print("| SNMALLOC_DECAY | peak RSS (MiB) | mean RSS (MiB) | mean RSS while idle (MiB) |")
print("|---|---:|---:|---:|")
for s in sys.argv[3:]:
    for line in open(f"{sys.argv[2]}/{s}/rss-over-time.md"):
        if line.startswith(f"| decay-{s} "):
            print(line.replace(f"decay-{s}", s, 1).rstrip())
PY
echo "decay: docs/bench/decay.md" >&2
