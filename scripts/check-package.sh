#!/usr/bin/env bash
# What CI checks of the packages (the tests check the artefacts):
#  - the crates meant for the registry (snmalloc-rs-options, snmalloc-rs-sys,
#    snmalloc-rs)
#    package, and build from their .crate files (cargo package verifies);
#  - they type-check on the oldest Rust they claim (rust-version);
#  - the Rust crate builds without std (a target that has none).
# Exit status: 0 all passed, 1 a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh
echo "== cargo package (with its verification build)"
cargo package --quiet -p snmalloc-rs-options -p snmalloc-rs-sys -p snmalloc-rs
msrv=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print({p["name"]: p["rust_version"] for p in json.load(sys.stdin)["packages"]}["snmalloc-rs"])')
echo "== Rust $msrv (rust-version): type-check of the workspace"
rustup_toolchain "$msrv"
# The C++ is the same for every Rust; skip it (SNMALLOC_RS_SKIP_CXX).
# The profiling package on its own: with the others, Cargo would unify its
# `profile` feature into the preload library (which refuses to build so).
SNMALLOC_RS_SKIP_CXX=1 cargo "+$msrv" check --quiet --all-targets --target-dir target/msrv
SNMALLOC_RS_SKIP_CXX=1 cargo "+$msrv" check --quiet -p snmalloc-rs-profile --target-dir target/msrv
echo "== no_std: snmalloc-rs for x86_64-unknown-none"
rustup_target x86_64-unknown-none
SNMALLOC_RS_SKIP_CXX=1 cargo check --quiet -p snmalloc-rs --target x86_64-unknown-none --target-dir target/nostd
echo "package checks: ok"
