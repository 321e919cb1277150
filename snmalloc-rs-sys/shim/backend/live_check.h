// The check build's record of which blocks are allocated (feature `check`,
// SNMALLOC_CHECK_CLIENT): one byte per object in snmalloc's client
// metadata, set when a block is handed out and cleared, atomically, when it
// is freed. A free that finds it clear is a double free, caught at once and
// from any thread (snmalloc's own checks find a double free only when the
// owning thread next walks its free list, which an idle owner never does).
// A free of an address inside a block but not at its start, or of memory
// that snmalloc handed back to the OS, is named as such. A pointer that is
// not snmalloc's is checked against the calling thread's stack and the
// loaded objects' static data before it goes to its owner.
//
// In every other build each hook is an empty inline function.
#pragma once

#include "api/snmalloc_rs.h"
#include "process/check_messages.h"

#include "backend/exact_blocks.h"

#if defined(SNMALLOC_CHECK_CLIENT) && !defined(_WIN32)
#  include <dlfcn.h>
#  include <pthread.h>
#  include <sys/mman.h>
#endif

namespace snrs::live
{
#ifdef SNMALLOC_CHECK_CLIENT
  using snmalloc::address_cast;

  using Entry = snmalloc::Config::PagemapEntry;
  using Flag = snmalloc::stl::Atomic<uint8_t>;

  inline const Entry& entry_of(const void* p)
  {
    return snmalloc::Config::Backend::get_metaentry(address_cast(p));
  }

  /// The byte of the object `p` points into (an entry of a block of ours).
  inline Flag& flag_of(const Entry& entry, const void* p)
  {
    size_t index = snmalloc::slab_index(entry.get_sizeclass(), address_cast(p));
    return entry.get_slab_metadata()->get_meta_for_object(index);
  }

#  if defined(__linux__)
  /// The calling thread's stack, found once per thread.
  struct Stack
  {
    uintptr_t low = 0, high = 0;
    bool known = false;
  };

  inline thread_local Stack stack;

  inline bool on_my_stack(const void* p)
  {
    if (!stack.known)
    {
      stack.known = true;
      pthread_attr_t attr;
      if (pthread_getattr_np(pthread_self(), &attr) == 0)
      {
        void* base = nullptr;
        size_t size = 0;
        if (pthread_attr_getstack(&attr, &base, &size) == 0)
        {
          stack.low = reinterpret_cast<uintptr_t>(base);
          stack.high = stack.low + size;
        }
        pthread_attr_destroy(&attr);
      }
    }
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= stack.low && a < stack.high;
  }
#  endif

  /// What the program did with the pointer, for the message.
  struct Use
  {
    const char* stack; // the pointer is on this thread's stack
    const char* data; // ... in a loaded object's static data
    const char* returned; // ... in memory snmalloc took back from a block
    const char* unallocated; // ... in a block that is not allocated
  };

  constexpr Use FREE = {
    "free of a stack address",
    "free of static or global data",
    "double free (the block's memory was already taken back)",
    "double free (or free of a block that was never allocated)"};
  constexpr Use LOOKUP = {
    "realloc or malloc_usable_size of a stack address",
    "realloc or malloc_usable_size of static or global data",
    "realloc or malloc_usable_size of a freed block (its memory was taken "
    "back)",
    "realloc or malloc_usable_size of a freed block"};

#  if defined(__linux__)
  /// Whether the page of `p` is mapped (msync refuses an unmapped range).
  inline bool mapped(const void* p)
  {
    snrs::os::KeepErrno keep;
    auto page = reinterpret_cast<void*>(
      reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(snmalloc::OS_PAGE_SIZE) - 1));
    return msync(page, snmalloc::OS_PAGE_SIZE, MS_ASYNC) == 0 || errno != ENOMEM;
  }
#  endif

  /// A pointer that is not snmalloc's, on its way to its owner: it must not
  /// be this thread's stack or a loaded object's static data, nor a large
  /// block freed already (kept for reuse, or given back and unmapped).
  inline void foreign(const void* p, const Use& use)
  {
#  if defined(__linux__)
    if (on_my_stack(p))
      misuse(use.stack, p);
    if (snrs::exact::kept.holds(p) || !mapped(p))
      misuse(use.returned, p);
#  endif
#  if !defined(_WIN32)
    Dl_info info;
    if (dladdr(p, &info) != 0 && info.dli_fbase != nullptr)
      misuse(use.data, p);
#  else
    (void)p;
    (void)use;
#  endif
  }

  /// A block handed out (`p` may be NULL: a failed allocation). A large
  /// block mapped on its own (shim/backend/exact_blocks.h) has no entry, no byte.
  SNMALLOC_FAST_PATH_INLINE void* allocated(void* p)
  {
    if (p == nullptr)
      return p;
    const Entry& entry = entry_of(p);
    if (SNMALLOC_LIKELY(entry.is_owned()))
      flag_of(entry, p).store(1, snmalloc::stl::memory_order_relaxed);
    return p;
  }

  /// Whether `p` is snmalloc's; a pointer that is not is checked by
  /// foreign() on its way to its owner. Memory snmalloc took back from a
  /// freed block is neither.
  inline bool ours(const Entry& entry, const void* p, const Use& use)
  {
    if (entry.is_backend_owned())
      misuse(use.returned, p);
    if (entry.is_owned())
      return true;
    foreign(p, use);
    return false;
  }

  /// A block about to be freed (or moved by realloc): aborts on misuse.
  inline void freeing(const void* p)
  {
    if (p == nullptr)
      return;
    const Entry& entry = entry_of(p);
    if (!ours(entry, p, FREE))
      return;
    if (!snmalloc::is_start_of_object(entry.get_sizeclass(), address_cast(p)))
      misuse("free of an address inside a block, not its start", p);
    // An atomic exchange: of two threads freeing one block, even at the
    // same moment, exactly one finds it allocated. (Relaxed: exchanges of
    // one byte are totally ordered whatever the memory order.)
    if (flag_of(entry, p).exchange(0, snmalloc::stl::memory_order_relaxed) != 1)
      misuse(FREE.unallocated, p);
  }

  /// A block passed to realloc or malloc_usable_size must be allocated.
  inline void in_use(const void* p)
  {
    if (p == nullptr)
      return;
    const Entry& entry = entry_of(p);
    if (!ours(entry, p, LOOKUP))
      return;
    if (flag_of(entry, p).load(snmalloc::stl::memory_order_relaxed) != 1)
      misuse(LOOKUP.unallocated, p);
  }

  /// A reallocation through `realloc` (snmalloc's, which frees the old
  /// block itself): the old block's flag is cleared before it can be
  /// freed, and restored if the reallocation fails.
  template<typename F>
  inline void* realloc_checked(void* p, size_t size, F&& realloc)
  {
    in_use(p);
    bool moves = p != nullptr && snmalloc::is_owned(p) &&
      (size == 0 || snmalloc::alloc_size(p) != snmalloc::round_size(size));
    if (moves)
      freeing(p);
    void* q = realloc();
    if (q == nullptr && size != 0 && moves)
      allocated(p);
    if (q != p)
      allocated(q);
    return q;
  }
#else
  SNMALLOC_FAST_PATH_INLINE void* allocated(void* p)
  {
    return p;
  }

  SNMALLOC_FAST_PATH_INLINE void freeing(const void*) {}

  SNMALLOC_FAST_PATH_INLINE void in_use(const void*) {}

  template<typename F>
  SNMALLOC_FAST_PATH_INLINE void* realloc_checked(void*, size_t, F&& realloc)
  {
    return realloc();
  }
#endif
} // namespace snrs::live
