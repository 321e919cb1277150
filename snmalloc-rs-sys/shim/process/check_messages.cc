// The hardened build's last words: one line on stderr naming what its
// checks caught, then abort. Formatted on the stack (the heap is not to be
// trusted here). Built only with SNMALLOC_CHECK_CLIENT (the check feature).
#include "process/check_messages.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

namespace
{
  constexpr char CHECK_PREFIX[] = "snmalloc-rs (check build): ";

  [[noreturn]] void fail_with(const char* what, const void* p)
  {
    // Formatted on the stack: the heap is not to be trusted here.
    char line[256];
    size_t n = 0;
    auto put = [&](const char* s) {
      while (*s != '\0' && n < sizeof line - 1)
        line[n++] = *s++;
    };
    put(CHECK_PREFIX);
    put(what);
    if (p != nullptr)
    {
      put(" (address 0x");
      auto a = reinterpret_cast<uintptr_t>(p);
      for (int shift = 60; shift >= 0; shift -= 4)
      {
        unsigned digit = (a >> shift) & 0xf;
        if (n < sizeof line - 1 && (digit != 0 || shift == 0 || line[n - 1] != 'x'))
          line[n++] = "0123456789abcdef"[digit];
      }
      put(")");
    }
    put("; aborting\n");
    (void)!write(STDERR_FILENO, line, n);
    abort();
  }
} // namespace

[[noreturn]] SNMALLOC_COLD void snrs::check_failed() noexcept
{
  fail_with(
    "heap corruption detected (a write after free or past the end of a "
    "block, a wrong size given to a sized free, or a corrupted free list)",
    nullptr);
}

[[noreturn]] SNMALLOC_COLD void snrs::live::misuse(const char* what, const void* p)
{
  fail_with(what, p);
}
