// The failure path of C++ operator new, the only code of ours built with
// exceptions: the standard requires calling the installed new-handler and
// retrying, then throwing std::bad_alloc (or returning NULL for nothrow).
#include "snmalloc_rs.h"

#include <new>

namespace
{
  void* retry(size_t size, size_t align)
  {
    return align == 0 ? snrs_malloc(size) : snrs_aligned_alloc(align, size);
  }
} // namespace

SNRS_API void* snrs_new_failed(size_t size, size_t align)
{
  for (;;)
  {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr)
      throw std::bad_alloc();
    handler();
    if (void* p = retry(size, align))
      return p;
  }
}

SNRS_API void* snrs_new_failed_nothrow(size_t size, size_t align) noexcept
{
  try
  {
    return snrs_new_failed(size, align);
  }
  catch (...)
  {
    return nullptr;
  }
}
