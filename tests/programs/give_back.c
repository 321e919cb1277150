/* Memory freed by the program leaves the resident set.
 *
 * usage: give_back large    1 GiB in 1 MiB blocks, touched, freed; after 1 s
 *                           of idleness RSS is within 64 MiB of the start
 *        give_back small    1 GiB in 64-byte blocks, freed; malloc_trim(0)
 *                           returns 1 and brings RSS within 64 MiB; a
 *                           second malloc_trim(0) returns 0
 *        give_back at-once  1 MiB blocks with SNMALLOC_DECAY=0: nothing is
 *                           kept for reuse (mallinfo2's fordblks is 0)
 *        give_back kernel   1 MiB blocks with SNMALLOC_DECAY=kernel: the
 *                           pages stay resident until the kernel needs them
 *        give_back mallinfo mallinfo2 counts a known allocation pattern
 * Prints the figures and "give_back ok". Blocks are chained through
 * themselves: the program holds nothing else. */
#include "check.h"

#include <malloc.h>
#include <unistd.h>

static long rss_mib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
  fclose(f);
  return v / 1024;
}

/* Allocates `total` bytes in blocks of `size`, writing each fully. */
static void* fill(size_t size, size_t total) {
  void* head = NULL;
  for (size_t i = 0; i < total / size; i++) {
    void** p = malloc(size);
    CHECK(p != NULL);
    memset(p, (int)i, size);
    *p = head;
    head = p;
  }
  return head;
}

static void release(void* head) {
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  check_served_by_us("malloc");
  const char* mode = argv[1];
  long start = rss_mib();
  if (strcmp(mode, "large") == 0 || strcmp(mode, "at-once") == 0 ||
      strcmp(mode, "kernel") == 0) {
    void* blocks = fill(1u << 20, 1u << 30);
    long full = rss_mib();
    release(blocks);
    sleep(1);
    long after = rss_mib();
    struct mallinfo2 mi = mallinfo2();
    printf("%s: start %ld MiB, full %ld MiB, 1 s after freeing %ld MiB, kept %zu MiB\n",
           mode, start, full, after, mi.fordblks >> 20);
    CHECK(full - start >= 1000);
    if (strcmp(mode, "kernel") == 0) {
      /* MADV_FREE: resident until memory is needed elsewhere. */
      CHECK(after - start > 512);
    } else {
      CHECK(after - start <= 64);
      if (strcmp(mode, "at-once") == 0) CHECK(mi.fordblks == 0);
    }
  } else if (strcmp(mode, "small") == 0) {
    void* blocks = fill(64, 1u << 30);
    long full = rss_mib();
    release(blocks);
    long freed = rss_mib();
    int first = malloc_trim(0);
    long trimmed = rss_mib();
    int second = malloc_trim(0);
    printf("small: start %ld MiB, full %ld MiB, freed %ld MiB, trim -> %d, %ld MiB, "
           "again -> %d\n", start, full, freed, first, trimmed, second);
    CHECK(full - start >= 1000);
    CHECK(first == 1 && second == 0);
    CHECK(trimmed - start <= 64);
  } else if (strcmp(mode, "mallinfo") == 0) {
    struct mallinfo2 before = mallinfo2();
    void* blocks = fill(1u << 20, 200u << 20);
    struct mallinfo2 during = mallinfo2();
    size_t grew = during.uordblks - before.uordblks;
    printf("mallinfo: in use grew by %zu MiB for 200 MiB of 1 MiB blocks\n", grew >> 20);
    /* 1 MiB blocks are whole chunks: in use grows by the blocks, plus at
     * most one refill of the thread's cache. */
    CHECK(grew >= (200u << 20) && grew <= (200u << 20) + (8u << 20));
    CHECK(during.arena == during.uordblks + during.fordblks);
    CHECK(during.usmblks >= during.uordblks);
    release(blocks);
    struct mallinfo2 after = mallinfo2();
    printf("mallinfo: after freeing, in use %zu MiB, kept %zu MiB\n", after.uordblks >> 20,
           after.fordblks >> 20);
    CHECK(after.uordblks <= before.uordblks + (8u << 20));
    CHECK(after.fordblks > 0 && after.keepcost == after.fordblks);
    CHECK(malloc_trim(0) == 1);
    CHECK(mallinfo2().fordblks == 0);
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  puts("give_back ok");
  return 0;
}
