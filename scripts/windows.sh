#!/usr/bin/env bash
# Windows, cross-built here and run under Wine (the groundwork of issue 5):
# builds snmalloc_rs.dll (C++ compiled by MinGW-w64) for
# x86_64-pc-windows-gnu, and runs a Rust program that uses SnMalloc as its
# global allocator under Wine, checking that snmalloc serves its Rust
# allocations and that the C runtime's malloc is left alone.
#
# Installs what it needs (mingw-w64, wine, Debian's Rust 1.96 with its std
# source for -Zbuild-std), and uses a private WINEPREFIX under target/ with a
# stand-in bcryptprimitives.dll (Wine 8 lacks it; Rust's std imports
# ProcessPrng from it). The load-time redirection of the CRT allocator (the
# detours-style hooks) is not written yet.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
need=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null || need+=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64)
command -v wine >/dev/null || need+=(wine64 wine)
/usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.9[6-9]' || need+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-web-src)
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

t=x86_64-pc-windows-gnu
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc-posix
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++-posix
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc-posix
build=(--release --quiet --target $t -Zbuild-std=std,panic_unwind)

/usr/bin/cargo build "${build[@]}" -p snmalloc-rs --lib --target-dir target/windows
echo "windows: built target/windows/$t/release/snmalloc_rs.dll"
/usr/bin/cargo build "${build[@]}" --manifest-path tests/fixtures/rust-user/Cargo.toml \
  --target-dir target/windows-user

export WINEPREFIX=$PWD/target/wineprefix WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
[ -f "$WINEPREFIX/system.reg" ] || wineboot -i >/dev/null 2>&1 || true
sys32=$WINEPREFIX/drive_c/windows/system32
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared scripts/windows/bcryptprimitives.c \
    -o "$sys32/bcryptprimitives.dll" -lbcrypt
fi

out=$(timeout 300 wine "target/windows-user/$t/release/rust-user.exe" 2>/dev/null | tr -d '\r')
echo "windows: rust-user.exe under wine: $out"
[ "$out" = "rust: snmalloc, c malloc: system" ] || { echo "windows: unexpected output" >&2; exit 1; }
wineserver -k 2>/dev/null || true
echo "1 passed, 0 failed"
