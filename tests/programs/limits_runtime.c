/* Limits set while the program runs, and memory freed under a limit serving
 * the next request of any size.
 *
 * usage: limits_runtime threads   RLIMIT_AS of 1 GiB set at run time (the
 *                                 process maps far less); then, four times,
 *                                 a new thread (its stack needs the room)
 *                                 fills the limit with 1 MiB blocks, then
 *                                 with 64-byte ones, until ENOMEM, frees
 *                                 everything and ends (the shape of glibc's
 *                                 tst-malloc-thread-fail)
 *        limits_runtime small     under the limit the test set (ulimit -v):
 *                                 64-byte blocks until ENOMEM, all freed, then
 *                                 one block of 16 MiB
 *        limits_runtime child     a forked child sets RLIMIT_AS to 200 MiB
 *                                 and allocates until ENOMEM, frees it all,
 *                                 and allocates 90 MiB
 * Prints "limits_runtime MODE ok" and exits 0; any other outcome exits 1.
 * Blocks are chained through themselves: the program holds nothing else. */
#include "check.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static owns_fn mine;

/* What the process maps now (VmSize), in bytes. */
static size_t mapped_now(void) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  size_t kib = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmSize:", 7) == 0) kib = (size_t)atol(line + 7);
  fclose(f);
  CHECK(kib != 0);
  return kib << 10;
}

static void limit_to(size_t bytes) {
  struct rlimit r = {bytes, bytes};
  CHECK(setrlimit(RLIMIT_AS, &r) == 0);
}

/* Blocks of `size` until malloc fails (with ENOMEM); returns the chain and
 * the bytes in it. */
static void* fill(size_t size, size_t* total) {
  void* head = NULL;
  *total = 0;
  for (;;) {
    errno = 0;
    void** p = malloc(size);
    if (p == NULL) {
      CHECK(errno == ENOMEM);
      return head;
    }
    CHECK(mine(p));
    *p = head;
    head = p;
    *total += size;
  }
}

static void release(void* head) {
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
}

static void* fill_and_free(void* arg) {
  (void)arg;
  size_t big, small;
  void* blocks = fill(MiB, &big);
  CHECK(big >= 128 * MiB);
  release(blocks);
  blocks = fill(64, &small);
  CHECK(small >= 64 * MiB);
  release(blocks);
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  check_served_by_us("malloc");
  mine = owns();
  const char* mode = argv[1];
  if (strcmp(mode, "threads") == 0) {
    CHECK(mapped_now() < 512 * MiB);
    limit_to(1024 * MiB);
    for (int i = 0; i < 4; i++) {
      pthread_t t;
      int err = pthread_create(&t, NULL, fill_and_free, NULL);
      if (err != 0) {
        fprintf(stderr, "thread %d: pthread_create: %s\n", i, strerror(err));
        return 1;
      }
      CHECK(pthread_join(t, NULL) == 0);
    }
  } else if (strcmp(mode, "small") == 0) {
    size_t small;
    void* blocks = fill(64, &small);
    CHECK(small >= 32 * MiB);
    release(blocks);
    char* big = malloc(16 * MiB);
    CHECK(big != NULL && mine(big));
    memset(big, 1, 16 * MiB);
    free(big);
  } else if (strcmp(mode, "child") == 0) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      if (mapped_now() >= 100 * MiB) _exit(5);
      limit_to(200 * MiB);
      size_t total;
      void* blocks = fill(MiB, &total);
      if (total < 90 * MiB) _exit(3);
      release(blocks);
      void* again = malloc(90 * MiB);
      _exit(again != NULL ? 17 : 4);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 17) {
      fprintf(stderr, "limits_runtime child: status %#x\n", status);
      return 1;
    }
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  printf("limits_runtime %s ok\n", mode);
  return 0;
}
