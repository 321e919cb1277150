/* Zero-filled large buffers: 20 blocks of 5-25 MiB stay alive; in a loop a
 * random one is replaced by a new one of another size, filled with memset
 * when made (the shape of std::vector<char>(n), or calloc-then-use
 * buffers). An allocator that drops the pages of the memory it hands out
 * again makes the kernel fault them all back in, page by page. A workload
 * of scripts/bench.sh, and of tests/memory.rs (which bounds the faults).
 *   zerofill [ITERATIONS]      (default 2000)
 * Prints "zerofill done SUM" and, on stderr, the page faults taken, the
 * pages written, and the most pages live at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 2000;
  enum { LIVE = 20 };
  char* live[LIVE] = {0};
  size_t live_pages[LIVE] = {0}, now = 0, peak = 0;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  unsigned long sum = 0, pages = 0;
  for (long i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int k = (int)(x % LIVE);
    free(live[k]);
    size_t n = (5u << 20) + (size_t)((x >> 24) % (20u << 20));
    char* p = malloc(n);
    if (p == NULL) return 1;
    memset(p, 0, n);
    pages += (n + 4095) / 4096;
    now += (n + 4095) / 4096 - live_pages[k];
    live_pages[k] = (n + 4095) / 4096;
    peak = now > peak ? now : peak;
    sum += (unsigned char)p[n / 2] + n % 7;
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("zerofill done %lu\n", sum);
  fprintf(stderr, "zerofill: %ld page faults, %lu pages written, %zu pages live at most\n",
          ru.ru_minflt, pages, peak);
  return 0;
}
