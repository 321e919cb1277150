/* Memory from glibc's own allocator, obtained directly (as a bundled
 * allocator or a RTLD_DEEPBIND plugin would), handed to our free, realloc
 * and malloc_usable_size: forwarded to glibc, never corrupted. */
#include "check.h"

#include <malloc.h>

typedef void* (*malloc_fn)(size_t);
typedef void (*free_fn)(void*);
typedef size_t (*usable_fn)(void*);

int main(void) {
  check_served_by_us("free");
  owns_fn mine = owns();
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  CHECK(libc != NULL);
  malloc_fn glibc_malloc = (malloc_fn)dlsym(libc, "malloc");
  free_fn glibc_free = (free_fn)dlsym(libc, "free");
  usable_fn glibc_usable = (usable_fn)dlsym(libc, "malloc_usable_size");
  CHECK(glibc_malloc != NULL && glibc_malloc != (malloc_fn)malloc);

  enum { N = 20000 };
  static unsigned char* blocks[N];
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < N; i++) {
      size_t n = 1 + (size_t)(i * 37 % 3000);
      blocks[i] = glibc_malloc(n);
      CHECK(blocks[i] != NULL && !mine(blocks[i]));
      memset(blocks[i], i & 0xff, n);
      /* Our malloc_usable_size asks glibc about glibc's blocks. */
      CHECK(malloc_usable_size(blocks[i]) == glibc_usable(blocks[i]));
    }
    for (int i = 0; i < N; i++) {
      size_t n = 1 + (size_t)(i * 37 % 3000);
      if (i % 3 == 0) {
        /* realloc moves a foreign block into snmalloc with its data. */
        unsigned char* q = realloc(blocks[i], n * 2 + 100);
        CHECK(q != NULL && mine(q));
        for (size_t k = 0; k < n; k++) CHECK(q[k] == (unsigned char)(i & 0xff));
        free(q);
      } else if (i % 3 == 1) {
        free(blocks[i]);
      } else {
        CHECK(realloc(blocks[i], 0) == NULL);
      }
    }
    /* glibc's heap is still consistent: it would abort otherwise. */
    void* probe[100];
    for (int i = 0; i < 100; i++) probe[i] = glibc_malloc(64 * (i + 1));
    for (int i = 0; i < 100; i++) glibc_free(probe[i]);
  }
  /* A large glibc block (mmapped by glibc) too. */
  unsigned char* big = glibc_malloc(8u << 20);
  CHECK(big != NULL && !mine(big));
  big[0] = 1;
  big[(8u << 20) - 1] = 2;
  unsigned char* moved = realloc(big, 9u << 20);
  CHECK(moved != NULL && mine(moved) && moved[0] == 1 && moved[(8u << 20) - 1] == 2);
  free(moved);
  free(glibc_malloc(8u << 20));
  puts("foreign ok");
  return 0;
}
