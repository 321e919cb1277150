#!/usr/bin/env bash
# Allocator fast path: instructions and cycles per malloc+free pair, for a few
# sizes, under glibc (no preload), snmalloc-rs, upstream snmalloc's own shim,
# and jemalloc, mimalloc, tcmalloc where their Debian packages are installed.
# Prints Markdown tables.
#   scripts/bench/fastpath.sh [--quick] [--check] [--out FILE]
# --quick  fewer pairs and repetitions (a few seconds, for CI)
# --check  exit 1 if snmalloc-rs's malloc takes more instructions (median)
#          than upstream's shim at any size, or its free more than
#          upstream's plus the two-level pagemap's lookup (FREE_EXTRA: the
#          root slot's mask and load and the leaf's add; CI: counts are
#          exact, not timings)
# --out F  also write the tables to F
#
# Instructions are counted by single-stepping K pairs under ptrace
# (scripts/bench/stepcount.c), and are those of malloc and free themselves,
# from their first instruction to their return: the loop, the call sites and
# the PLT stubs (the same code for every allocator) are left out. Cycles are
# TSC ticks (constant rate, not the core clock) per pair, the best of REPS
# runs of N pairs (scripts/bench/fastpath.c). x86_64 Linux only.
# Uses the libraries as built: target/release/libsnmalloc_rs.so
# (cargo build --release) and target/upstream/libsnmallocshim.so
# (scripts/build-upstream-shim.sh); either one missing is skipped.
set -euo pipefail

usage() { sed -n '6,11s/^# \{0,1\}//p' "$0"; }
quick=0 check=0 out=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --check) check=1 ;;
    --out) [ $# -ge 2 ] || { echo "fastpath.sh: --out needs a FILE" >&2; exit 2; }
           out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fastpath.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$out" ] && [ "${out#/}" = "$out" ]; then out=$PWD/$out; fi
cd "$(dirname "$0")/../.."

if [ "$(uname -m)" != x86_64 ] || [ "$(uname -s)" != Linux ]; then
  echo "fastpath.sh: x86_64 Linux only (rdtsc, int3 markers, ptrace registers)" >&2
  exit 2
fi

sizes=(16 64 256 1024 4096)
if [ "$quick" = 1 ]; then k=50 n=100000 reps=5; else k=1000 n=1000000 reps=7; fi

bin=target/bench
mkdir -p "$bin"
cc=${CC:-gcc}
# Built under temporary names, then renamed: a concurrent run never sees a
# half-written binary.
$cc -O2 -fno-builtin -Wall -Wl,-z,now scripts/bench/fastpath.c -o "$bin/fastpath.$$"
$cc -O2 -Wall scripts/bench/stepcount.c -o "$bin/stepcount.$$"
mv -f "$bin/fastpath.$$" "$bin/fastpath"
mv -f "$bin/stepcount.$$" "$bin/stepcount"

names=(glibc) libs=("") envs=("")
add() { # NAME LIB HINT [VAR=VALUE]
  if [ -f "$2" ]; then names+=("$1"); libs+=("$(realpath "$2")"); envs+=("${4:-}")
  else echo "fastpath.sh: $1 skipped: $2 missing${3:+ ($3)}" >&2; fi
}
add snmalloc-rs target/release/libsnmalloc_rs.so "cargo build --release"
add upstream-snmalloc target/upstream/libsnmallocshim.so "scripts/build-upstream-shim.sh"
libdir=/usr/lib/$($cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
add jemalloc "$libdir/libjemalloc.so.2" "apt-get install libjemalloc2"
add mimalloc "$libdir/libmimalloc.so.2" "apt-get install libmimalloc2.0"
add tcmalloc "$libdir/libtcmalloc_minimal.so.4" "apt-get install libtcmalloc-minimal4"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field KEY LINE: the value of KEY=value in a stepcount output line.
field() { local v=" $2 "; v=${v#* "$1"=}; echo "${v%% *}"; }

declare -A ins cyc mmed fmed pmin pmax
harness=
for i in "${!names[@]}"; do
  name=${names[$i]} lib=${libs[$i]}
  # Each allocator's environment: one VAR=VALUE, or a harmless default.
  e=${envs[$i]:-FASTPATH_ALLOCATOR=$name}
  echo "fastpath.sh: $name" >&2
  for s in "${sizes[@]}"; do
    line=$(env "$e" "$bin/stepcount" "$lib" "$s" "$k")
    ins[$name,$s]=$(field alloc_per_pair "$line")
    mmed[$name,$s]=$(field malloc_median "$line")
    fmed[$name,$s]=$(field free_median "$line")
    pmin[$name,$s]=$(field pair_min "$line")
    pmax[$name,$s]=$(field pair_max "$line")
    # The harness is the same binary for all: its count must not move.
    h=$(( $(field total_steps "$line") - $(field alloc_steps "$line") ))
    if [ -z "$harness" ]; then harness=$h
    elif [ "$h" != "$harness" ]; then
      echo "fastpath.sh: warning: harness steps $h under $name/$s, $harness before" >&2
    fi
    if [ -n "$lib" ]; then
      cyc[$name,$s]=$(env "$e" LD_PRELOAD="$lib" "$bin/fastpath" cycles "$s" "$n" "$reps")
    else
      cyc[$name,$s]=$(env -u LD_PRELOAD "$bin/fastpath" cycles "$s" "$n" "$reps")
    fi
  done
done

report=$tmp/report.md
{
  echo "### malloc+free fast path"
  echo
  echo "instructions/pair: executed in malloc and free, mean of $k pairs (single-stepped;"
  echo "the harness's $(awk -v h="$harness" -v k="$k" 'BEGIN { printf "%.0f", h / k }') instructions per pair of loop, call sites and PLT stubs excluded)."
  echo "cycles/pair: TSC ticks, best of $reps runs of $n pairs."
  echo
  echo "| allocator | size | instructions/pair | cycles/pair |"
  echo "|---|---:|---:|---:|"
  for name in "${names[@]}"; do
    for s in "${sizes[@]}"; do
      echo "| $name | $s | ${ins[$name,$s]} | ${cyc[$name,$s]} |"
    done
  done
  if [[ -v 'ins[snmalloc-rs,16]' && -v 'ins[upstream-snmalloc,16]' ]]; then
    echo
    echo "### snmalloc-rs − upstream-snmalloc"
    echo
    echo "| size | instructions/pair | malloc (median) | free (median) | cycles/pair |"
    echo "|---:|---:|---:|---:|---:|"
    for s in "${sizes[@]}"; do
      awk -v s="$s" -v a="${ins[snmalloc-rs,$s]}" -v b="${ins[upstream-snmalloc,$s]}" \
          -v ma="${mmed[snmalloc-rs,$s]}" -v mb="${mmed[upstream-snmalloc,$s]}" \
          -v fa="${fmed[snmalloc-rs,$s]}" -v fb="${fmed[upstream-snmalloc,$s]}" \
          -v ca="${cyc[snmalloc-rs,$s]}" -v cb="${cyc[upstream-snmalloc,$s]}" \
          'BEGIN { printf "| %s | %+.2f | %+g | %+g | %+.2f |\n", s, a - b, ma - mb, fa - fb, ca - cb }'
    done
  fi
  echo
  echo "### Per call"
  echo
  echo "Instructions of one call, median over the $k pairs (the fast path), and the"
  echo "cheapest and costliest pair (slow paths: refills, flushes)."
  echo
  echo "| allocator | size | malloc | free | pair min | pair max |"
  echo "|---|---:|---:|---:|---:|---:|"
  for name in "${names[@]}"; do
    for s in "${sizes[@]}"; do
      echo "| $name | $s | ${mmed[$name,$s]} | ${fmed[$name,$s]} | ${pmin[$name,$s]} | ${pmax[$name,$s]} |"
    done
  done
} > "$report"

cat "$report"
if [ -n "$out" ]; then cp "$report" "$out"; fi

if [ "$check" = 1 ]; then
  if [[ ! -v 'mmed[snmalloc-rs,16]' || ! -v 'mmed[upstream-snmalloc,16]' ]]; then
    echo "fastpath.sh: --check needs both snmalloc-rs and upstream-snmalloc built" >&2
    exit 2
  fi
  # What the two-level pagemap's lookup adds to free (docs/bench/fastpath.md).
  FREE_EXTRA=6
  fail=0
  for s in "${sizes[@]}"; do
    for f in malloc free; do
      if [ $f = malloc ]; then a=${mmed[snmalloc-rs,$s]} b=${mmed[upstream-snmalloc,$s]}
      else a=${fmed[snmalloc-rs,$s]} b=$(awk -v b="${fmed[upstream-snmalloc,$s]}" -v e=$FREE_EXTRA 'BEGIN { print b + e }'); fi
      # A median can fall between a fast and a slow pair (+0.5): a whole
      # instruction more is a change of the fast path.
      if awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= b + 1) }'; then
        echo "fastpath.sh: $f($s): $a instructions, allowed $b (upstream's shim's count, plus the pagemap lookup for free)" >&2
        fail=1
      fi
    done
  done
  [ $fail = 0 ] || exit 1
  echo "fastpath.sh: fast path within its budget (malloc ${mmed[snmalloc-rs,16]}, free ${fmed[snmalloc-rs,16]} instructions at 16 bytes; upstream ${mmed[upstream-snmalloc,16]} and ${fmed[upstream-snmalloc,16]})" >&2
fi
