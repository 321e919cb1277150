// snmalloc's configuration in snmalloc-rs (SNMALLOC_PROVIDE_OWN_CONFIG):
// the platform layer, the pagemap and the pipeline of memory ranges that
// snmalloc's front end allocates from. It differs from upstream's
// StandardConfig in the shared pool of memory (the part behind the global
// lock), which here keeps freed ranges for reuse for a while and gives the
// rest back to the OS at once (shim/ranges.h, docs/memory.md), and in the
// platform layer (shim/pal.h).
//
// A thread takes memory from its own caches first (slabs, then blocks of
// up to 2 MiB in its local buddy allocator); those ask the shared pool:
//
//   the OS (PalRange) -> counted as reserved -> registered in the pagemap
//   -> shared buddy allocator (never gives address space back)
//   -> DecommitRange (gives pages back on their way in)
//   -> RetainRange (keeps freed ranges committed, bounded, for a while)
//   -> SharedLock (the global lock; trim() empties RetainRange)
//   -> statistics -> each thread's local buddy allocator.
#pragma once

#include "pal.h"
#include "radix_pagemap.h"
#include "ranges.h"

#include <snmalloc/backend/backend.h>
#include <snmalloc/backend/meta_protected_range.h>

namespace snrs
{
  template<typename Pal, typename Pagemap, typename Base>
  struct SharedPoolLocalState : snmalloc::BaseLocalStateConstants
  {
    /// Everything behind the global lock, one static instance.
    using Shared = snmalloc::Pipe<
      Base,
      snmalloc::LargeBuddyRange<
        GlobalCacheSizeBits,
        snmalloc::bits::BITS - 1,
        Pagemap,
        snmalloc::MinBaseSizeBits<Pal>()>,
      snmalloc::LogRange<2>,
      DecommitRange<Pal>,
      RetainRange,
      SharedLock>;
    using GlobalR = snmalloc::Pipe<Shared, snmalloc::StaticRange>;

    /// Bytes handed to threads (their slabs, large blocks, local caches).
    using Stats = snmalloc::Pipe<GlobalR, snmalloc::StatsRange>;

  private:
    static constexpr size_t page_size_bits =
      snmalloc::bits::next_pow2_bits_const(Pal::page_size);

  public:
    using LargeObjectRange = snmalloc::Pipe<
      Stats,
      snmalloc::StaticConditionalRange<snmalloc::LargeBuddyRange<
        LocalCacheSizeBits,
        LocalCacheSizeBits,
        Pagemap,
        page_size_bits>>>;

  private:
    using ObjectRange = snmalloc::Pipe<LargeObjectRange, snmalloc::SmallBuddyRange>;

    ObjectRange object_range;

  public:
    using GlobalMetaRange = snmalloc::Pipe<ObjectRange, snmalloc::GlobalRange>;

    LargeObjectRange* get_object_range()
    {
      return object_range.template ancestor<LargeObjectRange>();
    }

    ObjectRange& get_meta_range()
    {
      return object_range;
    }

    /// Gives back every range the shared pool kept for reuse.
    static size_t trim()
    {
      GlobalR global;
      return global.template ancestor<Shared>()->trim();
    }
  };

  /// The check build keeps upstream's hardened layout (metadata in ranges
  /// of its own, behind guard pages), which has no RetainRange: freed memory
  /// goes back at once.
  template<typename Pal, typename Pagemap, typename Base>
  struct ProtectedLocalState
  : snmalloc::MetaProtectedRangeLocalState<Pal, Pagemap, Base>
  {
    static size_t trim()
    {
      return 0;
    }
  };

  /// snmalloc's flat pagemap: one entry per chunk of the whole address
  /// space, 256 GiB reserved at start; the fewest instructions per lookup.
  struct FlatMap
  {
    template<typename ClientMeta>
    using Entry = snmalloc::DefaultPagemapEntry<ClientMeta>;
    template<typename E, typename Pal>
    using Type = snmalloc::FlatPagemap<snmalloc::MIN_CHUNK_BITS, E, Pal, false>;
  };

  /// Two levels, nothing reserved up front (shim/radix_pagemap.h): for
  /// processes with an address-space or data limit.
  struct RadixMap
  {
    template<typename ClientMeta>
    using Entry =
      RadixPagemapEntry<snmalloc::DefaultSlabMetadata<ClientMeta>>;
    template<typename E, typename Pal>
    using Type = RadixPagemap<snmalloc::MIN_CHUNK_BITS, E, Pal>;
  };

  template<typename ClientMetaProvider, typename Secondary, typename Map>
  class BackendConfig final : public snmalloc::CommonConfig
  {
    using AllocPool = snmalloc::PoolState<snmalloc::Allocator<BackendConfig>>;

  public:
    using Pal = snrs::Pal;
    using PagemapEntry = typename Map::template Entry<ClientMetaProvider>;
    using ClientMeta = ClientMetaProvider;
    using SecondaryAllocator = Secondary;

  private:
    using ConcretePagemap = typename Map::template Type<PagemapEntry, Pal>;
    using Pagemap =
      snmalloc::BasicPagemap<Pal, ConcretePagemap, PagemapEntry, false>;
    using Authmap = snmalloc::DefaultAuthmap<snmalloc::FlatPagemap<
      snmalloc::MinBaseSizeBits<Pal>(),
      snmalloc::capptr::Arena<void>,
      Pal,
      false>>;
    using Base = snmalloc::Pipe<
      snmalloc::PalRange<Pal>,
      ReservedRange,
      snmalloc::PagemapRegisterRange<Pagemap>,
      snmalloc::PagemapRegisterRange<Authmap>>;

  public:
    using LocalState = snmalloc::stl::conditional_t<
      snmalloc::mitigations(snmalloc::metadata_protection),
      ProtectedLocalState<Pal, Pagemap, Base>,
      SharedPoolLocalState<Pal, Pagemap, Base>>;

    using Backend = snmalloc::
      BackendAllocator<Pal, PagemapEntry, Pagemap, Authmap, LocalState>;

    static constexpr snmalloc::Flags Options{};

    static AllocPool& pool()
    {
      return alloc_pool;
    }

    SNMALLOC_FAST_PATH static void ensure_init()
    {
      if (SNMALLOC_LIKELY(initialised.load(snmalloc::stl::memory_order_acquire)))
        return;
      init_slow();
    }

    static bool is_initialised()
    {
      return initialised.load(snmalloc::stl::memory_order_acquire);
    }

  private:
    SNMALLOC_REQUIRE_CONSTINIT inline static AllocPool alloc_pool;
    SNMALLOC_REQUIRE_CONSTINIT inline static snmalloc::stl::Atomic<bool>
      initialised{false};
    SNMALLOC_REQUIRE_CONSTINIT inline static snmalloc::FlagWord init_lock{};

    SNMALLOC_SLOW_PATH static void init_slow()
    {
      snmalloc::with(init_lock, [&]() {
        if (initialised.load())
          return;
        Secondary::initialize();
        // The keys that sign free lists and remote messages.
        snmalloc::LocalEntropy entropy;
        entropy.init<Pal>();
        entropy.make_free_list_key(snmalloc::RemoteAllocator::key_global);
        entropy.make_free_list_key(snmalloc::freelist::Object::key_root);
        constexpr bool randomize = snmalloc::mitigations(snmalloc::random_pagemap) &&
          !snmalloc::aal_supports<snmalloc::StrictProvenance>;
        Pagemap::concretePagemap.template init<randomize>();
        if constexpr (snmalloc::aal_supports<snmalloc::StrictProvenance>)
          Authmap::init();
        initialised.store(true, snmalloc::stl::memory_order_release);
      });
    }
  };
} // namespace snrs
