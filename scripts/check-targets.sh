#!/usr/bin/env bash
# Type-checks the library for the platforms that cannot run here: macOS
# (x86_64, aarch64), FreeBSD and Windows (MSVC), with and without the C API (`override`) and
# the profiling build. Uses Debian's Rust 1.96 (rustc-web, cargo-web,
# rust-web-src: the standard library's source for -Zbuild-std), installed by
# this script if missing. The C++ is skipped (SNMALLOC_RS_SKIP_CXX): there is
# no Apple or FreeBSD C++ toolchain here. Any error or warning fails.
#   scripts/check-targets.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd x86_64-pc-windows-msvc)

source scripts/lib/install.sh
debian_rust

status=0
for t in "${targets[@]}"; do
  for features in "" "override" "override,profile,check"; do
    log=$(mktemp)
    if ! env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 SNMALLOC_RS_SKIP_CXX=1 \
      /usr/bin/cargo check --quiet --target "$t" -Zbuild-std=core,alloc,std \
      -p snmalloc-rs --lib ${features:+--features "$features"} \
      --target-dir target/check >"$log" 2>&1; then
      echo "FAIL $t [${features:-default}]"; cat "$log"; status=1
    elif grep -q '^warning' "$log"; then
      echo "FAIL $t [${features:-default}]: warnings"; cat "$log"; status=1
    else
      echo "ok   $t [${features:-default}]"
    fi
    rm -f "$log"
  done
  # The launcher too, and through it the preload library.
  log=$(mktemp)
  if env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 SNMALLOC_RS_SKIP_CXX=1 \
    /usr/bin/cargo check --quiet --target "$t" -Zbuild-std=core,alloc,std \
    -p snmalloc-run --target-dir target/check >"$log" 2>&1 && ! grep -q '^warning' "$log"; then
    echo "ok   $t [snmalloc-run]"
  else
    echo "FAIL $t [snmalloc-run]"; cat "$log"; status=1
  fi
  rm -f "$log"
done
exit $status
