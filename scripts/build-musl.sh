#!/usr/bin/env bash
# Builds the musl build of the preloadable library, for programs linked
# against musl (Alpine):
#   target/musl/x86_64-unknown-linux-musl/release/libsnmalloc_rs.so and .a
# and copies the .so next to the glibc build as libsnmalloc_rs-musl.so
# (target/release/), where snmalloc-run looks for it when it runs a musl
# program. zig (PyPI ziglang, scripts/zig.sh) compiles the C++ and links,
# for x86_64-linux-musl: why in snmalloc-rs-sys/README.md.
#   scripts/build-musl.sh          prints the path of libsnmalloc_rs-musl.so
# Exit status: 0 built, 1 a step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
arch=$(uname -m)
triple=$arch-unknown-linux-musl
var=$(echo "$triple" | tr 'a-z-' 'A-Z_')
source scripts/lib/install.sh
rustup_target "$triple"
zig_python=$(scripts/zig.sh)
echo "==> building libsnmalloc_rs.so for $triple (zig as C++ compiler and linker)" >&2
# A cdylib needs the C library linked dynamically (Rust's musl target
# links it statically by default).
env "SNMALLOC_RS_ZIG_PYTHON=$zig_python" "SNMALLOC_RS_ZIG_TARGET=$arch-linux-musl" \
  "CC_${var,,}=$root/scripts/zig/cc" "CXX_${var,,}=$root/scripts/zig/c++" \
  "CARGO_TARGET_${var}_LINKER=$root/scripts/zig/zig-cc" \
  "CARGO_TARGET_${var}_RUSTFLAGS=-C target-feature=-crt-static" \
  cargo build --release -p snmalloc-rs-preload --target "$triple" --target-dir target/musl >&2
out=target/musl/$triple/release
mkdir -p target/release
cp "$out/libsnmalloc_rs.so" target/release/libsnmalloc_rs-musl.so
echo "$root/target/release/libsnmalloc_rs-musl.so"
