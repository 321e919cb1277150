// snmalloc's configuration in snmalloc-rs (SNMALLOC_PROVIDE_OWN_CONFIG):
// the platform layer, the pagemap and the pipeline of memory ranges that
// snmalloc's front end allocates from. It differs from upstream's
// StandardConfig in the shared pool of memory (the part behind the global
// lock), which here keeps freed ranges for reuse for a while and gives the
// rest back to the OS at once (shim/backend/ranges.h, docs/memory.md), and in the
// platform layer (shim/pal/pal.h).
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

#include "pal/pal.h"
#include "backend/radix_pagemap.h"
#include "backend/ranges.h"

#include <snmalloc/backend/backend.h>
#include <snmalloc/backend/meta_protected_range.h>

namespace snrs
{
  /// Empties the process-wide ranges of a pipeline: every range that the
  /// range type R reaches through a static parent (snmalloc's StaticRange,
  /// and so GlobalRange), whatever the composition, found from the types
  /// (a range keeps its parent as a member, ContainsParent, or as a
  /// static, StaticParent). Each is constructed again in place, as the
  /// constinit object it was at start; what it held is forgotten. For a
  /// fork child copied while another thread was inside one (shim/process/fork.h);
  /// ranges a thread keeps as members are that thread's, and left alone.
  namespace restart
  {
    template<typename P>
    struct Is
    {
      using Type = P;
    };

    struct None
    {};

    template<typename P>
    Is<P> static_parent(snmalloc::StaticParent<P>*);
    None static_parent(...);
    template<typename P>
    Is<P> member_parent(snmalloc::ContainsParent<P>*);
    None member_parent(...);

    /// Reaches StaticParent<P>'s protected static.
    template<typename P>
    struct Static : snmalloc::StaticParent<P>
    {
      static P* get()
      {
        return &Static::parent;
      }
    };

    template<typename R>
    void statics_of()
    {
      using S = decltype(static_parent(static_cast<R*>(nullptr)));
      using M = decltype(member_parent(static_cast<R*>(nullptr)));
      if constexpr (!snmalloc::stl::is_same_v<S, None>)
      {
        using P = typename S::Type;
        new (Static<P>::get(), snmalloc::placement_token) P();
        statics_of<P>();
      }
      else if constexpr (!snmalloc::stl::is_same_v<M, None>)
      {
        statics_of<typename M::Type>();
      }
    }
  } // namespace restart

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

    /// The shared pool and the metadata range, empty (fork child).
    static void restart_shared()
    {
      restart::statics_of<ObjectRange>();
      restart::statics_of<GlobalMetaRange>();
      pool_counts.retained.store(0);
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

    /// The central ranges of objects and metadata, empty (fork child).
    static void restart_shared()
    {
      // Upstream's composition names its ranges privately: they are found
      // from what its accessors return.
      using snmalloc::stl::declval;
      restart::statics_of<snmalloc::stl::remove_reference_t<
        decltype(*declval<ProtectedLocalState&>().get_object_range())>>();
      restart::statics_of<snmalloc::stl::remove_reference_t<
        decltype(declval<ProtectedLocalState&>().get_meta_range())>>();
      restart::statics_of<typename ProtectedLocalState::GlobalMetaRange>();
    }
  };

  /// snmalloc's flat pagemap: one entry per chunk of the whole address
  /// space, 256 GiB reserved at start; one load fewer per lookup. Where
  /// there is no two-level pagemap, and for measurements
  /// (SNMALLOC_RS_FLAT_PAGEMAP at build time).
  struct FlatMap
  {
    template<typename ClientMeta>
    using Entry = snmalloc::DefaultPagemapEntry<ClientMeta>;
    template<typename E, typename Pal>
    using Type = snmalloc::FlatPagemap<snmalloc::MIN_CHUNK_BITS, E, Pal, false>;
  };

  /// Two levels, nothing reserved up front (shim/backend/radix_pagemap.h): every
  /// process works whatever limits it has or gets, and locks (mlockall)
  /// only what it uses.
  struct RadixMap
  {
    template<typename ClientMeta>
    using Entry =
      RadixPagemapEntry<snmalloc::DefaultSlabMetadata<ClientMeta>>;
    template<typename E, typename Pal>
    using Type = RadixPagemap<snmalloc::MIN_CHUNK_BITS, E, Pal>;
  };

  /// The pagemap of the library: two levels on Linux (the platform whose
  /// PAL here reserves exactly and maps large blocks on their own).
#if defined(__linux__) && !defined(SNRS_FLAT_PAGEMAP)
  using Map = RadixMap;
#else
  using Map = FlatMap;
#endif

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

    /// A fork child copied while another thread was changing shared state
    /// (shim/process/fork.h): the shared pools and the pool of thread allocators
    /// start again empty. The calling thread's allocator is its own and
    /// stays; the others belong to threads this process does not have.
    static void restart_shared()
    {
      LocalState::restart_shared();
      new (&alloc_pool, snmalloc::placement_token) AllocPool();
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
