// Allocation counting for the profiling build of the library (SNRS_PROFILE,
// Cargo feature `profile`). In every other build each hook is an empty
// inline function, so the default library's code is unchanged.
#pragma once

#include "backend/exact_blocks.h"
#include "api/snmalloc_rs.h"

namespace snrs::profile
{
#ifdef SNRS_PROFILE
  using snmalloc::stl::Atomic;
  using snmalloc::stl::memory_order_relaxed;

  struct Counter
  {
    Atomic<uint64_t> allocs{0}, bytes{0}, frees{0}, remote_frees{0};
  };

  constexpr size_t LARGE_CLASSES = 64;
  SNMALLOC_REQUIRE_CONSTINIT inline Counter
    small_classes[snmalloc::NUM_SMALL_SIZECLASSES];
  SNMALLOC_REQUIRE_CONSTINIT inline Counter large_classes[LARGE_CLASSES];
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<uint64_t> live{0};
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<uint64_t> peak_live{0};
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<uint64_t> largest{0};

  // The counter of the size class a request of `size` bytes is served from.
  inline Counter& counter(size_t size)
  {
    if (size == 0)
      size = 1;
    if (snmalloc::is_small_sizeclass(size))
      return small_classes[snmalloc::size_to_sizeclass(size)];
    return large_classes[snmalloc::bits::next_pow2_bits(size) % LARGE_CLASSES];
  }

  inline void max_into(Atomic<uint64_t>& slot, uint64_t v)
  {
    uint64_t cur = slot.load(memory_order_relaxed);
    while (v > cur && !slot.compare_exchange_weak(cur, v)) {}
  }

  /// Records a successful allocation of `requested` bytes at `p`.
  inline void* counted(void* p, size_t requested)
  {
    if (p == nullptr)
      return p;
    Counter& c = counter(requested);
    c.allocs.fetch_add(1, memory_order_relaxed);
    c.bytes.fetch_add(requested, memory_order_relaxed);
    size_t usable = snmalloc::alloc_size(p);
    max_into(peak_live, live.fetch_add(usable, memory_order_relaxed) + usable);
    max_into(largest, requested);
    return p;
  }

  /// What a free of `p` will release, taken before the memory is gone.
  struct Release
  {
    size_t usable = 0;
    bool remote = false;
  };

  inline Release about_to_free(const void* p)
  {
    if (p == nullptr)
      return {};
    if (!snmalloc::is_owned(const_cast<void*>(p)))
    {
      const void* owner = snrs::exact::owner(p);
      return {
        snrs::exact::usable_size(p),
        owner != nullptr && owner != snrs::exact::this_thread()};
    }
    const auto& entry = snmalloc::Config::Backend::get_metaentry(
      snmalloc::address_cast(p));
    // The pagemap names the owning allocator by its message queue, which
    // lives inside the allocator object: local iff it is inside ours.
    auto* queue = reinterpret_cast<const char*>(entry.get_remote());
    auto* mine = reinterpret_cast<const char*>(&snmalloc::ThreadAlloc::get());
    bool remote = queue < mine || queue >= mine + sizeof(snmalloc::Alloc);
    return {snmalloc::alloc_size(p), remote};
  }

  inline void released(Release r)
  {
    if (r.usable == 0)
      return;
    Counter& c = counter(r.usable);
    c.frees.fetch_add(1, memory_order_relaxed);
    if (r.remote)
      c.remote_frees.fetch_add(1, memory_order_relaxed);
    live.fetch_sub(r.usable, memory_order_relaxed);
  }

  inline void uncounted(const void* p)
  {
    released(about_to_free(p));
  }

  /// A reallocation: the old block is released only if it moved or was
  /// freed, the new one counted only if it is new.
  template<typename F>
  inline void* realloc_counted(void* p, size_t size, F&& realloc)
  {
    Release old = about_to_free(p);
    void* q = realloc();
    if (q != p && (q != nullptr || size == 0))
    {
      released(old);
      counted(q, size);
    }
    return q;
  }
#else
  SNMALLOC_FAST_PATH_INLINE void* counted(void* p, size_t)
  {
    return p;
  }

  SNMALLOC_FAST_PATH_INLINE void uncounted(const void*) {}

  template<typename F>
  SNMALLOC_FAST_PATH_INLINE void* realloc_counted(void*, size_t, F&& realloc)
  {
    return realloc();
  }
#endif
} // namespace snrs::profile
