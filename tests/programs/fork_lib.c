/* A library that protects its state across fork() the usual way, linked by
 * tests/programs/fork_shapes.c: its constructor, which the loader runs
 * before the preloaded allocator's (a library a program links is
 * initialised first), registers pthread_atfork handlers that take and
 * release its mutex. Its worker thread holds that mutex while it opens and
 * closes a stream and allocates. With FORKLIB_FORK_IN_CTOR=1 in the
 * environment the constructor also forks, before the allocator's
 * constructor has run, and its child allocates. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t lib_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_t worker;
static int stop;
static int ctor_status = -1;

static void lock_lib(void) { pthread_mutex_lock(&lib_mutex); }
static void unlock_lib(void) { pthread_mutex_unlock(&lib_mutex); }

__attribute__((constructor)) static void forklib_init(void) {
  pthread_atfork(lock_lib, unlock_lib, unlock_lib);
  if (getenv("FORKLIB_FORK_IN_CTOR") != NULL) {
    pid_t pid = fork();
    if (pid == 0) {
      void* p = malloc(100);
      void* q = malloc(5u << 20);
      _exit(p != NULL && q != NULL ? 17 : 3);
    }
    int status = 0;
    ctor_status = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
                      ? WEXITSTATUS(status)
                      : -2;
  }
}

/* What the constructor's child exited with (17: it allocated), -1 if the
 * constructor did not fork, -2 if the fork or the wait failed. */
int forklib_ctor_status(void) { return ctor_status; }

static void* work(void* arg) {
  (void)arg;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    pthread_mutex_lock(&lib_mutex);
    FILE* f = fopen("/dev/null", "w");
    if (f == NULL) abort();
    fprintf(f, "%d\n", 42);
    void* p = malloc(3000);
    free(p);
    fclose(f);
    pthread_mutex_unlock(&lib_mutex);
  }
  return NULL;
}

/* Starts the worker that holds the library's mutex around stdio. */
int forklib_start(void) { return pthread_create(&worker, NULL, work, NULL); }

void forklib_stop(void) {
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  pthread_join(worker, NULL);
}
