#!/usr/bin/env bash
# Prints the Python that runs zig (`python -m ziglang`), installing PyPI's
# ziglang into target/tools/zig (a virtual environment) when the system's
# python3 has none. Used by scripts/install.sh --glibc, scripts/build-musl.sh,
# scripts/build-freebsd.sh and the tests that compile with zig;
# scripts/install-test-deps.sh runs it before the tests start. Concurrent
# callers wait for one install (scripts/lib/install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh
if python3 -m ziglang version >/dev/null 2>&1; then
  command -v python3
  exit 0
fi
venv=$PWD/target/tools/zig
install_zig() {
  "$venv/bin/python3" -m ziglang version >/dev/null 2>&1 && return 0
  echo "==> installing zig (PyPI ziglang) into target/tools/zig" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet ziglang >&2
}
locked zig install_zig
echo "$venv/bin/python3"
