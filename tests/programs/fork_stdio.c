/* fork() from several threads while others read a long line with getline
 * (which allocates, crossing into large blocks, while it holds its FILE
 * lock), flush every stream with fflush(NULL) (which holds stdio's list lock
 * while it waits for each FILE lock) and allocate. glibc's fork takes the
 * stdio list lock after the pthread_atfork prepare handlers, so an allocator
 * that blocks allocation from its prepare handler can deadlock here (the
 * shape of glibc's malloc/tst-malloc-fork-deadlock).
 *
 * usage: fork_stdio SECONDS [TIMEOUT]
 * Runs for SECONDS, then stops every thread. Prints "fork_stdio ok, N forks"
 * and exits 0 when every thread finished and every child exited 17 after
 * allocating; a watchdog ends a hung run with exit status 124 after TIMEOUT
 * seconds (default 60). With ANY=1 in the environment it runs under any
 * allocator (for comparisons); otherwise it insists on snmalloc-rs. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FORKERS = 4, READERS = 8, LINE = 50000 };

static int stop;
static int forks;
static char path[64];
static owns_fn mine;

static int stopping(void) { return __atomic_load_n(&stop, __ATOMIC_RELAXED); }

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "fork_stdio: timed out (a thread or a child hung)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(124);
}

/* The child allocates on every path (small, medium, large) and leaves. */
static void child(void) {
  for (size_t k = 0; k < 100; k++) {
    void* p = malloc(1 + k * 997);
    if (p == NULL || (mine != NULL && !mine(p))) _exit(3);
    free(p);
  }
  void* big = malloc(3u << 20);
  if (big == NULL) _exit(4);
  free(big);
  _exit(17);
}

static void* forker(void* arg) {
  (void)arg;
  while (!stopping()) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork_stdio: fork");
      _exit(1);
    }
    if (pid == 0) child();
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 17) {
      fprintf(stderr, "fork_stdio: child failed, status %#x\n", status);
      _exit(1);
    }
    __atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void* reader(void* arg) {
  (void)arg;
  FILE* f = fopen(path, "r");
  CHECK(f != NULL);
  while (!stopping()) {
    rewind(f);
    char* line = NULL;
    size_t cap = 0;
    CHECK(getline(&line, &cap, f) == LINE + 1);
    free(line);
  }
  fclose(f);
  return NULL;
}

static void* flusher(void* arg) {
  (void)arg;
  while (!stopping()) CHECK(fflush(NULL) == 0);
  return NULL;
}

static void* allocator(void* arg) {
  (void)arg;
  void* keep[32] = {0};
  for (size_t i = 0; !stopping(); i++) {
    size_t k = i % 32;
    free(keep[k]);
    keep[k] = malloc(i % 16 == 0 ? (1u << 20) + i % 4096 : 1 + (i * 7919) % 4096);
    CHECK(keep[k] != NULL);
  }
  for (int k = 0; k < 32; k++) free(keep[k]);
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  unsigned seconds = (unsigned)atoi(argv[1]);
  unsigned timeout = argc > 2 ? (unsigned)atoi(argv[2]) : 60;
  if (getenv("ANY") == NULL) {
    check_served_by_us("malloc");
    mine = owns();
  }
  signal(SIGALRM, on_alarm);
  alarm(timeout);

  snprintf(path, sizeof path, "/tmp/fork_stdio.%d", (int)getpid());
  FILE* w = fopen(path, "w");
  CHECK(w != NULL);
  for (int i = 0; i < LINE; i++) fputc('x', w);
  fputc('\n', w);
  CHECK(fclose(w) == 0);

  pthread_t t[FORKERS + READERS + 2];
  int n = 0;
  for (int i = 0; i < FORKERS; i++) pthread_create(&t[n++], NULL, forker, NULL);
  for (int i = 0; i < READERS; i++) pthread_create(&t[n++], NULL, reader, NULL);
  pthread_create(&t[n++], NULL, flusher, NULL);
  pthread_create(&t[n++], NULL, allocator, NULL);
  sleep(seconds);
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  unlink(path);
  printf("fork_stdio ok, %d forks\n", forks);
  return 0;
}
