/* A successful call leaves errno as it was, in every entry point, on every
 * path: the first allocation of the process and of a thread, small, large
 * and huge blocks, aligned forms, reallocation in place and moving, frees
 * that return memory, and in a forked child. errno is set to a value no
 * allocator would use before each call and checked after it. */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENTINEL 12345

#define KEEPS_ERRNO(what, call)                                              \
  do {                                                                       \
    errno = SENTINEL;                                                        \
    call;                                                                    \
    if (errno != SENTINEL) {                                                 \
      fprintf(stderr, "errno.c: %s set errno to %d\n", what, errno);        \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

static void every_entry_point(void) {
  void* p;
  KEEPS_ERRNO("malloc(1)", p = malloc(1));
  CHECK(p != NULL);
  KEEPS_ERRNO("free", free(p));
  size_t sizes[] = {1, 16, 100, 1000, 4096, 20000, 70000, 300000, 2u << 20, 40u << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    size_t n = sizes[i];
    KEEPS_ERRNO("malloc", p = malloc(n));
    CHECK(p != NULL);
    memset(p, 1, n);
    size_t usable;
    KEEPS_ERRNO("malloc_usable_size", usable = malloc_usable_size(p));
    CHECK(usable >= n);
    KEEPS_ERRNO("realloc (grow)", p = realloc(p, n * 3 + 1));
    CHECK(p != NULL);
    KEEPS_ERRNO("realloc (shrink)", p = realloc(p, n / 2 + 1));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
    KEEPS_ERRNO("calloc", p = calloc(n, 1));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
    KEEPS_ERRNO("memalign", p = memalign(64, n));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
    KEEPS_ERRNO("aligned_alloc", p = aligned_alloc(4096, n));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
    int r;
    KEEPS_ERRNO("posix_memalign", r = posix_memalign(&p, 1u << 20, n));
    CHECK(r == 0);
    KEEPS_ERRNO("free", free(p));
    KEEPS_ERRNO("valloc", p = valloc(n));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
#ifdef __GLIBC__ /* glibc's extras; the musl build has none */
    KEEPS_ERRNO("pvalloc", p = pvalloc(n));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
#endif
    KEEPS_ERRNO("reallocarray", p = reallocarray(NULL, n, 2));
    CHECK(p != NULL);
    KEEPS_ERRNO("free", free(p));
  }
  KEEPS_ERRNO("free(NULL)", free(NULL));
#ifdef __GLIBC__
  KEEPS_ERRNO("malloc_trim", malloc_trim(0));
#endif
  /* A huge block: reserved and returned on the way. */
  KEEPS_ERRNO("malloc (1 GiB)", p = malloc(1u << 30));
  CHECK(p != NULL);
  KEEPS_ERRNO("free (1 GiB)", free(p));
}

static void* thread_main(void* arg) {
  (void)arg;
  void* p;
  /* The thread's first allocation sets up its allocator. */
  KEEPS_ERRNO("a thread's first malloc", p = malloc(24));
  CHECK(p != NULL);
  every_entry_point();
  free(p);
  return NULL;
}

int main(void) {
  void* first;
  /* The process's first allocation: nothing in main runs before it. */
  KEEPS_ERRNO("the first malloc", first = malloc(1));
  CHECK(first != NULL);
  check_served_by_us("malloc");
  every_entry_point();
  for (int i = 0; i < 4; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
  }
  pid_t pid;
  KEEPS_ERRNO("fork", pid = fork());
  CHECK(pid >= 0);
  if (pid == 0) {
    every_entry_point();
    _exit(0);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  free(first);
  puts("errno ok");
  return 0;
}
