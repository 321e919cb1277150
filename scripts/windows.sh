#!/usr/bin/env bash
# Windows, cross-built here and run under Wine: builds snmalloc_rs.dll (the
# load-time redirection of the C runtime's allocator) and snmalloc-run.exe
# for x86_64-pc-windows-gnu, then runs, under Wine:
#   - tests/windows/crt.c against msvcrt.dll, ucrtbase.dll and msvcr120.dll,
#     with the DLL loaded three ways: LoadLibrary after the program has
#     allocated (blocks cross the boundary), injected by snmalloc-run.exe,
#     and imported by a copy made with `snmalloc-run --add-import`; and
#     loaded while other threads are in malloc/free;
#   - tests/windows/ucrt.c, linked as MSVC links (UCRT through
#     api-ms-win-crt-heap-l1-1-0.dll, no MinGW start-up code), the same three
#     ways;
#   - a DLL that allocates in its DLL_THREAD_DETACH, after ours: the
#     threads' "orphan" allocators are released (tests/windows/latedetach.c);
#   - a C runtime shaped like the UCRT, whose free is a jump to _free_base
#     (tests/windows/thunkcrt.c): foreign blocks must reach the real code;
#   - a C runtime whose malloc cannot be moved safely (tests/windows/
#     fakecrt.c): it must be left alone, with a message;
#   - a real program: Wine's JScript interpreter (cscript.exe), same output
#     on its own heap and injected;
#   - the launcher's own errors;
#   - a Rust program using SnMalloc as its global allocator, without and
#     with the `override` feature (then the executable redirects its CRT).
#
# Installs what it needs (mingw-w64, wine, Debian's Rust 1.96 with its std
# source for -Zbuild-std), and uses a private WINEPREFIX under target/ with a
# stand-in bcryptprimitives.dll (Wine 8 lacks it; Rust's std imports
# ProcessPrng from it).
#
# --build-only: build and set up the prefix, run nothing (scripts/
# bench-windows.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
[ "${1:-}" = --build-only ] && build_only=1
source scripts/lib/install.sh
apt_install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 wine
debian_rust

t=x86_64-pc-windows-gnu
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc-posix
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++-posix
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc-posix
build=(--release --quiet --target $t -Zbuild-std=std,panic_unwind)

# The launcher depends on the preload package: one build, both
# (naming both packages, so that Cargo copies the DLL out of deps/).
/usr/bin/cargo build "${build[@]}" -p snmalloc-rs-preload -p snmalloc-run --target-dir target/windows
rel=target/windows/$t/release
echo "windows: built $rel/snmalloc_rs.dll and $rel/snmalloc-run.exe"
/usr/bin/cargo build "${build[@]}" --manifest-path tests/fixtures/rust-user/Cargo.toml \
  --target-dir target/windows-user
/usr/bin/cargo build "${build[@]}" --manifest-path tests/fixtures/rust-user/Cargo.toml \
  --features override --target-dir target/windows-user-override

bin=target/windows-tests
mkdir -p "$bin"
cp "$rel/snmalloc_rs.dll" "$rel/snmalloc-run.exe" "$bin/"
x86_64-w64-mingw32-gcc -O2 -Wall -Wno-alloc-size-larger-than -Wno-use-after-free \
  -Wno-maybe-uninitialized tests/windows/crt.c -o "$bin/crt.exe"
# Linked as MSVC links: the UCRT through api-ms-win-crt-*, no MinGW start-up.
x86_64-w64-mingw32-gcc -O1 -fno-builtin -nostdlib -Wall -Wno-alloc-size-larger-than \
  tests/windows/ucrt.c -o "$bin/ucrt.exe" -Wl,-e,mainCRTStartup -lucrt -lkernel32
x86_64-w64-mingw32-gcc -O2 -shared tests/windows/latedetach.c -o "$bin/latedetach.dll"
x86_64-w64-mingw32-gcc -O2 -shared -nostdlib tests/windows/thunkcrt.c tests/windows/thunkcrt.def \
  -o "$bin/msvcr71.dll" -Wl,-e,DllMainCRTStartup -lkernel32
x86_64-w64-mingw32-gcc -O2 -shared -nostdlib tests/windows/fakecrt.c tests/windows/fakecrt.def \
  -o "$bin/msvcr70.dll" -Wl,-e,DllMainCRTStartup -lkernel32

export WINEPREFIX=$PWD/target/wineprefix WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
[ -f "$WINEPREFIX/system.reg" ] || wineboot -i >/dev/null 2>&1 || true
sys32=$WINEPREFIX/drive_c/windows/system32
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared scripts/windows/bcryptprimitives.c \
    -o "$sys32/bcryptprimitives.dll" -lbcrypt
fi

[ "$build_only" -eq 1 ] && exit 0

passed=0 failed=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"; wineserver -k 2>/dev/null || true' EXIT
# run NAME WANT_EXIT CMD...: runs CMD under wine in $bin, keeps its output.
run() {
  local name=$1 want=$2 code=0
  shift 2
  (cd "$bin" && timeout 300 wine "$@") >"$out" 2>"$err" || code=$?
  sed -i 's/\r$//' "$out" "$err"
  if [ "$code" -ne "$want" ]; then
    echo "FAIL $name: exit $code, expected $want"; cat "$out" "$err" | tail -20
    failed=$((failed + 1)); return 1
  fi
}
# expect NAME FILE PATTERN...: every pattern is in FILE.
expect() {
  local name=$1 file=$2 p
  shift 2
  for p in "$@"; do
    if ! grep -qE "$p" "$file"; then
      echo "FAIL $name: no line matching '$p'"; cat "$out" "$err" | tail -20
      failed=$((failed + 1)); return 1
    fi
  done
  echo "ok   $name: $(grep -E 'checks|rust:|words' "$out" | head -1)"
  passed=$((passed + 1))
}

SNMALLOC_VERBOSE=1 run dynamic 0 crt.exe dynamic snmalloc_rs.dll &&
  expect "LoadLibrary after allocating" "$out" "crt: [0-9]+ checks, 0 failed" &&
  expect "verbose report" "$err" "serving allocations of pid" \
    "redirected [0-9]+ functions of msvcrt.dll: malloc free calloc realloc _msize _expand _aligned_malloc _aligned_free" \
    "redirected [0-9]+ functions of ucrtbase.dll: malloc _malloc_base free _free_base .*_recalloc .*_aligned_msize" \
    "redirected [0-9]+ functions of msvcr120.dll"
for round in 1 2 3; do
  run busy 0 crt.exe busy snmalloc_rs.dll &&
    expect "LoadLibrary while 4 threads allocate (round $round)" "$out" "crt: [0-9]+ checks, 0 failed"
done
run launcher 0 snmalloc-run.exe --verbose crt.exe loaded &&
  expect "snmalloc-run.exe injects before main" "$out" "crt: [0-9]+ checks, 0 failed" &&
  expect "snmalloc-run.exe --verbose" "$err" "redirected [0-9]+ functions of msvcrt.dll"
rm -f "$bin/crt-imports.exe"
run add-import 0 snmalloc-run.exe --add-import crt.exe crt-imports.exe &&
  run imported 0 crt-imports.exe loaded &&
  expect "--add-import: the DLL loads with the program" "$out" "crt: [0-9]+ checks, 0 failed"
run ucrt-dynamic 0 ucrt.exe dynamic &&
  expect "UCRT through api-ms-win-crt-heap, LoadLibrary after allocating" "$out" "ucrt: [0-9]+ checks, 0 failed"
run ucrt-launcher 0 snmalloc-run.exe ucrt.exe loaded &&
  expect "UCRT through api-ms-win-crt-heap, snmalloc-run.exe" "$out" "ucrt: [0-9]+ checks, 0 failed"
rm -f "$bin/ucrt-imports.exe"
run ucrt-add-import 0 snmalloc-run.exe --add-import ucrt.exe ucrt-imports.exe &&
  run ucrt-imported 0 ucrt-imports.exe loaded &&
  expect "UCRT through api-ms-win-crt-heap, --add-import" "$out" "ucrt: [0-9]+ checks, 0 failed"
# A real program: Wine's JScript interpreter, on its own heap and on ours.
cp tests/windows/work.js "$bin/"
if run cscript-plain 0 cscript.exe //nologo work.js; then
  plain=$(cat "$out")
  SNMALLOC_VERBOSE=1 run cscript 0 snmalloc-run.exe cscript.exe //nologo work.js &&
    expect "cscript.exe (Wine's JScript) under snmalloc-run.exe: same output" "$out" "^${plain}\$" &&
    expect "cscript.exe: its CRT redirected" "$err" "redirected [0-9]+ functions of ucrtbase.dll"
fi
run orphans 0 crt.exe orphans snmalloc_rs.dll &&
  expect "threads that allocate after their teardown: orphans released" "$out" "crt: [0-9]+ checks, 0 failed"
SNMALLOC_VERBOSE=1 WINEDLLOVERRIDES=msvcr71=n run thunks 0 crt.exe thunks snmalloc_rs.dll &&
  expect "free as a jump to _free_base: foreign blocks reach the real code" "$out" "crt: [0-9]+ checks, 0 failed" &&
  expect "free as a jump to _free_base: redirected" "$err" "redirected 5 functions of msvcr71.dll"
WINEDLLOVERRIDES=msvcr70=n run refuse 0 crt.exe refuse snmalloc_rs.dll &&
  expect "unknown prologue: module left alone" "$out" "crt: [0-9]+ checks, 0 failed" &&
  expect "unknown prologue: message" "$err" \
    "left msvcr70.dll alone: cannot move the first instructions of malloc \(an instruction this decoder does not know at \+0; bytes e3 00"
run missing 127 snmalloc-run.exe no-such-program.exe &&
  expect "snmalloc-run.exe: missing program" "$err" "cannot run no-such-program.exe"
cp "target/windows-user/$t/release/rust-user.exe" "$bin/"
run rust-user 0 rust-user.exe &&
  expect "SnMalloc as Rust's global allocator" "$out" "^rust: snmalloc, c malloc: system$"
# The rlib with `override` in an executable: the CRT is redirected from the
# executable's own TLS callback, and exit (the CRT freeing through us after
# snmalloc's own exit handlers) must be clean.
cp "target/windows-user-override/$t/release/rust-user.exe" "$bin/rust-user-override.exe"
run rust-user-override 0 rust-user-override.exe &&
  expect "SnMalloc with override in an .exe: the CRT redirected too" "$out" "^rust: snmalloc, c malloc: snmalloc$"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
