#!/usr/bin/env bash
# Builds upstream snmalloc's own LD_PRELOAD shim (override/malloc.cc and
# new.cc) from the same pinned source as ours, with the flags of upstream's
# CMake `snmallocshim` target on Linux, into target/upstream/. Used to
# compare against it side by side. Prints the library's path.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(scripts/snmalloc-src.sh)
out=target/upstream
mkdir -p "$out"
lib="$out/libsnmallocshim.so"
if [ ! -f "$lib" ] || [ "$0" -nt "$lib" ]; then
  ${CXX:-g++} -std=c++20 -O3 -DNDEBUG -fPIC -shared \
    -fvisibility=hidden -fomit-frame-pointer -fno-rtti -ffunction-sections \
    -mcx16 -mprfchw -ftls-model=initial-exec \
    '-DSNMALLOC_EXPORT=__attribute__((visibility("default")))' \
    -DSNMALLOC_USE_CXX11_THREAD_ATEXIT_DIRECT -DSNMALLOC_USE_WAIT_ON_ADDRESS=1 \
    -DSNMALLOC_CHECK_LOADS=false -DSNMALLOC_PAGEID=false \
    -DSNMALLOC_PTHREAD_ATFORK_WORKS -DSNMALLOC_HAS_LINUX_RANDOM_H \
    -DSNMALLOC_HAS_LINUX_FUTEX_H -DSNMALLOC_PLATFORM_HAS_GETENTROPY \
    -DSNMALLOC_NO_REALLOCARRAY -DSNMALLOC_NO_REALLOCARR \
    -I "$src" "$src/snmalloc/override/malloc.cc" "$src/snmalloc/override/new.cc" \
    -static-libstdc++ -Wl,--no-undefined -o "$lib"
fi
realpath "$lib"
