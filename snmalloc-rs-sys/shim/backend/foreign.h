// Memory snmalloc does not own: the allocator that owned the process before
// us (glibc's, normally), found once, and snmalloc's hook for pointers its
// pagemap does not know (its "secondary allocator"), which sends them to
// their owner: a block mapped on its own (exact_blocks.h), else the previous
// allocator's free and usable-size functions. Never allocates.
#pragma once

#include "backend/exact_blocks.h"

#ifdef _WIN32
#  include <malloc.h> // _msize
#else
#  include <dlfcn.h>
#endif
namespace snrs
{
  using FreeFn = void (*)(void*);
  using SizeFn = size_t (*)(void*);
#if defined(__APPLE__)
  constexpr const char* SIZE_FN = "malloc_size";
#elif !defined(_WIN32)
  constexpr const char* SIZE_FN = "malloc_usable_size";
#endif

  // The allocator that owned the process before us (glibc's, normally).
  // Resolved once, by the library's initialiser or, if a foreign block
  // arrives before that, then: pointers it handed out before our library
  // took over, or that a plugin got from it directly, come back to it.
  struct Previous
  {
    snmalloc::stl::Atomic<FreeFn> free_fn{nullptr};
    snmalloc::stl::Atomic<SizeFn> size_fn{nullptr};
    snmalloc::stl::Atomic<int> state{0}; // 0 unresolved, 1 resolving, 2 done
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Previous previous;

  SNMALLOC_SLOW_PATH inline bool resolve_previous()
  {
    int expected = 0;
    if (previous.state.compare_exchange_strong(expected, 1))
    {
#if defined(SNRS_OVERRIDE) && defined(RTLD_NEXT)
      // We export malloc/free ourselves: the owner of foreign memory is the
      // next definition in lookup order. dlsym may allocate; that lands in
      // snmalloc, which needs nothing resolved here, so it cannot recurse
      // into this path with `state` still 1 except through a foreign free,
      // which is then leaked rather than deadlocked.
      previous.free_fn.store(
        reinterpret_cast<FreeFn>(dlsym(RTLD_NEXT, "free")));
      previous.size_fn.store(reinterpret_cast<SizeFn>(dlsym(RTLD_NEXT, SIZE_FN)));
#elif defined(_WIN32)
      // Used as a library only: the C runtime's heap owns the rest.
      previous.free_fn.store(&::free);
      previous.size_fn.store(&::_msize);
#else
      // Used as a library only: the process's own allocator owns the rest.
      previous.free_fn.store(&::free);
      previous.size_fn.store(
        reinterpret_cast<SizeFn>(dlsym(RTLD_DEFAULT, SIZE_FN)));
#endif
      previous.state.store(2);
    }
    return previous.state.load() == 2;
  }

  /**
   * snmalloc's hook for memory it does not own: pass_through = false makes
   * snmalloc consult it in free/realloc/usable-size when the pagemap says a
   * pointer is not ours. It never allocates.
   */
  class ForeignMemory
  {
  public:
    static constexpr inline bool pass_through = false;

    static void initialize() {}

    template<class SizeAlign>
    SNMALLOC_FAST_PATH static void* allocate(SizeAlign&&)
    {
      return nullptr;
    }

    SNMALLOC_SLOW_PATH static void deallocate(void* p)
    {
      if (p == nullptr || exact::release(p) || !resolve_previous())
        return;
      FreeFn f = previous.free_fn.load();
      if (f != nullptr)
        f(p);
    }

    SNMALLOC_SLOW_PATH static size_t alloc_size(const void* p)
    {
      if (size_t length = exact::usable_size(p); length != 0)
        return length;
      if (!resolve_previous())
        return 0;
      SizeFn f = previous.size_fn.load();
      return f == nullptr ? 0 : f(const_cast<void*>(p));
    }
  };
} // namespace snrs
