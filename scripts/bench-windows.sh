#!/usr/bin/env bash
# Windows allocators side by side, under Wine: each workload of scripts/
# bench/ that builds with MinGW runs on the C runtime's own heap (msvcrt.dll,
# which Wine implements over its HeapAlloc) and redirected to snmalloc by
# snmalloc: imported by a copy made with `snmalloc-run --add-import` (same
# process count as the baseline: the allocator alone) and injected by
# snmalloc-run.exe (what a user typing it pays, one more Wine process), in
# one hyperfine run per workload; the summary gives the ratios.
#
#   scripts/bench-windows.sh [--quick] [--out DIR]
#
# Time only: Wine runs each Windows process as a Linux process behind the
# launcher's, so peak memory is not measured here. Wine's heap is not
# Windows' (the segment heap, or the NT heap with its low-fragmentation
# front end): these ratios say nothing about Windows itself.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 out=target/bench-windows
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
scripts/windows.sh --build-only
source scripts/lib/install.sh
apt_install hyperfine
bin=target/windows-tests
for w in churn xthread cache; do
  x86_64-w64-mingw32-gcc-posix -O2 -static "scripts/bench/$w.c" -o "$bin/bench-$w.exe" -lpthread
  rm -f "$bin/bench-$w-imports.exe"
done
export WINEPREFIX=$PWD/target/wineprefix WINEDEBUG=-all
trap 'wineserver -k 2>/dev/null || true' EXIT
wineserver -p 2>/dev/null || true # keep one server up: start-up out of the figures
for w in churn xthread cache; do
  (cd "$bin" && wine snmalloc-run.exe --add-import "bench-$w.exe" "bench-$w-imports.exe" 2>/dev/null)
done

if [ "$quick" -eq 1 ]; then
  runs=(--runs 2) churn=200000 xthread=100000 cache=(scratch 2 100 100)
else
  runs=(--warmup 1 --runs 10) churn=20000000 xthread=2000000 cache=(scratch 2 200000 2000)
fi
mkdir -p "$out"
bench() {
  local name=$1
  shift
  (cd "$bin" && hyperfine -N "${runs[@]}" --style basic \
    --export-markdown "$OLDPWD/$out/$name.md" \
    -n "msvcrt (Wine heap)" "wine bench-$name.exe $*" \
    -n "snmalloc-rs (imported)" "wine bench-$name-imports.exe $*" \
    -n "snmalloc-rs (snmalloc-run.exe)" "wine snmalloc-run.exe bench-$name.exe $*")
}
# A real program: Wine's JScript interpreter (cscript.exe, on ucrtbase.dll).
cp tests/windows/work.js "$bin/"
(cd "$bin" && hyperfine -N "${runs[@]}" --style basic \
  --export-markdown "$OLDPWD/$out/cscript.md" \
  -n "ucrtbase (Wine heap)" "wine cscript.exe //nologo work.js" \
  -n "snmalloc-rs (snmalloc-run.exe)" "wine snmalloc-run.exe cscript.exe //nologo work.js")
bench churn "$churn"
bench xthread "$xthread"
bench cache "${cache[@]}"
echo "bench-windows: tables in $out/"
