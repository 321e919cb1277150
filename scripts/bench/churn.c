/* Single-thread churn of small objects of mixed sizes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  long ops = argc > 1 ? atol(argv[1]) : 50000000;
  enum { LIVE = 4096 };
  static void* live[LIVE];
  uint64_t x = 88172645463325252ull, sum = 0;
  for (long i = 0; i < ops; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t k = x % LIVE;
    free(live[k]);
    size_t n = 8 + (x >> 20) % ((x >> 40) % 8 == 0 ? 4096 : 256);
    char* p = malloc(n);
    p[0] = (char)i;
    sum += (uintptr_t)p[0];
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  printf("%llu\n", (unsigned long long)sum);
  return 0;
}
