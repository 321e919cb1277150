// How freed memory goes back to the operating system, and which requests
// are impossible: one policy for the process, set once at load
// (`snrs_set_decay`, from the SNMALLOC_DECAY option read by src/process/config.rs)
// and read by the PAL (shim/pal/pal.h) and the retained range
// (shim/backend/ranges.h).
#pragma once

#include "pal/os.h"

#include <snmalloc/stl/atomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__linux__)
#  include <sys/sysinfo.h>
#endif

namespace snrs
{
  class MemoryPolicy
  {
  public:
    enum class Mode : uint32_t
    {
      /// Keep freed memory for reuse, at most a bound and at most
      /// `decay_ms`, then give it back with MADV_DONTNEED (the default).
      Retain,
      /// Give freed memory back at once (MADV_DONTNEED).
      AtOnce,
      /// Mark freed memory MADV_FREE at once and let the kernel take it
      /// when it needs memory (upstream snmalloc's behaviour).
      Kernel,
    };

    /// The default: long enough to bridge the gaps of a busy program,
    /// short enough that a server idle between bursts gives its memory
    /// back (docs/memory.md has the measurements).
    static constexpr uint64_t DEFAULT_DECAY_MS = 1000;

  private:
    // mutable: snmalloc's own STL (feature vendored-stl) has no const load.
    mutable snmalloc::stl::Atomic<uint32_t> mode_{
      static_cast<uint32_t>(Mode::Retain)};
    mutable snmalloc::stl::Atomic<uint64_t> decay_ms_{DEFAULT_DECAY_MS};
    /// The largest single reservation the kernel's overcommit heuristic
    /// would grant (RAM + swap); SIZE_MAX where it does not apply.
    size_t largest_ = SIZE_MAX;

  public:
    constexpr MemoryPolicy() = default;

    Mode mode() const
    {
      return static_cast<Mode>(mode_.load(snmalloc::stl::memory_order_relaxed));
    }

    uint64_t decay_ms() const
    {
      return decay_ms_.load(snmalloc::stl::memory_order_relaxed);
    }

    /// Freed memory is marked MADV_FREE rather than dropped.
    bool lazy() const
    {
      return mode() == Mode::Kernel;
    }

    /// Freed memory is kept for reuse for a while. Not on Windows: ranges
    /// kept there merge across separate reservations, which VirtualFree
    /// cannot decommit as one; freed memory is decommitted at once, as
    /// upstream does.
    bool retains() const
    {
#ifdef _WIN32
      return false;
#else
      return mode() == Mode::Retain;
#endif
    }

    void set(Mode m, uint64_t decay_ms)
    {
      decay_ms_.store(decay_ms);
      mode_.store(static_cast<uint32_t>(m));
    }

    /// Whether a reservation of `size` bytes could be granted at all.
    bool possible(size_t size) const
    {
      return size <= largest_;
    }

    /// Reads what the kernel allows, once, at load.
    void read_system()
    {
#if defined(__linux__)
      os::KeepErrno keep;
      // Mode 0 (heuristic, the default) refuses a single private mapping
      // larger than RAM plus swap; mode 1 grants anything; mode 2 counts
      // every mapping, and mmap then fails by itself.
      char mode = '0';
      if (os::read_file("/proc/sys/vm/overcommit_memory", &mode, 1) != 1)
        mode = '0';
      struct sysinfo info;
      if (mode == '0' && sysinfo(&info) == 0)
      {
        unsigned long long total =
          (static_cast<unsigned long long>(info.totalram) +
           static_cast<unsigned long long>(info.totalswap)) *
          info.mem_unit;
        largest_ = total > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(total);
      }
#endif
    }
  };

  SNMALLOC_REQUIRE_CONSTINIT inline MemoryPolicy policy;
} // namespace snrs
