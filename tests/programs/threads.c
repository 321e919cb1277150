/* Cross-thread frees in volume (snmalloc's message-passing path), and thread
 * churn: blocks made on one thread are checked and freed on another. */
#include "check.h"

#include <pthread.h>

enum { PRODUCERS = 4, PER_PRODUCER = 200000, RING = 4096 };

struct ring {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned char* slot[RING];
  size_t head, tail;
  int done;
};

static struct ring ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
static owns_fn mine;

static size_t size_of(size_t i) { return 1 + (i * 7919) % 5000; }

static void push(unsigned char* p) {
  pthread_mutex_lock(&ring.lock);
  while (ring.head - ring.tail == RING) pthread_cond_wait(&ring.cond, &ring.lock);
  ring.slot[ring.head++ % RING] = p;
  pthread_cond_broadcast(&ring.cond);
  pthread_mutex_unlock(&ring.lock);
}

static unsigned char* pop(void) {
  pthread_mutex_lock(&ring.lock);
  while (ring.head == ring.tail && ring.done < PRODUCERS)
    pthread_cond_wait(&ring.cond, &ring.lock);
  unsigned char* p = ring.head == ring.tail ? NULL : ring.slot[ring.tail++ % RING];
  pthread_cond_broadcast(&ring.cond);
  pthread_mutex_unlock(&ring.lock);
  return p;
}

static void* producer(void* arg) {
  size_t id = (size_t)arg;
  for (size_t i = 0; i < PER_PRODUCER; i++) {
    size_t n = size_of(i);
    unsigned char* p = malloc(n + 16);
    CHECK(p != NULL && mine(p));
    memcpy(p, &n, sizeof n);
    memcpy(p + 8, &id, sizeof id);
    memset(p + 16, (int)(id + n), n);
    push(p);
  }
  pthread_mutex_lock(&ring.lock);
  ring.done++;
  pthread_cond_broadcast(&ring.cond);
  pthread_mutex_unlock(&ring.lock);
  return NULL;
}

static size_t consumed[2];
static void* consumer(void* arg) {
  size_t me = (size_t)arg;
  unsigned char* p;
  while ((p = pop()) != NULL) {
    size_t n, id;
    memcpy(&n, p, sizeof n);
    memcpy(&id, p + 8, sizeof id);
    for (size_t k = 0; k < n; k++) CHECK(p[16 + k] == (unsigned char)(id + n));
    free(p);
    consumed[me]++;
  }
  return NULL;
}

static void* short_lived(void* arg) {
  void* keep[64];
  for (int i = 0; i < 64; i++) keep[i] = malloc(16 * (size_t)(i + 1));
  for (int i = 0; i < 64; i++) free(keep[i]);
  /* Leave one block for the parent to free after this thread is gone. */
  return malloc((size_t)arg + 1);
}

int main(void) {
  check_served_by_us("malloc");
  mine = owns();
  pthread_t p[PRODUCERS], c[2];
  for (size_t i = 0; i < 2; i++) CHECK(pthread_create(&c[i], NULL, consumer, (void*)i) == 0);
  for (size_t i = 0; i < PRODUCERS; i++)
    CHECK(pthread_create(&p[i], NULL, producer, (void*)i) == 0);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
  CHECK(consumed[0] + consumed[1] == (size_t)PRODUCERS * PER_PRODUCER);

  /* Thread churn: 2000 threads, each exiting with its allocator state. */
  for (int round = 0; round < 250; round++) {
    pthread_t t[8];
    for (size_t i = 0; i < 8; i++)
      CHECK(pthread_create(&t[i], NULL, short_lived, (void*)i) == 0);
    for (int i = 0; i < 8; i++) {
      void* left;
      pthread_join(t[i], &left);
      CHECK(left != NULL && mine(left));
      free(left);
    }
  }
  printf("threads ok %zu\n", consumed[0] + consumed[1]);
  return 0;
}
