/* The shapes in which a program forks while the allocator may be busy,
 * each a mode of this program; every one completes under glibc's malloc.
 * Linked with libfork_lib (tests/programs/fork_lib.c), whose constructor
 * registers pthread_atfork handlers on its mutex before the preloaded
 * allocator's constructor runs.
 *
 * usage: fork_shapes SHAPE [FORKS]
 *   lib-handler        the library's worker holds its mutex around
 *                      fopen/fprintf/malloc/fclose while main forks; the
 *                      library's prepare handler takes that mutex
 *   main-handler       the same with the handler registered by main, after
 *                      the allocator's constructor
 *   stdio              workers in fopen/fclose, fflush(NULL), getline and
 *                      fprintf (stdio locks held while they allocate) while
 *                      two threads fork
 *   prepare-allocates  prepare, parent and child handlers that allocate,
 *                      with threads allocating
 *   threads            threads allocating small and large blocks while
 *                      main forks
 *   sigchld            a SIGCHLD handler reaps with waitpid(-1): it must
 *                      reap exactly the pids fork() returned
 *   ctor-fork          the library's constructor forked before the
 *                      allocator's ran (FORKLIB_FORK_IN_CTOR=1)
 *   spawn              daemon(), posix_spawn, system, vfork (+_exit, +exec)
 *                      and popen while threads allocate
 *   torn               a thread is held inside the allocator's mmap
 *                      (tests/programs/hold_mmap.c preloaded first) while
 *                      main forks; the child must allocate all the same
 * Every child allocates small and large blocks (and, served by snmalloc-rs,
 * checks that they are its) and exits 17. Prints "fork_shapes SHAPE ok, N
 * forks" and exits 0; a watchdog ends a hung run with status 124 after
 * TIMEOUT seconds (default 60). Runs under any allocator; ANY=1 skips the
 * check that snmalloc-rs serves it. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
int forklib_start(void);
void forklib_stop(void);
int forklib_ctor_status(void);

static int stop;
static owns_fn mine;

static int stopping(void) { return __atomic_load_n(&stop, __ATOMIC_RELAXED); }
static void say(const char* msg) { (void)!write(2, msg, strlen(msg)); }

static void on_alarm(int sig) {
  (void)sig;
  say("fork_shapes: timed out (a fork, a thread or a child hung)\n");
  _exit(124);
}

/* What every child does: allocate on each path, check, leave. */
static void child_work(void) {
  for (size_t k = 0; k < 64; k++) {
    void* p = malloc(1 + k * 1999);
    if (p == NULL || (mine != NULL && !mine(p))) _exit(3);
    free(p);
  }
  void* big = malloc(5u << 20);
  if (big == NULL || (mine != NULL && !mine(big))) _exit(4);
  memset(big, 1, 4096);
  free(big);
}

static pid_t fork_child(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    child_work();
    _exit(17);
  }
  return pid;
}

static void reap(pid_t pid) {
  int status = 0;
  pid_t got;
  while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 17) {
    fprintf(stderr, "fork_shapes: child %d ended with status %#x\n", (int)pid, status);
    exit(1);
  }
}

static void forks(int n) {
  for (int i = 0; i < n; i++) reap(fork_child());
}

/* ---- threads that keep the allocator busy */

static void* churn(void* arg) {
  unsigned seed = (unsigned)(size_t)arg;
  void* keep[64] = {0};
  for (size_t i = 0; !stopping(); i++) {
    int k = rand_r(&seed) % 64;
    free(keep[k]);
    keep[k] = malloc(i % 64 == 0 ? (2u << 20) + (size_t)rand_r(&seed) % 65536
                                 : 1 + (size_t)rand_r(&seed) % 20000);
    CHECK(keep[k] != NULL);
  }
  for (int k = 0; k < 64; k++) free(keep[k]);
  return NULL;
}

static pthread_t busy[8];
static int nbusy;

static void start(void* (*f)(void*), void* arg) {
  CHECK(pthread_create(&busy[nbusy++], NULL, f, arg) == 0);
}

static void stop_all(void) {
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < nbusy; i++) CHECK(pthread_join(busy[i], NULL) == 0);
}

/* ---- main-handler */

static pthread_mutex_t main_mutex = PTHREAD_MUTEX_INITIALIZER;
static void lock_main(void) { pthread_mutex_lock(&main_mutex); }
static void unlock_main(void) { pthread_mutex_unlock(&main_mutex); }

static void* main_worker(void* arg) {
  (void)arg;
  while (!stopping()) {
    pthread_mutex_lock(&main_mutex);
    FILE* f = fopen("/dev/null", "w");
    CHECK(f != NULL);
    fprintf(f, "%d\n", 42);
    free(malloc(3000));
    fclose(f);
    pthread_mutex_unlock(&main_mutex);
  }
  return NULL;
}

/* ---- stdio */

enum { LINE = 50000 };
static char path[64];

static void* opener(void* arg) {
  (void)arg;
  while (!stopping()) {
    FILE* f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fclose(f) == 0);
  }
  return NULL;
}

static void* flusher(void* arg) {
  (void)arg;
  while (!stopping()) CHECK(fflush(NULL) == 0);
  return NULL;
}

static void* liner(void* arg) {
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

static void* printer(void* arg) {
  (void)arg;
  FILE* f = fopen("/dev/null", "w");
  CHECK(f != NULL);
  CHECK(setvbuf(f, NULL, _IOFBF, 1 << 16) == 0);
  for (int i = 0; !stopping(); i++) fprintf(f, "%d %s %f\n", i, path, i * 0.5);
  fclose(f);
  return NULL;
}

static int forked;
static int forkers_done;

static void* forker(void* arg) {
  int n = (int)(size_t)arg;
  for (int i = 0; i < n; i++) {
    reap(fork_child());
    __atomic_add_fetch(&forked, 1, __ATOMIC_RELAXED);
  }
  __atomic_add_fetch(&forkers_done, 1, __ATOMIC_RELAXED);
  return NULL;
}

/* ---- prepare-allocates */

static void alloc_some(void) {
  void* a = malloc(64);
  void* b = malloc(100000);
  void* c = malloc(3u << 20);
  CHECK(a != NULL && b != NULL && c != NULL);
  free(a);
  free(b);
  free(c);
}

/* ---- sigchld */

enum { MAX_FORKS = 4096 };
static pid_t reaped[MAX_FORKS];
static int nreaped, strangers;

static void on_chld(int sig) {
  (void)sig;
  int saved = errno;
  pid_t pid;
  int status;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 17) strangers++;
    if (nreaped < MAX_FORKS) reaped[nreaped++] = pid;
  }
  errno = saved;
}

/* ---- spawn */

static void spawn_all(void) {
  int p[2];
  /* daemon(): in a child of ours, which daemon() leaves; the daemon
   * allocates and says so through the pipe. */
  CHECK(pipe(p) == 0);
  pid_t d = fork();
  CHECK(d >= 0);
  if (d == 0) {
    close(p[0]);
    if (daemon(1, 1) != 0) _exit(5);
    child_work();
    (void)!write(p[1], "d", 1);
    _exit(0);
  }
  close(p[1]);
  int status = 0;
  CHECK(waitpid(d, &status, 0) == d);
  char c = 0;
  CHECK(read(p[0], &c, 1) == 1 && c == 'd');
  close(p[0]);

  pid_t s;
  char* argv[] = {"true", NULL};
  CHECK(posix_spawnp(&s, "true", NULL, NULL, argv, environ) == 0);
  CHECK(waitpid(s, &status, 0) == s && WIFEXITED(status) && WEXITSTATUS(status) == 0);

  CHECK(system("exit 3") != -1);

  pid_t v = vfork();
  CHECK(v >= 0);
  if (v == 0) _exit(9);
  CHECK(waitpid(v, &status, 0) == v && WEXITSTATUS(status) == 9);
  v = vfork();
  CHECK(v >= 0);
  if (v == 0) {
    execlp("true", "true", (char*)NULL);
    _exit(127);
  }
  CHECK(waitpid(v, &status, 0) == v && WEXITSTATUS(status) == 0);

  FILE* f = popen("echo popen", "r");
  CHECK(f != NULL);
  char line[32] = "";
  CHECK(fgets(line, sizeof line, f) != NULL && strcmp(line, "popen\n") == 0);
  CHECK(pclose(f) == 0);
}

/* ---- torn */

static void (*hold_arm)(void);
static int (*hold_holding)(void);

static void* hold_worker(void* arg) {
  (void)arg;
  /* Arms the hold, then allocates until its next mmap (the allocator's,
   * for more memory) holds it inside the allocator. */
  hold_arm();
  for (size_t i = 0; !hold_holding(); i++) CHECK(malloc(1000 + i % 3000) != NULL);
  return NULL;
}

static int torn(void) {
  hold_arm = (void (*)(void))dlsym(RTLD_DEFAULT, "hold_mmap_arm");
  hold_holding = (int (*)(void))dlsym(RTLD_DEFAULT, "hold_mmap_holding");
  void (*release)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "hold_mmap_release");
  if (hold_arm == NULL || hold_holding == NULL || release == NULL) {
    say("fork_shapes torn: tests/programs/hold_mmap.c is not preloaded\n");
    exit(2);
  }
  pthread_t t;
  CHECK(pthread_create(&t, NULL, hold_worker, NULL) == 0);
  /* Not a single allocation here until the fork is done. */
  for (int waited = 0; !hold_holding(); waited++) {
    if (waited == 5000) {
      /* The allocator never called mmap (glibc's malloc calls its own). */
      say("fork_shapes torn: the allocator's mmap was never called\n");
      _exit(2);
    }
    usleep(1000);
  }
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(20);
    child_work();
    for (int i = 0; i < 2000; i++) CHECK(malloc(64 << (i % 10)) != NULL);
    exit(17); /* through exit(): the exit report, when asked for */
  }
  release();
  reap(pid);
  CHECK(pthread_join(t, NULL) == 0);
  return 1;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  const char* shape = argv[1];
  int n = argc > 2 ? atoi(argv[2]) : 200;
  if (getenv("ANY") == NULL) {
    check_served_by_us("malloc");
    mine = owns();
  }
  signal(SIGALRM, on_alarm);
  alarm(getenv("TIMEOUT") ? (unsigned)atoi(getenv("TIMEOUT")) : 60);

  if (strcmp(shape, "lib-handler") == 0) {
    CHECK(forklib_start() == 0);
    forks(n);
    forklib_stop();
  } else if (strcmp(shape, "main-handler") == 0) {
    CHECK(pthread_atfork(lock_main, unlock_main, unlock_main) == 0);
    start(main_worker, NULL);
    forks(n);
    stop_all();
  } else if (strcmp(shape, "stdio") == 0) {
    snprintf(path, sizeof path, "/tmp/fork_shapes.%d", (int)getpid());
    FILE* w = fopen(path, "w");
    CHECK(w != NULL);
    for (int i = 0; i < LINE; i++) fputc('x', w);
    fputc('\n', w);
    CHECK(fclose(w) == 0);
    start(opener, NULL);
    start(flusher, NULL);
    start(liner, NULL);
    start(liner, NULL);
    start(printer, NULL);
    pthread_t f[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&f[i], NULL, forker, (void*)(size_t)(n / 2)) == 0);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(f[i], NULL) == 0);
    stop_all();
    unlink(path);
    n = forked;
  } else if (strcmp(shape, "prepare-allocates") == 0) {
    CHECK(pthread_atfork(alloc_some, alloc_some, alloc_some) == 0);
    start(churn, (void*)1);
    start(churn, (void*)2);
    forks(n);
    stop_all();
  } else if (strcmp(shape, "threads") == 0) {
    for (size_t i = 0; i < 3; i++) start(churn, (void*)(i + 5));
    forks(n);
    stop_all();
  } else if (strcmp(shape, "sigchld") == 0) {
    CHECK(n <= MAX_FORKS);
    static pid_t made[MAX_FORKS];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
    start(churn, (void*)3);
    start(churn, (void*)4);
    for (int i = 0; i < n; i++) made[i] = fork_child();
    /* Every child reaped by the handler, and no other. */
    for (int waited = 0; __atomic_load_n(&nreaped, __ATOMIC_RELAXED) < n; waited++) {
      CHECK(waited < 20000);
      usleep(1000);
    }
    stop_all();
    usleep(100000);
    CHECK(nreaped == n && strangers == 0);
    for (int i = 0; i < nreaped; i++) {
      int found = 0;
      for (int j = 0; j < n && !found; j++) found = made[j] == reaped[i];
      if (!found) {
        fprintf(stderr, "fork_shapes sigchld: reaped pid %d that fork() never returned\n",
                (int)reaped[i]);
        return 1;
      }
    }
    CHECK(wait(NULL) == -1 && errno == ECHILD);
  } else if (strcmp(shape, "ctor-fork") == 0) {
    int status = forklib_ctor_status();
    if (status != 17) {
      fprintf(stderr, "fork_shapes ctor-fork: the constructor's child: %d\n", status);
      return 1;
    }
    n = 1;
  } else if (strcmp(shape, "spawn") == 0) {
    start(churn, (void*)6);
    for (int i = 0; i < n; i++) spawn_all();
    stop_all();
  } else if (strcmp(shape, "torn") == 0) {
    n = torn();
  } else {
    fprintf(stderr, "fork_shapes: unknown shape %s\n", shape);
    return 2;
  }
  printf("fork_shapes %s ok, %d forks\n", shape, n);
  return 0;
}
