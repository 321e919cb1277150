// The two-level pagemap of the library (Linux). snmalloc's flat pagemap is
// one array with an entry for every 16 KiB of the address space: 256 GiB of
// reserved address space, which any RLIMIT_AS below that refuses (at start,
// or at the next mapping once a limit is set at run time), valgrind cannot
// give, and mlockall tries to lock.
// This one has a root of one slot per GiB of address space, in static
// storage, and a leaf of entries (1 MiB) for each GiB in which snmalloc
// has memory, mapped when that memory is registered. Slots of GiBs that
// snmalloc never used lead to one shared leaf of empty entries, so that a
// lookup of any address (a foreign block, a stack address) finds "not
// snmalloc's" without a test, one load more than the flat pagemap.
//
// It has the interface snmalloc's BasicPagemap expects of FlatPagemap.
#pragma once

#include <snmalloc/ds_core/ds_core.h>
#include <snmalloc/mem/metadata.h>
#include <snmalloc/stl/atomic.h>

namespace snrs
{
  using snmalloc::address_t;

  /// snmalloc's pagemap entry, which only FlatPagemap and the backend may
  /// create or assign (DefaultPagemapEntryT's friends): the same entry, for
  /// the radix pagemap too.
  template<typename SlabMetadata>
  class RadixPagemapEntry : public snmalloc::FrontendMetaEntry<SlabMetadata>
  {
  public:
    constexpr RadixPagemapEntry() = default;

    SNMALLOC_FAST_PATH RadixPagemapEntry(SlabMetadata* meta, uintptr_t ras)
    : snmalloc::FrontendMetaEntry<SlabMetadata>(meta, ras)
    {}

    RadixPagemapEntry& operator=(const RadixPagemapEntry& other)
    {
      snmalloc::FrontendMetaEntry<SlabMetadata>::operator=(other);
      return *this;
    }
  };

  template<size_t GRANULARITY_BITS, typename T, typename PAL>
  class RadixPagemap
  {
  public:
    using EntryType = T;
    static constexpr size_t SHIFT = GRANULARITY_BITS;

  private:
    static constexpr size_t LEAF_SPAN_BITS = 30;
    static constexpr size_t LEAF_BITS = LEAF_SPAN_BITS - GRANULARITY_BITS;
    static constexpr size_t LEAF_ENTRIES = size_t(1) << LEAF_BITS;
    static constexpr size_t LEAF_BYTES = LEAF_ENTRIES * sizeof(T);
    static constexpr size_t ROOT_BITS = PAL::address_bits - LEAF_SPAN_BITS;
    static constexpr size_t ROOT_SLOTS = size_t(1) << ROOT_BITS;

    static_assert(LEAF_SPAN_BITS > GRANULARITY_BITS);
    static_assert(PAL::address_bits > LEAF_SPAN_BITS);

    /// Each slot holds its leaf's distance from `empty_leaf`, so that the
    /// zero-initialised root leads every slot to it without a test. Both are
    /// members of one object: a lookup takes one address of ours (the other
    /// is a constant offset from it), one instruction fewer than two
    /// statics. Plain integers and bytes, read and written with atomic
    /// builtins: a constant initialiser of a quarter of a million atomic
    /// objects exceeds clang's constexpr step limit.
    ptrdiff_t root[ROOT_SLOTS]{};

    /// The leaf of every GiB snmalloc never used, as zero bytes. Never
    /// written (zero pages).
    alignas(64) unsigned char empty_leaf[LEAF_BYTES]{};

    bool initialised = false;

    static size_t slot(address_t p)
    {
      // Addresses beyond the architecture's bits (not pointers snmalloc
      // could have given) wrap; they find empty entries or, at worst, an
      // entry of ours, as any garbage pointer can with the flat pagemap.
      return (p >> LEAF_SPAN_BITS) & (ROOT_SLOTS - 1);
    }

    T* leaf(address_t p) const
    {
      return reinterpret_cast<T*>(
        const_cast<unsigned char*>(empty_leaf) +
        __atomic_load_n(&root[slot(p)], __ATOMIC_ACQUIRE));
    }

    static size_t index(address_t p)
    {
      return (p >> SHIFT) & (LEAF_ENTRIES - 1);
    }

  public:
    constexpr RadixPagemap() = default;

    template<bool randomize>
    void init()
    {
      initialised = true;
    }

    [[nodiscard]] bool is_initialised() const
    {
      return initialised;
    }

    /// Maps the leaves of [p, p + length). Called under the shared pool's
    /// lock, so two threads never map the same leaf.
    bool register_range(address_t p, size_t length)
    {
      address_t last = p + length - 1;
      for (address_t a = p; slot(a) <= slot(last); a += size_t(1) << LEAF_SPAN_BITS)
      {
        ptrdiff_t& s = root[slot(a)];
        if (__atomic_load_n(&s, __ATOMIC_RELAXED) == 0)
        {
          void* l = PAL::reserve(LEAF_BYTES);
          if (l == nullptr)
            return false;
          // Usable as reserved, except where the check build reserves
          // inaccessible memory (pal_enforce_access): then it is opened here.
          PAL::template notify_using<snmalloc::NoZero>(l, LEAF_BYTES);
          __atomic_store_n(
            &s,
            static_cast<unsigned char*>(l) - empty_leaf,
            __ATOMIC_RELEASE);
        }
        if (slot(a) == ROOT_SLOTS - 1)
          break;
      }
      return true;
    }

    template<bool potentially_out_of_range>
    const T& get(address_t p) const
    {
      return leaf(p)[index(p)];
    }

    template<bool potentially_out_of_range>
    T& get_mut(address_t p)
    {
      return leaf(p)[index(p)];
    }

    void set(address_t p, const T& t)
    {
      SNMALLOC_ASSERT(reinterpret_cast<unsigned char*>(leaf(p)) != empty_leaf);
      leaf(p)[index(p)] = t;
    }
  };
} // namespace snrs
