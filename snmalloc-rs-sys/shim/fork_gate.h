// The fork gate: a child created by fork() never inherits an allocator lock
// held, or a structure half updated, by a thread that does not exist in it,
// and fork() never waits forever, or aborts, because of the allocator.
//
// snmalloc keeps its shared state (the memory ranges of the backend, the
// pool of per-thread allocators, one-time initialisation) behind a few
// locks, and marks every such locked section with a `PreventFork` object.
// Upstream's PreventFork (SNMALLOC_PTHREAD_FORK_PROTECTION) closes all of
// them from a pthread_atfork prepare handler and spins until fork returns.
// That has a deadlock cycle: glibc's fork takes the stdio list lock *after*
// the prepare handlers, while `fflush(NULL)` holds that lock and waits for a
// FILE lock whose holder is inside `getline` -> `malloc` -> a closed section
// (glibc's tst-malloc-fork-deadlock). glibc's own malloc escapes it by
// locking its arenas inside fork, after stdio, an order that no prepare
// handler can get. It also aborts when a signal handler forks while its
// thread is inside a section (glibc's tst-mallocfork2).
//
// This gate replaces PreventFork (snmalloc_rs.cc renames upstream's class
// before snmalloc sees it) and breaks each of those:
//
// 1. Order, as glibc's malloc has it. The prepare handler first takes the
//    stdio list lock (glibc's `_IO_list_lock`, a recursive lock, so fork's
//    own acquisition after the handlers nests), and only then closes the
//    gate and waits until no thread is inside a section. A thread holding a
//    FILE lock can therefore always finish its allocation, and the
//    `getline`/`fflush(NULL)`/`fork` cycle cannot form. The handler is
//    registered from the library's initialiser, before any program code
//    can register one, so it runs last of the prepare handlers.
// 2. A way out for cycles through locks we cannot order (a prepare handler
//    registered before ours, glibc's nss lock): a thread that finds the gate
//    closed after it drained waits while the forking thread works (a fork of
//    a large process copies page tables for hundreds of milliseconds), but
//    if the forking thread has been asleep for PATIENCE_NS, waiting for a
//    lock, it is presumably waiting for this thread or one that this thread
//    holds up. The thread then enters anyway (an "intrusion").
// 3. A consistent child regardless. A child copied while an intruder was
//    inside a section may hold a torn structure. It counts the intruders it
//    was copied with; when the fork went through our exported `fork()`
//    (Linux), an inconsistent child tells the parent so through a shared
//    page and leaves at once with _exit, before any other code runs in it,
//    and the parent forks again. A child copied without an intruder inside,
//    which is every child unless a cycle of point 2 happened, is consistent
//    by construction and the fork costs what it did.
// 4. A fork from a signal handler that interrupted a section neither waits
//    (the threads inside may be waiting for the lock this thread holds) nor
//    aborts: it forks unguarded. In a single-threaded process that child is
//    a faithful copy; in a multi-threaded one POSIX lets it call only
//    async-signal-safe functions, which do not allocate.
//
// The gate costs nothing on the allocation fast path: sections are entered
// only on snmalloc's slow paths (a lock), and entry is an atomic increment
// and a load, as upstream's. What it cannot do: retry a fork made without
// our `fork()` (libc's internal forks, such as daemon(), or a program that
// uses the crate as a Rust allocator only); there a child copied during an
// intrusion keeps what it was copied with.
#pragma once

#ifndef _WIN32

#  include "os_thread.h"

#  include <dlfcn.h>
#  include <pthread.h>
#  include <stdlib.h>
#  include <signal.h>
#  include <sys/mman.h>
#  include <sys/wait.h>

namespace snrs::fork
{
  using snmalloc::stl::Atomic;

  /// How long the forking thread may sleep, after the gate has drained,
  /// before a thread waiting at the gate enters anyway.
  constexpr uint64_t PATIENCE_NS = 20'000'000;
  /// How often a waiting thread looks at the forking thread.
  constexpr uint64_t LOOK_EVERY_NS = 5'000'000;
  /// When the forking thread's state cannot be read (no /proc, another
  /// platform): how long to wait before entering anyway.
  constexpr uint64_t BLIND_PATIENCE_NS = 1'000'000'000;
  /// How many times our fork() forks again after an inconsistent child.
  constexpr int MAX_RETRIES = 8;
  /// How long our fork() waits for a child's word before trusting it.
  constexpr uint64_t REPORT_TIMEOUT_NS = 10'000'000'000;

  enum Phase : uint32_t
  {
    OPEN = 0,
    /// A fork has closed the gate and waits for the threads inside.
    DRAINING = 1,
    /// Nobody but intruders is inside; the fork is on its way.
    CLOSED = 2,
  };

  struct Gate
  {
    Atomic<uint32_t> phase{OPEN}; // futex word
    Atomic<uint32_t> inside{0}; // threads in a section (futex word)
    Atomic<uint32_t> intruders{0}; // of which entered past the closed gate
    Atomic<uint32_t> intrusions{0}; // entries past the gate, this fork
    Atomic<long> holder{0}; // the forking thread
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Gate gate;

  /// For the exit report (`snrs_fork_counts`): this process's forks.
  struct Counts
  {
    Atomic<uint64_t> guarded{0}; // forks that closed the gate
    Atomic<uint64_t> intrusions{0}; // threads let through to break a cycle
    Atomic<uint64_t> redone{0}; // children discarded and forked again
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Counts counts;

  /// Tests only (SNMALLOC_RS_TEST_FORK_REDO=N): the first N children of our
  /// fork() count as inconsistent, so that the path that forks again runs.
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<uint32_t> test_redo{0};

  /// What our fork() and the handlers tell each other (per thread).
  struct Wrapped
  {
    uint32_t seq = 0; // nonzero while this thread is in our fork()
    Atomic<uint32_t>* slot = nullptr; // where the child reports
    bool retry_allowed = false;
    bool needs_report = false; // set by the parent handler
  };

  struct PerThread
  {
    size_t depth = 0; // sections entered (they nest)
    uint32_t handlers = 0; // prepare handlers entered (a fork from a
                           // signal handler during a fork nests)
    bool counted = false; // this thread is in gate.inside
    bool intruder = false; // ... and in gate.intruders
    bool unguarded = false; // this fork started inside a section
    bool stepped_out = false; // ... and left gate.inside for its duration
    bool parent_single = false; // ... of a single-threaded process
    Wrapped wrapped;
  };

  SNMALLOC_REQUIRE_CONSTINIT inline thread_local PerThread me;

  // ---- What the libc offers (resolved once, by install()).

  using VoidFn = void (*)();
  using ForkFn = pid_t (*)();

  struct Libc
  {
    VoidFn stdio_lock = nullptr; // glibc: _IO_list_lock
    VoidFn stdio_unlock = nullptr;
    VoidFn stdio_reset = nullptr;
    const char* single_threaded = nullptr; // glibc: __libc_single_threaded
    ForkFn fork = nullptr; // the next `fork` (our fork() wraps it)
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Libc libc;

  inline bool process_is_single_threaded()
  {
    return libc.single_threaded != nullptr && *libc.single_threaded != 0;
  }

  // ---- The gate.

  inline void open()
  {
    gate.phase.store(OPEN);
    os::wake_all(gate.phase);
  }

  // `counted` is set after the increment and cleared before the decrement:
  // a signal handler on this thread may see it false while the thread is
  // counted (and then not step out, see prepare()), never the reverse.
  inline void count_in()
  {
    gate.inside.fetch_add(1);
    me.counted = true;
  }

  inline void count_out()
  {
    me.counted = false;
    if (gate.inside.fetch_sub(1) == 1 && gate.phase.load() == DRAINING)
      os::wake_all(gate.inside);
  }

  inline void leave()
  {
    if (me.intruder)
    {
      me.intruder = false;
      gate.intruders.fetch_sub(1);
    }
    count_out();
  }

  /// Whether a thread that has waited at the closed gate since `since`
  /// should enter anyway; `asleep_since` tracks the forking thread.
  inline bool out_of_patience(uint64_t since, uint64_t& asleep_since)
  {
    uint64_t now = os::now_ns();
    switch (os::thread_state(gate.holder.load()))
    {
      case os::ThreadState::Working:
        asleep_since = 0;
        return false;
      case os::ThreadState::Asleep:
        if (asleep_since == 0)
          asleep_since = now;
        return now - asleep_since >= PATIENCE_NS;
      case os::ThreadState::Unknown:
      default:
        return now - since >= BLIND_PATIENCE_NS;
    }
  }

  SNMALLOC_SLOW_PATH inline void enter_slow()
  {
    uint64_t since = os::now_ns();
    uint64_t asleep_since = 0;
    for (;;)
    {
      // Not inside while waiting, so that the fork can drain.
      leave();
      uint32_t phase = gate.phase.load();
      if (phase != OPEN)
      {
        os::wait_while(gate.phase, phase, LOOK_EVERY_NS);
        if (
          gate.phase.load() == CLOSED && out_of_patience(since, asleep_since))
        {
          gate.intrusions.fetch_add(1);
          counts.intrusions.fetch_add(1);
          gate.intruders.fetch_add(1);
          me.intruder = true;
          count_in();
          return;
        }
      }
      count_in();
      if (gate.phase.load() == OPEN)
        return;
    }
  }

  /// A section of snmalloc that must not be copied half done by fork (the
  /// type its locks know as PreventFork).
  class Region
  {
  public:
    Region()
    {
      // `depth` first: a fork from a signal handler arriving between the
      // two statements sees this thread as inside, and does not wait for it.
      if (me.depth++ != 0)
        return;
      // Dekker with prepare(): it closes, then reads `inside`.
      count_in();
      if (SNMALLOC_UNLIKELY(gate.phase.load() != OPEN))
        enter_slow();
    }

    ~Region()
    {
      // Leave before `depth` drops, for the same reason.
      if (me.depth == 1)
        leave();
      me.depth--;
    }

    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
  };

  // ---- pthread_atfork handlers.

  inline void stdio_lock()
  {
    if (libc.stdio_lock != nullptr)
      libc.stdio_lock();
  }

  inline void stdio_unlock()
  {
    if (libc.stdio_unlock != nullptr)
      libc.stdio_unlock();
  }

  inline void prepare()
  {
    if (me.handlers++ != 0)
      return;
    if (me.depth != 0)
    {
      // Inside a section (from a signal handler): no waiting, and no
      // waiting for us either. This thread goes nowhere until its fork is
      // done, so it first steps out of the count that another thread's
      // fork drains, as an intruder: that fork's child then knows it was
      // copied with this section half done.
      me.unguarded = true;
      me.parent_single = process_is_single_threaded();
      if (me.counted)
      {
        if (!me.intruder)
        {
          me.intruder = true;
          gate.intruders.fetch_add(1);
        }
        count_out();
        me.stepped_out = true;
      }
    }
    // The stdio list lock before the gate (point 1 above), in every fork,
    // guarded or not: glibc runs prepare handlers without its fork lock and
    // takes the list lock after retaking it, so a fork that got past the
    // handlers without the list lock could hold the fork lock while it
    // waits for ours, and ours wait for the fork lock.
    stdio_lock();
    if (me.unguarded)
      return;
    for (uint32_t phase = OPEN;
         !gate.phase.compare_exchange_strong(phase, DRAINING);
         phase = OPEN)
    {
      // Another fork holds the gate: only where libc gives no stdio lock
      // to order forks by. Let it finish, holding nothing it needs.
      stdio_unlock();
      os::wait_while(gate.phase, phase, 0);
      stdio_lock();
    }
    gate.holder.store(os::current_thread());
    gate.intrusions.store(0);
    counts.guarded.fetch_add(1);
    for (uint32_t n; (n = gate.inside.load()) != 0;)
      os::wait_while(gate.inside, n, 0);
    gate.phase.store(CLOSED);
    // The forking thread may still allocate (later prepare handlers and
    // libc's fork do): its sections nest inside the gate it holds.
    me.depth = 1;
  }

  /// Back into the count after an unguarded fork: still an intruder until
  /// the section ends, since another fork may have closed the gate.
  inline void step_back()
  {
    if (me.stepped_out)
    {
      me.stepped_out = false;
      count_in();
    }
  }

  inline void parent()
  {
    if (--me.handlers != 0)
      return;
    if (me.unguarded)
    {
      me.unguarded = false;
      step_back();
    }
    else
    {
      me.depth = 0;
      if (
        me.wrapped.slot != nullptr &&
        (gate.intrusions.load() != 0 || test_redo.load() != 0))
        me.wrapped.needs_report = true;
      gate.holder.store(0);
      open();
    }
    stdio_unlock();
  }

  constexpr uint32_t CONSISTENT = 1;
  constexpr uint32_t RETRY = 2;
  constexpr uint32_t VERDICT = 3;
  constexpr uint32_t PARENT_WAITS = 4;
  constexpr uint32_t SEQ_SHIFT = 3;

  inline void child()
  {
    if (--me.handlers != 0)
      return;
    Wrapped wrapped = me.wrapped;
    me.wrapped = {};
    // glibc resets the list lock in a multi-threaded process's child; in a
    // single-threaded one it did not take it, and ours is still held.
    if (libc.stdio_reset != nullptr)
      libc.stdio_reset();
    if (me.unguarded)
    {
      me.unguarded = false;
      step_back();
      // A single-threaded parent's counts are this thread's own: exact. In
      // a multi-threaded one, only async-signal-safe calls may follow;
      // leave the gate usable for a child that breaks that rule anyway.
      if (!me.parent_single)
      {
        gate.inside.store(me.counted ? 1 : 0);
        gate.intruders.store(me.intruder ? 1 : 0);
        gate.holder.store(0);
        gate.phase.store(OPEN);
      }
      return;
    }
    // What was copied: an intruder inside a section left it half done.
    bool consistent = gate.intruders.load() == 0;
    if (test_redo.load() != 0)
      consistent = false;
    test_redo.store(0);
    // This process has one thread, outside every section, and no history.
    gate.inside.store(0);
    gate.intruders.store(0);
    gate.intrusions.store(0);
    gate.holder.store(0);
    gate.phase.store(OPEN);
    counts.guarded.store(0);
    counts.intrusions.store(0);
    counts.redone.store(0);
    me.depth = 0;
    if (wrapped.slot != nullptr)
    {
      bool retry = !consistent && wrapped.retry_allowed;
      uint32_t word = (wrapped.seq << SEQ_SHIFT) | (retry ? RETRY : CONSISTENT);
      if ((wrapped.slot->exchange(word) & PARENT_WAITS) != 0)
        os::wake_all(*wrapped.slot, os::Scope::Shared);
      if (retry)
        _exit(0);
    }
  }

  // ---- Our fork(): forks again when the child says it is inconsistent.

  /// The page children report on: MAP_SHARED, so the parent sees the
  /// child's write; one slot per fork in flight. Each process maps its own
  /// (a child must not answer its own children on its parent's page).
  struct ReportPage
  {
    static constexpr size_t SLOTS = 1000;
    pid_t owner;
    Atomic<uint32_t> slot[SLOTS];
  };

  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<ReportPage*> report_page{nullptr};
  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<uint32_t> next_seq{0};

  inline ReportPage* own_report_page()
  {
    pid_t self = getpid();
    ReportPage* page = report_page.load();
    if (page != nullptr && page->owner == self)
      return page;
    void* m = mmap(
      nullptr,
      sizeof(ReportPage),
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_ANONYMOUS,
      -1,
      0);
    if (m == MAP_FAILED)
      return nullptr;
    auto* fresh = static_cast<ReportPage*>(m); // zeroed by the kernel
    fresh->owner = self;
    if (report_page.compare_exchange_strong(page, fresh))
    {
      // The inherited page stays the parent's; this process lets go of it.
      if (page != nullptr)
        munmap(page, sizeof(ReportPage));
      return fresh;
    }
    munmap(m, sizeof(ReportPage));
    return page->owner == self ? page : nullptr;
  }

  inline bool child_is_gone(pid_t pid)
  {
    siginfo_t info{};
#  if defined(__linux__)
    long r = syscall(
      SYS_waitid, P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT, nullptr);
#  else
    int r = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
#  endif
    // An error (no such child: reaped by a SIGCHLD handler, or SIGCHLD
    // ignored) counts as gone too.
    return r != 0 || info.si_pid == pid;
  }

  /// Waits for the word of child `pid` on `slot`: true if it asked for
  /// another fork (it has left, or is leaving). A child that says nothing
  /// (it was killed, or stopped) is trusted after REPORT_TIMEOUT_NS.
  inline bool child_asks_retry(Atomic<uint32_t>& slot, uint32_t seq, pid_t pid)
  {
    uint64_t give_up = os::now_ns() + REPORT_TIMEOUT_NS;
    for (;;)
    {
      uint32_t word = slot.load();
      if ((word >> SEQ_SHIFT) != seq)
        return false;
      if ((word & VERDICT) != 0)
        return (word & VERDICT) == RETRY;
      if (
        (word & PARENT_WAITS) == 0 &&
        !slot.compare_exchange_strong(word, word | PARENT_WAITS))
        continue;
      if (child_is_gone(pid) || os::now_ns() > give_up)
        return false;
      os::wait_while(slot, word | PARENT_WAITS, 10'000'000, os::Scope::Shared);
    }
  }

  inline void reap(pid_t pid)
  {
    os::KeepErrno keep;
    int status;
#  if defined(__linux__)
    while (syscall(SYS_wait4, pid, &status, 0, nullptr) < 0 && errno == EINTR)
    {}
#  else
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    {}
#  endif
  }

  /// fork(), through the next definition in lookup order (libc's).
  inline pid_t fork_checked()
  {
    ForkFn real = libc.fork;
    if (real == nullptr)
    {
      errno = ENOSYS;
      return -1;
    }
    int saved = errno;
    ReportPage* page = own_report_page();
    for (int attempt = 0;; attempt++)
    {
      uint32_t seq = (next_seq.fetch_add(1) % (1u << (32 - SEQ_SHIFT))) | 1;
      Atomic<uint32_t>* slot = nullptr;
      if (page != nullptr)
      {
        slot = &page->slot[seq % ReportPage::SLOTS];
        slot->store(seq << SEQ_SHIFT);
      }
      me.wrapped = {seq, slot, slot != nullptr && attempt < MAX_RETRIES, false};
      pid_t pid = real();
      bool needs_report = me.wrapped.needs_report;
      me.wrapped = {};
      if (pid <= 0)
        return pid;
      if (!needs_report || !child_asks_retry(*slot, seq, pid))
      {
        errno = saved;
        return pid;
      }
      reap(pid);
      counts.redone.fetch_add(1);
      if (test_redo.load() != 0)
        test_redo.fetch_sub(1);
    }
  }

  SNMALLOC_REQUIRE_CONSTINIT inline Atomic<bool> installed{false};

  /// Resolves what the gate uses from libc and registers the handlers.
  /// Called once, from the library's initialiser (never from an allocation:
  /// the first allocation of a process may come from inside
  /// pthread_atfork, which holds the lock that registering would take).
  inline void install()
  {
    if (installed.exchange(true))
      return;
#  if defined(__GLIBC__)
    libc.stdio_lock = reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, "_IO_list_lock"));
    libc.stdio_unlock =
      reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, "_IO_list_unlock"));
    libc.stdio_reset =
      reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, "_IO_list_resetlock"));
    if (
      libc.stdio_lock == nullptr || libc.stdio_unlock == nullptr ||
      libc.stdio_reset == nullptr)
      libc.stdio_lock = libc.stdio_unlock = libc.stdio_reset = nullptr;
    libc.single_threaded = static_cast<const char*>(
      dlsym(RTLD_DEFAULT, "__libc_single_threaded"));
#  endif
#  if defined(RTLD_NEXT)
    libc.fork = reinterpret_cast<ForkFn>(dlsym(RTLD_NEXT, "fork"));
#  endif
    // Never from a set-user-ID program's caller.
#  if defined(__GLIBC__)
    if (const char* n = secure_getenv("SNMALLOC_RS_TEST_FORK_REDO"))
#  else
    if (const char* n = issetugid() ? nullptr : getenv("SNMALLOC_RS_TEST_FORK_REDO"))
#  endif
      test_redo.store(static_cast<uint32_t>(strtoul(n, nullptr, 10)));
    pthread_atfork(prepare, parent, child);
  }
} // namespace snrs::fork

#endif
