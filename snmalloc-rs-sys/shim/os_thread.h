// The operating-system primitives the fork gate (fork_gate.h) is built on:
// waiting for a word to change with a time limit, waking its waiters,
// reading the clock, naming the calling thread, and asking whether another
// thread of this process is asleep. Every function leaves errno as it was
// and none is a cancellation point (a pending pthread_cancel must not act
// inside the allocator), so the system calls are made with syscall(2).
#pragma once

#ifndef _WIN32

#  include <snmalloc/stl/atomic.h>

#  include <errno.h>
#  include <sched.h>
#  include <stdint.h>
#  include <sys/types.h>
#  include <time.h>
#  include <unistd.h>
#  if defined(__linux__)
#    include <fcntl.h>
#    include <linux/futex.h>
#    include <sys/syscall.h>
#  endif

namespace snrs::os
{
  using snmalloc::stl::Atomic;

  /// Restores errno when it goes out of scope.
  class KeepErrno
  {
    int saved = errno;

  public:
    KeepErrno() = default;
    KeepErrno(const KeepErrno&) = delete;
    KeepErrno& operator=(const KeepErrno&) = delete;

    ~KeepErrno()
    {
      errno = saved;
    }
  };

  inline uint64_t now_ns()
  {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 +
      static_cast<uint64_t>(ts.tv_nsec);
  }

  /// Whether `word` is visible to other processes (a MAP_SHARED page).
  enum class Scope
  {
    Process,
    Shared
  };

  /// Waits while `word` holds `value`, at most `timeout_ns` (0: no limit).
  /// May return early (a signal, a spurious wake-up): callers re-check.
  inline void wait_while(
    Atomic<uint32_t>& word,
    uint32_t value,
    uint64_t timeout_ns,
    Scope scope = Scope::Process)
  {
    KeepErrno keep;
#  if defined(__linux__)
    struct timespec ts = {
      static_cast<time_t>(timeout_ns / 1'000'000'000),
      static_cast<long>(timeout_ns % 1'000'000'000)};
    syscall(
      SYS_futex,
      reinterpret_cast<uint32_t*>(&word),
      scope == Scope::Shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE,
      value,
      timeout_ns == 0 ? nullptr : &ts,
      nullptr,
      0);
#  else
    // Elsewhere the gate is closed only while a fork is under way: yield
    // until the word changes or the time is up.
    (void)scope;
    uint64_t deadline = timeout_ns == 0 ? UINT64_MAX : now_ns() + timeout_ns;
    while (word.load() == value && now_ns() < deadline)
      sched_yield();
#  endif
  }

  /// Wakes every thread waiting on `word`.
  inline void wake_all(Atomic<uint32_t>& word, Scope scope = Scope::Process)
  {
#  if defined(__linux__)
    KeepErrno keep;
    syscall(
      SYS_futex,
      reinterpret_cast<uint32_t*>(&word),
      scope == Scope::Shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE,
      INT32_MAX,
      nullptr,
      nullptr,
      0);
#  else
    (void)word;
    (void)scope;
#  endif
  }

  /// The calling thread's id (Linux: the kernel's tid; elsewhere 0, which
  /// thread_state() cannot look up).
  inline long current_thread()
  {
#  if defined(__linux__)
    return syscall(SYS_gettid);
#  else
    return 0;
#  endif
  }

  enum class ThreadState
  {
    /// On a CPU, runnable, or in an uninterruptible kernel wait (a fork
    /// copying the address space is one of these).
    Working,
    /// In an interruptible wait: a lock, a futex, a pipe.
    Asleep,
    /// Cannot be told (no /proc, no such thread, another platform).
    Unknown,
  };

  /// What thread `tid` of this process is doing, from
  /// /proc/self/task/TID/stat (the state letter after the command name).
  inline ThreadState thread_state(long tid)
  {
#  if defined(__linux__)
    if (tid <= 0)
      return ThreadState::Unknown;
    KeepErrno keep;
    char path[48] = "/proc/self/task/";
    size_t n = 16;
    char digits[24];
    size_t d = 0;
    for (unsigned long v = static_cast<unsigned long>(tid); v != 0; v /= 10)
      digits[d++] = static_cast<char>('0' + v % 10);
    while (d != 0)
      path[n++] = digits[--d];
    for (const char* s = "/stat"; *s != '\0'; s++)
      path[n++] = *s;
    path[n] = '\0';
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return ThreadState::Unknown;
    char buf[512];
    long got = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (got <= 0)
      return ThreadState::Unknown;
    // "tid (command) S ...": the command may hold spaces and parentheses.
    const char* state = nullptr;
    for (long i = got - 1; i > 0; i--)
    {
      if (buf[i] == ')')
      {
        state = i + 2 < got ? &buf[i + 2] : nullptr;
        break;
      }
    }
    if (state == nullptr)
      return ThreadState::Unknown;
    switch (*state)
    {
      case 'S':
        return ThreadState::Asleep;
      case 'R':
      case 'D':
        return ThreadState::Working;
      default:
        return ThreadState::Unknown;
    }
#  else
    (void)tid;
    return ThreadState::Unknown;
#  endif
  }
} // namespace snrs::os

#endif
