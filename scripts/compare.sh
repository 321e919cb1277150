#!/usr/bin/env bash
# A first side-by-side run: a few workloads under glibc, snmalloc-rs,
# upstream snmalloc's own shim (same pinned source), and jemalloc, mimalloc,
# tcmalloc where their Debian packages are installed. Prints hyperfine's
# tables (mean time, and ratios to the fastest).
#   scripts/compare.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5; churn=50000000; xthread=5000000
if [ "${1:-}" = "--quick" ]; then runs=2; churn=2000000; xthread=200000; fi
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine" >&2; exit 1; }

cargo build --release -q
ours=$PWD/target/release/libsnmalloc_rs.so
upstream=$(scripts/build-upstream-shim.sh)
bin=target/bench; mkdir -p "$bin"
gcc -O2 -fno-builtin -pthread scripts/bench/churn.c -o "$bin/churn"
gcc -O2 -fno-builtin -pthread scripts/bench/xthread.c -o "$bin/xthread"

names=(glibc snmalloc-rs upstream-snmalloc); libs=("" "$ours" "$upstream")
libdir=/usr/lib/$(gcc -print-multiarch)
for pair in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
  if [ -f "$libdir/${pair#*:}" ]; then names+=("${pair%%:*}"); libs+=("$libdir/${pair#*:}")
  else echo "compare: ${pair%%:*} not installed, skipped" >&2; fi
done

sqlfile=$bin/workload.sql
cat > "$sqlfile" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
  INSERT INTO t SELECT i, 'name-' || i, i % 97, randomblob(i % 300) FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(length(payload)) FROM t GROUP BY grp ORDER BY grp;
SQL

bench() {
  local label=$1; shift
  local args=()
  for i in "${!names[@]}"; do
    if [ -z "${libs[$i]}" ]; then args+=(-n "${names[$i]}" "$*")
    else args+=(-n "${names[$i]}" "env LD_PRELOAD=${libs[$i]} $*"); fi
  done
  echo "### $label"
  hyperfine -N -w 1 -r "$runs" --style basic --export-markdown "$bin/$label.md" "${args[@]}" >/dev/null
  cat "$bin/$label.md"; echo
}

bench python3 python3 tests/programs/workload.py
bench churn "$bin/churn" "$churn"
bench xthread "$bin/xthread" "$xthread"
bench sqlite3 sqlite3 ":memory:" "'.read $sqlfile'"
