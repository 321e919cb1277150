// Which of the two builds of the allocator serves this process (Linux,
// glibc). The library carries snmalloc twice: "flat", snmalloc's own flat
// pagemap (a 256 GiB reservation made once, the fewest instructions per
// free), and "compact", a two-level pagemap (shim/radix_pagemap.h) that
// reserves nothing up front, for processes whose address space or data is
// limited (ulimit -v, ulimit -d) or whose kernel counts every mapping
// (vm.overcommit_memory = 2). Each exported function is an indirect
// function (IFUNC, shim/dispatch.cc) that the dynamic loader binds once, at
// load, to the build chosen here: a process without limits runs exactly
// the code it ran before, and one with limits runs at all.
//
// SNMALLOC_PAGEMAP=compact or =flat in the environment overrides the
// choice (tests use it; a flat pagemap under a limit fails at start).
//
// This runs while the dynamic loader relocates the library, before libc
// may be called: it reads the limits and files with system calls of its
// own.
#pragma once

#if defined(__linux__)

#  include <fcntl.h>
#  include <stddef.h>
#  include <stdint.h>
#  include <sys/resource.h>
#  include <sys/syscall.h>

namespace snrs::flavour
{
  enum Kind : int
  {
    UNDECIDED = 0,
    FLAT = 1,
    COMPACT = 2,
  };

  inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0)
  {
    long r;
#  if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
#  elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3)
                     : "memory");
    r = x0;
#  else
#    error "flavour.h: no system call sequence for this architecture"
#  endif
    return r;
  }

  /// Reads up to `n` bytes of `path` into `buf`; the count, or -1.
  inline long read_file(const char* path, char* buf, long n)
  {
    long fd = raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    long total = 0;
    while (total < n)
    {
      long got = raw(SYS_read, fd, reinterpret_cast<long>(buf + total), n - total);
      if (got <= 0)
        break;
      total += got;
    }
    raw(SYS_close, fd);
    return total;
  }

  inline bool limited(int resource)
  {
    struct rlimit64
    {
      uint64_t cur, max;
    } lim{};
    if (raw(SYS_prlimit64, 0, resource, 0, reinterpret_cast<long>(&lim)) != 0)
      return false;
    return lim.cur != ~uint64_t(0);
  }

  /// SNMALLOC_PAGEMAP from the environment (the process's own, from
  /// /proc: the C library's copy may not be set up yet).
  inline Kind asked()
  {
    static constexpr char NAME[] = "SNMALLOC_PAGEMAP=";
    char env[16384];
    long n = read_file("/proc/self/environ", env, sizeof env);
    for (long i = 0; i < n;)
    {
      long j = 0;
      while (NAME[j] != '\0' && i + j < n && env[i + j] == NAME[j])
        j++;
      if (NAME[j] == '\0')
      {
        const char* v = env + i + j;
        long left = n - i - j;
        auto is = [&](const char* w) {
          long k = 0;
          for (; w[k] != '\0'; k++)
            if (k >= left || v[k] != w[k])
              return false;
          return k < left && v[k] == '\0';
        };
        if (is("compact"))
          return COMPACT;
        if (is("flat"))
          return FLAT;
        return UNDECIDED;
      }
      while (i < n && env[i] != '\0')
        i++;
      i++;
    }
    return UNDECIDED;
  }

  /// Secure-execution mode (AT_SECURE, from /proc/self/auxv: libc's
  /// getauxval may not be ready); without /proc, whether the real and
  /// effective ids differ. Its caller's SNMALLOC_PAGEMAP is ignored there,
  /// as every option is (src/config.rs).
  inline bool secure()
  {
    uint64_t auxv[2 * 64];
    long n = read_file("/proc/self/auxv", reinterpret_cast<char*>(auxv), sizeof auxv);
    constexpr uint64_t AT_SECURE_TAG = 23;
    for (long i = 0; n > 0 && (i + 2) * 8 <= n && auxv[i] != 0; i += 2)
      if (auxv[i] == AT_SECURE_TAG)
        return auxv[i + 1] != 0;
    return raw(SYS_getuid) != raw(SYS_geteuid) || raw(SYS_getgid) != raw(SYS_getegid);
  }

  inline Kind decide()
  {
    if (Kind k = secure() ? UNDECIDED : asked(); k != UNDECIDED)
      return k;
    if (limited(RLIMIT_AS) || limited(RLIMIT_DATA))
      return COMPACT;
    char mode = '0';
    if (read_file("/proc/sys/vm/overcommit_memory", &mode, 1) == 1 && mode == '2')
      return COMPACT;
    return FLAT;
  }

  inline int chosen = UNDECIDED;

  /// The build serving this process, decided once. The dynamic loader
  /// resolves every indirect function of the library on one thread, before
  /// any code of the process runs, so a plain variable is enough.
  inline Kind get()
  {
    if (chosen == UNDECIDED)
      chosen = decide();
    return static_cast<Kind>(chosen);
  }
} // namespace snrs::flavour

#endif
