// C++ new of a size no allocator could satisfy: the throwing forms throw
// std::bad_alloc at once, the nothrow forms return nullptr, and the
// allocator still works afterwards.
//   impossible_new BYTES
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>

// The thread's CPU time in ms (user and system): what the refusals cost,
// whatever else the machine is doing.
static double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  size_t huge = std::strtoull(argv[1], nullptr, 0);
  double start = cpu_ms();
  bool threw = false;
  // Direct calls of the allocation functions: a new-expression whose
  // result is unused may be elided by the compiler.
  try {
    void* p = ::operator new(huge);
    ::operator delete(p);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  try {
    void* p = ::operator new(huge, std::align_val_t(4096));
    ::operator delete(p, std::align_val_t(4096));
    threw = false;
  } catch (const std::bad_alloc&) {
  }
  void* q = ::operator new(huge, std::nothrow);
  void* r = ::operator new(huge, std::align_val_t(64), std::nothrow);
  double ms = cpu_ms() - start;
  int* ok = new int(42);
  std::printf("threw %d, nothrow %p %p, %.3f ms\n", threw, q, r, ms);
  if (!threw || q != nullptr || r != nullptr || ms > 200.0 || *ok != 42) return 1;
  delete ok;
  std::puts("impossible new ok");
  return 0;
}
