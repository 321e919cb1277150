// Operating-system primitives the shim's policy code uses on Unix: keeping
// errno across system calls, the monotonic clock (the decay of freed
// memory, shim/backend/ranges.h) and, on Linux, reading a small file such as a
// /proc setting. System calls are made with syscall(2): none of these is a
// cancellation point (a pending pthread_cancel must not act inside the
// allocator), and they need nothing of libc that may not be ready.
#pragma once

#ifndef _WIN32

#  include <errno.h>
#  include <stdint.h>
#  include <time.h>
#  if defined(__linux__)
#    include <fcntl.h>
#    include <sys/syscall.h>
#    include <unistd.h>
#  endif

namespace snrs::os
{
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

#  if defined(__linux__)
  /// Reads up to `n` bytes of the file at `path` into `buf`: how many, or
  /// -1 if it cannot be opened.
  inline long read_file(const char* path, char* buf, long n)
  {
    KeepErrno keep;
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    long total = 0;
    while (total < n)
    {
      long got = syscall(SYS_read, fd, buf + total, n - total);
      if (got <= 0)
        break;
      total += got;
    }
    syscall(SYS_close, fd);
    return total;
  }
#  endif
} // namespace snrs::os

#endif
