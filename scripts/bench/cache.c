/* False sharing between threads' objects.
 *   cache thrash THREADS ITERATIONS WRITES: each thread allocates small
 *     objects and writes them repeatedly; an allocator that puts different
 *     threads' objects on one cache line makes the threads fight over it.
 *   cache scratch THREADS ITERATIONS WRITES: the main thread allocates one
 *     small object per thread (adjacent, likely sharing a line) and hands
 *     them out; each thread frees its object and then allocates its own: an
 *     allocator that reuses the freed slot inherits the sharing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long iterations, writes;
static int scratch;

struct arg { char* given; };

static void* worker(void* p) {
  struct arg* a = p;
  if (scratch) free(a->given);
  for (long i = 0; i < iterations; i++) {
    volatile char* o = malloc(8);
    for (long w = 0; w < writes; w++) o[w & 7] = (char)(o[w & 7] + 1);
    free((void*)o);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  scratch = strcmp(argv[1], "scratch") == 0;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  iterations = argc > 3 ? atol(argv[3]) : 10000;
  writes = argc > 4 ? atol(argv[4]) : 10000;
  pthread_t ts[64];
  struct arg args[64];
  if (threads > 64) threads = 64;
  for (int t = 0; t < threads; t++) args[t].given = malloc(8);
  for (int t = 0; t < threads; t++) pthread_create(&ts[t], NULL, worker, &args[t]);
  for (int t = 0; t < threads; t++) pthread_join(ts[t], NULL);
  if (!scratch)
    for (int t = 0; t < threads; t++) free(args[t].given);
  puts("cache done");
  return 0;
}
