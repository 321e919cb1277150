#!/usr/bin/env bash
# Builds the profiling library (feature `profile`: counts by size class,
# cross-thread frees, peak live bytes) as libsnmalloc_rs-profile.so next to
# the default library, where `snmalloc-run --profile` looks for it.
#   scripts/build-profile.sh [--out DIR]     (default DIR: target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/release
if [ "${1:-}" = "--out" ]; then out=$2; fi
cargo build --release --quiet -p snmalloc-rs --lib --features override,profile --target-dir target/profile
mkdir -p "$out"
cp target/profile/release/libsnmalloc_rs.so "$out/libsnmalloc_rs-profile.so"
echo "$out/libsnmalloc_rs-profile.so"
