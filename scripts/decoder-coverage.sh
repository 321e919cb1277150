#!/usr/bin/env bash
# Measures the Windows hooks' x86-64 decoder on Microsoft's own compiler
# output: the exported functions of the Visual C++ runtime DLLs, from the
# `msvc-runtime` wheel on PyPI (downloaded into target/, never committed).
# Prints how many function entries the hook could move and why the others
# would be refused. The figure is in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/decoder-coverage
mkdir -p "$dir"
if ! ls "$dir"/msvc_runtime-*.whl >/dev/null 2>&1; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform win_amd64 \
    --python-version 3.11 --dest "$dir" msvc-runtime
fi
rm -rf "$dir/unpacked"
python3 -m zipfile -e "$dir"/msvc_runtime-*.whl "$dir/unpacked"
mapfile -t dlls < <(find "$dir/unpacked" -name '*.dll' -path '*.data/data/*' ! -path '*/Scripts/*' | sort)
echo "decoder-coverage: ${#dlls[@]} DLLs: $(basename -a "${dlls[@]}" | tr '\n' ' ')"
python3 scripts/decoder-coverage/exports.py "${dlls[@]}" >"$dir/functions.txt"
cargo run --quiet --release -p snmalloc-rs-sys --example x64_coverage <"$dir/functions.txt"
