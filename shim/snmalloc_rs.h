// The internal interface between snmalloc (shim/snmalloc_rs.cc) and the
// Rust crate (src/ffi.rs mirrors it). Every symbol is hidden: calls from the
// exported Rust entry points are direct, never through the PLT.
#pragma once

#include <stddef.h>

#ifdef _WIN32
// PE has no symbol visibility: nothing is exported without dllexport.
#  define SNRS_API extern "C"
#else
#  define SNRS_API extern "C" __attribute__((visibility("hidden")))
#endif

// glibc semantics except where noted; errno is ENOMEM on every failure.
SNRS_API void* snrs_malloc(size_t size);
SNRS_API void* snrs_calloc(size_t nmemb, size_t size);
SNRS_API void snrs_free(void* p);
SNRS_API void snrs_free_sized(void* p, size_t size);
SNRS_API void* snrs_realloc(void* p, size_t size);
// `align` must be a power of two (callers validate); any size, incl. 0.
SNRS_API void* snrs_aligned_alloc(size_t align, size_t size);
SNRS_API void* snrs_aligned_alloc_zeroed(size_t align, size_t size);
// `align` is a power of two; keeps `p` when the size class does not change.
SNRS_API void*
snrs_aligned_realloc(void* p, size_t align, size_t old_size, size_t new_size);
SNRS_API void snrs_aligned_free_sized(void* p, size_t align, size_t size);
// Usable size of a block of ours, of a foreign block (asked of its owner),
// or 0 for NULL.
SNRS_API size_t snrs_usable_size(const void* p);
SNRS_API int snrs_is_owned(const void* p);
// Where the memory is, in bytes (docs/memory.md).
struct SnrsMemory
{
  size_t reserved; // address space taken from the OS
  size_t in_use; // held by threads: their blocks and caches
  size_t peak_in_use;
  size_t retained; // freed, kept committed for reuse
  unsigned long long given_back; // given back to the OS, all time
};
SNRS_API void snrs_memory(SnrsMemory* out);
// Gives back every freed range kept for reuse; returns how many bytes.
SNRS_API size_t snrs_trim(void);
// The policy for freed memory: mode 0 keeps it up to `ms` milliseconds,
// 1 gives it back at once, 2 leaves it to the kernel (MADV_FREE).
SNRS_API void snrs_set_decay(int mode, unsigned long long ms);
// Finds the previous allocator now (from the library's initialiser) rather
// than at the first foreign free.
SNRS_API void snrs_resolve_foreign(void);
// The usable size snmalloc gives a request of `size` bytes.
SNRS_API size_t snrs_round_size(size_t size);
// For a pointer snmalloc owns (anywhere inside a block): the block's start,
// and the bytes from `p` to the block's end.
SNRS_API void* snrs_block_start(const void* p);
SNRS_API size_t snrs_block_remaining(const void* p);
// fork(), forked again when the child was copied with an allocator section
// half done (shim/fork_gate.h). Unix.
#ifndef _WIN32
#  include <sys/types.h>
SNRS_API pid_t snrs_fork(void);
// What the fork gate did in this process, for the exit report.
struct SnrsForkCounts
{
  unsigned long long guarded; // forks that waited for the allocator
  unsigned long long intrusions; // threads let through to break a cycle
  unsigned long long redone; // children discarded and forked again
};
SNRS_API void snrs_fork_counts(SnrsForkCounts* out);
#endif
// Windows: releases the calling thread's allocator (DLL_THREAD_DETACH).
SNRS_API void snrs_thread_detach(void);
// Windows: keeps the pagemap's commit-on-read handler for the whole process
// lifetime (upstream removes it at exit).
SNRS_API void snrs_keep_lazy_commit(void);

// C++ operator new and delete (Linux, SNRS_OVERRIDE); the exported
// operators are these functions. `align` is a std::align_val_t.
SNRS_API void* snrs_new(size_t size);
SNRS_API void* snrs_new_nothrow(size_t size, const void* nothrow_tag);
SNRS_API void* snrs_new_aligned(size_t size, size_t align);
SNRS_API void*
snrs_new_aligned_nothrow(size_t size, size_t align, const void* nothrow_tag);
SNRS_API void snrs_delete_sized_aligned(void* p, size_t size, size_t align);

// Failure paths of C++ operator new (shim/new_failure.cc): call the
// new-handler and retry, then throw std::bad_alloc (or return NULL). `align`
// is 0 for the unaligned forms.
SNRS_API void* snrs_new_failed(size_t size, size_t align);
SNRS_API void* snrs_new_failed_nothrow(size_t size, size_t align) noexcept;

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
// Fills `out` with up to `max` non-empty classes, smallest first.
SNRS_API size_t snrs_profile_classes(SnrsClassStat* out, size_t max);
SNRS_API void snrs_profile_totals(SnrsProfileTotals* out);
