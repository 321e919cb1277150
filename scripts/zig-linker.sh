#!/usr/bin/env bash
# rustc's linker for builds that must load on an older glibc: zig cc (from
# PyPI's ziglang) links against the symbol versions of glibc
# $SNMALLOC_RS_GLIBC (default 2.28). Only the link changes: the C++ is
# compiled by the system's g++ as in every build. Set by scripts/install.sh
# --glibc (which installs zig); not meant to be called by hand.
# Translates what zig's driver does not take: -lgcc_s (zig links its own
# unwinder), --defsym (a linker script of assignments), rustc's -B/-fuse-ld.
set -euo pipefail
zig_python=${SNMALLOC_RS_ZIG_PYTHON:-python3}
args=()
script=""
for a in "$@"; do
  case $a in
    -lgcc_s) args+=(-lunwind) ;;
    -Wl,--defsym=*)
      if [ -z "$script" ]; then
        script=$(mktemp --suffix=.ld)
        trap 'rm -f "$script"' EXIT
      fi
      d=${a#-Wl,--defsym=}
      echo "${d%%=*} = ${d#*=};" >>"$script"
      ;;
    -B*|-fuse-ld=*) ;;
    *) args+=("$a") ;;
  esac
done
# lld takes assignments from a -T script without SECTIONS, keeping its
# default layout.
[ -z "$script" ] || args+=(-T "$script")
"$zig_python" -m ziglang cc -target "$(uname -m)-linux-gnu.${SNMALLOC_RS_GLIBC:-2.28}" "${args[@]}"
