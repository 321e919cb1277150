#!/usr/bin/env bash
# Builds the FreeBSD library here, C++ included, and checks what it exports
# and imports (it cannot be run here):
#   target/freebsd/x86_64-unknown-freebsd/release/libsnmalloc_rs.so
# The Rust side with Debian's Rust 1.96 and -Zbuild-std (as
# scripts/check-targets.sh; installs rustc-web, cargo-web, rust-web-src),
# the C++ compiled and everything linked by zig for x86_64-freebsd (PyPI
# ziglang, scripts/zig.sh). Checks with nm -D: every function of
# docs/platforms.md's FreeBSD list is exported, and nothing is imported
# from the C++ runtime but weak symbols (a C program has no libc++).
# Exit status: 0 built and checked, 1 a step or a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/install.sh
debian_rust
zig_python=$(scripts/zig.sh)
triple=x86_64-unknown-freebsd
echo "==> building libsnmalloc_rs.so for $triple (C++ and link: zig)"
env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  SNMALLOC_RS_ZIG_PYTHON="$zig_python" SNMALLOC_RS_ZIG_TARGET=x86_64-freebsd \
  CC_x86_64_unknown_freebsd="$root/scripts/zig/cc" CXX_x86_64_unknown_freebsd="$root/scripts/zig/c++" \
  CARGO_TARGET_X86_64_UNKNOWN_FREEBSD_LINKER="$root/scripts/zig/zig-cc" \
  /usr/bin/cargo build --quiet --release -p snmalloc-rs-preload --target $triple \
  -Zbuild-std=std,panic_abort --target-dir target/freebsd
lib=target/freebsd/$triple/release/libsnmalloc_rs.so
status=0
# An x86-64 shared object that needs FreeBSD's libc (libc.so.7).
file "$lib" | grep -q 'ELF 64-bit LSB shared object, x86-64' &&
  readelf -d "$lib" | grep -q 'NEEDED.*\[libc\.so\.7\]' ||
  { echo "FAIL $lib is not a FreeBSD x86-64 shared object"; status=1; }
exported=$(nm -D --defined-only "$lib" | awk '{print $3}')
# The list of docs/platforms.md, between its markers.
promised=$(sed -n '/<!-- freebsd-exports:start -->/,/<!-- freebsd-exports:end -->/p' docs/platforms.md |
  grep -o '`[a-z_]*`' | tr -d '`')
[ -n "$promised" ] || { echo "FAIL no FreeBSD export list in docs/platforms.md"; status=1; }
for f in $promised; do
  grep -qx "$f" <<<"$exported" || { echo "FAIL $f is promised but not exported"; status=1; }
done
strong_cxx=$(nm -D --undefined-only "$lib" | awk '$1=="U"{print $2}' | grep -E '^(_Z|__cxa|__gxx)' || true)
[ -z "$strong_cxx" ] || { echo "FAIL imports from the C++ runtime: $strong_cxx"; status=1; }
[ $status -ne 0 ] || echo "freebsd: $lib built; exports the $(wc -w <<<"$promised") promised functions; no C++ runtime import"
exit $status
