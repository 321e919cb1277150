// Windows: each thread's snmalloc allocator, kept in a Win32 TLS slot.
//
// MinGW's C++ `thread_local` is emulated TLS, which allocates with the C
// runtime's malloc on a thread's first access. Once our hooks own that
// malloc, a thread's first allocation would recurse into itself, so snmalloc
// is built with SNMALLOC_EXTERNAL_THREAD_ALLOC and finds its allocator here:
// a read of the TEB's TLS array, no call, no allocation, and GetLastError()
// untouched (TlsGetValue would clear it behind the program's back).
//
// Teardown: the Rust side's TLS callback calls snrs_thread_detach() on
// DLL_THREAD_DETACH, which flushes and releases the thread's allocator. Other
// DLLs' detach handlers and the CRT's fiber-local destructors still free
// (and allocate) after that; such a thread gets an "orphan" allocator that is
// flushed and released once the thread has really ended (its handle is
// signalled), from the next thread start or exit in the process.
#pragma once

#include <windows.h>
#ifdef _MSC_VER
#  include <intrin.h>
#endif

namespace snrs::win
{
  // The slot's value once a thread's allocator has been torn down.
  constexpr uintptr_t TORN_DOWN = 1;
  // TEB layout (x64): the 64 inline TLS slots.
  constexpr size_t TEB_TLS_SLOTS = 0x1480;
  constexpr DWORD INLINE_SLOTS = 64;

  SNMALLOC_REQUIRE_CONSTINIT inline snmalloc::stl::Atomic<DWORD> tls_index{
    TLS_OUT_OF_INDEXES};

  SNMALLOC_FAST_PATH_INLINE uintptr_t slot_value(DWORD index)
  {
    if (SNMALLOC_LIKELY(index < INLINE_SLOTS))
    {
      // TEB.TlsSlots[index], through the gs segment (what TlsGetValue
      // reads, without the call and the SetLastError).
#  ifdef _MSC_VER
      return __readgsqword(
        static_cast<unsigned long>(TEB_TLS_SLOTS + index * sizeof(void*)));
#  else
      uintptr_t v;
      __asm__("movq %%gs:%c1(,%2,8), %0"
              : "=r"(v)
              : "i"(TEB_TLS_SLOTS), "r"(static_cast<uintptr_t>(index)));
      return v;
#  endif
    }
    DWORD err = GetLastError();
    auto v = reinterpret_cast<uintptr_t>(TlsGetValue(index));
    SetLastError(err);
    return v;
  }

  /// The thread's allocator, or 0 (none yet) or TORN_DOWN.
  SNMALLOC_FAST_PATH_INLINE uintptr_t current()
  {
    DWORD index = tls_index.load(snmalloc::stl::memory_order_relaxed);
    if (SNMALLOC_UNLIKELY(index == TLS_OUT_OF_INDEXES))
      return 0;
    return slot_value(index);
  }

  SNMALLOC_SLOW_PATH snmalloc::Alloc& get_slow();
} // namespace snrs::win

class ThreadAllocExternal
{
public:
  static SNMALLOC_FAST_PATH snmalloc::Alloc& get()
  {
    uintptr_t a = snrs::win::current();
    if (SNMALLOC_LIKELY(a > snrs::win::TORN_DOWN))
      return *reinterpret_cast<snmalloc::Alloc*>(a);
    return snrs::win::get_slow();
  }
};
