#!/usr/bin/env bash
# The test command of the README: installs the programs the tests run, then
# runs every test of the workspace against the optimised library.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --release "$@"
