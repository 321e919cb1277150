#!/usr/bin/env bash
# The fork table of docs/fork.md: every fork shape of the tests
# (tests/programs/fork_shapes.c, fork_stdio.c, fork_signal.c) run RUNS times
# under glibc's malloc, upstream snmalloc's shim (same pinned source),
# snmalloc-rs and its check build, each run with a time limit; counts the
# runs that completed and those that hung. Rewrites the table between
# <!-- fork-table:start --> and <!-- fork-table:end --> in docs/fork.md.
#   scripts/bench/fork.sh [RUNS [NAME=LIB...]]   (default 5 runs; NAME=LIB
#   adds a column for another library, such as an earlier build)
# Exit status: 0 the table was written, 1 a step failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
shift || true
out=target/bench/fork
mkdir -p "$out"

cargo build --release --quiet
cargo build --release --quiet -p snmalloc-rs-preload --features snmalloc-rs/check \
  --target-dir target/bench/variant-check
upstream=$(scripts/build-upstream-shim.sh)
src=tests/programs
cc=(gcc -O1 -g -Wall -pthread -fno-builtin -std=gnu11)
"${cc[@]}" -fPIC -shared "$src/fork_lib.c" -o "$out/libfork_lib.so"
"${cc[@]}" -fPIC -shared "$src/hold_mmap.c" -o "$out/libhold_mmap.so"
"${cc[@]}" "$src/fork_shapes.c" -o "$out/fork_shapes" "-L$out" -lfork_lib \
  "-Wl,-rpath,$PWD/$out" -ldl
"${cc[@]}" "$src/fork_stdio.c" -o "$out/fork_stdio" -ldl
"${cc[@]}" "$src/fork_signal.c" -o "$out/fork_signal" -ldl

declare -A lib=(
  [glibc]=""
  [upstream]="$upstream"
  [snmalloc-rs]="$PWD/target/release/libsnmalloc_rs.so"
  [check]="$PWD/target/bench/variant-check/release/libsnmalloc_rs.so"
)
allocators=(glibc upstream snmalloc-rs check)
# More libraries to compare, NAME=PATH (an earlier build, say).
for extra in "$@"; do
  lib[${extra%%=*}]=${extra#*=}
  allocators+=("${extra%%=*}")
done

# name | command (run from $out) | extra environment
shapes=(
  "library mutex held around stdio (handler from a linked library's constructor)|./fork_shapes lib-handler 2000|"
  "program mutex held around stdio (handler from main)|./fork_shapes main-handler 2000|"
  "fopen/fclose, fflush(NULL), getline, fprintf in threads, two threads forking|./fork_shapes stdio 100|"
  "atfork handlers that allocate|./fork_shapes prepare-allocates 300|"
  "threads allocate while main forks (300 forks)|./fork_shapes threads 300|"
  "SIGCHLD handler reaping with waitpid(-1)|./fork_shapes sigchld 300|"
  "daemon, posix_spawn, system, vfork, popen|./fork_shapes spawn 20|"
  "a constructor that runs before the allocator's forks|./fork_shapes ctor-fork 1|FORKLIB_FORK_IN_CTOR=1"
  "a thread held inside the allocator's mmap while main forks|./fork_shapes torn|HOLD=1"
  "glibc's tst-malloc-fork-deadlock (getline, fflush(NULL), fork)|./fork_stdio 2 50|"
  "glibc's tst-mallocfork2 (fork in a signal handler), 1 thread|./fork_signal 500|"
  "the same with 2 more threads allocating|./fork_signal 150 threads|"
)

# One run: "ok", "hang", "n/a" (the shape cannot be made under this
# allocator) or "fail".
run_one() {
  local alloc=$1 cmd=$2 extra=$3 preload=${lib[$1]} envs=(ANY=1 TIMEOUT=60)
  if [ "$extra" = HOLD=1 ]; then
    preload="$PWD/$out/libhold_mmap.so${preload:+ $preload}"
  elif [ -n "$extra" ]; then
    envs+=("$extra")
  fi
  # In a process group of its own, so that children left hanging by a run
  # are killed with it; at most 90 s.
  local status=0 pid
  (cd "$out" && exec setsid env "${envs[@]}" ${preload:+LD_PRELOAD="$preload"} \
    timeout -s KILL 90 $cmd >/dev/null 2>&1) &
  pid=$!
  wait "$pid" || status=$?
  kill -KILL -- "-$pid" 2>/dev/null || true
  case $status in
    0) echo ok ;;
    124 | 137) echo hang ;;
    2) echo n/a ;;
    *) echo fail ;;
  esac
}

table="| shape | $(printf '%s | ' "${allocators[@]}")
|---|$(printf -- '---:|%.0s' "${allocators[@]}")"
for s in "${shapes[@]}"; do
  IFS='|' read -r name cmd extra <<<"$s"
  row="| $name |"
  for a in "${allocators[@]}"; do
    ok=0 hang=0 fail=0 na=0
    for ((r = 0; r < runs; r++)); do
      case $(run_one "$a" "$cmd" "$extra") in
        ok) ok=$((ok + 1)) ;;
        hang) hang=$((hang + 1)) ;;
        n/a) na=$((na + 1)) ;;
        *) fail=$((fail + 1)) ;;
      esac
    done
    if [ $na = "$runs" ]; then
      cell="n/a"
    else
      cell="$ok of $runs"
      [ $hang = 0 ] || cell+=", **$hang hung**"
      [ $fail = 0 ] || cell+=", **$fail failed**"
    fi
    row+=" $cell |"
    echo "$name / $a: $cell" >&2
  done
  table+=$'\n'"$row"
done

python3 - "$table" <<'EOF'
import re, sys
path = "docs/fork.md"
text = open(path).read()
new = "<!-- fork-table:start -->\n" + sys.argv[1] + "\n<!-- fork-table:end -->"
text, n = re.subn(r"<!-- fork-table:start -->.*?<!-- fork-table:end -->", new, text, flags=re.S)
if n != 1:
    sys.exit("docs/fork.md has no fork-table markers")
open(path, "w").write(text)
EOF
echo "$table"
