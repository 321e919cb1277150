#!/usr/bin/env bash
# Installs the launcher and both libraries:
#   PREFIX/bin/snmalloc-run
#   PREFIX/lib/libsnmalloc_rs.so          (the one to LD_PRELOAD)
#   PREFIX/lib/libsnmalloc_rs-profile.so  (for snmalloc-run --profile)
# PREFIX defaults to /usr/local; DESTDIR is honoured for packaging.
#   PREFIX=$HOME/.local scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}$prefix
cargo build --release --quiet
scripts/build-profile.sh >/dev/null
install -d "$dest/bin" "$dest/lib"
install -m 755 target/release/snmalloc-run "$dest/bin/snmalloc-run"
install -m 755 target/release/libsnmalloc_rs.so "$dest/lib/libsnmalloc_rs.so"
install -m 755 target/release/libsnmalloc_rs-profile.so "$dest/lib/libsnmalloc_rs-profile.so"
echo "installed: $dest/bin/snmalloc-run, $dest/lib/libsnmalloc_rs.so, $dest/lib/libsnmalloc_rs-profile.so"
