#!/usr/bin/env bash
# The benchmark suite: every workload under glibc, snmalloc-rs, upstream
# snmalloc's own shim (built from the same pinned source), jemalloc,
# mimalloc and tcmalloc, through LD_PRELOAD on the same binaries, runs
# interleaved (snmalloc-run --compare). Results: CSV, a Markdown table and an
# SVG chart (ratios to glibc and to upstream snmalloc), and the fast-path
# micro-benchmark.
#   scripts/bench.sh            full run; writes docs/bench/ (README shows it)
#   scripts/bench.sh --quick    tiny inputs, 1 run each; writes target/bench/quick/
#                               (CI runs this so the harness never rots)
#   scripts/bench.sh --out DIR [--runs N] [--with NAME=LIB]...
#                               full inputs into DIR (docs/ and the README
#                               untouched), N runs, more libraries compared
# Every run is also recorded in OUT/runs.csv (one row per run), for ratios
# paired by round: scripts/bench/paired.py.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 runs=5 out=docs/bench with=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 runs=1 out=target/bench/quick ;;
    --out) out=$2; shift ;;
    --runs) runs=$2; shift ;;
    --with) with+=(--with "$2"); shift ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--runs N] [--with NAME=LIB]..." >&2; exit 2 ;;
  esac
  shift
done
bin=target/bench
mkdir -p "$bin" "$out"

# What the suite needs; a peer that cannot be installed is left out by
# snmalloc-run with a message.
source scripts/lib/install.sh
want=(python3 sqlite3 git g++)
[ $quick = 1 ] || want+=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 redis-server redis-tools)
apt_install "${want[@]}" || echo "bench: could not install some of ${want[*]}; those are skipped" >&2

cargo build --release --quiet
run=target/release/snmalloc-run
upstream=$(scripts/build-upstream-shim.sh)
for c in churn xthread larson cache growth large bigblocks bursts aligned; do
  gcc -O2 -fno-builtin -pthread "scripts/bench/$c.c" -o "$bin/$c"
done
# Workloads the tests run too.
for c in zerofill; do
  gcc -O2 -fno-builtin -pthread "tests/programs/$c.c" -o "$bin/$c"
done
g++ -O2 -std=c++17 scripts/bench/newdelete.cpp -o "$bin/newdelete"
for v in system snmalloc; do
  features=(); [ $v = snmalloc ] && features=(--features snmalloc)
  cargo build --release --quiet --manifest-path scripts/bench/rust-alloc/Cargo.toml \
    --target-dir "$bin/rust-alloc" "${features[@]}"
  cp "$bin/rust-alloc/release/rust-alloc" "$bin/rust-$v"
done

# Inputs, full and quick.
if [ $quick = 1 ]; then
  n_churn=200000 n_x=20000 n_larson="2 2 20000" n_cache=200 n_growth="200 200" n_large=50 n_big=20 n_zero=20
  n_aligned=100000 n_nd=1 n_rust=1 n_py=1 n_sql=2000 n_files=200 n_redis=2000
else
  n_churn=30000000 n_x=3000000 n_larson="4 20 150000" n_cache=20000 n_growth="2000 1500" n_large=600 n_big=400 n_zero=2000
  n_aligned=6000000 n_nd=30 n_rust=12 n_py=5 n_sql=300000 n_files=4000 n_redis=100000
fi

sql=$bin/workload.sql
cat > "$sql" <<SQL
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n_sql)
  INSERT INTO t SELECT i, 'name-' || i, i % 97, zeroblob(i % 300) FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(length(payload)) FROM t GROUP BY grp ORDER BY grp;
SQL

# A repository of many files, with uncommitted changes.
repo=$bin/git-repo
rm -rf "$repo"; mkdir -p "$repo"
python3 - "$repo" "$n_files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.txt"), "w") as f:
        f.write("".join(f"file {i} line {l}\n" for l in range(i % 60 + 1)))
PY
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.invalid GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.invalid
export GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" commit -qm base
for i in $(seq 0 7 "$n_files"); do echo change >> "$repo/d$((i % 50))/f$i.txt" 2>/dev/null || true; done

csv=$out/results.csv
rm -f "$csv" "$out/runs.csv"
compare() {
  local label=$1; shift
  echo "bench: $label" >&2
  "$run" --compare -n "$runs" --with "upstream-snmalloc=$upstream" "${with[@]}" \
    --csv "$csv" --runs-csv "$out/runs.csv" --label "$label" "$@" \
    > "$bin/$label.txt" 2> "$bin/$label.progress" || echo "bench: $label: see notes in $bin/$label.txt" >&2
}
compare churn -- "$bin/churn" $n_churn
compare larson -- "$bin/larson" $n_larson
compare xthread -- "$bin/xthread" $n_x
compare cache-scratch -- "$bin/cache" scratch 2 $n_cache 2000
compare cache-thrash -- "$bin/cache" thrash 2 $n_cache 2000
compare realloc-growth -- "$bin/growth" $n_growth
compare large -- "$bin/large" $n_large
compare bigblocks -- "$bin/bigblocks" $n_big
compare zerofill -- "$bin/zerofill" $n_zero
compare aligned -- "$bin/aligned" $n_aligned
compare cxx-newdelete -- "$bin/newdelete" $n_nd
compare rust --alt "snmalloc-rs-global=$PWD/$bin/rust-snmalloc" -- "$bin/rust-system" $n_rust
compare python3 -- python3 scripts/bench/py_alloc.py $n_py
compare sqlite3 -- sqlite3 :memory: ".read $sql"
compare g++ -- g++ -O1 -std=c++17 -c tests/programs/cxx.cpp -o /dev/null
compare git -- sh -c "git -C $repo status --porcelain | wc -l; git -C $repo diff --stat | tail -1; git -C $repo add -A -n | wc -l"
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  compare redis -- scripts/bench/redis.sh $n_redis
else
  echo "bench: redis-server/redis-benchmark not installed, redis skipped" >&2
fi

if perf stat -e instructions true 2>&1 | grep -q '<not supported>' || ! command -v perf >/dev/null; then
  echo "bench: perf stat has no instruction counter here; see the fast-path micro-benchmark" >&2
else
  echo "bench: perf can count instructions here (not yet used by the suite)" >&2
fi
# RSS over time of a bursty program (allocations, then idle), every allocator.
echo "bench: rss-over-time" >&2
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
bursts_env=(); [ $quick = 1 ] && bursts_env=(BURSTS=1 IDLE_MS=100)
env "${bursts_env[@]}" python3 scripts/bench/rss_over_time.py "$bin/bursts" "$out" glibc=- \
  "snmalloc-rs=$PWD/target/release/libsnmalloc_rs.so" "upstream-snmalloc=$upstream" \
  "jemalloc=$libdir/libjemalloc.so.2" "mimalloc=$libdir/libmimalloc.so.2" \
  "tcmalloc=$libdir/libtcmalloc_minimal.so.4" > /dev/null
fast=(--out "$out/fastpath.md"); [ $quick = 1 ] && fast+=(--quick)
scripts/bench/fastpath.sh "${fast[@]}" >/dev/null

python3 scripts/bench/report.py "$csv" "$out" "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(lsb_release -ds 2>/dev/null || grep PRETTY /etc/os-release | cut -d'"' -f2)"
echo "bench: results in $out/ (results.csv, results.md, chart.svg, fastpath.md, rss-over-time.*)" >&2
