/* Big-block replacement: a handful of 5-25 MiB blocks stay alive; in a loop
 * one of them is freed and replaced by a new one of another size, which is
 * filled, as an image or a frame buffer would be.
 *   bigblocks OPS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  long ops = argc > 1 ? atol(argv[1]) : 400;
  enum { LIVE = 5 };
  char* live[LIVE] = {0};
  uint64_t x = 88172645463325252ull;
  unsigned long sum = 0;
  for (long i = 0; i < ops; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int k = (int)(x % LIVE);
    free(live[k]);
    size_t n = (5u << 20) + (size_t)((x >> 20) % (20u << 20));
    char* p = malloc(n);
    if (p == NULL) return 1;
    memset(p, (int)i, n);
    sum += (unsigned char)p[n - 1];
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  printf("bigblocks done %lu\n", sum);
  return 0;
}
