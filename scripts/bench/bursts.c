/* A server's day: bursts of work that allocate and free a lot, separated by
 * idle periods in which the program allocates nothing. What an allocator
 * does with freed memory while the program idles is what RSS-based
 * dashboards and autoscalers see (scripts/bench/rss_over_time.py draws it).
 *   bursts BURSTS IDLE_MS
 * Each burst builds a working set of about 250 MiB (small objects of 16 B
 * to 2 KiB and blocks of 256 KiB to 4 MiB), touches it, frees it in a
 * different order, and goes idle. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SMALL = 400000, BIG = 48 };

int main(int argc, char** argv) {
  int bursts = argc > 1 ? atoi(argv[1]) : 4;
  long idle_ms = argc > 2 ? atol(argv[2]) : 1500;
  static void* small[SMALL];
  void* big[BIG];
  uint64_t x = 0x9e3779b97f4a7c15ull;
  unsigned long sum = 0;
  for (int b = 0; b < bursts; b++) {
    for (int i = 0; i < SMALL; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      size_t n = 16 + (size_t)(x % 2033);
      small[i] = malloc(n);
      memset(small[i], i, n);
    }
    for (int i = 0; i < BIG; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      size_t n = (256u << 10) + (size_t)(x % (3840u << 10));
      big[i] = malloc(n);
      memset(big[i], i, n);
    }
    for (int i = 0; i < SMALL; i += 2) sum += ((unsigned char*)small[i])[0];
    for (int i = 0; i < SMALL; i += 2) free(small[i]);
    for (int i = 0; i < BIG; i++) free(big[i]);
    for (int i = 1; i < SMALL; i += 2) free(small[i]);
    struct timespec t = {idle_ms / 1000, (idle_ms % 1000) * 1000000};
    nanosleep(&t, NULL);
  }
  printf("bursts done %lu\n", sum);
  return 0;
}
