/* Producer/consumer: every free is remote (made by another thread than the
 * allocating one), the path snmalloc's message passing exists for. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

enum { PAIRS = 2, BATCH = 256 };
static long per_pair;

struct chan { _Atomic(void**) slot; };
static struct chan chans[PAIRS];

static void* producer(void* arg) {
  struct chan* c = arg;
  for (long i = 0; i < per_pair; i += BATCH) {
    void** batch = malloc(BATCH * sizeof(void*));
    for (int k = 0; k < BATCH; k++) batch[k] = malloc(16 + (size_t)((i + k) % 500));
    void** expected = NULL;
    while (!atomic_compare_exchange_weak(&c->slot, &expected, batch)) {
      expected = NULL;
      sched_yield();
    }
  }
  return NULL;
}

static void* consumer(void* arg) {
  struct chan* c = arg;
  for (long i = 0; i < per_pair; i += BATCH) {
    void** batch;
    while ((batch = atomic_exchange(&c->slot, NULL)) == NULL) sched_yield();
    for (int k = 0; k < BATCH; k++) free(batch[k]);
    free(batch);
  }
  return NULL;
}

int main(int argc, char** argv) {
  per_pair = argc > 1 ? atol(argv[1]) : 5000000;
  pthread_t t[2 * PAIRS];
  for (int i = 0; i < PAIRS; i++) {
    pthread_create(&t[2 * i], NULL, producer, &chans[i]);
    pthread_create(&t[2 * i + 1], NULL, consumer, &chans[i]);
  }
  for (int i = 0; i < 2 * PAIRS; i++) pthread_join(t[i], NULL);
  puts("done");
  return 0;
}
