#!/usr/bin/env bash
# Prints the Python that runs zig (`python -m ziglang`), installing PyPI's
# ziglang into target/tools/zig (a virtual environment) when the system's
# python3 has none. Used by scripts/install.sh --glibc and
# scripts/build-musl.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -m ziglang version >/dev/null 2>&1; then
  command -v python3
  exit 0
fi
venv=$PWD/target/tools/zig
if ! "$venv/bin/python3" -m ziglang version >/dev/null 2>&1; then
  echo "==> installing zig (PyPI ziglang) into target/tools/zig" >&2
  python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet ziglang >&2
fi
echo "$venv/bin/python3"
