/* Aligned allocation churn: posix_memalign and aligned_alloc with
 * alignments from 16 bytes to 64 KiB and mixed sizes.
 *   aligned OPS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  long ops = argc > 1 ? atol(argv[1]) : 5000000;
  enum { LIVE = 1024 };
  static void* live[LIVE];
  uint64_t x = 777;
  for (long i = 0; i < ops; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int k = (int)(x % LIVE);
    free(live[k]);
    size_t align = (size_t)16 << ((x >> 12) % 13);
    size_t n = 1 + (size_t)((x >> 24) % 3000);
    void* p = NULL;
    if (i & 1) {
      if (posix_memalign(&p, align, n) != 0) return 1;
    } else {
      p = aligned_alloc(align, (n + align - 1) / align * align);
    }
    if (p == NULL || ((uintptr_t)p & (align - 1)) != 0) return 1;
    *(char*)p = 1;
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  puts("aligned done");
  return 0;
}
