/* Shared by the test programs: checks that fail loudly, and the proof that
 * libsnmalloc_rs is the allocator serving this process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n", __FILE__,     \
              __LINE__, #cond, errno);                                       \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

typedef int (*owns_fn)(const void*);

/* Where `sym` resolves for this process: must be our library. */
static inline void check_served_by_us(const char* sym) {
  void* f = dlsym(RTLD_DEFAULT, sym);
  Dl_info info;
  CHECK(f != NULL);
  CHECK(dladdr(f, &info) != 0 && info.dli_fname != NULL);
  if (strstr(info.dli_fname, "libsnmalloc_rs") == NULL) {
    fprintf(stderr, "%s resolves to %s, not libsnmalloc_rs\n", sym,
            info.dli_fname);
    exit(1);
  }
}

/* snmalloc_rs_owns, exported by our library only. */
static inline owns_fn owns(void) {
  owns_fn f = (owns_fn)dlsym(RTLD_DEFAULT, "snmalloc_rs_owns");
  CHECK(f != NULL);
  return f;
}
