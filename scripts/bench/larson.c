/* Larson-style server simulation: each thread owns an array of live objects
 * and keeps replacing random ones (free + malloc of a random size); at the
 * end of every round the arrays move to the next thread, so most frees are
 * of objects another thread allocated.
 *   larson THREADS ROUNDS OPS_PER_ROUND */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { SLOTS = 4000 };
static int threads, rounds;
static long ops;
static void*** arrays;
static pthread_barrier_t barrier;

static uint64_t next(uint64_t* x) {
  *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
  return *x;
}

static void* worker(void* arg) {
  long id = (long)arg;
  uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
  for (int r = 0; r < rounds; r++) {
    void** mine = arrays[(id + r) % threads];
    for (long i = 0; i < ops; i++) {
      uint64_t v = next(&x);
      size_t k = v % SLOTS;
      free(mine[k]);
      size_t n = 8 + (v >> 32) % 1000;
      char* p = malloc(n);
      p[0] = (char)v;
      mine[k] = p;
    }
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

int main(int argc, char** argv) {
  threads = argc > 1 ? atoi(argv[1]) : 4;
  rounds = argc > 2 ? atoi(argv[2]) : 20;
  ops = argc > 3 ? atol(argv[3]) : 200000;
  arrays = calloc((size_t)threads, sizeof *arrays);
  for (int t = 0; t < threads; t++) arrays[t] = calloc(SLOTS, sizeof(void*));
  pthread_barrier_init(&barrier, NULL, (unsigned)threads);
  pthread_t* ts = malloc(sizeof(pthread_t) * (size_t)threads);
  for (long t = 0; t < threads; t++) pthread_create(&ts[t], NULL, worker, (void*)t);
  for (int t = 0; t < threads; t++) pthread_join(ts[t], NULL);
  for (int t = 0; t < threads; t++) {
    for (int k = 0; k < SLOTS; k++) free(arrays[t][k]);
    free(arrays[t]);
  }
  puts("larson done");
  return 0;
}
