#!/usr/bin/env bash
# Builds and installs snmalloc-rs for C/C++ programs and operators:
#   PREFIX/bin/snmalloc-run                     the launcher
#   LIBDIR/libsnmalloc_rs.so.0                  the library to LD_PRELOAD (SONAME)
#   LIBDIR/libsnmalloc_rs.so -> .so.0           for linking with -lsnmalloc_rs
#   LIBDIR/libsnmalloc_rs.a                     for statically linked programs
#   LIBDIR/libsnmalloc_rs_profile.so.0          for snmalloc-run --profile
#   LIBDIR/libsnmalloc_rs-check.so              the hardened build, for snmalloc-run --check
#   LIBDIR/libsnmalloc_rs-musl.so               for musl programs (with --musl)
#   PREFIX/include/snmalloc_rs.h, LIBDIR/pkgconfig/snmalloc_rs.pc
#
#   scripts/install.sh [--prefix DIR] [--libdir DIR] [--glibc 2.28] [--musl] [--no-build]
#   scripts/install.sh --uninstall [--prefix DIR]
#
# --glibc VERSION links the libraries and the launcher against that glibc's
# symbol versions (zig as the linker, scripts/zig/; scripts/zig.sh installs
# it), so that they load on older systems (Debian 11, Ubuntu 20.04, RHEL 8:
# 2.28); scripts/build-deb.sh uses it.
#
# --musl also builds (scripts/build-musl.sh) and installs the musl build,
# which snmalloc-run uses for programs linked against musl.
#
# PREFIX defaults to /usr/local (also read from $PREFIX), LIBDIR to
# PREFIX/lib; DESTDIR stages the files elsewhere (packaging). Run it as
# yourself: it asks sudo for the copy only when PREFIX is not writable.
# Under sudo it builds as the user who ran sudo (whose cargo it finds), and
# installs as root. The list of installed files is kept in
# PREFIX/share/snmalloc-rs/installed-files for --uninstall.
# Exit status: 0 done, 1 a step failed, 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

prefix=${PREFIX:-/usr/local}
libdir=""
build=1
uninstall=0
glibc=""
musl=0
extra_env=()
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --libdir) libdir=${2:?--libdir needs a directory}; shift 2 ;;
    --libdir=*) libdir=${1#*=}; shift ;;
    --glibc) glibc=${2:?--glibc needs a version, such as 2.28}; shift 2 ;;
    --glibc=*) glibc=${1#*=}; shift ;;
    --musl) musl=1; shift ;;
    --no-build) build=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
libdir=${libdir:-$prefix/lib}
dest=${DESTDIR:-}
manifest=$prefix/share/snmalloc-rs/installed-files
# LD_PRELOAD and /etc/ld.so.preload split paths at whitespace (and
# LD_PRELOAD at colons): a library there would load other files, relative
# to wherever the program runs.
for d in "$prefix" "$libdir"; do
  case $d in
    *[[:space:]:]*)
      echo "install.sh: $d: a path with a space or a colon cannot be preloaded (LD_PRELOAD splits it there)" >&2
      exit 2 ;;
  esac
done
# The files this script installs, by name: --uninstall removes nothing else.
installable=(snmalloc-run libsnmalloc_rs.so.0 libsnmalloc_rs.so libsnmalloc_rs.a
  libsnmalloc_rs_profile.so.0 libsnmalloc_rs-check.so libsnmalloc_rs-musl.so snmalloc_rs.h snmalloc_rs.pc
  installed-files)

step() { printf '==> %s\n' "$*"; }

# Runs a command as root when the target is not writable by us.
as_root() {
  local dir=$1; shift
  while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
  if [ -w "$dir" ]; then "$@"; else sudo "$@"; fi
}

# Under sudo, every build step runs as the user who ran sudo: root runs
# nothing from the (user-writable) tree but the copy itself.
as_user() {
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    sudo -u "$SUDO_USER" -H bash -lc 'cd "$0" && PATH="$HOME/.cargo/bin:$PATH" exec "$@"' "$root" "$@"
  else
    "$@"
  fi
}

# Whether the manifest's line $1 names a file this script installed: under
# the prefix, no "..", one of the names it installs.
installed_here() {
  local f=$1 name
  case $f in "$prefix"/*) ;; *) return 1 ;; esac
  case /$f/ in */../*) return 1 ;; esac
  name=${f##*/}
  for n in "${installable[@]}"; do [ "$name" = "$n" ] && return 0; done
  return 1
}

if [ $uninstall -eq 1 ]; then
  if [ ! -f "$dest$manifest" ]; then
    echo "install.sh: nothing to uninstall: $dest$manifest not found" >&2
    exit 1
  fi
  step "removing the files listed in $dest$manifest"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    if ! installed_here "$f"; then
      echo "    skipped $f: not a file this script installs under $prefix" >&2
      continue
    fi
    if [ -e "$dest$f" ] || [ -L "$dest$f" ]; then
      as_root "$dest$f" rm -f "$dest$f" && echo "    removed $f"
    fi
  done <"$dest$manifest"
  as_root "$dest$manifest" rm -f "$dest$manifest"
  as_root "$dest$prefix" rmdir --ignore-fail-on-non-empty "$dest$prefix/share/snmalloc-rs" 2>/dev/null || true
  step "uninstalled"
  exit 0
fi

cargo_cmd() {
  # Under sudo, root's PATH has no cargo: build as the invoking user.
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    as_user env "${extra_env[@]}" cargo "$@"
  elif command -v cargo >/dev/null; then
    env "${extra_env[@]}" cargo "$@"
  elif [ -x "$HOME/.cargo/bin/cargo" ]; then
    env "${extra_env[@]}" "$HOME/.cargo/bin/cargo" "$@"
  else
    echo "install.sh: cargo not found: install Rust (https://rustup.rs) or pass --no-build" >&2
    exit 1
  fi
}

# Where each build goes: the default one in Cargo's usual places (the
# profiling library in target/profile, as the tests build it, the hardened
# one in target/check-lib); one for an older glibc in target/glibc-VERSION,
# for the explicit target triple so that build scripts are linked as usual.
# The libraries whose features differ never share a target directory.
if [ -n "$glibc" ]; then
  triple=$(uname -m)-unknown-linux-gnu
  dir=target/glibc-$glibc
  rel=$dir/$triple/release
  prof=$rel
  check=$dir-check/$triple/release
  build_args=(--target "$triple" --target-dir "$dir")
  prof_args=("${build_args[@]}")
  check_args=(--target "$triple" --target-dir "$dir-check")
else
  rel=target/release
  prof=target/profile/release
  check=target/check-lib/release
  build_args=()
  prof_args=(--target-dir target/profile)
  check_args=(--target-dir target/check-lib)
fi

if [ $build -eq 1 ] && [ -n "$glibc" ]; then
  zig_python=$(as_user scripts/zig.sh)
  linker_var=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_LINKER
  extra_env=("$linker_var=$root/scripts/zig/zig-cc" "SNMALLOC_RS_GLIBC=$glibc"
    "SNMALLOC_RS_ZIG_PYTHON=$zig_python")
fi

if [ $build -eq 1 ]; then
  step "building the library and the launcher (cargo build --release${glibc:+, for glibc $glibc}; minutes the first time)"
  cargo_cmd build --release -p snmalloc-rs-preload -p snmalloc-run "${build_args[@]}"
  step "building the profiling library (on its own: its features must not reach the first)"
  cargo_cmd build --release -p snmalloc-rs-profile "${prof_args[@]}"
  step "building the hardened library (snmalloc-rs's check feature)"
  cargo_cmd build --release -p snmalloc-rs-preload --features snmalloc-rs/check "${check_args[@]}"
  if [ $musl -eq 1 ]; then
    step "building the musl library (scripts/build-musl.sh)"
    as_user scripts/build-musl.sh >/dev/null
  fi
fi

for f in "$rel/libsnmalloc_rs.so" "$rel/libsnmalloc_rs.a" "$rel/snmalloc-run" \
  "$prof/libsnmalloc_rs_profile.so" "$check/libsnmalloc_rs.so"; do
  [ -f "$f" ] || { echo "install.sh: $f is missing: build first (without --no-build)" >&2; exit 1; }
done
version=$(cargo_cmd pkgid -p snmalloc-rs-preload 2>/dev/null | sed 's/.*[#@]//')
if [ -n "$glibc" ]; then
  # Refuse a build that would not load where it is meant to.
  newest=$(objdump -T "$rel/libsnmalloc_rs.so" "$rel/snmalloc-run" "$prof/libsnmalloc_rs_profile.so" \
    "$check/libsnmalloc_rs.so" |
    grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [ "$(printf '%s\n%s\n' "$newest" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
    echo "install.sh: the build needs glibc $newest, newer than $glibc" >&2
    exit 1
  fi
  step "the build needs glibc $newest at most"
fi

step "installing into ${dest}${prefix} (libraries in ${dest}${libdir})"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
  preload/snmalloc_rs.pc.in >"$stage/snmalloc_rs.pc"
installed=()
put() { # put MODE SOURCE DEST
  as_root "$dest$prefix" install -D -m "$1" "$2" "$dest$3"
  installed+=("$3")
  echo "    $3"
}
link() { # link TARGET NAME
  as_root "$dest$prefix" ln -sfn "$1" "$dest$2"
  installed+=("$2")
  echo "    $2 -> $1"
}
put 755 "$rel/snmalloc-run" "$prefix/bin/snmalloc-run"
put 755 "$rel/libsnmalloc_rs.so" "$libdir/libsnmalloc_rs.so.0"
link libsnmalloc_rs.so.0 "$libdir/libsnmalloc_rs.so"
# The static library carries the Rust standard library's debug info (a
# third of its size): not for a system package.
cp "$rel/libsnmalloc_rs.a" "$stage/libsnmalloc_rs.a"
if command -v strip >/dev/null; then strip --strip-debug "$stage/libsnmalloc_rs.a"; fi
put 644 "$stage/libsnmalloc_rs.a" "$libdir/libsnmalloc_rs.a"
put 755 "$prof/libsnmalloc_rs_profile.so" "$libdir/libsnmalloc_rs_profile.so.0"
put 755 "$check/libsnmalloc_rs.so" "$libdir/libsnmalloc_rs-check.so"
if [ $musl -eq 1 ]; then
  musl_lib=target/musl/$(uname -m)-unknown-linux-musl/release/libsnmalloc_rs.so
  [ -f "$musl_lib" ] || { echo "install.sh: $musl_lib is missing: build it (without --no-build)" >&2; exit 1; }
  put 755 "$musl_lib" "$libdir/libsnmalloc_rs-musl.so"
fi
put 644 preload/include/snmalloc_rs.h "$prefix/include/snmalloc_rs.h"
put 644 "$stage/snmalloc_rs.pc" "$libdir/pkgconfig/snmalloc_rs.pc"

if [ -z "$dest" ]; then
  printf '%s\n' "${installed[@]}" "$manifest" >"$stage/installed-files"
  as_root "$prefix" install -D -m 644 "$stage/installed-files" "$manifest"
  if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig || true; fi
fi
step "done: run programs with $prefix/bin/snmalloc-run CMD, or LD_PRELOAD=$libdir/libsnmalloc_rs.so.0 CMD"
[ -n "$dest" ] || echo "    uninstall: scripts/install.sh --uninstall --prefix $prefix"
