// fork() and the allocator: the parent never waits, and the child never
// inherits a structure that another thread was changing.
//
// 1. snmalloc marks every section that changes its shared state (the
//    backend's pools, the pool of thread allocators, one-time set-up) with
//    a PreventFork object. Ours (Section, below) counts the threads inside;
//    nothing ever waits on the count.
// 2. fork() copies the process at an instant where each thread has made its
//    writes up to some point and none after it: a thread that writes to a
//    page the kernel has already copied waits in the kernel until the copy
//    is done. A section raises the count before its first write (a full
//    fence) and lowers it after its last (release).
// 3. A child whose count is zero, then, holds every shared structure as a
//    section left it: consistent, every lock free.
// 4. Otherwise the child handler (the library's only pthread_atfork
//    handler) replaces those structures by empty ones (restart_shared, of
//    shim/backend/config.h): the free memory they held is not reused in this child,
//    and stays shared copy-on-write with the parent until it exits or execs.
// 5. The parent never waits for anything, so fork() adds no lock order of
//    the allocator's to the program's; no child inherits a held lock, so no
//    child hangs on one.
//
// A fork from a signal handler that interrupted a section of its own thread
// leaves the child as copied: in a single-threaded process that copy is
// faithful, and the interrupted section finishes when the handler returns;
// in a multi-threaded one POSIX lets that child call only
// async-signal-safe functions, which do not allocate. docs/fork.md has the
// argument at length and the cases glibc itself deadlocks on.
#pragma once

#ifndef _WIN32

#  include <pthread.h>
#  include <snmalloc/stl/atomic.h>

namespace snrs::fork
{
  using snmalloc::stl::Atomic;

  /// Threads inside a section now.
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<size_t> inside{0};

  /// Sections this thread is inside (they nest).
  SNMALLOC_REQUIRE_CONSTINIT inline thread_local size_t depth = 0;

  /// Whether this process began as a child copied while another thread was
  /// inside a section, and so restarted the shared state (for the report).
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<bool> restarted{false};

  /// A section of snmalloc that changes shared state: the type its locks
  /// know as PreventFork. `depth` is raised before the count and lowered
  /// after it, so that a signal handler on this thread that forks sees
  /// `depth == 0` only when this thread adds nothing to the count.
  class Section
  {
  public:
    Section()
    {
      if (depth++ == 0)
      {
        inside.fetch_add(1);
        // The count is visible before any write of the section, on every
        // architecture (an RMW alone does not order later stores on Arm).
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
      }
    }

    ~Section()
    {
      if (depth == 1)
        inside.fetch_sub(1, snmalloc::stl::memory_order_release);
      depth--;
    }

    Section(const Section&) = delete;
    Section& operator=(const Section&) = delete;
  };

  /// The child handler. `restart` empties the shared state (point 4).
  template<void (*restart)()>
  void child()
  {
    if (depth != 0)
      return;
    if (inside.load(snmalloc::stl::memory_order_relaxed) != 0)
    {
      restart();
      inside.store(0, snmalloc::stl::memory_order_relaxed);
      restarted.store(true, snmalloc::stl::memory_order_relaxed);
    }
    else
    {
      restarted.store(false, snmalloc::stl::memory_order_relaxed);
    }
  }

  /// Registers the child handler. Called once, from the library's
  /// initialiser: never from an allocation, since a process's first
  /// allocation may come from inside pthread_atfork, which holds the lock
  /// that registering takes.
  template<void (*restart)()>
  void install()
  {
    pthread_atfork(nullptr, nullptr, child<restart>);
  }
} // namespace snrs::fork

#endif
