// C++ operator new/delete, all replaceable forms, served by snmalloc;
// std::bad_alloc and the new-handler behave as the standard requires.
#include "check.h"

#include <cstddef>
#include <map>
#include <new>
#include <string>
#include <vector>

struct alignas(4096) Page {
  char bytes[4096];
};

static int handler_calls;
static void handler() {
  handler_calls++;
  std::set_new_handler(nullptr);  // next failure throws
}

int main() {
  check_served_by_us("_Znwm");
  check_served_by_us("_ZdlPv");
  owns_fn mine = owns();

  // All 20 forms, called directly.
  void* p;
  p = ::operator new(10); CHECK(mine(p)); ::operator delete(p);
  p = ::operator new[](10); CHECK(mine(p)); ::operator delete[](p);
  p = ::operator new(10, std::nothrow); CHECK(mine(p)); ::operator delete(p, std::nothrow);
  p = ::operator new[](10, std::nothrow); CHECK(mine(p)); ::operator delete[](p, std::nothrow);
  p = ::operator new(24); CHECK(mine(p)); ::operator delete(p, 24);
  p = ::operator new[](24); CHECK(mine(p)); ::operator delete[](p, 24);
  for (std::size_t a = 16; a <= (1u << 20); a *= 4) {
    std::align_val_t al{a};
    p = ::operator new(100, al);
    CHECK(mine(p) && (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0);
    ::operator delete(p, al);
    p = ::operator new[](100, al);
    CHECK(mine(p) && (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0);
    ::operator delete[](p, al);
    p = ::operator new(100, al, std::nothrow);
    CHECK(mine(p) && (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0);
    ::operator delete(p, al, std::nothrow);
    p = ::operator new[](100, al, std::nothrow);
    CHECK(mine(p) && (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0);
    ::operator delete[](p, al, std::nothrow);
    p = ::operator new(100, al);
    ::operator delete(p, 100, al);
    p = ::operator new[](100, al);
    ::operator delete[](p, 100, al);
  }

  // Over-aligned types use the aligned forms.
  Page* pg = new Page;
  CHECK(mine(pg) && (reinterpret_cast<uintptr_t>(pg) & 4095) == 0);
  delete pg;
  std::vector<Page> pages(5);
  CHECK((reinterpret_cast<uintptr_t>(pages.data()) & 4095) == 0);

  // Containers work.
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 20000; i++) m[std::to_string(i)].push_back(i);
  CHECK(m.size() == 20000 && m["19999"][0] == 19999);

  // A failing throwing new throws std::bad_alloc...
  bool threw = false;
  try {
    volatile std::size_t huge = SIZE_MAX / 2;
    p = ::operator new(huge);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    p = ::operator new(SIZE_MAX / 2, std::align_val_t{64});
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  // ... after calling the new-handler, which may make progress.
  std::set_new_handler(handler);
  threw = false;
  try {
    p = ::operator new(SIZE_MAX / 2);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw && handler_calls == 1);
  // nothrow new returns nullptr instead.
  CHECK(::operator new(SIZE_MAX / 2, std::nothrow) == nullptr);
  CHECK(::operator new[](SIZE_MAX / 2, std::align_val_t{256}, std::nothrow) == nullptr);
  std::puts("cxx ok");
  return 0;
}
