// Large blocks mapped at their own size (Linux).
//
// snmalloc serves a large block from a chunk of the next power of two: a
// block of 600 MiB takes 1 GiB of address space, and a program of 600 KiB
// blocks gets half of an address-space limit. Chunks, once reserved, stay
// snmalloc's: address space a program used for large blocks could not hold
// thread stacks or mappings later. Every large block is therefore mapped on
// its own, exactly (rounded to pages), as glibc maps its blocks above its
// mmap threshold; realloc between two such blocks is an mremap. snmalloc's
// pagemap does not know these blocks: a free, realloc or malloc_usable_size
// of one reaches snmalloc's secondary allocator (ForeignMemory in
// snmalloc_rs.cc), which asks this table before the previous allocator.
//
// Freed blocks are kept for reuse as runs of pages (Runs): a request takes
// the smallest kept run it fits in and the rest of the run stays kept, so
// that the pages one block used serve the next without a system call or a
// page fault, whatever their sizes (a program that replaces large blocks
// in a loop otherwise faults every page in again, three to ten times
// glibc's time). Runs are given back (unmapped) when older than
// SNMALLOC_DECAY, oldest first beyond a bound, and all of them when a
// mapping fails: under a limit, kept runs never stand in the way of a
// request. When even that fails, the caller asks snmalloc's own pool,
// whose freed chunks (small blocks freed under a limit) then serve it.
#pragma once

#include "pal/pal.h"
#include "backend/ranges.h"

#if defined(__linux__)
#  define SNRS_EXACT_BLOCKS 1
#endif

namespace snrs::exact
{
  using snmalloc::stl::Atomic;
  constexpr size_t PAGE = snmalloc::OS_PAGE_SIZE;
#ifdef SNRS_EXACT_BLOCKS
  using snmalloc::bits::align_up;

  /// Whether a block of `size` bytes is mapped here rather than in a chunk:
  /// every large one (above half the address space snmalloc refuses the
  /// request itself).
  SNMALLOC_FAST_PATH_INLINE bool wanted(size_t size)
  {
    return size > snmalloc::MAX_SMALL_SIZECLASS_SIZE &&
      size <= snmalloc::bits::one_at_bit(snmalloc::bits::BITS - 2);
  }

  /// Names the calling thread while it lives.
  inline const void* this_thread()
  {
    static thread_local char me;
    return &me;
  }

  /// Blocks mapped here: start address -> mapped length. Open addressing
  /// with linear probing, in memory of its own, rebuilt twice as large when
  /// half its slots are used or were used. Used only on the slow paths that
  /// name one of these blocks or a pointer snmalloc does not own.
  ///
  /// Every change is one store that publishes it (a slot's start, written
  /// after its length; a removed slot's start turned into TOMB; a rebuilt
  /// table's pointer), so that a fork child copied in the middle of one
  /// finds the table as it was before or after it (shim/process/fork.h).
  class Table
  {
    struct Slot
    {
      Atomic<uintptr_t> start;
      size_t length;
      const void* owner; // the allocating thread (for the profiling build)
    };

    struct Slots
    {
      size_t capacity; // a power of two
      Slot slot[1]; // capacity of them
    };

    static constexpr uintptr_t TOMB = 1; // never a page address
    static constexpr size_t FIRST_CAPACITY = 1024;
    static_assert(snmalloc::bits::is_pow2(FIRST_CAPACITY), "capacities are masks");

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
            to.owner = old->slot[i].owner;
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

    /// Records `start` (or its new length, if it is recorded), allocated
    /// by the calling thread.
    void add(uintptr_t start, size_t length)
    {
      Slot& s = find(slots.load(), start);
      bool fresh = s.start.load() != start;
      s.length = length;
      s.owner = this_thread();
      s.start.store(start);
      if (fresh)
      {
        used++;
        count++;
      }
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

    /// The block at `p`, one of ours, is now `length` bytes long, where it
    /// is (one store: a fork child sees the old length or the new).
    void set_length(const void* p, size_t length)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      Slot& s = find(slots.load(), reinterpret_cast<uintptr_t>(p));
      if (s.start.load() > TOMB)
        s.length = length;
    }

    /// The thread that allocated the block at `p` (its this_thread()),
    /// nullptr if the block is not one of ours.
    const void* owner(const void* p)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      Slots* t = slots.load();
      if (count == 0 || t == nullptr)
        return nullptr;
      Slot& s = find(t, reinterpret_cast<uintptr_t>(p));
      return s.start.load() > TOMB ? s.owner : nullptr;
    }

    /// Forgets the block at `p`; returns its length, 0 if it was not ours.
    size_t remove(const void* p)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      return take_out(p);
    }

    /// After a fork (shim/process/fork.h): the table is consistent by construction;
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

  /// Freed blocks kept for reuse, as runs of pages: in address order,
  /// neighbours merged, at most MAX_RUNS of them. A request takes the
  /// smallest run it fits in, from the run's start (aligned up if asked);
  /// what remains stays kept. Each operation first gives back the runs
  /// older than the decay time; beyond the bound (what may be kept for the
  /// blocks held, RetainRange::bound_for) or MAX_RUNS, the oldest go first.
  /// Giving back unmaps (pages and address space both), after the lock is
  /// released. With SNMALLOC_DECAY=kernel, freed blocks are marked
  /// MADV_FREE and kept whatever their age and number of bytes: the kernel
  /// takes their pages when it needs memory.
  class Runs
  {
    struct Run
    {
      uintptr_t start;
      size_t length;
      uint64_t freed_ms;
    };

    static constexpr size_t MAX_RUNS = 64;
    Run run[MAX_RUNS] = {};
    size_t n = 0; // runs, sorted by start
    size_t bytes = 0;
    snmalloc::FlagWord lock;

    /// Runs taken out, to unmap once the lock is released.
    struct Out
    {
      Run list[MAX_RUNS + 2];
      size_t n = 0;

      void add(uintptr_t start, size_t length)
      {
        list[n++] = {start, length, 0};
      }

      ~Out()
      {
        for (size_t i = 0; i < n; i++)
        {
          Pal::unmap_block(reinterpret_cast<void*>(list[i].start), list[i].length);
          pool_counts.given_back.fetch_add(list[i].length);
        }
      }
    };

    void erase(size_t i)
    {
      for (; i + 1 < n; i++)
        run[i] = run[i + 1];
      n--;
    }

    void insert_at(size_t i, Run r)
    {
      for (size_t j = n; j > i; j--)
        run[j] = run[j - 1];
      run[i] = r;
      n++;
    }

    void drop(size_t i, Out& out)
    {
      out.add(run[i].start, run[i].length);
      bytes -= run[i].length;
      erase(i);
    }

    size_t oldest() const
    {
      size_t o = 0;
      for (size_t i = 1; i < n; i++)
        if (run[i].freed_ms < run[o].freed_ms)
          o = i;
      return o;
    }

    void expire(uint64_t now, Out& out)
    {
      // SNMALLOC_DECAY=kernel: runs are MADV_FREE, the kernel takes their
      // pages when it needs them; only the bound gives them back.
      if (policy.lazy())
        return;
      for (size_t i = 0; i < n;)
      {
        if (now - run[i].freed_ms >= policy.decay_ms())
          drop(i, out);
        else
          i++;
      }
    }

    void publish()
    {
      kept_bytes.store(bytes, snmalloc::stl::memory_order_relaxed);
    }

  public:
    /// Bytes kept (for the statistics).
    Atomic<size_t> kept_bytes{0};

    /// `length` bytes (pages) aligned to `align` (a power of two, at least a
    /// page) from a kept run, or nullptr. When no run is large enough, the
    /// largest one (at page alignment) is taken whole: `got` says how many
    /// bytes, for the caller to grow with mremap, so that its resident
    /// pages serve the request rather than stay beside it.
    void* take(size_t length, size_t align, size_t& got)
    {
      Out out;
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      got = length;
      if (n == 0)
        return nullptr;
      expire(now_ms(), out);
      size_t best = n, largest = n;
      for (size_t i = 0; i < n; i++)
      {
        uintptr_t at = align_up(run[i].start, align);
        uintptr_t end = run[i].start + run[i].length;
        if (at < end && end - at >= length && (best == n || run[i].length < run[best].length))
          best = i;
        if (largest == n || run[i].length > run[largest].length)
          largest = i;
      }
      if (best == n)
      {
        if (largest == n || align > PAGE)
        {
          publish();
          return nullptr;
        }
        Run r = run[largest];
        bytes -= r.length;
        erase(largest);
        publish();
        got = r.length;
        return reinterpret_cast<void*>(r.start);
      }
      Run r = run[best];
      uintptr_t at = align_up(r.start, align);
      size_t front = at - r.start;
      size_t back = r.start + r.length - (at + length);
      bytes -= length;
      if (front == 0 && back == 0)
        erase(best);
      else if (front == 0)
        run[best] = {at + length, back, r.freed_ms};
      else
      {
        run[best] = {r.start, front, r.freed_ms};
        if (back != 0)
        {
          if (n < MAX_RUNS)
            insert_at(best + 1, {at + length, back, r.freed_ms});
          else
          {
            bytes -= back;
            out.add(at + length, back);
          }
        }
      }
      publish();
      return reinterpret_cast<void*>(at);
    }

    /// Keeps the freed block [p, p + length), or gives it back (policy,
    /// bound); `held` is what the program holds in blocks mapped here.
    void put(void* p, size_t length, size_t held)
    {
      if (policy.lazy())
        Pal::notify_not_using(p, length);
      Out out;
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      uint64_t now = now_ms();
      expire(now, out);
      // SNMALLOC_DECAY=kernel keeps every run: the kernel decides.
      size_t bound = policy.lazy() ? SIZE_MAX : RetainRange::bound_for(held);
      auto s = reinterpret_cast<uintptr_t>(p);
      if (!(policy.retains() || policy.lazy()) || length > bound)
      {
        out.add(s, length);
        publish();
        return;
      }
      size_t i = 0;
      while (i < n && run[i].start < s)
        i++;
      bool prev = i > 0 && run[i - 1].start + run[i - 1].length == s;
      bool next = i < n && s + length == run[i].start;
      if (prev && next)
      {
        run[i - 1].length += length + run[i].length;
        run[i - 1].freed_ms = now;
        erase(i);
      }
      else if (prev)
      {
        run[i - 1].length += length;
        run[i - 1].freed_ms = now;
      }
      else if (next)
      {
        run[i] = {s, run[i].length + length, now};
      }
      else
      {
        if (n == MAX_RUNS)
        {
          size_t o = oldest();
          drop(o, out);
          if (o < i)
            i--;
        }
        insert_at(i, {s, length, now});
      }
      bytes += length;
      while (bytes > bound)
        drop(oldest(), out);
      publish();
    }

    /// Takes [at, at + length) if a kept run starts at `at` and holds it
    /// (what follows a block that grows); false otherwise.
    bool take_at(uintptr_t at, size_t length)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      for (size_t i = 0; i < n; i++)
      {
        if (run[i].start != at)
          continue;
        if (run[i].length < length)
          return false;
        run[i].start += length;
        run[i].length -= length;
        if (run[i].length == 0)
          erase(i);
        bytes -= length;
        publish();
        return true;
      }
      return false;
    }

    /// Whether `p` lies in a kept run (freed memory: the check build).
    bool holds(const void* p)
    {
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      auto a = reinterpret_cast<uintptr_t>(p);
      for (size_t i = 0; i < n; i++)
        if (a >= run[i].start && a - run[i].start < run[i].length)
          return true;
      return false;
    }

    /// Gives back every kept run; returns how many bytes.
    size_t flush()
    {
      Out out;
      snmalloc::PreventFork pf;
      snmalloc::FlagLock l(lock);
      size_t total = bytes;
      while (n != 0)
        drop(n - 1, out);
      publish();
      return total;
    }
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Runs kept;
} // namespace snrs::exact

namespace snrs
{
  inline size_t release_kept_blocks() noexcept
  {
    return exact::kept.flush();
  }
} // namespace snrs

namespace snrs::exact
{

  /// A fork child copied while another thread was inside a section
  /// (shim/process/fork.h): nothing kept (what was kept stays mapped, unused in
  /// this child), and the table, consistent by construction, unlocked.
  inline void restart()
  {
    new (&kept, snmalloc::placement_token) Runs();
    table.unlock_after_fork();
  }

  /// A block of `size` bytes aligned to `align`, zeroed if `zero`, or
  /// nullptr (the caller then asks snmalloc's pool).
  SNMALLOC_SLOW_PATH inline void* alloc(size_t size, size_t align, bool zero)
  {
    size_t length = align_up(size, PAGE);
    if (length < size)
      return nullptr;
    align = align < PAGE ? PAGE : align;
    size_t got;
    void* p = kept.take(length, align, got);
    if (p != nullptr && got < length)
    {
      // Grown where its pages are (moved by the kernel if need be: page
      // tables, not contents); a run spanning two mappings cannot be.
      void* q = Pal::remap_block(p, got, length);
      if (q == nullptr)
        kept.put(p, got, mapped.load());
      p = q;
    }
    if (p != nullptr)
    {
      // Pages past what was kept are fresh, and read as zero.
      if (zero)
        ::memset(p, 0, got);
    }
    else
    {
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

  /// The thread that allocated the block at `p` (this_thread()), nullptr if
  /// it is not mapped here.
  inline const void* owner(const void* p)
  {
    return table.owner(p);
  }

  /// The usable size of a block of `size` bytes mapped here (wanted()).
  inline size_t rounded(size_t size)
  {
    return align_up(size, PAGE);
  }

  /// Keeps the block at `p` for reuse (or gives it back); false if it is
  /// not mapped here.
  inline bool release(void* p)
  {
    size_t length = table.remove(p);
    if (length == 0)
      return false;
    size_t held = mapped.fetch_sub(length) - length;
    kept.put(p, length, held);
    return true;
  }

  /// Resizes the block at `p` (mapped here, `old_length` bytes) to `size`
  /// bytes, wanted() too: where it is, without a system call, when it
  /// shrinks (its tail is kept, as a freed block) or when a kept run
  /// follows it and holds what it grows by (a vector that doubles takes
  /// back the pages it left); else moved by mremap; nullptr (and `p`
  /// intact) if the system refuses (the caller then copies).
  SNMALLOC_SLOW_PATH inline void* resize(void* p, size_t old_length, size_t size)
  {
    size_t length = align_up(size, PAGE);
    auto start = reinterpret_cast<uintptr_t>(p);
    if (length == old_length)
      return p;
    if (length < old_length)
    {
      table.set_length(p, length);
      size_t held = mapped.fetch_sub(old_length - length) - (old_length - length);
      kept.put(reinterpret_cast<void*>(start + length), old_length - length, held);
      return p;
    }
    if (kept.take_at(start + old_length, length - old_length))
    {
      table.set_length(p, length);
      count_in(length - old_length);
      return p;
    }
    void* q = table.resize(p, old_length, length);
    if (q == nullptr && length > old_length && kept.flush() != 0)
      q = table.resize(p, old_length, length);
    if (q == nullptr)
      return nullptr;
    mapped.fetch_sub(old_length);
    count_in(length);
    return q;
  }

#else
  // Elsewhere no block is mapped here.
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

    bool holds(const void*)
    {
      return false;
    }

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

  inline const void* owner(const void*)
  {
    return nullptr;
  }

  inline const void* this_thread()
  {
    return nullptr;
  }

  inline size_t rounded(size_t size)
  {
    return size;
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
