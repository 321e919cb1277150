/* Known allocations for the launcher's report tests: 1000 blocks of
 * 200000 bytes (a size class nothing else in the process uses), 600 freed
 * by another thread, 400 by the allocating one; then one 64 MiB block. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1000, REMOTE = 600, SIZE = 200000 };
static char* blocks[N];

static void* free_some(void* arg) {
  (void)arg;
  for (int i = 0; i < REMOTE; i++) free(blocks[i]);
  return NULL;
}

int main(void) {
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(SIZE);
    blocks[i][0] = (char)i;
  }
  pthread_t t;
  pthread_create(&t, NULL, free_some, NULL);
  pthread_join(t, NULL);
  for (int i = REMOTE; i < N; i++) free(blocks[i]);
  char* big = malloc(64u << 20);
  memset(big, 1, 64u << 20);
  free(big);
  puts("known done");
  return 0;
}
