#!/usr/bin/env bash
# Installs what the tests run under the library: a C/C++ compiler, binutils
# (nm), python3, sqlite3, git, patchelf (snmalloc-run --add-needed),
# musl-tools (musl programs) and python3-venv (for zig, scripts/zig.sh).
# Debian/Ubuntu; uses sudo when not root.
set -euo pipefail

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v nm >/dev/null || need+=(binutils)
command -v python3 >/dev/null || need+=(python3)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v git >/dev/null || need+=(git)
command -v patchelf >/dev/null || need+=(patchelf)
command -v musl-gcc >/dev/null || need+=(musl-tools)
# scripts/zig.sh installs zig (PyPI ziglang) into a virtual environment.
python3 -m ziglang version >/dev/null 2>&1 || python3 -c 'import ensurepip, venv' 2>/dev/null ||
  need+=(python3-venv)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-deps: everything is installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-test-deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
