/* realloc growth: many buffers grown a little at a time (as strings and
 * vectors are), then shrunk and freed.
 *   growth BUFFERS STEPS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  int buffers = argc > 1 ? atoi(argv[1]) : 2000;
  int steps = argc > 2 ? atoi(argv[2]) : 2000;
  char** b = calloc((size_t)buffers, sizeof *b);
  size_t* len = calloc((size_t)buffers, sizeof *len);
  unsigned long sum = 0;
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < buffers; i++) {
      size_t add = 1 + (size_t)((i * 7 + s) % 61);
      b[i] = realloc(b[i], len[i] + add);
      memset(b[i] + len[i], (char)s, add);
      len[i] += add;
    }
  }
  for (int i = 0; i < buffers; i++) {
    b[i] = realloc(b[i], len[i] / 4 + 1);
    sum += (unsigned char)b[i][0];
    free(b[i]);
  }
  printf("growth done %lu\n", sum);
  return 0;
}
