// The internal interface between snmalloc (shim/snmalloc_rs.cc) and the
// Rust crate (snmalloc-rs-sys/src/lib.rs mirrors it). Every symbol is hidden: calls from the
// exported Rust entry points are direct, never through the PLT.
//
// Where the library carries two builds of snmalloc (Linux with glibc; see
// shim/flavour.h), shim/snmalloc_rs.cc is compiled twice: the flat build
// defines the functions below under their names, the compact one (with
// SNRS_FLAVOUR=compact) as snrs_compact_<name>. SNRS_FN declares each;
// shim/flavour_switch.cc redefines it to list them.
#pragma once

#include <stddef.h>
#ifndef _WIN32
#  include <sys/types.h>
#endif

#ifdef _WIN32
// PE has no symbol visibility: nothing is exported without dllexport.
#  define SNRS_API extern "C"
#else
#  define SNRS_API extern "C" __attribute__((visibility("hidden")))
#endif

#define SNRS_CAT_(a, b) a##b
#define SNRS_CAT(a, b) SNRS_CAT_(a, b)
#ifdef SNRS_FLAVOUR
#  define SNRS_NAME(name) \
    SNRS_CAT(SNRS_CAT(SNRS_CAT(snrs_, SNRS_FLAVOUR), _), name)
#else
#  define SNRS_NAME(name) SNRS_CAT(snrs_, name)
#endif
#ifndef SNRS_FN
#  define SNRS_FN(ret, name, params) SNRS_API ret SNRS_NAME(name) params;
#endif

// Where the memory is, in bytes (docs/memory.md).
struct SnrsMemory
{
  size_t reserved; // address space taken from the OS
  size_t in_use; // held by threads: their blocks and caches
  size_t peak_in_use;
  size_t retained; // freed, kept committed for reuse
  unsigned long long given_back; // given back to the OS, all time
};

// Profiling build only (SNRS_PROFILE): per-size-class counters.
struct SnrsClassStat
{
  size_t size; // the size class, in bytes
  unsigned long long allocs, bytes, frees, remote_frees;
};

struct SnrsProfileTotals
{
  unsigned long long live, peak_live, largest;
};

// The functions, listed once (shim/snmalloc_rs_api.h).
#include "snmalloc_rs_api.h"

#if defined(SNRS_OVERRIDE) && defined(__linux__)
// Failure paths of C++ operator new (shim/new_failure.cc, built once, not
// per build of snmalloc): call the new-handler and retry through the
// dispatched functions, then throw std::bad_alloc (or return NULL). `align`
// is 0 for the unaligned forms.
SNRS_API void* snrs_new_failed(size_t size, size_t align);
SNRS_API void* snrs_new_failed_nothrow(size_t size, size_t align) noexcept;
#endif

// Which build serves the process (shim/flavour.h), where there are two:
// 1 flat, 2 compact.
#ifdef SNRS_FLAVOURS
SNRS_API int snrs_flavour(void);
#endif
