/* Under an address-space or data limit (set by the test with ulimit): the
 * program starts, fills memory with blocks of argv[1] bytes until malloc
 * fails, and checks that it failed with ENOMEM after getting a good share of
 * the limit, then frees everything and allocates again.
 *
 * usage: limits BLOCK_SIZE
 * Prints "limits ok: N% of the limit, ENOMEM, allocates again" and exits 0;
 * any other outcome exits 1 with a reason. The blocks are chained through
 * themselves, so that the program holds nothing else. */
#include "check.h"

#include <sys/resource.h>

int main(int argc, char** argv) {
  CHECK(argc == 2);
  size_t size = strtoul(argv[1], NULL, 0);
  CHECK(size >= sizeof(void*));
  struct rlimit as, data;
  CHECK(getrlimit(RLIMIT_AS, &as) == 0 && getrlimit(RLIMIT_DATA, &data) == 0);
  rlim_t limit = as.rlim_cur < data.rlim_cur ? as.rlim_cur : data.rlim_cur;
  CHECK(limit != RLIM_INFINITY);
  check_served_by_us("malloc");
  owns_fn mine = owns();

  void* head = NULL;
  size_t blocks = 0;
  for (;;) {
    errno = 0;
    void** p = malloc(size);
    if (p == NULL) break;
    if (blocks == 0) CHECK(mine(p));
    memset(p, 0x5a, size < 4096 ? size : 4096);
    *p = head;
    head = p;
    blocks++;
  }
  CHECK(errno == ENOMEM);
  double share = 100.0 * (double)(blocks * size) / (double)limit;
  /* The same failure, again, at once: no abort, no hang. */
  errno = 0;
  CHECK(malloc(size) == NULL && errno == ENOMEM);
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
  void* again = malloc(size * 64);
  CHECK(again != NULL && mine(again));
  memset(again, 1, size * 64);
  free(again);
  printf("limits ok: %.0f%% of the limit, ENOMEM, allocates again\n", share);
  return 0;
}
