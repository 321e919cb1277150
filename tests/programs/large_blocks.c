/* Large blocks of sizes that are not powers of two, each entry point, under
 * an address-space limit (set by the test with ulimit) or with none: the
 * library maps such blocks on their own (shim/backend/exact_blocks.h). Checks contents across realloc, zeroing, alignment,
 * usable sizes, frees from another thread and from a forked child, that a
 * single block of 85% of the limit is granted, and that the allocator still
 * owns what it serves.
 *
 * usage: large_blocks
 * Prints "large_blocks ok" and exits 0; any other outcome exits 1. */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static owns_fn mine;

/* Byte i of a block filled by fill(). */
static unsigned char pattern(size_t i) { return (unsigned char)(i * 131 + (i >> 12)); }

static void fill(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i += 4093) p[i] = pattern(i);
  if (n) p[n - 1] = pattern(n - 1);
}

/* The sampled bytes of fill() below n (fill()'s own n may be larger). */
static void check_prefix(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i += 4093) CHECK(p[i] == pattern(i));
}

static void check_filled(const unsigned char* p, size_t n) {
  check_prefix(p, n);
  if (n) CHECK(p[n - 1] == pattern(n - 1));
}

static void* free_all(void* arg) {
  void** blocks = arg;
  for (int i = 0; blocks[i] != NULL; i++) free(blocks[i]);
  return NULL;
}

int main(void) {
  check_served_by_us("malloc");
  mine = owns();
  struct rlimit as;
  CHECK(getrlimit(RLIMIT_AS, &as) == 0);
  size_t budget = as.rlim_cur == RLIM_INFINITY ? 1024 * MiB : as.rlim_cur;

  /* One block of 85% of the limit (its power-of-two chunk would not fit). */
  size_t big = budget / 100 * 85;
  unsigned char* p = malloc(big);
  CHECK(p != NULL && mine(p));
  CHECK(malloc_usable_size(p) >= big);
  fill(p, big);
  check_filled(p, big);
  free(p);

  /* calloc: zeroed. */
  size_t csize = budget / 100 * 45 + 12345;
  unsigned char* z = calloc(1, csize);
  CHECK(z != NULL && mine(z));
  for (size_t i = 0; i < csize; i += 4096) CHECK(z[i] == 0);
  CHECK(z[csize - 1] == 0);
  free(z);

  /* realloc growing from a small block to 40% of the limit and back,
   * contents kept at every step. */
  size_t n = 1000;
  unsigned char* r = malloc(n);
  CHECK(r != NULL);
  fill(r, n);
  while (n < budget / 100 * 40) {
    size_t next = n + n / 3 + 4097;
    unsigned char* q = realloc(r, next);
    CHECK(q != NULL && mine(q));
    check_filled(q, n);
    fill(q, next);
    r = q;
    n = next;
  }
  for (size_t m = n / 3; m > 1000; m /= 3) {
    unsigned char* q = realloc(r, m);
    CHECK(q != NULL && mine(q));
    check_prefix(q, m);
    r = q;
  }
  free(r);

  /* Alignments beyond a page. */
  void* a = aligned_alloc(MiB, 30 * MiB + 12345);
  CHECK(a != NULL && ((uintptr_t)a & (MiB - 1)) == 0 && mine(a));
  memset(a, 1, 30 * MiB + 12345);
  free(a);
  void* pm = NULL;
  CHECK(posix_memalign(&pm, 2 * MiB, 5 * MiB + 1) == 0);
  CHECK(((uintptr_t)pm & (2 * MiB - 1)) == 0 && mine(pm));
  memset(pm, 2, 5 * MiB + 1);
  free(pm);

  /* Many odd sizes at once: more than half of the limit in blocks whose
   * power-of-two chunks would not fit in it. */
  enum { MAX = 4096 };
  static void* blocks[MAX + 1];
  size_t each = 600 * 1000, held = 0;
  int count = 0;
  while (count < MAX && held + each < budget / 100 * 70) {
    blocks[count] = malloc(each);
    CHECK(blocks[count] != NULL);
    memset(blocks[count], count & 0xff, 4096);
    held += each;
    count++;
  }
  CHECK(held > budget / 2);
  /* Half freed by another thread, a quarter by a forked child (its copy),
   * the rest here. */
  static void* theirs[MAX + 1];
  int t = 0;
  for (int i = 0; i < count; i += 2) theirs[t++] = blocks[i], blocks[i] = NULL;
  theirs[t] = NULL;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, free_all, theirs) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    for (int i = 1; i < count; i += 2) {
      if (((unsigned char*)blocks[i])[0] != (i & 0xff)) _exit(3);
      free(blocks[i]);
    }
    void* again = malloc(budget / 4 + 1);
    _exit(again != NULL ? 0 : 4);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 1; i < count; i += 2) {
    CHECK(((unsigned char*)blocks[i])[0] == (i & 0xff));
    free(blocks[i]);
  }

  /* All of it is available again. */
  p = malloc(big);
  CHECK(p != NULL);
  memset(p, 3, big);
  free(p);
  /* More than the limit: refused cleanly. */
  if (as.rlim_cur != RLIM_INFINITY) {
    errno = 0;
    CHECK(malloc(budget + 12345) == NULL && errno == ENOMEM);
  }
  printf("large_blocks ok\n");
  return 0;
}
