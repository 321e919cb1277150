// The ranges of memory that snmalloc-rs adds to snmalloc's backend
// (composed in shim/backend/config.h). snmalloc's backend is a pipeline of ranges,
// each asking its parent for memory it does not have and handing back what
// it does not keep; these follow upstream's conventions (alloc_range /
// dealloc_range, `Aligned`, `ConcurrencySafe`, `ChunkBounds`).
//
// - RetainRange keeps freed ranges of the shared pool committed, for reuse,
//   within a bound and for at most the policy's decay time, and gives the
//   rest back. Without it every range freed to the shared pool is given back
//   at once, and a program that frees and allocates large blocks in a loop
//   pays for the kernel on each cycle (upstream snmalloc issue 811).
// - DecommitRange gives ranges back to the OS on their way into the shared
//   pool, with the policy's advice (shim/pal/pal.h).
// - ReservedRange counts the address space reserved from the OS.
// - SharedLock is upstream's LockRange with one more operation under its
//   lock: trim(), which empties RetainRange (malloc_trim).
#pragma once

#include "pal/memory_policy.h"
#include "pal/os.h"

#include <snmalloc/backend_helpers/backend_helpers.h>

namespace snrs
{
  using snmalloc::CapPtr;
  using snmalloc::stl::Atomic;

  /// What the shared pool holds, for the statistics (bytes).
  struct PoolCounts
  {
    Atomic<size_t> reserved{0}; // address space taken from the OS
    Atomic<size_t> retained{0}; // freed, committed, kept for reuse
    Atomic<uint64_t> given_back{0}; // given back to the OS, all time
  };

  SNMALLOC_REQUIRE_CONSTINIT inline PoolCounts pool_counts;

  inline uint64_t now_ms()
  {
#ifdef _WIN32
    return GetTickCount64();
#else
    return os::now_ns() / 1'000'000;
#endif
  }

  struct ReservedRange
  {
    template<typename ParentRange = snmalloc::EmptyRange<>>
    class Type : public snmalloc::ContainsParent<ParentRange>
    {
      using snmalloc::ContainsParent<ParentRange>::parent;

    public:
      static constexpr bool Aligned = ParentRange::Aligned;
      static constexpr bool ConcurrencySafe = ParentRange::ConcurrencySafe;
      using ChunkBounds = typename ParentRange::ChunkBounds;

      constexpr Type() = default;

      CapPtr<void, ChunkBounds> alloc_range(size_t size)
      {
        auto r = parent.alloc_range(size);
        if (r != nullptr)
          pool_counts.reserved.fetch_add(size);
        return r;
      }
    };
  };

  template<typename Pal>
  struct DecommitRange
  {
    template<typename ParentRange = snmalloc::EmptyRange<>>
    class Type : public snmalloc::ContainsParent<ParentRange>
    {
      using snmalloc::ContainsParent<ParentRange>::parent;

    public:
      static constexpr bool Aligned = ParentRange::Aligned;
      static constexpr bool ConcurrencySafe = ParentRange::ConcurrencySafe;
      using ChunkBounds = typename ParentRange::ChunkBounds;

      constexpr Type() = default;

      CapPtr<void, ChunkBounds> alloc_range(size_t size)
      {
        auto r = parent.alloc_range(size);
        if (
          r != nullptr &&
          !Pal::template notify_using<snmalloc::NoZero>(r.unsafe_ptr(), size))
        {
          parent.dealloc_range(r, size);
          return CapPtr<void, ChunkBounds>(nullptr);
        }
        return r;
      }

      void dealloc_range(CapPtr<void, ChunkBounds> base, size_t size)
      {
        Pal::notify_not_using(base.unsafe_ptr(), size);
        pool_counts.given_back.fetch_add(size);
        parent.dealloc_range(base, size);
      }
    };
  };

  /// Keeps freed ranges committed for reuse, in two generations: ranges
  /// freed since the last turn, and those freed in the turn before. Every
  /// half decay time the older generation is given back and the younger one
  /// becomes the older, so a range stays between half and all of the decay
  /// time. Each generation is a buddy allocator whose tree lives in the
  /// free ranges themselves, so that neighbours freed apart merge again and
  /// a range can be reused for any smaller request. Bounded by twice the
  /// memory the program holds (between MIN_BOUND and MAX_BOUND): beyond it, the
  /// older generation goes first, then the largest ranges. Not
  /// thread-safe: it lives under the shared pool's lock. The age is looked
  /// at only when the shared pool is used: a program that stops allocating
  /// keeps at most the bound until its next allocation or malloc_trim.
  struct RetainRange
  {
    /// Kept in any case, so that a program that frees and allocates a few
    /// large blocks in a loop reuses them.
    static constexpr size_t MIN_BOUND = size_t(32) << 20;
    /// Kept at most, however much the program holds.
    static constexpr size_t MAX_BOUND = size_t(1) << 30;
    /// Kept at most, as a multiple of what the program holds.
    static constexpr size_t SHARE = 2;

    /// What may be kept for a program that holds `held` bytes: twice that,
    /// within MIN_BOUND and MAX_BOUND. A program that replaces its blocks
    /// reuses them rather than faulting in fresh pages (docs/memory.md has
    /// the measurements that chose it).
    static size_t bound_for(size_t held)
    {
      size_t b = held * SHARE;
      return b < MIN_BOUND ? MIN_BOUND : (b > MAX_BOUND ? MAX_BOUND : b);
    }
    /// Ranges from 16 KiB (the smallest chunk) up to 1 GiB are kept.
    static constexpr size_t MIN_BITS = snmalloc::MIN_CHUNK_BITS;
    static constexpr size_t MAX_BITS = 31;

    template<typename ParentRange = snmalloc::EmptyRange<>>
    class Type : public snmalloc::ContainsParent<ParentRange>
    {
      using snmalloc::ContainsParent<ParentRange>::parent;

    public:
      static constexpr bool Aligned = ParentRange::Aligned;
      static constexpr bool ConcurrencySafe = false;
      using ChunkBounds = typename ParentRange::ChunkBounds;

    private:
      using Rep = snmalloc::BuddyInplaceRep<ChunkBounds>;
      using Contents = typename Rep::Contents;

      struct Generation
      {
        snmalloc::Buddy<Rep, MIN_BITS, MAX_BITS> buddy{};
        size_t bytes = 0;
      };

      Generation generations[2]{};
      size_t young = 0; // the index of the younger generation
      uint64_t turned_at_ms = 0;
      /// Bytes handed out through this range and not yet returned.
      size_t out = 0;

      static constexpr size_t MAX_SIZE = snmalloc::bits::one_at_bit(MAX_BITS);

      size_t kept() const
      {
        return generations[0].bytes + generations[1].bytes;
      }

      void publish()
      {
        pool_counts.retained.store(kept(), snmalloc::stl::memory_order_relaxed);
      }

      void give_back(Contents c, size_t size)
      {
        parent.dealloc_range(
          CapPtr<void, ChunkBounds>::unsafe_from(c.unsafe_ptr()), size);
      }

      /// Gives back the largest ranges of `g` until at most `keep` of the
      /// whole is kept.
      void shrink(Generation& g, size_t keep)
      {
        for (size_t b = MAX_BITS; b-- > MIN_BITS && kept() > keep;)
        {
          size_t size = snmalloc::bits::one_at_bit(b);
          while (kept() > keep)
          {
            Contents c = g.buddy.remove_block(size);
            if (c == nullptr)
              break;
            g.bytes -= size;
            give_back(c, size);
          }
        }
      }

      size_t bound() const
      {
        return bound_for(out);
      }

      /// Turns the generations when half the decay time has passed, and
      /// keeps within the bound.
      void tidy(uint64_t now)
      {
        if (now - turned_at_ms >= policy.decay_ms() / 2)
        {
          Generation& old = generations[young ^ 1];
          shrink(old, kept() - old.bytes);
          young ^= 1;
          turned_at_ms = now;
        }
        size_t limit = bound();
        if (kept() > limit)
        {
          shrink(generations[young ^ 1], limit);
          shrink(generations[young], limit);
        }
        publish();
      }

    public:
      constexpr Type() = default;

      CapPtr<void, ChunkBounds> alloc_range(size_t size)
      {
        CapPtr<void, ChunkBounds> r;
        if (
          kept() != 0 && snmalloc::bits::is_pow2(size) && size >= MIN_CHUNK &&
          size < MAX_SIZE)
        {
          // The younger generation first: its pages are the likelier to be
          // in the caches.
          const size_t order[2] = {young, young ^ 1};
          for (size_t i : order)
          {
            Contents c = generations[i].buddy.remove_block(size);
            if (c != nullptr)
            {
              generations[i].bytes -= size;
              r = CapPtr<void, ChunkBounds>::unsafe_from(c.unsafe_ptr());
              break;
            }
          }
        }
        if (r == nullptr)
          r = parent.alloc_range(size);
        if (r != nullptr)
          out += size;
        if (kept() != 0)
          tidy(now_ms());
        return r;
      }

      void dealloc_range(CapPtr<void, ChunkBounds> base, size_t size)
      {
        out -= size;
        if (
          !policy.retains() || !snmalloc::bits::is_pow2(size) ||
          size < MIN_CHUNK || size >= MAX_SIZE)
        {
          parent.dealloc_range(base, size);
          return;
        }
        uint64_t now = now_ms();
        if (kept() == 0)
          turned_at_ms = now;
        Generation& g = generations[young];
        Contents merged = g.buddy.add_block(
          base.template as_static<snmalloc::FreeChunk<ChunkBounds>>(), size);
        g.bytes += size;
        if (merged != nullptr)
        {
          // Grew to the largest size kept: give it back whole.
          g.bytes -= MAX_SIZE;
          give_back(merged, MAX_SIZE);
        }
        tidy(now);
      }

      /// Gives back everything kept; returns how many bytes.
      size_t trim()
      {
        size_t before = kept();
        shrink(generations[0], 0);
        shrink(generations[1], 0);
        publish();
        return before;
      }
    };

  private:
    static constexpr size_t MIN_CHUNK = snmalloc::MIN_CHUNK_SIZE;
  };

  /// upstream's LockRange, and trim() under the same lock.
  struct SharedLock
  {
    template<typename ParentRange = snmalloc::EmptyRange<>>
    class Type : public snmalloc::ContainsParent<ParentRange>
    {
      using snmalloc::ContainsParent<ParentRange>::parent;

      snmalloc::CombiningLock lock{};

    public:
      static constexpr bool Aligned = ParentRange::Aligned;
      static constexpr bool ConcurrencySafe = true;
      using ChunkBounds = typename ParentRange::ChunkBounds;

      constexpr Type() = default;

      CapPtr<void, ChunkBounds> alloc_range(size_t size)
      {
        CapPtr<void, ChunkBounds> r;
        snmalloc::with(lock, [&]() { r = parent.alloc_range(size); });
        return r;
      }

      void dealloc_range(CapPtr<void, ChunkBounds> base, size_t size)
      {
        snmalloc::with(lock, [&]() { parent.dealloc_range(base, size); });
      }

      size_t trim()
      {
        size_t r = 0;
        snmalloc::with(lock, [&]() { r = parent.trim(); });
        return r;
      }
    };
  };
} // namespace snrs
