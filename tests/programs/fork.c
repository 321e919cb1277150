/* fork() while other threads allocate and free: the child must be able to
 * allocate (no lock left held by a thread that does not exist in it). */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int stop; /* atomic accesses only */

static void* churn(void* arg) {
  (void)arg;
  void* keep[256] = {0};
  for (size_t i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
    size_t k = i % 256;
    free(keep[k]);
    keep[k] = malloc(1 + (i * 131) % (1 << 16));
    if (i % 1000 == 0) {
      void* big = malloc(2u << 20); /* a large, backend-locked allocation */
      free(big);
    }
  }
  for (int k = 0; k < 256; k++) free(keep[k]);
  return NULL;
}

int main(void) {
  check_served_by_us("malloc");
  owns_fn mine = owns();
  pthread_t t[3];
  for (int i = 0; i < 3; i++) CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
  for (int i = 0; i < 300; i++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      alarm(10); /* a deadlocked child is killed, and the test fails */
      for (int k = 0; k < 1000; k++) {
        void* p = malloc(1 + (size_t)k * 64);
        if (p == NULL || !mine(p)) _exit(3);
        free(p);
      }
      void* big = malloc(4u << 20);
      if (big == NULL) _exit(4);
      free(big);
      _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d failed: status %#x\n", i, status);
      return 1;
    }
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  puts("fork ok");
  return 0;
}
