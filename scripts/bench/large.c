/* Large allocation churn: blocks of 1 to 16 MiB, up to 12 live, each
 * touched once per page, as a server's big buffers are.
 *   large OPS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  long ops = argc > 1 ? atol(argv[1]) : 3000;
  enum { LIVE = 12 };
  char* live[LIVE] = {0};
  uint64_t x = 12345;
  unsigned long sum = 0;
  for (long i = 0; i < ops; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int k = (int)(x % LIVE);
    free(live[k]);
    size_t n = (1u << 20) + (size_t)((x >> 16) % (15u << 20));
    char* p = malloc(n);
    for (size_t o = 0; o < n; o += 4096) p[o] = (char)o;
    sum += (unsigned char)p[n / 2];
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  printf("large done %lu\n", sum);
  return 0;
}
