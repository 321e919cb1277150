// Switches the library to its compact build when the process needs it
// (shim/flavour.h). The functions of snmalloc_rs.h, and the exported
// malloc, free, ... that are their aliases, are the flat build's own code:
// a process without limits runs exactly what it ran before, with nothing in
// front of it. For a process with limits, the entry of each such function
// is overwritten with a jump to its compact twin (snrs_compact_<name>),
// while the dynamic loader relocates the library: before any code of the
// process, or of another library, can call into it.
//
// Why not indirect functions (IFUNC) for the exported names: the C library
// is relocated before a preloaded library and binds its own calls to
// malloc and free then, when our resolvers could not run yet; glibc warns
// ("Relink ... for IFUNC symbol") in every process. The switch instead runs
// from an IFUNC that only this library refers to (an entry of its
// .init_array), which the loader resolves while relocating the library.
//
// The jumps are written through /proc/self/mem, which leaves the code
// pages read-only and executable; where that is refused, by making the
// pages writable for the moment. If neither is possible the library stays
// flat and says so: under a limit it then fails at start as it did before.
#include "flavour.h"
#include "snmalloc_rs.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

namespace
{
  struct Switch
  {
    void* flat;
    void* compact;
  };

  // Every function of the header, flat and compact.
#undef SNRS_FN
#define SNRS_FN(ret, name, params) \
  extern "C" __attribute__((visibility("hidden"))) ret \
    snrs_compact_##name params;
#include "snmalloc_rs_api.h"
#undef SNRS_FN

  const Switch switches[] = {
#define SNRS_FN(ret, name, params) \
  {reinterpret_cast<void*>(&snrs_##name), \
   reinterpret_cast<void*>(&snrs_compact_##name)},
#include "snmalloc_rs_api.h"
#undef SNRS_FN
  };

  using snrs::flavour::raw;

  constexpr size_t JUMP = 5;

  /// `jmp rel32` from `at` to `to` (x86-64), or `b imm26` (AArch64).
  void encode(uint8_t* out, uintptr_t at, uintptr_t to)
  {
#if defined(__x86_64__)
    auto rel = static_cast<int32_t>(static_cast<intptr_t>(to - (at + JUMP)));
    out[0] = 0xe9;
    memcpy(out + 1, &rel, sizeof rel);
#elif defined(__aarch64__)
    auto words = static_cast<uint32_t>(
      (static_cast<intptr_t>(to - at) >> 2) & ((uint32_t(1) << 26) - 1));
    uint32_t insn = 0x14000000u | words;
    memcpy(out, &insn, sizeof insn);
    out[4] = 0;
#endif
  }

  constexpr size_t LENGTH =
#if defined(__x86_64__)
    JUMP;
#else
    4;
#endif

  bool write_through_proc_mem()
  {
    long fd = raw(
      SYS_openat,
      AT_FDCWD,
      reinterpret_cast<long>("/proc/self/mem"),
      O_RDWR | O_CLOEXEC);
    if (fd < 0)
      return false;
    bool ok = true;
    for (const Switch& s : switches)
    {
      uint8_t code[8];
      auto at = reinterpret_cast<uintptr_t>(s.flat);
      encode(code, at, reinterpret_cast<uintptr_t>(s.compact));
      if (
        raw(SYS_pwrite64, fd, reinterpret_cast<long>(code), LENGTH, static_cast<long>(at)) !=
        static_cast<long>(LENGTH))
      {
        ok = false;
        break;
      }
    }
    raw(SYS_close, fd);
    return ok;
  }

  bool write_through_mprotect()
  {
    constexpr uintptr_t PAGE = 4096;
    for (const Switch& s : switches)
    {
      auto at = reinterpret_cast<uintptr_t>(s.flat);
      uintptr_t page = at & ~(PAGE - 1);
      size_t span = ((at + LENGTH + PAGE - 1) & ~(PAGE - 1)) - page;
      if (raw(SYS_mprotect, static_cast<long>(page), static_cast<long>(span), PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return false;
      encode(reinterpret_cast<uint8_t*>(at), at, reinterpret_cast<uintptr_t>(s.compact));
      raw(SYS_mprotect, static_cast<long>(page), static_cast<long>(span), PROT_READ | PROT_EXEC);
    }
    return true;
  }

  void say(const char* msg)
  {
    raw(SYS_write, 2, reinterpret_cast<long>(msg), static_cast<long>(strlen(msg)));
  }

  void switch_if_needed()
  {
    if (snrs::flavour::get() != snrs::flavour::COMPACT)
      return;
    bool done = write_through_proc_mem() || write_through_mprotect();
#if defined(__aarch64__)
    for (const Switch& s : switches)
      __builtin___clear_cache(
        static_cast<char*>(s.flat), static_cast<char*>(s.flat) + LENGTH);
#endif
    if (!done)
    {
      snrs::flavour::chosen = snrs::flavour::FLAT;
      say(
        "snmalloc-rs: this process has a memory limit, but the library could "
        "not switch to its build for limits (its code cannot be written); "
        "using the default build\n");
    }
  }

  void nothing() {}
} // namespace

extern "C" __attribute__((visibility("hidden"))) void (*snrs_switch_resolver())()
{
  switch_if_needed();
  return &nothing;
}

// Resolved while the loader relocates the library (an entry of its own
// .init_array, which it then calls as an ordinary initialiser).
extern "C" __attribute__((visibility("hidden"))) void snrs_switch_at_load()
  __attribute__((ifunc("snrs_switch_resolver")));
__attribute__((section(".init_array"), used)) static void (*const switch_entry)() =
  &snrs_switch_at_load;

SNRS_API int snrs_flavour(void)
{
  return snrs::flavour::get();
}
