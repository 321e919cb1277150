// The functions of the internal interface (see snmalloc_rs.h), one SNRS_FN
// each, included by snmalloc_rs.h to declare them.
// glibc semantics except where noted; errno is ENOMEM on every failure.
SNRS_FN(void*, malloc, (size_t size))
SNRS_FN(void*, calloc, (size_t nmemb, size_t size))
SNRS_FN(void, free, (void* p))
SNRS_FN(void, free_sized, (void* p, size_t size))
SNRS_FN(void*, realloc, (void* p, size_t size))
// `align` must be a power of two (callers validate); any size, incl. 0.
SNRS_FN(void*, aligned_alloc, (size_t align, size_t size))
SNRS_FN(void*, aligned_alloc_zeroed, (size_t align, size_t size))
// `align` is a power of two; keeps `p` when the size class does not change.
SNRS_FN(
  void*,
  aligned_realloc,
  (void* p, size_t align, size_t old_size, size_t new_size))
SNRS_FN(void, aligned_free_sized, (void* p, size_t align, size_t size))
// Usable size of a block of ours, of a foreign block (asked of its owner),
// or 0 for NULL.
SNRS_FN(size_t, usable_size, (const void* p))
SNRS_FN(int, is_owned, (const void* p))
SNRS_FN(void, memory, (SnrsMemory* out))
// Gives back every freed range kept for reuse; returns how many bytes.
SNRS_FN(size_t, trim, (void))
// The policy for freed memory: mode 0 keeps it up to `ms` milliseconds,
// 1 gives it back at once, 2 leaves it to the kernel (MADV_FREE).
SNRS_FN(void, set_decay, (int mode, unsigned long long ms))
// Finds the previous allocator now (from the library's initialiser) rather
// than at the first foreign free.
SNRS_FN(void, resolve_foreign, (void))
// The usable size snmalloc gives a request of `size` bytes.
SNRS_FN(size_t, round_size, (size_t size))
// For a pointer snmalloc owns (anywhere inside a block): the block's start,
// and the bytes from `p` to the block's end.
SNRS_FN(void*, block_start, (const void* p))
SNRS_FN(size_t, block_remaining, (const void* p))
// 1 if this process began as a fork child copied while another thread was
// changing the allocator's shared state, which it then started again empty
// (shim/process/fork.h). Unix.
#ifndef _WIN32
SNRS_FN(int, fork_restarted, (void))
#endif
#ifdef _WIN32
// Windows: releases the calling thread's allocator (DLL_THREAD_DETACH).
SNRS_FN(void, thread_detach, (void))
// Windows: keeps the pagemap's commit-on-read handler for the whole process
// lifetime (upstream removes it at exit).
SNRS_FN(void, keep_lazy_commit, (void))
#endif

#if defined(SNRS_OVERRIDE) && defined(__linux__)
// C++ operator new and delete (Linux, SNRS_OVERRIDE); the exported
// operators are these functions. `align` is a std::align_val_t.
SNRS_FN(void*, new, (size_t size))
SNRS_FN(void*, new_nothrow, (size_t size, const void* nothrow_tag))
SNRS_FN(void*, new_aligned, (size_t size, size_t align))
SNRS_FN(
  void*, new_aligned_nothrow, (size_t size, size_t align, const void* nothrow_tag))
SNRS_FN(void, delete_sized_aligned, (void* p, size_t size, size_t align))
#endif

#ifdef SNRS_PROFILE
// Fills `out` with up to `max` non-empty classes, smallest first.
SNRS_FN(size_t, profile_classes, (SnrsClassStat* out, size_t max))
SNRS_FN(void, profile_totals, (SnrsProfileTotals* out))
#endif

