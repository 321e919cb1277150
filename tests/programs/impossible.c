/* Requests no allocator could satisfy here: each entry point answers NULL
 * (or ENOMEM) with errno ENOMEM at once, costs no memory, and leaves the
 * allocator working; a large request that is possible still succeeds.
 *
 * usage: impossible IMPOSSIBLE_BYTES POSSIBLE_BYTES
 * Prints one line per entry point and "impossible ok" at the end. Each
 * refusal must take under 50 ms (a bound for loaded CI machines; it takes
 * microseconds) and leave the resident set within 8 MiB. */
#include "check.h"

#include <malloc.h>

/* The old block of a failed realloc is still the program's to free; GCC
 * cannot tell that the reallocation failed. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#include <time.h>

/* The thread's CPU time (user and system): what a refusal costs, whatever
 * else the machine is doing. */
static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
  fclose(f);
  return v;
}

static double started;
static long rss_before;

static void begin(void) {
  rss_before = rss_kib();
  errno = 0;
  started = now_ms();
}

static void refused(const char* what, int failed, int err) {
  double took = now_ms() - started;
  long grew = rss_kib() - rss_before;
  printf("%s: %s, errno %d, %.3f ms, +%ld KiB\n", what, failed ? "refused" : "GRANTED",
         err, took, grew);
  CHECK(failed && err == ENOMEM);
  CHECK(took < 50.0);
  CHECK(grew < 8 * 1024);
}

int main(int argc, char** argv) {
  CHECK(argc == 3);
  size_t huge = strtoull(argv[1], NULL, 0);
  size_t possible = strtoull(argv[2], NULL, 0);
  check_served_by_us("malloc");
  owns_fn mine = owns();
  void* p;

  begin(); p = malloc(huge); refused("malloc", p == NULL, errno);
  begin(); p = calloc(huge / 16, 16); refused("calloc", p == NULL, errno);
  char* old = malloc(100);
  CHECK(old != NULL);
  memset(old, 7, 100);
  begin(); p = realloc(old, huge); refused("realloc", p == NULL, errno);
  for (int i = 0; i < 100; i++) CHECK(old[i] == 7); /* the block stays valid */
  begin(); p = reallocarray(old, huge / 64, 64); refused("reallocarray", p == NULL, errno);
  free(old);
  begin(); p = aligned_alloc(4096, huge); refused("aligned_alloc", p == NULL, errno);
  begin(); p = memalign(4096, huge); refused("memalign", p == NULL, errno);
  begin(); p = valloc(huge); refused("valloc", p == NULL, errno);
  begin(); p = pvalloc(huge); refused("pvalloc", p == NULL, errno);
  /* An alignment as large as the request. */
  begin(); p = memalign(huge, 1); refused("memalign (huge alignment)", p == NULL, errno);
  void* out = (void*)0x1;
  begin();
  int rc = posix_memalign(&out, 4096, huge);
  refused("posix_memalign", rc == ENOMEM && out == (void*)0x1, rc);

  /* Still working, and a large possible request succeeds at once. */
  p = malloc(1000);
  CHECK(p != NULL && mine(p));
  free(p);
  double t = now_ms();
  char* big = malloc(possible);
  double took = now_ms() - t;
  CHECK(big != NULL && mine(big));
  big[0] = 1;
  big[possible - 1] = 2;
  free(big);
  printf("malloc(%zu) granted in %.3f ms\n", possible, took);
  CHECK(took < 1000.0);
  puts("impossible ok");
  return 0;
}
