/* Frees that the hardened (`check`) build must catch; argv[1] picks one.
 * Prints "not caught" and exits 0 if the allocator let it pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (strcmp(argv[1], "double-free-large") == 0) {
    char* p = malloc(2 << 20);
    p[0] = 1;
    free(p);
    free(p);
  } else if (strcmp(argv[1], "double-free-small") == 0) {
    char* p = malloc(48);
    free(p);
    free(p);
    /* Detection may come when the free list is next used. */
    for (int i = 0; i < 100000; i++) free(malloc(48));
  } else if (strcmp(argv[1], "interior") == 0) {
    char* p = malloc(64);
    free(p + 16);
  } else {
    return 2;
  }
  puts("not caught");
  return 0;
}
