// The failure path of C++ operator new, the only code of ours built with
// exceptions: the standard requires calling the installed new-handler and
// retrying, then throwing std::bad_alloc (or returning NULL for nothrow).
//
// The library does not depend on the C++ runtime: loading libstdc++ into
// every preloaded process (python, git, sh, ...) would cost about half a
// millisecond of start-up each. Every reference this file makes to the
// runtime is weak instead. A process that uses operator new almost always
// has libstdc++ loaded globally, and then these bind to the program's own
// runtime (one new-handler, one exception state). Without it (a C program,
// or a C++ runtime other than libstdc++), a failing throwing new cannot
// throw and aborts with a message.
#include "api/snmalloc_rs.h"

#include <new>
#include <stdlib.h>
#include <unistd.h>

// Weak, so that they bind to the process's C++ runtime when it has one and
// are null otherwise. std::__throw_bad_alloc is libstdc++'s out-of-line
// `throw std::bad_alloc()`: using it keeps the exception's type_info and
// vtable out of this file, whatever the optimisation level.
__asm__(
  ".weak _ZSt15get_new_handlerv\n"
  ".weak _ZSt17__throw_bad_allocv\n"
  ".weak __cxa_begin_catch\n"
  ".weak __cxa_end_catch\n"
  ".weak __gxx_personality_v0\n"
  // clang (the musl build) calls std::terminate when an exception leaves a
  // noexcept function; GCC calls it from the personality routine.
  ".weak _ZSt9terminatev\n");

// Redeclared weak for the compiler too, so that it tests their addresses.
namespace std
{
  __attribute__((weak)) new_handler get_new_handler() noexcept;
  [[noreturn]] __attribute__((weak)) void __throw_bad_alloc();
} // namespace std

namespace
{
  void* retry(size_t size, size_t align)
  {
    return align == 0 ? snrs_malloc(size) : snrs_aligned_alloc(align, size);
  }

  bool have_cxx_runtime()
  {
    return &std::get_new_handler != nullptr &&
      &std::__throw_bad_alloc != nullptr;
  }

  [[noreturn]] void no_runtime()
  {
    static const char msg[] =
      "snmalloc-rs: operator new failed and no C++ runtime is loaded "
      "globally to throw std::bad_alloc; aborting\n";
    (void)!write(2, msg, sizeof msg - 1);
    abort();
  }
} // namespace

SNRS_API void* snrs_new_failed(size_t size, size_t align)
{
  if (!have_cxx_runtime())
    no_runtime();
  for (;;)
  {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr)
      std::__throw_bad_alloc();
    handler();
    if (void* p = retry(size, align))
      return p;
  }
}

SNRS_API void* snrs_new_failed_nothrow(size_t size, size_t align) noexcept
{
  if (!have_cxx_runtime())
    return nullptr;
  try
  {
    return snrs_new_failed(size, align);
  }
  catch (...)
  {
    return nullptr;
  }
}
