/* The C API under musl (built with musl-gcc, run with the musl build of the
 * library preloaded): sizes, alignments, errno, realloc, usable size, bad
 * input, and a block from musl's own malloc (obtained before our library
 * could serve it) freed and measured by its owner. */
#include "check.h"

#include <malloc.h>
#include <stdint.h>

typedef void* (*malloc_fn)(size_t);
typedef size_t (*usable_fn)(void*);

int main(void) {
  check_served_by_us("malloc");
  check_served_by_us("free");
  check_served_by_us("posix_memalign");
  owns_fn mine = owns();

  /* Sizes: 0 gives a unique block; impossible sizes ENOMEM at once. */
  void* z = malloc(0);
  CHECK(z != NULL && mine(z));
  free(z);
  errno = 0;
  CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(SIZE_MAX / 2) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(aligned_alloc(64, SIZE_MAX - 100) == NULL && errno == ENOMEM);

  /* A successful call leaves errno alone. */
  errno = 12345;
  void* a = malloc(100);
  CHECK(a != NULL && mine(a) && errno == 12345);
  CHECK(malloc_usable_size(a) >= 100);
  memset(a, 7, 100);

  /* realloc keeps the contents, and the old block on failure. */
  char* r = realloc(a, 10000);
  CHECK(r != NULL && mine(r) && r[0] == 7 && r[99] == 7);
  errno = 0;
  CHECK(realloc(r, SIZE_MAX - 10) == NULL && errno == ENOMEM);
  CHECK(r[99] == 7 && malloc_usable_size(r) >= 10000);
  r = realloc(r, 10);
  CHECK(r != NULL && r[9] == 7);
  free(r);
  void* n = realloc(NULL, 50);
  CHECK(n != NULL && mine(n));
  free(n);

  /* Alignments. */
  for (size_t al = 16; al <= (1u << 20); al <<= 1) {
    void* p = NULL;
    CHECK(posix_memalign(&p, al, 24) == 0 && ((uintptr_t)p % al) == 0 && mine(p));
    free(p);
    p = aligned_alloc(al, al * 3);
    CHECK(p != NULL && ((uintptr_t)p % al) == 0 && mine(p));
    free(p);
    p = memalign(al, 1);
    CHECK(p != NULL && ((uintptr_t)p % al) == 0);
    free(p);
  }
  void* out = (void*)0x1234;
  CHECK(posix_memalign(&out, 24, 8) == EINVAL && out == (void*)0x1234);
  CHECK(posix_memalign(&out, 0, 8) == EINVAL && out == (void*)0x1234);
  CHECK(posix_memalign(&out, 64, SIZE_MAX) == ENOMEM && out == (void*)0x1234);
  errno = 0;
  CHECK(aligned_alloc(24, 48) == NULL && errno == EINVAL);

  /* Bad input: free(NULL) is nothing; usable size of NULL is 0. */
  free(NULL);
  CHECK(malloc_usable_size(NULL) == 0);

  /* musl's own blocks, from musl's malloc: ours to hand back. */
  void* libc = dlopen("libc.so", RTLD_NOW | RTLD_NOLOAD);
  CHECK(libc != NULL);
  malloc_fn musl_malloc = (malloc_fn)dlsym(libc, "malloc");
  usable_fn musl_usable = (usable_fn)dlsym(libc, "malloc_usable_size");
  CHECK(musl_malloc != NULL && musl_malloc != (malloc_fn)malloc);
  for (int i = 0; i < 1000; i++) {
    size_t size = 1 + (size_t)(i * 37 % 5000);
    unsigned char* b = musl_malloc(size);
    CHECK(b != NULL && !mine(b));
    memset(b, i & 0xff, size);
    CHECK(malloc_usable_size(b) == musl_usable(b));
    b = realloc(b, size + 100); /* moved to us, contents kept */
    CHECK(b != NULL && b[size - 1] == (unsigned char)(i & 0xff));
    free(b);
  }
  unsigned char* last = musl_malloc(64);
  free(last); /* back to musl */

  printf("musl api ok\n");
  return 0;
}
