/* A lock cycle through fork that the allocator cannot order itself out of:
 * the program registers a pthread_atfork prepare handler that takes its
 * mutex M *before* the library is loaded (so that handler runs after the
 * library's), and a thread allocates large blocks, which take the
 * allocator's locks, while it holds M. A fork then waits for M in the
 * program's handler while the allocator is closed for the fork, and the
 * thread holding M waits for the allocator: the library must let it
 * through, and still give every child an allocator that works.
 *
 * The library is opened with dlopen (argv[1]) and its functions are called
 * through dlsym, so that it is loaded after the program's handler exists.
 *
 * usage: fork_cycle LIBRARY FORKS
 * Prints "fork_cycle ok, N forks" and exits 0 when FORKS forks completed
 * and every child allocated from the library and exited 17; a watchdog ends
 * a hung run with exit status 124 after 120 s. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void* (*sn_malloc)(size_t);
static void (*sn_free)(void*);
static pid_t (*sn_fork)(void);
static owns_fn sn_owns;
static int stop;

static void lock_m(void) { pthread_mutex_lock(&m); }
static void unlock_m(void) { pthread_mutex_unlock(&m); }
static void reset_m(void) { pthread_mutex_init(&m, NULL); }

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "fork_cycle: timed out (a fork or a child hung)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(124);
}

/* Holds M while it allocates and frees blocks large enough to need the
 * allocator's shared ranges. */
static void* holder(void* arg) {
  (void)arg;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    pthread_mutex_lock(&m);
    for (size_t k = 0; k < 4; k++) {
      char* p = sn_malloc((3u << 20) + k * 4096);
      CHECK(p != NULL);
      p[0] = 1;
      sn_free(p);
    }
    pthread_mutex_unlock(&m);
    usleep(100);
  }
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc == 3);
  int wanted = atoi(argv[2]);
  signal(SIGALRM, on_alarm);
  alarm(120);
  /* Registered before the library exists: runs after its prepare handler. */
  CHECK(pthread_atfork(lock_m, unlock_m, reset_m) == 0);
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "fork_cycle: dlopen: %s\n", dlerror());
    return 1;
  }
  sn_malloc = (void* (*)(size_t))dlsym(lib, "malloc");
  sn_free = (void (*)(void*))dlsym(lib, "free");
  sn_fork = (pid_t(*)(void))dlsym(lib, "fork");
  sn_owns = (owns_fn)dlsym(lib, "snmalloc_rs_owns");
  CHECK(sn_malloc != NULL && sn_free != NULL && sn_fork != NULL && sn_owns != NULL);

  pthread_t t;
  CHECK(pthread_create(&t, NULL, holder, NULL) == 0);
  for (int i = 0; i < wanted; i++) {
    pid_t pid = sn_fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      void* small = sn_malloc(100);
      void* big = sn_malloc(5u << 20);
      if (small == NULL || big == NULL || !sn_owns(small) || !sn_owns(big)) _exit(3);
      sn_free(small);
      sn_free(big);
      _exit(17);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 17) {
      fprintf(stderr, "fork_cycle: child %d failed: status %#x\n", i, status);
      return 1;
    }
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  CHECK(pthread_join(t, NULL) == 0);
  printf("fork_cycle ok, %d forks\n", wanted);
  return 0;
}
