// Windows: the end of a thread's allocator (the other half of
// windows_thread.h, which finds it). The TLS callback flushes and releases
// it at DLL_THREAD_DETACH; a thread that allocates after that gets an
// orphan allocator, released once the thread has really ended; and the
// lazy-commit handler snmalloc's PAL removes at exit is registered again.
// Included by api/snmalloc_rs.cc after snmalloc's front end.
#pragma once

namespace snrs::win
{
  // Allocators of threads that allocated after their teardown, with a
  // handle that is signalled once the thread has ended.
  struct Orphan
  {
    Alloc* alloc;
    HANDLE thread;
  };

  constexpr size_t MAX_ORPHANS = 256;
  SNMALLOC_REQUIRE_CONSTINIT inline Orphan orphans[MAX_ORPHANS] = {};
  SNMALLOC_REQUIRE_CONSTINIT inline FlagWord orphans_lock;
  SNMALLOC_REQUIRE_CONSTINIT inline stl::Atomic<size_t> orphan_count{0};

  DWORD ensure_index()
  {
    DWORD index = tls_index.load();
    if (SNMALLOC_LIKELY(index != TLS_OUT_OF_INDEXES))
      return index;
    DWORD mine = TlsAlloc();
    if (mine == TLS_OUT_OF_INDEXES)
      snmalloc::error("snmalloc-rs: no TLS slot left for the allocator");
    if (!tls_index.compare_exchange_strong(index, mine))
    {
      TlsFree(mine);
      return index;
    }
    return mine;
  }

  /// Releases the allocators of orphans whose thread has ended.
  void reap_orphans()
  {
    if (orphan_count.load(stl::memory_order_relaxed) == 0)
      return;
    Orphan done[MAX_ORPHANS];
    size_t n = 0;
    {
      FlagLock lock(orphans_lock);
      for (auto& o : orphans)
      {
        if (o.alloc != nullptr && WaitForSingleObject(o.thread, 0) == WAIT_OBJECT_0)
        {
          done[n++] = o;
          o = {};
          orphan_count--;
        }
      }
    }
    for (size_t i = 0; i < n; i++)
    {
      done[i].alloc->flush();
      AllocPool<Config>::release(done[i].alloc);
      CloseHandle(done[i].thread);
    }
  }

  void adopt_orphan(Alloc* a)
  {
    HANDLE h = OpenThread(SYNCHRONIZE, FALSE, GetCurrentThreadId());
    if (h == nullptr)
      return; // Leaked: the one case where a thread's cache is never reused.
    FlagLock lock(orphans_lock);
    for (auto& o : orphans)
    {
      if (o.alloc == nullptr)
      {
        o = {a, h};
        orphan_count++;
        return;
      }
    }
    CloseHandle(h);
  }

  SNMALLOC_SLOW_PATH Alloc& get_slow()
  {
    DWORD err = GetLastError();
    DWORD index = ensure_index();
    uintptr_t prev = slot_value(index);
    if (prev > TORN_DOWN)
    {
      SetLastError(err);
      return *reinterpret_cast<Alloc*>(prev);
    }
    reap_orphans();
    Alloc* a = AllocPool<Config>::acquire();
    TlsSetValue(index, a);
    if (prev == TORN_DOWN)
      adopt_orphan(a);
    SetLastError(err);
    return *a;
  }
} // namespace snrs::win

SNRS_API void SNRS_NAME(thread_detach)(void)
{
  using namespace snrs::win;
  DWORD index = tls_index.load();
  if (index == TLS_OUT_OF_INDEXES)
    return;
  DWORD err = GetLastError();
  uintptr_t a = slot_value(index);
  if (a > TORN_DOWN)
  {
    auto* alloc = reinterpret_cast<Alloc*>(a);
    alloc->flush();
    AllocPool<Config>::release(alloc);
  }
  TlsSetValue(index, reinterpret_cast<void*>(TORN_DOWN));
  reap_orphans();
  SetLastError(err);
}

namespace snrs::win
{
  // snmalloc's Windows PAL reserves its pagemap and commits pages on first
  // read, from a vectored exception handler that a static destructor
  // removes at exit. Our replacements still run after that (the CRT frees
  // through them during exit, and ask the pagemap about foreign blocks
  // whose pages were never touched), so the same handler is registered once
  // more, last, for good. The handler is private to PALWindows: explicit
  // instantiation may name it (the standard's access exemption for it).
  using Handler = LONG(NTAPI*)(struct _EXCEPTION_POINTERS*);
  Handler lazy_commit_handler();
  template<Handler H>
  struct LazyCommit
  {
    friend Handler lazy_commit_handler()
    {
      return H;
    }
  };
  template struct LazyCommit<&PALWindows::HandleReadonlyLazyCommit>;
} // namespace snrs::win

SNRS_API void SNRS_NAME(keep_lazy_commit)(void)
{
  AddVectoredExceptionHandler(0, snrs::win::lazy_commit_handler());
}

namespace
{
  // Runs at every thread's exit in the module that links us (DLL or EXE),
  // after the Rust runtime's own TLS destructors (".CRT$XLB").
  void NTAPI on_tls_event(PVOID, DWORD reason, PVOID)
  {
    if (reason == DLL_THREAD_DETACH)
      SNRS_NAME(thread_detach)();
  }
} // namespace

#ifdef _MSC_VER
// (MSVC: not compiled on this project's machines; see the README.)
#  pragma section(".CRT$XLY", long, read)
#  pragma comment(linker, "/INCLUDE:snrs_tls_thread_detach")
extern "C" __declspec(allocate(".CRT$XLY"))
const PIMAGE_TLS_CALLBACK snrs_tls_thread_detach = on_tls_event;
#else
extern "C" __attribute__((section(".CRT$XLY"), used))
const PIMAGE_TLS_CALLBACK snrs_tls_thread_detach = on_tls_event;
#endif
