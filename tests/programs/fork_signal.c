/* fork() from a signal handler that interrupts malloc and free (the shape of
 * glibc's malloc/tst-mallocfork2). The main thread allocates and frees
 * blocks of random sizes (small to large) without pause; a timer on the
 * main thread's own CPU time sends it SIGUSR1 every 50 microseconds of it,
 * so that signals land where that thread spends its time, in malloc and
 * free, however busy the machine is. The handler counts a signal that
 * interrupted malloc or free, forks a child that leaves at once with _exit
 * (the only kind of child POSIX allows here) and waits for it. With
 * "threads" as second argument, two more threads allocate and free large
 * blocks too.
 *
 * usage: fork_signal SIGNALS [threads]
 * Prints "fork_signal ok, N signals" and exits 0 after SIGNALS signals
 * interrupted malloc/free; a watchdog ends a hung run with exit status 124
 * after 60 s (TIMEOUT=seconds to change). With ANY=1 in the environment it
 * runs under any allocator; otherwise it insists on snmalloc-rs. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OBJECTS = 300, MAX_SIZE = 300000 };

static volatile sig_atomic_t in_alloc, hits;
static int stop;

static void say(const char* msg) { (void)!write(2, msg, strlen(msg)); }

static void on_usr1(int sig) {
  (void)sig;
  if (!in_alloc) return;
  hits++;
  int saved = errno;
  pid_t pid = fork();
  if (pid < 0) {
    say("fork_signal: fork failed\n");
    _exit(1);
  }
  if (pid == 0) _exit(0);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      say("fork_signal: waitpid failed\n");
      _exit(1);
    }
  if (status != 0) {
    say("fork_signal: the child failed\n");
    _exit(1);
  }
  errno = saved;
}

static void on_alarm(int sig) {
  (void)sig;
  say("fork_signal: timed out (the process or a child hung)\n");
  _exit(124);
}

static void* churn(void* arg) {
  unsigned seed = (unsigned)(size_t)arg;
  void* keep[64] = {0};
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    int k = rand_r(&seed) % 64;
    free(keep[k]);
    keep[k] = malloc((size_t)rand_r(&seed) % MAX_SIZE);
  }
  for (int k = 0; k < 64; k++) free(keep[k]);
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  unsigned wanted = (unsigned)atoi(argv[1]);
  int threads = argc > 2 && strcmp(argv[2], "threads") == 0;
  if (getenv("ANY") == NULL) check_served_by_us("malloc");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  signal(SIGALRM, on_alarm);
  alarm(getenv("TIMEOUT") ? (unsigned)atoi(getenv("TIMEOUT")) : 60);

  pthread_t t[2];
  if (threads)
    for (int i = 0; i < 2; i++)
      CHECK(pthread_create(&t[i], NULL, churn, (void*)(size_t)(i + 7)) == 0);

  /* SIGUSR1 to this thread every 50 us of this thread's CPU time. */
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGUSR1;
  ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  timer_t timer;
  CHECK(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &timer) == 0);
  struct itimerspec every = {{0, 50000}, {0, 50000}};
  CHECK(timer_settime(timer, 0, &every, NULL) == 0);

  void* objects[OBJECTS] = {0};
  unsigned seed = 1;
  while ((unsigned)hits < wanted) {
    int slot = rand_r(&seed) % OBJECTS;
    size_t size = (size_t)rand_r(&seed) % MAX_SIZE;
    in_alloc = 1;
    free(objects[slot]);
    objects[slot] = malloc(size);
    in_alloc = 0;
    CHECK(objects[slot] != NULL);
  }
  CHECK(timer_delete(timer) == 0);
  if (threads) {
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  }
  for (int slot = 0; slot < OBJECTS; slot++) free(objects[slot]);
  printf("fork_signal ok, %u signals\n", (unsigned)hits);
  return 0;
}
