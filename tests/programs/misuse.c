/* What the allocator does when a program misuses it: each case runs in a
 * child process of its own, and this program reports how the child ended.
 *
 * usage: misuse [CASE...]     (no argument: every case)
 * Prints one line per case, "CASE<TAB>OUTCOME<TAB>FIRST LINE OF STDERR",
 * where OUTCOME is "continues" (the child ran on and exited normally),
 * "abort" (SIGABRT, usually after a message), "segv" (SIGSEGV), or
 * "signal N" / "exit N" for anything else. Works under any allocator. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* After the misuse, the program goes on allocating, as a real one would:
 * corruption that is caught late is caught here. */
static void go_on(size_t size) {
  void* keep[256];
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 256; i++) keep[i] = malloc(size);
    for (int i = 0; i < 256; i++) free(keep[i]);
  }
  for (int i = 0; i < 1000; i++) free(malloc(16 + (size_t)i * 8));
}

static void* shared;
static void* alloc_48(void* arg) {
  (void)arg;
  shared = malloc(48);
  return NULL;
}
static void* free_shared(void* arg) {
  (void)arg;
  free(shared);
  return NULL;
}
static pthread_mutex_t hold = PTHREAD_MUTEX_INITIALIZER;
static void* owner(void* arg) {
  (void)arg;
  shared = malloc(48);
  pthread_mutex_lock(&hold); /* stays alive, idle, until released */
  pthread_mutex_unlock(&hold);
  go_on(48);
  return NULL;
}

static int global_array[16];

static void run(const char* name) {
  if (strcmp(name, "double-free-small") == 0) {
    char* p = malloc(48);
    free(p);
    free(p);
    go_on(48);
  } else if (strcmp(name, "double-free-large") == 0) {
    char* p = malloc(4u << 20);
    p[0] = 1;
    free(p);
    free(p);
    go_on(4u << 20);
  } else if (strcmp(name, "double-free-cross-thread") == 0) {
    /* A allocates and stays alive; B frees; C frees again. */
    pthread_t a, b, c;
    pthread_mutex_lock(&hold);
    pthread_create(&a, NULL, owner, NULL);
    while (__atomic_load_n(&shared, __ATOMIC_ACQUIRE) == NULL) sched_yield();
    pthread_create(&b, NULL, free_shared, NULL);
    pthread_join(b, NULL);
    pthread_create(&c, NULL, free_shared, NULL);
    pthread_join(c, NULL);
    go_on(48);
    pthread_mutex_unlock(&hold);
    pthread_join(a, NULL);
  } else if (strcmp(name, "double-free-cross-thread-gone") == 0) {
    /* The allocating thread has ended before both frees. */
    pthread_t a, b;
    pthread_create(&a, NULL, alloc_48, NULL);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, free_shared, NULL);
    pthread_join(b, NULL);
    free(shared);
    go_on(48);
  } else if (strcmp(name, "double-free-aligned") == 0) {
    void* p = NULL;
    if (posix_memalign(&p, 4096, 100) != 0) _exit(3);
    free(p);
    free(p);
    go_on(100);
  } else if (strcmp(name, "realloc-after-free") == 0) {
    char* p = malloc(48);
    free(p);
    p = realloc(p, 4000);
    go_on(48);
  } else if (strcmp(name, "interior-pointer") == 0) {
    char* p = malloc(64);
    free(p + 16);
    go_on(64);
  } else if (strcmp(name, "stack-pointer") == 0) {
    int local[8];
    free(local);
    go_on(32);
  } else if (strcmp(name, "static-pointer") == 0) {
    free(global_array);
    go_on(32);
  } else if (strcmp(name, "overflow") == 0) {
    /* Writes past a 24-byte block into the free block right after it. The
     * neighbour is found, not assumed: the check build hands out a slab's
     * objects in a random order, so the block after p may be another
     * allocated one, or none (p last in its slab), and the write would
     * then meet nothing that is ever checked. */
    static char* held[4096];
    char *p = NULL, *q = NULL;
    held[0] = malloc(24);
    for (int n = 1; n < 4096 && q == NULL; n++) {
      held[n] = malloc(24);
      for (int i = 0; i < n && q == NULL; i++)
        if (held[n] > held[i] && held[n] - held[i] <= 64) {
          p = held[i];
          q = held[n];
        }
    }
    if (q == NULL) _exit(3);
    free(q);
    memset(p, 0x41, (size_t)(q - p) + 16);
    go_on(24);
  } else if (strcmp(name, "write-after-free") == 0) {
    char* p = malloc(48);
    free(p);
    memset(p, 0x42, 48);
    go_on(48);
  } else {
    fprintf(stderr, "unknown case %s\n", name);
    _exit(2);
  }
}

static const char* all[] = {
    "double-free-small", "double-free-large", "double-free-cross-thread",
    "double-free-cross-thread-gone", "double-free-aligned", "realloc-after-free",
    "interior-pointer", "stack-pointer",
    "static-pointer", "overflow", "write-after-free",
};

static void report(const char* name) {
  int err[2];
  if (pipe(err) != 0) {
    perror("pipe");
    exit(1);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], 2);
    close(err[0]);
    close(err[1]);
    alarm(20);
    run(name);
    _exit(0);
  }
  close(err[1]);
  char msg[512] = "";
  size_t len = 0;
  ssize_t n;
  while ((n = read(err[0], msg + len, sizeof msg - 1 - len)) > 0) len += (size_t)n;
  msg[len] = '\0';
  close(err[0]);
  char* nl = strchr(msg, '\n');
  if (nl != NULL) *nl = '\0';
  int status;
  waitpid(pid, &status, 0);
  char outcome[32];
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    snprintf(outcome, sizeof outcome, "continues");
  else if (WIFEXITED(status))
    snprintf(outcome, sizeof outcome, "exit %d", WEXITSTATUS(status));
  else if (WTERMSIG(status) == SIGABRT)
    snprintf(outcome, sizeof outcome, "abort");
  else if (WTERMSIG(status) == SIGSEGV)
    snprintf(outcome, sizeof outcome, "segv");
  else
    snprintf(outcome, sizeof outcome, "signal %d", WTERMSIG(status));
  printf("%s\t%s\t%s\n", name, outcome, msg);
}

int main(int argc, char** argv) {
  if (argc > 1)
    for (int i = 1; i < argc; i++) report(argv[i]);
  else
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) report(all[i]);
  return 0;
}
