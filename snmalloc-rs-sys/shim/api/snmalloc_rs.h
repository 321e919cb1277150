// The internal interface between snmalloc (shim/api/snmalloc_rs.cc) and the
// Rust crate (snmalloc-rs-sys/src/lib.rs mirrors it). Every symbol is hidden: calls from the
// exported Rust entry points are direct, never through the PLT.
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

#define SNRS_NAME(name) snrs_##name
#define SNRS_FN(ret, name, params) SNRS_API ret SNRS_NAME(name) params;

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

// The functions, listed once (shim/api/snmalloc_rs_api.h).
#include "api/snmalloc_rs_api.h"

#if defined(SNRS_OVERRIDE) && defined(__linux__)
// Failure paths of C++ operator new (shim/api/new_failure.cc, the one unit
// built with exceptions): call the new-handler and retry, then throw
// std::bad_alloc (or return NULL). `align` is 0 for the unaligned forms.
SNRS_API void* snrs_new_failed(size_t size, size_t align);
SNRS_API void* snrs_new_failed_nothrow(size_t size, size_t align) noexcept;
#endif

