// The hardened build's messages (check_messages.cc): in an optimised build
// snmalloc's failed checks are a bare trap (SIGILL, no word of why); the
// hardened build says what it caught. Included before any snmalloc header,
// whose SNMALLOC_FAST_FAIL it replaces.
#pragma once

#include <snmalloc/ds_core/defines.h>

namespace snrs
{
  /// snmalloc's own checks failed (SNMALLOC_FAST_FAIL).
  [[noreturn]] SNMALLOC_COLD void check_failed() noexcept;
} // namespace snrs

namespace snrs::live
{
  /// Our checks of frees and lookups (live_check.h) caught `what` at `p`.
  [[noreturn]] SNMALLOC_COLD void misuse(const char* what, const void* p);
} // namespace snrs::live

#undef SNMALLOC_FAST_FAIL
#define SNMALLOC_FAST_FAIL() snrs::check_failed()
