// Large blocks mapped at their own size, in the compact build (processes
// with a memory limit, shim/flavour.h).
//
// snmalloc serves a large block from a chunk of the next power of two: a
// block of 600 MiB takes 1 GiB of address space, and a program of 600 KiB
// blocks gets half of an address-space limit. Chunks, once reserved, stay
// snmalloc's: address space a program used for large blocks could not hold
// thread stacks or mappings later. Where address space is what is limited,
// every large block is therefore mapped on its own, exactly (rounded to
// pages), as glibc maps its blocks above its mmap threshold, and unmapped
// when freed; realloc between two such blocks is an mremap. snmalloc's
// pagemap does not know these blocks: a free, realloc or malloc_usable_size
// of one reaches snmalloc's secondary allocator (ForeignMemory in
// snmalloc_rs.cc), which asks this table before the previous allocator.
// The flat build (no limit) never maps blocks here.
//
// Freed blocks are kept mapped for reuse as the shared pool keeps ranges
// (same bound, same SNMALLOC_DECAY, at most KEPT of them): a program that
// replaces large blocks in a loop would otherwise fault every page in
// again, three to ten times glibc's time. A request takes the smallest
// kept mapping that is large enough (its tail is unmapped), else the
// largest, grown by mremap. When a mapping fails, every
// kept one is unmapped and the mapping tried again: under a limit, kept
// blocks never stand in the way of a request.
#pragma once

#include "pal.h"
#include "ranges.h"

namespace snrs::exact
{
  using snmalloc::stl::Atomic;
#ifdef SNRS_COMPACT
  using snmalloc::bits::align_up;
  constexpr size_t PAGE = snmalloc::OS_PAGE_SIZE;

  /// Whether a block of `size` bytes is mapped here rather than in a chunk:
  /// every large one (above half the address space snmalloc refuses the
  /// request itself).
  SNMALLOC_FAST_PATH_INLINE bool wanted(size_t size)
  {
    return size > snmalloc::MAX_SMALL_SIZECLASS_SIZE &&
      size <= snmalloc::bits::one_at_bit(snmalloc::bits::BITS - 2);
  }

  /// Blocks mapped here: start address -> mapped length. Open addressing
  /// with linear probing, in memory of its own, rebuilt twice as large when
  /// half its slots are used or were used. Used only on the slow paths that
  /// name one of these blocks or a pointer snmalloc does not own.
  ///
  /// Every change is one store that publishes it (a slot's start, written
  /// after its length; a removed slot's start turned into TOMB; a rebuilt
  /// table's pointer), so that a fork child copied in the middle of one
  /// finds the table as it was before or after it (shim/fork.h).
  class Table
  {
    struct Slot
    {
      Atomic<uintptr_t> start;
      size_t length;
    };

    struct Slots
    {
      size_t capacity; // a power of two
      Slot slot[1]; // capacity of them
    };

    static constexpr uintptr_t TOMB = 1; // never a page address
    static constexpr size_t FIRST_CAPACITY = PAGE / sizeof(Slot) * 4;

    Atomic<Slots*> slots{nullptr};
    size_t used = 0; // slots holding a start or a TOMB
    size_t count = 0; // slots holding a start
    snmalloc::FlagWord lock;

    static size_t home(const Slots* t, uintptr_t start)
    {
      // Fibonacci hashing of the page number.
      return static_cast<size_t>(
               (start / PAGE) * uint64_t(0x9E3779B97F4A7C15) >> 32) &
        (t->capacity - 1);
    }

    static size_t bytes(size_t capacity)
    {
      return sizeof(Slots) + (capacity - 1) * sizeof(Slot);
    }

    /// The slot holding `start`, or the empty one where a search ends.
    static Slot& find(Slots* t, uintptr_t start)
    {
      size_t i = home(t, start);
      for (uintptr_t s; (s = t->slot[i].start.load()) != 0 && s != start;)
        i = (i + 1) & (t->capacity - 1);
      return t->slot[i];
    }

    /// A table of `capacity` slots holding the live entries of `old`.
    static Slots* rebuilt(Slots* old, size_t capacity)
    {
      auto* fresh =
        static_cast<Slots*>(Pal::map_block(align_up(bytes(capacity), PAGE), PAGE));
      if (fresh == nullptr)
        return nullptr;
      fresh->capacity = capacity;
      if (old != nullptr)
        for (size_t i = 0; i < old->capacity; i++)
          if (uintptr_t s = old->slot[i].start.load(); s > TOMB)
          {
            Slot& to = find(fresh, s);
            to.length = old->slot[i].length;
            to.start.store(s);
          }
      return fresh;
    }

    /// Room for one more entry, rebuilding if need be.
    bool make_room()
    {
      Slots* t = slots.load();
      if (t != nullptr && (used + 1) * 2 <= t->capacity)
        return true;
      size_t capacity = t == nullptr ? FIRST_CAPACITY : t->capacity;
      while ((count + 1) * 2 > capacity / 2)
        capacity *= 2;
      Slots* fresh = rebuilt(t, capacity);
      if (fresh == nullptr)
        return false;
      slots.store(fresh);
      used = count;
      if (t != nullptr)
        Pal::unmap_block(t, align_up(bytes(t->capacity), PAGE));
      return true;
    }

    void add(uintptr_t start, size_t length)
    {
      Slots* t = slots.load();
      Slot& s = find(t, start);
      s.length = length;
      s.start.store(start);
      used++;
      count++;
    }

    /// Forgets the entry of `p`; its length, 0 if there is none.
    size_t take_out(const void* p)
    {
      Slots* t = slots.load();
      if (count == 0 || t == nullptr)
        return 0;
      Slot& s = find(t, reinterpret_cast<uintptr_t>(p));
      if (s.start.load() == 0)
        return 0;
      s.start.store(TOMB);
      count--;
      return s.length;
    }

  public:
    /// Records a block; false if the table cannot grow.
    bool insert(void* p, size_t length)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      if (!make_room())
        return false;
      add(reinterpret_cast<uintptr_t>(p), length);
      return true;
    }

    /// Resizes the block at `p` (`old_length` bytes) to `length` with
    /// `Pal::remap_block`, under the lock, room for its new entry made
    /// first; the block's new address, or nullptr with the block intact.
    void* resize(void* p, size_t old_length, size_t length)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      if (!make_room())
        return nullptr;
      void* q = Pal::remap_block(p, old_length, length);
      if (q != nullptr)
      {
        // The new entry first: a child copied in between finds the block.
        add(reinterpret_cast<uintptr_t>(q), length);
        if (q != p)
          take_out(p);
        else
          count--; // the entry just added replaced p's in find()
      }
      return q;
    }

    /// The mapped length of the block at `p`, 0 if it is not one of ours.
    size_t length(const void* p)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      Slots* t = slots.load();
      if (count == 0 || t == nullptr)
        return 0;
      Slot& s = find(t, reinterpret_cast<uintptr_t>(p));
      return s.start.load() > TOMB ? s.length : 0;
    }

    /// Forgets the block at `p`; returns its length, 0 if it was not ours.
    size_t remove(const void* p)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      return take_out(p);
    }

    /// After a fork (shim/fork.h): the table is consistent by construction;
    /// its lock may have been copied held by a thread the child has not.
    void unlock_after_fork()
    {
      new (&lock, snmalloc::placement_token) snmalloc::FlagWord();
    }
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Table table;

  /// Bytes in blocks mapped here, now and at most (for the statistics).
  SNMALLOC_REQUIRE_CONSTINIT inline snmalloc::stl::Atomic<size_t> mapped{0};
  SNMALLOC_REQUIRE_CONSTINIT inline snmalloc::stl::Atomic<size_t> peak{0};

  inline void count_in(size_t length)
  {
    size_t now = mapped.fetch_add(length) + length;
    size_t cur = peak.load();
    while (now > cur && !peak.compare_exchange_weak(cur, now)) {}
  }

  /// Freed mappings kept for reuse. Each operation first gives back those
  /// older than the decay time; system calls are made outside the lock.
  class Kept
  {
    struct Mapping
    {
      uintptr_t start = 0;
      size_t length = 0;
      uint64_t freed_ms = 0;
    };

    static constexpr size_t KEPT = 16;
    Mapping kept[KEPT] = {};
    size_t bytes = 0;
    snmalloc::FlagWord lock;

    /// Mappings taken out of `kept`, to unmap once the lock is released.
    struct Out
    {
      Mapping list[KEPT + 1];
      size_t n = 0;

      ~Out()
      {
        for (size_t i = 0; i < n; i++)
        {
          Pal::unmap_block(
            reinterpret_cast<void*>(list[i].start), list[i].length);
          pool_counts.given_back.fetch_add(list[i].length);
        }
      }
    };

    void drop(size_t i, Out& out)
    {
      out.list[out.n++] = kept[i];
      bytes -= kept[i].length;
      kept[i] = {};
    }

    void expire(uint64_t now, Out& out)
    {
      for (size_t i = 0; i < KEPT; i++)
        if (kept[i].length != 0 && now - kept[i].freed_ms >= policy.decay_ms())
          drop(i, out);
    }

  public:
    /// Bytes kept (for the statistics).
    snmalloc::stl::Atomic<size_t> kept_bytes{0};

    /// A kept mapping for a block of `length` bytes: the smallest that is
    /// large enough, cut to `length`, else the largest (to be grown: its
    /// pages are resident already). Its length is stored in `got`;
    /// nullptr if none is kept.
    void* take(size_t length, size_t& got)
    {
      Out out;
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      if (bytes == 0)
        return nullptr;
      expire(now_ms(), out);
      size_t fit = KEPT, largest = KEPT;
      for (size_t i = 0; i < KEPT; i++)
      {
        size_t n = kept[i].length;
        if (n == 0)
          continue;
        if (n >= length && (fit == KEPT || n < kept[fit].length))
          fit = i;
        if (largest == KEPT || n > kept[largest].length)
          largest = i;
      }
      size_t best = fit != KEPT ? fit : largest;
      if (best == KEPT)
        return nullptr;
      Mapping m = kept[best];
      bytes -= m.length;
      kept[best] = {};
      kept_bytes.store(bytes);
      got = m.length;
      if (m.length > length)
      {
        out.list[out.n++] = {m.start + length, m.length - length, 0};
        got = length;
      }
      return reinterpret_cast<void*>(m.start);
    }

    /// Keeps a freed mapping, or gives it back (policy, bound).
    void put(void* p, size_t length, size_t held)
    {
      Out out;
      {
        snmalloc::PreventFork pf;
        snmalloc::FlagLock l(lock);
        expire(now_ms(), out);
        size_t bound = RetainRange::bound_for(held);
        if (!policy.retains() || length > bound)
        {
          out.list[out.n++] = {reinterpret_cast<uintptr_t>(p), length, 0};
        }
        else
        {
          // Oldest first, until the bound and a free slot allow it.
          while (true)
          {
            size_t oldest = KEPT, empty = KEPT;
            for (size_t i = 0; i < KEPT; i++)
            {
              if (kept[i].length == 0)
                empty = i;
              else if (oldest == KEPT || kept[i].freed_ms < kept[oldest].freed_ms)
                oldest = i;
            }
            if (empty != KEPT && bytes + length <= bound)
            {
              kept[empty] = {reinterpret_cast<uintptr_t>(p), length, now_ms()};
              bytes += length;
              break;
            }
            drop(oldest, out);
          }
        }
        kept_bytes.store(bytes);
      }
    }

    /// Gives back every kept mapping; returns how many bytes.
    size_t flush()
    {
      Out out;
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      size_t total = bytes;
      for (size_t i = 0; i < KEPT; i++)
        if (kept[i].length != 0)
          drop(i, out);
      kept_bytes.store(0);
      return total;
    }
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Kept kept;

  /// A fork child copied while another thread was inside a section
  /// (shim/fork.h): nothing kept (what was kept stays mapped, unused in
  /// this child), and the table, consistent by construction, unlocked.
  inline void restart()
  {
    new (&kept, snmalloc::placement_token) Kept();
    table.unlock_after_fork();
  }

  /// A block of `size` bytes aligned to `align`, zeroed if `zero`, or
  /// nullptr.
  SNMALLOC_SLOW_PATH inline void* alloc(size_t size, size_t align, bool zero)
  {
    size_t length = align_up(size, PAGE);
    size_t got = 0;
    void* p = align <= PAGE ? kept.take(length, got) : nullptr;
    if (p != nullptr && got < length)
    {
      void* q = Pal::remap_block(p, got, length);
      if (q == nullptr)
        Pal::unmap_block(p, got);
      p = q;
    }
    if (p != nullptr)
    {
      // Fresh pages past what was kept read as zero.
      if (zero)
        ::memset(p, 0, got);
    }
    else
    {
      align = align < PAGE ? PAGE : align;
      p = Pal::map_block(length, align);
      if (p == nullptr && kept.flush() != 0)
        p = Pal::map_block(length, align);
      if (p == nullptr)
        return nullptr;
    }
    if (!table.insert(p, length))
    {
      Pal::unmap_block(p, length);
      return nullptr;
    }
    count_in(length);
    return p;
  }

  /// Usable size of the block at `p`, 0 if it is not mapped here.
  inline size_t usable_size(const void* p)
  {
    return table.length(p);
  }

  /// Unmaps the block at `p`; false if it is not mapped here.
  inline bool release(void* p)
  {
    size_t length = table.remove(p);
    if (length == 0)
      return false;
    size_t held = mapped.fetch_sub(length) - length;
    kept.put(p, length, held);
    return true;
  }

  /// Moves the block at `p` (mapped here, `old_length` bytes) to `size`
  /// bytes, wanted() too; nullptr (and `p` intact) if the system refuses.
  SNMALLOC_SLOW_PATH inline void* resize(void* p, size_t old_length, size_t size)
  {
    size_t length = align_up(size, PAGE);
    void* q = table.resize(p, old_length, length);
    if (q == nullptr && kept.flush() != 0)
      q = table.resize(p, old_length, length);
    if (q == nullptr)
      return nullptr;
    mapped.fetch_sub(old_length);
    count_in(length);
    return q;
  }

#else
  // The flat build: no block is mapped here.
  SNMALLOC_FAST_PATH_INLINE bool wanted(size_t)
  {
    return false;
  }

  inline void* alloc(size_t, size_t, bool)
  {
    return nullptr;
  }

  struct NoneKept
  {
    snmalloc::stl::Atomic<size_t> kept_bytes{0};

    size_t flush()
    {
      return 0;
    }
  };

  SNMALLOC_REQUIRE_CONSTINIT inline NoneKept kept;

  inline void restart() {}

  inline size_t usable_size(const void*)
  {
    return 0;
  }

  inline bool release(void*)
  {
    return false;
  }

  inline void* resize(void*, size_t, size_t)
  {
    return nullptr;
  }

  SNMALLOC_REQUIRE_CONSTINIT inline snmalloc::stl::Atomic<size_t> mapped{0};
  SNMALLOC_REQUIRE_CONSTINIT inline snmalloc::stl::Atomic<size_t> peak{0};
#endif
} // namespace snrs::exact
