// The platform layer snmalloc-rs gives snmalloc (the `Pal` of shim/backend/config.h):
// upstream's DefaultPal, with these changes on Linux.
//
// 1. Freed memory goes back with the advice the policy names
//    (SNMALLOC_DECAY, shim/pal/memory_policy.h): MADV_DONTNEED, so that it
//    leaves the resident set at once, or MADV_FREE, upstream's choice, which
//    lets the kernel take it only when it needs memory (every RSS-based
//    monitor then sees it as still held).
// 2. Reservations are aligned and exactly as large as asked: upstream's
//    Linux PAL has no aligned reservation, so its global range reserves twice
//    what it needs and keeps the rest. Here the kernel's placement is
//    trimmed to the alignment, so a reservation is the size of the request
//    that caused it, and 3. can judge the request itself.
// 3. A reservation that no allocator could satisfy is refused at once:
//    larger than RAM plus swap in the kernel's default overcommit mode (what
//    the kernel refuses to glibc's mmap; snmalloc maps with MAP_NORESERVE,
//    which the kernel would accept, and then writes pagemap entries for all
//    of it). Address-space and data limits need no test here: mmap itself
//    fails with ENOMEM.
// 4. A reservation that fails is tried again after the freed large blocks
//    kept for reuse are given back (shim/backend/exact_blocks.h): under a limit,
//    memory a program freed serves its next request of any size.
// 5. Large blocks are mapped on their own (map_block, remap_block,
//    unmap_block; shim/backend/exact_blocks.h).
// 6. Entropy never aborts: getrandom, then /dev/urandom on any descriptor
//    (upstream takes descriptor 0, which a program started with stdin
//    closed gets, for a failure), then the 16 random bytes the kernel gives
//    every process at exec (AT_RANDOM), mixed with the clock. A sandbox
//    that refuses getrandom, or a chroot without /dev/urandom, made every
//    program abort at start ("Failed to get system randomness").
//
// Every function leaves errno as it was when it succeeds.
#pragma once

#include "pal/memory_policy.h"

#include <snmalloc/pal/pal.h>

#if defined(__linux__)
#  include <fcntl.h>
#  include <sys/auxv.h>
#  include <sys/mman.h>
#  include <sys/syscall.h>
#  include <unistd.h>
#endif

namespace snrs
{
#if defined(__linux__)
  /// Gives back the freed large blocks kept for reuse; how many bytes
  /// (shim/backend/exact_blocks.h).
  inline size_t release_kept_blocks() noexcept;

  class Pal : public snmalloc::DefaultPal
  {
    using Base = snmalloc::DefaultPal;

  public:
    static constexpr uint64_t pal_features =
      Base::pal_features | snmalloc::AlignedAllocation;

    static constexpr size_t minimum_alloc_size = Base::page_size;

    /// Address space of `size` bytes aligned to `size` (a power of two).
    template<bool state_using>
    static void* reserve_aligned(size_t size) noexcept
    {
      SNMALLOC_ASSERT(snmalloc::bits::is_pow2(size));
      if (!policy.possible(size))
        return nullptr;
      void* p = try_reserve_aligned(size);
      if (p == nullptr && release_kept_blocks() != 0)
        p = try_reserve_aligned(size);
      return p;
    }

    /// Address space of `size` bytes (pages), for the two-level pagemap's
    /// leaves.
    static void* reserve(size_t size) noexcept
    {
      os::KeepErrno keep;
      void* p = Base::reserve(size);
      if (p == nullptr && release_kept_blocks() != 0)
        p = Base::reserve(size);
      return p;
    }

  private:
    static void* try_reserve_aligned(size_t size) noexcept
    {
      os::KeepErrno keep;
      // Exactly `size` bytes first: under an address-space limit a
      // reservation of twice the size (the fallback) fails long before the
      // limit is reached (a 300 MiB block under `ulimit -v 1G`).
      void* p = map(nullptr, size, 0);
      if (p == nullptr)
        return nullptr;
      auto a = reinterpret_cast<uintptr_t>(p);
      if ((a & (size - 1)) == 0)
        return p;
      // The kernel hands out addresses downwards: the aligned address below
      // is most often free.
      munmap(p, size);
      auto* hint = reinterpret_cast<void*>(a & ~(size - 1));
      p = map(hint, size, MAP_FIXED_NOREPLACE);
      if (p == hint)
        return p;
      if (p != nullptr) // a kernel before 4.17 took the flag for a hint
        munmap(p, size);
      // Reserve enough to align, and give back what lies outside.
      size_t span = size * 2 - Base::page_size;
      if (span < size || (p = map(nullptr, span, 0)) == nullptr)
        return nullptr;
      a = reinterpret_cast<uintptr_t>(p);
      uintptr_t aligned = (a + size - 1) & ~(size - 1);
      if (aligned != a)
        munmap(p, aligned - a);
      if (uintptr_t end = aligned + size; end != a + span)
        munmap(reinterpret_cast<void*>(end), a + span - end);
      return reinterpret_cast<void*>(aligned);
    }

  public:
    /// Committed memory of `length` bytes (pages) aligned to `align` (a
    /// power of two, at least a page), for a block mapped on its own
    /// (shim/backend/exact_blocks.h), or nullptr. Accounted by the kernel as
    /// glibc's large blocks are (no MAP_NORESERVE).
    static void* map_block(size_t length, size_t align) noexcept
    {
      if (!policy.possible(length))
        return nullptr;
      os::KeepErrno keep;
      size_t span = length + (align - Base::page_size);
      if (span < length)
        return nullptr;
      void* p = mmap(
        nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED)
        return nullptr;
      auto a = reinterpret_cast<uintptr_t>(p);
      uintptr_t aligned = (a + align - 1) & ~(align - 1);
      if (aligned != a)
        munmap(p, aligned - a);
      if (uintptr_t end = aligned + length; end != a + span)
        munmap(reinterpret_cast<void*>(end), a + span - end);
      return reinterpret_cast<void*>(aligned);
    }

    static void unmap_block(void* p, size_t length) noexcept
    {
      os::KeepErrno keep;
      munmap(p, length);
    }

    /// A block of map_block() resized to `length` bytes, moved if need be
    /// (page aligned only), or nullptr with the block intact.
    static void* remap_block(void* p, size_t old_length, size_t length) noexcept
    {
      if (length > old_length && !policy.possible(length))
        return nullptr;
      os::KeepErrno keep;
      void* q = mremap(p, old_length, length, MREMAP_MAYMOVE);
      return q == MAP_FAILED ? nullptr : q;
    }

    /// 64 random bits (point 6).
    static uint64_t get_entropy64() noexcept
    {
      os::KeepErrno keep;
      uint64_t r = 0;
      // GRND_NONBLOCK (1): before the kernel's pool is ready, use the rest.
      if (syscall(SYS_getrandom, &r, sizeof r, 1) == sizeof r)
        return r;
      if (
        os::read_file("/dev/urandom", reinterpret_cast<char*>(&r), sizeof r) ==
        sizeof r)
        return r;
      // splitmix64 of AT_RANDOM, the clock and a count of calls.
      static snmalloc::stl::Atomic<uint64_t> calls{0};
      uint64_t x = os::now_ns() ^ (calls.fetch_add(1) * 0x9E3779B97F4A7C15);
      if (auto* at = reinterpret_cast<const uint64_t*>(getauxval(AT_RANDOM)))
        x ^= at[0] ^ (at[1] << 1);
      x += 0x9E3779B97F4A7C15;
      x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
      x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
      return x ^ (x >> 31);
    }

    static void notify_not_using(void* p, size_t size) noexcept
    {
      SNMALLOC_ASSERT(snmalloc::is_aligned_block<Base::page_size>(p, size));
      os::KeepErrno keep;
      madvise(p, size, policy.lazy() ? MADV_FREE : MADV_DONTNEED);
    }

  private:
    /// Reserved (not committed) address space, or nullptr.
    static void* map(void* at, size_t size, int flags) noexcept
    {
      void* p = mmap(
        at,
        size,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags,
        -1,
        0);
      return p == MAP_FAILED ? nullptr : p;
    }
  };
#else
  // Elsewhere upstream's PAL as it is: Windows decommits, macOS marks pages
  // reusable (both leave the resident set), FreeBSD uses MADV_FREE.
  using Pal = snmalloc::DefaultPal;
#endif
} // namespace snrs
