// snmalloc, configured for snmalloc-rs, and the internal API of
// snmalloc_rs.h. Built by build.rs with -fno-exceptions -fno-rtti, hidden
// visibility and initial-exec TLS.
#include "api/snmalloc_rs.h"

#include <snmalloc/ds_core/defines.h>
#include <unistd.h>

#ifndef _WIN32
// Our count of the threads inside snmalloc's sections replaces upstream's
// PreventFork in every lock of snmalloc (shim/process/fork.h says why): upstream's
// class is renamed out of the way before any snmalloc header uses the name.
#  define PreventFork UpstreamPreventFork
#  include <snmalloc/ds_aal/prevent_fork.h>
#  undef PreventFork
#  include "process/fork.h"
namespace snmalloc
{
  using PreventFork = snrs::fork::Section;
} // namespace snmalloc
#endif

#ifdef SNMALLOC_CHECK_CLIENT
#  include "process/check_messages.h"
#endif

#include "backend/config.h"

#include <snmalloc/snmalloc_core.h>

#include "backend/foreign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

namespace snrs::live
{
  // The check build keeps one byte per object: allocated or not
  // (live_check.h).
#ifdef SNMALLOC_CHECK_CLIENT
  using Meta =
    snmalloc::ArrayClientMetaDataProvider<snmalloc::stl::Atomic<uint8_t>>;
#else
  using Meta = snmalloc::NoClientMetaDataProvider;
#endif
} // namespace snrs::live

namespace snmalloc
{
  using Config =
    snrs::BackendConfig<snrs::live::Meta, snrs::ForeignMemory, snrs::Map>;
} // namespace snmalloc

namespace snmalloc
{
  using Alloc = Allocator<Config>;
} // namespace snmalloc

#ifdef _WIN32
#  include "process/windows_thread.h"
#endif

#include <snmalloc/snmalloc_front.h>

#include "backend/live_check.h"
#include "api/profile.h"

using namespace snmalloc;
using snrs::live::allocated;
using snrs::live::freeing;
using snrs::profile::counted;
using snrs::profile::realloc_counted;
using snrs::profile::uncounted;

namespace
{
  // aligned_size() wraps to 0 for size 0 and for sizes near SIZE_MAX.
  SNMALLOC_FAST_PATH_INLINE size_t checked_aligned_size(size_t align, size_t size)
  {
    return aligned_size(align, size == 0 ? 1 : size);
  }
} // namespace

namespace
{
  /// The alignment of malloc's blocks.
  constexpr size_t MALLOC_ALIGN = alignof(max_align_t);

  /// A large block: mapped on its own (shim/backend/exact_blocks.h) when it can
  /// be, else from snmalloc's pool by `alloc` (whose freed chunks serve it
  /// when the address space is used up: small blocks freed under a limit),
  /// or NULL with ENOMEM.
  template<bool zero, typename F>
  SNMALLOC_SLOW_PATH void* large(size_t size, size_t align, F alloc)
  {
    if (snrs::exact::wanted(size))
      if (void* p = snrs::exact::alloc(size, align, zero); p != nullptr)
        return p;
    void* p = alloc();
    return p != nullptr ? p : snmalloc::libc::set_error(ENOMEM);
  }

  /// A large block of `size` bytes (a multiple of the power of two
  /// `align`, snmalloc's aligned size) aligned to `align`.
  SNMALLOC_SLOW_PATH void* large_aligned(size_t size, size_t align)
  {
    return large<false>(size, align, [=]() { return snmalloc::alloc(size); });
  }

  /// An allocation of `size` bytes aligned to `align` (zeroed if `zero`)
  /// by `alloc`. The test
  /// is snmalloc's own first one, and the large branch a tail call: the
  /// small branch compiles to snmalloc's fast path as it was
  /// (scripts/bench/fastpath.sh), provided `alloc` is a
  /// SNMALLOC_FAST_PATH_LAMBDA (GCC outlined a plain lambda, +18
  /// instructions per malloc).
  template<bool zero = false, typename F>
  SNMALLOC_FAST_PATH_INLINE void* sized(size_t size, size_t align, F alloc)
  {
    if (SNMALLOC_LIKELY(is_small_sizeclass(size)))
      return alloc();
    return large<zero>(size, align, alloc);
  }

  /// realloc to a size that is mapped on its own (exact::wanted): the
  /// block's mapping resized where it is one, else a new large block with
  /// the contents copied; NULL with ENOMEM and `p` intact if neither can
  /// be had.
  SNMALLOC_SLOW_PATH void* exact_realloc(void* p, size_t size)
  {
    if (size_t length = snrs::exact::usable_size(p); length != 0)
      if (void* q = snrs::exact::resize(p, length, size); q != nullptr)
        return q;
    void* q = large<false>(size, MALLOC_ALIGN, [=]() {
      return snmalloc::libc::malloc(size);
    });
    if (q == nullptr)
      return nullptr;
    if (p != nullptr)
    {
      size_t old = snmalloc::libc::malloc_usable_size(p);
      ::memcpy(q, p, old < size ? old : size);
      snmalloc::libc::free(p);
    }
    return q;
  }

  /// A sized free of a block of `sz` bytes (as given to sized()).
  SNMALLOC_FAST_PATH_INLINE void release_sized(void* p, size_t sz)
  {
    // A block mapped on its own is not in snmalloc's pagemap, whose size
    // check (check build) would fail: freed unsized, through the
    // secondary allocator.
    if (SNMALLOC_UNLIKELY(snrs::exact::wanted(sz)))
      return snmalloc::libc::free(p);
    dealloc(p, sz);
  }
} // namespace

SNRS_API void* SNRS_NAME(malloc)(size_t size)
{
  auto alloc = [=]() SNMALLOC_FAST_PATH_LAMBDA {
    return snmalloc::libc::malloc(size);
  };
  return counted(allocated(sized(size, MALLOC_ALIGN, alloc)), size);
}

SNRS_API void* SNRS_NAME(calloc)(size_t nmemb, size_t size)
{
  size_t total;
  if (__builtin_mul_overflow(nmemb, size, &total))
    return snmalloc::libc::set_error(ENOMEM);
  auto alloc = [=]() SNMALLOC_FAST_PATH_LAMBDA {
    return snmalloc::libc::calloc(nmemb, size);
  };
  return counted(allocated(sized<true>(total, MALLOC_ALIGN, alloc)), total);
}

SNRS_API void SNRS_NAME(free)(void* p)
{
  uncounted(p);
  freeing(p);
  snmalloc::libc::free(p);
}

SNRS_API void SNRS_NAME(free_sized)(void* p, size_t size)
{
  uncounted(p);
  freeing(p);
  if (SNMALLOC_UNLIKELY(snrs::exact::wanted(size)))
    return snmalloc::libc::free(p);
  snmalloc::libc::free_sized(p, size);
}

SNRS_API void* SNRS_NAME(realloc)(void* p, size_t size)
{
  return realloc_counted(p, size, [=]() {
    return snrs::live::realloc_checked(p, size, [=]() {
      if (SNMALLOC_UNLIKELY(snrs::exact::wanted(size)))
        return exact_realloc(p, size);
      return sized(size, MALLOC_ALIGN, [=]() SNMALLOC_FAST_PATH_LAMBDA {
        return snmalloc::libc::realloc(p, size);
      });
    });
  });
}

SNRS_API void* SNRS_NAME(aligned_alloc)(size_t align, size_t size)
{
  size_t sz = checked_aligned_size(align, size);
  if (SNMALLOC_UNLIKELY(sz == 0))
    return snmalloc::libc::set_error(ENOMEM);
  auto aligned = [=]() SNMALLOC_FAST_PATH_LAMBDA { return alloc(sz); };
  return counted(allocated(sized(sz, align, aligned)), size);
}

SNRS_API void* SNRS_NAME(aligned_alloc_zeroed)(size_t align, size_t size)
{
  size_t sz = checked_aligned_size(align, size);
  if (SNMALLOC_UNLIKELY(sz == 0))
    return snmalloc::libc::set_error(ENOMEM);
  auto aligned = [=]() SNMALLOC_FAST_PATH_LAMBDA { return alloc<Zero>(sz); };
  return counted(allocated(sized<true>(sz, align, aligned)), size);
}

SNRS_API void SNRS_NAME(aligned_free_sized)(void* p, size_t align, size_t size)
{
  uncounted(p);
  freeing(p);
  release_sized(p, checked_aligned_size(align, size));
}

SNRS_API void*
SNRS_NAME(aligned_realloc)(void* p, size_t align, size_t old_size, size_t new_size)
{
  size_t old_sz = checked_aligned_size(align, old_size);
  size_t new_sz = checked_aligned_size(align, new_size);
  if (SNMALLOC_UNLIKELY(new_sz == 0))
    return snmalloc::libc::set_error(ENOMEM);
  if (
    size_to_sizeclass_full(old_sz).raw() ==
      size_to_sizeclass_full(new_sz).raw() &&
    !snrs::exact::wanted(old_sz) && !snrs::exact::wanted(new_sz))
    return p;
  return realloc_counted(p, new_size, [=]() {
    // A large block mapped on its own grows or shrinks where its pages are
    // (a Vec doubling kept every old copy for reuse, twice the RSS).
    if (snrs::exact::wanted(new_sz) && align <= snrs::exact::PAGE)
      if (size_t length = snrs::exact::usable_size(p); length != 0)
        if (void* q = snrs::exact::resize(p, length, new_sz); q != nullptr)
          return q;
    // Not sized(): one more inlined copy of the allocation path made GCC
    // outline part of malloc's (scripts/bench/fastpath.sh --check).
    void* q = allocated(
      snrs::exact::wanted(new_sz) ? large_aligned(new_sz, align) : alloc(new_sz));
    if (SNMALLOC_LIKELY(q != nullptr))
    {
      ::memcpy(q, p, old_size < new_size ? old_size : new_size);
      freeing(p);
      release_sized(p, old_sz);
    }
    return q;
  });
}

#if defined(SNRS_OVERRIDE) && defined(__linux__)
// operator new: the allocation inlined, then a tail call to the failure path
// once snmalloc has returned (an exception never unwinds through snmalloc's
// frames, whose lock guards are not built to be unwound).
SNRS_API void* SNRS_NAME(new)(size_t size)
{
  void* p = SNRS_NAME(malloc)(size);
  if (SNMALLOC_LIKELY(p != nullptr))
    return p;
  return snrs_new_failed(size, 0);
}

SNRS_API void* SNRS_NAME(new_nothrow)(size_t size, const void*)
{
  void* p = SNRS_NAME(malloc)(size);
  if (SNMALLOC_LIKELY(p != nullptr))
    return p;
  return snrs_new_failed_nothrow(size, 0);
}

SNRS_API void* SNRS_NAME(new_aligned)(size_t size, size_t align)
{
  // An alignment that is not a power of two is undefined behaviour in C++:
  // treated as a failure (a request nothing can satisfy).
  if (SNMALLOC_UNLIKELY(!bits::is_pow2(align)))
    return snrs_new_failed(SIZE_MAX, 0);
  void* p = SNRS_NAME(aligned_alloc)(align, size);
  if (SNMALLOC_LIKELY(p != nullptr))
    return p;
  return snrs_new_failed(size, align);
}

SNRS_API void*
SNRS_NAME(new_aligned_nothrow)(size_t size, size_t align, const void*)
{
  if (SNMALLOC_UNLIKELY(!bits::is_pow2(align)))
    return nullptr;
  void* p = SNRS_NAME(aligned_alloc)(align, size);
  if (SNMALLOC_LIKELY(p != nullptr))
    return p;
  return snrs_new_failed_nothrow(size, align);
}

SNRS_API void SNRS_NAME(delete_sized_aligned)(void* p, size_t size, size_t align)
{
  if (SNMALLOC_LIKELY(bits::is_pow2(align)))
    SNRS_NAME(aligned_free_sized)(p, align, size);
  else
    SNRS_NAME(free)(p);
}
#endif

namespace
{
#ifndef _WIN32
  /// A fork child copied while another thread was changing shared state
  /// starts it again empty (shim/process/fork.h).
  void restart_after_fork()
  {
    Alloc::Config::restart_shared();
    snrs::exact::restart();
  }
#endif

  // The library's initialiser, in both products (the preloadable library,
  // and a Rust program that links the crate): before any program code runs
  // (or, under dlopen, before dlopen returns), the pagemap exists, so that
  // a first call that looks up a pointer snmalloc never gave out (free,
  // malloc_usable_size, snmalloc_rs_owns) reads a real entry; and the fork
  // child handler is registered.
  __attribute__((constructor)) void on_load()
  {
    snrs::policy.read_system();
    Alloc::Config::ensure_init();
#ifndef _WIN32
    snrs::fork::install<restart_after_fork>();
#endif
#ifdef SNRS_EXACT_BLOCKS
    // This thread's allocator is made now: snmalloc aborts when it cannot
    // make one, and under a limit a program whose first requests are large
    // blocks (mapped on their own) could use up the limit first. (Called
    // through a pointer: an inlined copy of malloc here made GCC compile
    // the exported one with a slower fast path.)
    void* (*volatile make)(size_t) = &SNRS_NAME(malloc);
    SNRS_NAME(free)(make(1));
#endif
  }
} // namespace

#ifndef _WIN32
SNRS_API int SNRS_NAME(fork_restarted)(void)
{
  return snrs::fork::restarted.load() ? 1 : 0;
}
#endif

SNRS_API size_t SNRS_NAME(usable_size)(const void* p)
{
  snrs::live::in_use(p);
  return snmalloc::libc::malloc_usable_size(p);
}

SNRS_API int SNRS_NAME(is_owned)(const void* p)
{
  return p != nullptr &&
    (is_owned(const_cast<void*>(p)) || snrs::exact::usable_size(p) != 0);
}

SNRS_API void SNRS_NAME(resolve_foreign)(void)
{
  snrs::resolve_previous();
}

SNRS_API size_t SNRS_NAME(round_size)(size_t size)
{
  return snrs::exact::wanted(size) ? snrs::exact::rounded(size) : round_size(size);
}

SNRS_API void SNRS_NAME(memory)(SnrsMemory* out)
{
  using snrs::pool_counts;
  // Blocks mapped on their own count in use while they live; their peak
  // is added to snmalloc's (a bound: the two peaks may not coincide).
  size_t exact = snrs::exact::mapped.load();
  out->reserved = pool_counts.reserved.load() + exact;
  out->in_use = Alloc::Config::Backend::get_current_usage() + exact;
  out->peak_in_use =
    Alloc::Config::Backend::get_peak_usage() + snrs::exact::peak.load();
  out->retained =
    pool_counts.retained.load() + snrs::exact::kept.kept_bytes.load();
  out->given_back = pool_counts.given_back.load();
}

SNRS_API size_t SNRS_NAME(trim)(void)
{
  return Alloc::Config::LocalState::trim() + snrs::exact::kept.flush();
}

SNRS_API void SNRS_NAME(set_decay)(int mode, unsigned long long ms)
{
  using Mode = snrs::MemoryPolicy::Mode;
  snrs::policy.set(
    mode == 0 ? Mode::Retain : (mode == 1 ? Mode::AtOnce : Mode::Kernel), ms);
}

SNRS_API void* SNRS_NAME(block_start)(const void* p)
{
  return external_pointer<Start>(const_cast<void*>(p));
}

SNRS_API size_t SNRS_NAME(block_remaining)(const void* p)
{
  return remaining_bytes(p);
}

#ifdef _WIN32
#  include "process/windows_teardown.h"
#endif

#ifdef SNRS_PROFILE
SNRS_API size_t SNRS_NAME(profile_classes)(SnrsClassStat* out, size_t max)
{
  using namespace snrs::profile;
  size_t n = 0;
  auto take = [&](Counter& c, size_t size) {
    uint64_t allocs = c.allocs.load(memory_order_relaxed);
    uint64_t frees = c.frees.load(memory_order_relaxed);
    if ((allocs == 0 && frees == 0) || n == max)
      return;
    out[n++] = {
      size,
      allocs,
      c.bytes.load(memory_order_relaxed),
      frees,
      c.remote_frees.load(memory_order_relaxed)};
  };
  for (size_t i = 0; i < NUM_SMALL_SIZECLASSES; i++)
    take(small_classes[i], sizeclass_to_size(smallsizeclass_t(i)));
  for (size_t i = 0; i < LARGE_CLASSES; i++)
    take(large_classes[i], bits::one_at_bit(i));
  return n;
}

SNRS_API void SNRS_NAME(profile_totals)(SnrsProfileTotals* out)
{
  using namespace snrs::profile;
  out->live = live.load(memory_order_relaxed);
  out->peak_live = peak_live.load(memory_order_relaxed);
  out->largest = largest.load(memory_order_relaxed);
}
#endif
