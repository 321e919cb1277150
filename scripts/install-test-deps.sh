#!/usr/bin/env bash
# Installs everything the tests need, before `cargo test` starts (no test
# installs anything): the programs they run under the library and the
# tools they build with. Debian/Ubuntu packages (apt-get; sudo when not
# root), the musl target of rustup, and zig (PyPI ziglang, scripts/zig.sh)
# for the musl build and the .deb's glibc 2.28 link.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh

# command -> the Debian package that provides it
need=()
for pair in gcc:gcc g++:g++ nm:binutils readelf:binutils python3:python3 \
  sqlite3:sqlite3 git:git patchelf:patchelf musl-gcc:musl-tools file:file \
  pkg-config:pkgconf dpkg-architecture:dpkg-dev valgrind:valgrind \
  unshare:util-linux setpriv:util-linux flock:util-linux heaptrack:heaptrack \
  heaptrack_print:heaptrack gdb:gdb; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
# scripts/zig.sh makes a virtual environment for ziglang.
python3 -m ziglang version >/dev/null 2>&1 || python3 -c 'import ensurepip, venv' 2>/dev/null ||
  need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt_install $(printf '%s\n' "${need[@]}" | sort -u)
fi
rustup_target "$(uname -m)-unknown-linux-musl"
scripts/zig.sh >/dev/null
echo "install-test-deps: everything the tests need is installed" >&2
