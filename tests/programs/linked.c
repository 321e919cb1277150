/* A C program linked against libsnmalloc_rs (not preloaded): with
 * `pkg-config --cflags --libs snmalloc_rs`, or statically with
 * libsnmalloc_rs.a (-DSTATIC). Proves that snmalloc serves its malloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snmalloc_rs.h>

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                \
      return 1;                                                      \
    }                                                                \
  } while (0)

int main(void) {
  struct snmalloc_rs_memory_usage before, after;
  snmalloc_rs_memory_usage(&before);
  char* blocks[1000];
  for (int i = 0; i < 1000; i++) {
    blocks[i] = malloc(1000);
    CHECK(blocks[i] != NULL);
    memset(blocks[i], i & 0xff, 1000);
    CHECK(snmalloc_rs_owns(blocks[i]) == 1);
  }
  snmalloc_rs_memory_usage(&after);
  CHECK(after.current >= before.current + 1000 * 1000);
  CHECK(after.reserved >= after.current);
  for (int i = 0; i < 1000; i++) free(blocks[i]);
  CHECK(snmalloc_rs_owns(NULL) == 0);
  int on_stack = 0;
  CHECK(snmalloc_rs_owns(&on_stack) == 0);
#ifndef STATIC
  /* The dynamic linker binds malloc to our library. */
  Dl_info info;
  CHECK(dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info) != 0);
  CHECK(strstr(info.dli_fname, "libsnmalloc_rs.so") != NULL);
#endif
  snmalloc_rs_trim();
  printf("served by snmalloc\n");
  return 0;
}
