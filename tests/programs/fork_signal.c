/* fork() from a signal handler that interrupts malloc and free (the shape of
 * glibc's malloc/tst-mallocfork2). The main thread allocates and frees
 * blocks of random sizes (small to large) without pause; a helper process
 * sends it SIGUSR1 as fast as it can; the handler forks a child that leaves
 * at once with _exit (the only kind of child POSIX allows here) and waits
 * for it. With "threads" as second argument, two more threads allocate and
 * free large blocks too: the process is multi-threaded, and a fork made
 * outside the allocator's sections must wait for theirs.
 *
 * usage: fork_signal SIGNALS [threads]
 * Prints "fork_signal ok, N signals" and exits 0 after SIGNALS handled
 * signals arrived during malloc/free; a watchdog ends a hung run with exit
 * status 124 after 60 s (TIMEOUT=seconds to change). With ANY=1 in the environment it runs under any
 * allocator; otherwise it insists on snmalloc-rs. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OBJECTS = 300, MAX_SIZE = 300000 };

static pid_t sender;
static volatile sig_atomic_t received;
static int stop;

static void say(const char* msg) { (void)!write(2, msg, strlen(msg)); }

static void on_usr1(int sig) {
  (void)sig;
  if (received) return;
  /* Pause the sender so that the main loop makes progress. */
  if (sender > 0 && kill(sender, SIGSTOP) != 0) {
    say("fork_signal: kill(SIGSTOP) failed\n");
    _exit(1);
  }
  received = 1;
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
  if (sender > 0) kill(sender, SIGKILL);
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
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  signal(SIGALRM, on_alarm);
  alarm(getenv("TIMEOUT") ? (unsigned)atoi(getenv("TIMEOUT")) : 60);

  pid_t self = getpid();
  sender = fork();
  CHECK(sender >= 0);
  if (sender == 0) {
    for (;;) {
      if (kill(self, SIGUSR1) != 0) _exit(0);
      sched_yield();
    }
  }
  pthread_t t[2];
  if (threads)
    for (int i = 0; i < 2; i++)
      CHECK(pthread_create(&t[i], NULL, churn, (void*)(size_t)(i + 7)) == 0);

  void* objects[OBJECTS] = {0};
  unsigned seed = 1, signals = 0;
  while (signals < wanted) {
    int slot = rand_r(&seed) % OBJECTS;
    size_t size = (size_t)rand_r(&seed) % MAX_SIZE;
    CHECK(kill(sender, SIGCONT) == 0);
    received = 0;
    free(objects[slot]);
    objects[slot] = malloc(size);
    CHECK(objects[slot] != NULL);
    if (received) signals++;
  }
  signal(SIGUSR1, SIG_IGN);
  kill(sender, SIGKILL);
  waitpid(sender, NULL, 0);
  if (threads) {
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  }
  for (int slot = 0; slot < OBJECTS; slot++) free(objects[slot]);
  printf("fork_signal ok, %u signals\n", signals);
  return 0;
}
