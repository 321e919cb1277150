/* The exported C API and its behaviour at the edges, under LD_PRELOAD. */
#include "check.h"

#include <malloc.h>
#include <unistd.h>

/* Not declared (or not present) in this glibc: looked up at run time. */
static void (*free_sized)(void*, size_t);
static void (*free_aligned_sized)(void*, size_t, size_t);
static void (*cfree)(void*);
#define LOOKUP(name) CHECK((*(void**)&name = dlsym(RTLD_DEFAULT, #name)) != NULL)

static const char* family[] = {
  "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
  "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
  "cfree", "free_sized", "free_aligned_sized", "__libc_malloc", "__libc_free",
  "__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc",
  "__libc_pvalloc", "__libc_cfree", "__posix_memalign", "malloc_trim",
  "mallinfo", "mallinfo2", "mallopt", "malloc_stats", "malloc_info",
  "__malloc_hook", "__free_hook", "__realloc_hook", "__memalign_hook",
  "_Znwm", "_ZdlPv", "_ZnamSt11align_val_t", "_ZdaPvmSt11align_val_t"};

static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 31 + seed);
}
static int same(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(i * 31 + seed)) return 0;
  return 1;
}

/* The first allocations of the process, before any shared library's
 * constructor has run (.preinit_array): nothing of ours may need to be
 * initialised first. */
static void* early_blocks[4];
static void early(void) {
  early_blocks[0] = malloc(10);
  early_blocks[1] = calloc(3, 100);
  early_blocks[2] = realloc(malloc(5), 5000);
  void* p = NULL;
  posix_memalign(&p, 4096, 10);
  early_blocks[3] = p;
}
__attribute__((section(".preinit_array"), used)) static void (*preinit)(void) = early;

int main(void) {
  owns_fn mine = owns();
  for (int i = 0; i < 4; i++) {
    CHECK(early_blocks[i] != NULL && mine(early_blocks[i]));
    free(early_blocks[i]);
  }
  LOOKUP(free_sized);
  LOOKUP(free_aligned_sized);
  LOOKUP(cfree);
  for (size_t i = 0; i < sizeof family / sizeof *family; i++)
    check_served_by_us(family[i]);

  /* Sizes from 0 to 64 MiB are ours, usable, and writable. */
  for (size_t n = 0; n <= (64u << 20); n = n ? n * 3 + 1 : 1) {
    unsigned char* p = malloc(n);
    CHECK(p != NULL && mine(p));
    CHECK(malloc_usable_size(p) >= n);
    fill(p, n, 7);
    CHECK(same(p, n, 7));
    free(p);
  }
  CHECK(malloc_usable_size(NULL) == 0);
  free(NULL);

  /* Impossible requests: NULL and ENOMEM. */
  errno = 0;
  volatile size_t huge = SIZE_MAX;
  CHECK(malloc(huge) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(SIZE_MAX / 2 + 1) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(1, SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(reallocarray(NULL, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(aligned_alloc(64, SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(memalign(4096, SIZE_MAX - 100) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(pvalloc(SIZE_MAX - 10) == NULL && errno == ENOMEM);

  /* calloc zeroes, also memory that was dirty before. */
  for (int round = 0; round < 3; round++) {
    size_t n = round == 2 ? (3u << 20) : 4000;
    unsigned char* d = malloc(n);
    memset(d, 0xAB, n);
    free(d);
    unsigned char* z = calloc(n, 1);
    CHECK(z != NULL && mine(z));
    for (size_t i = 0; i < n; i++) CHECK(z[i] == 0);
    free(z);
  }

  /* realloc keeps data when growing and shrinking, across size classes. */
  unsigned char* r = realloc(NULL, 10);
  CHECK(r != NULL && mine(r));
  fill(r, 10, 3);
  size_t have = 10;
  for (size_t n = 17; n < (8u << 20); n = n * 2 + 5) {
    r = realloc(r, n);
    CHECK(r != NULL && mine(r));
    CHECK(same(r, have, 3));
    fill(r, n, 3);
    have = n;
  }
  r = realloc(r, 5);
  CHECK(r != NULL && same(r, 5, 3));
  /* A failing realloc leaves the block intact. */
  errno = 0;
  CHECK(realloc(r, SIZE_MAX) == NULL && errno == ENOMEM);
  CHECK(same(r, 5, 3));
  r = reallocarray(r, 100, 10);
  CHECK(r != NULL && same(r, 5, 3));
  /* glibc: realloc(p, 0) frees and returns NULL. */
  CHECK(realloc(r, 0) == NULL);
  /* realloc(NULL, 0) is malloc(0): a unique block. */
  void* z0 = realloc(NULL, 0);
  CHECK(z0 != NULL);
  free(z0);

  /* posix_memalign: bad alignments are EINVAL, *out untouched. */
  void* out = (void*)0x1234;
  CHECK(posix_memalign(&out, 0, 8) == EINVAL && out == (void*)0x1234);
  CHECK(posix_memalign(&out, 24, 8) == EINVAL && out == (void*)0x1234);
  CHECK(posix_memalign(&out, 4, 8) == EINVAL && out == (void*)0x1234);
  CHECK(posix_memalign(&out, 64, SIZE_MAX) == ENOMEM && out == (void*)0x1234);
  errno = 0;
  CHECK(aligned_alloc(24, 48) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(memalign(SIZE_MAX / 2 + 2, 8) == NULL && errno == EINVAL);

  /* Every aligned call honours alignments up to 4 MiB, for any size. */
  size_t sizes[] = {0, 1, 8, 100, 4096, 70000, 3u << 20};
  for (size_t a = sizeof(void*); a <= (4u << 20); a *= 2) {
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
      size_t n = sizes[s];
      void* p = NULL;
      CHECK(posix_memalign(&p, a, n) == 0 && p != NULL && mine(p));
      CHECK(((uintptr_t)p & (a - 1)) == 0);
      CHECK(malloc_usable_size(p) >= n);
      memset(p, 1, n);
      free(p);
      p = aligned_alloc(a, n);
      CHECK(p != NULL && mine(p) && ((uintptr_t)p & (a - 1)) == 0);
      memset(p, 2, n);
      free_aligned_sized(p, a, n);
      p = memalign(a, n);
      CHECK(p != NULL && mine(p) && ((uintptr_t)p & (a - 1)) == 0);
      free(p);
    }
  }
  /* memalign rounds a non-power-of-two alignment up, as glibc does. */
  void* m = memalign(48, 10);
  CHECK(m != NULL && ((uintptr_t)m & 63) == 0);
  free(m);

  long page = sysconf(_SC_PAGESIZE);
  void* v = valloc(10);
  CHECK(v != NULL && mine(v) && ((uintptr_t)v % page) == 0);
  free(v);
  v = pvalloc(0);
  CHECK(v != NULL && ((uintptr_t)v % page) == 0);
  CHECK(malloc_usable_size(v) >= (size_t)page);
  free(v);
  v = pvalloc(page + 1);
  CHECK(v != NULL && malloc_usable_size(v) >= 2 * (size_t)page);
  free(v);

  /* C23 sized frees and the cfree relic. */
  void* s = malloc(200);
  free_sized(s, 200);
  cfree(malloc(3));

  /* glibc's internal names are the same allocator. */
  void* (*lm)(size_t) = (void* (*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
  void (*lf)(void*) = (void (*)(void*))dlsym(RTLD_DEFAULT, "__libc_free");
  void* l = lm(77);
  CHECK(l != NULL && mine(l));
  lf(l);

  /* The hook variables point at functions that allocate from us. */
  void* (**mh)(size_t, const void*) =
    (void* (**)(size_t, const void*))dlsym(RTLD_DEFAULT, "__malloc_hook");
  void (**fh)(void*, const void*) =
    (void (**)(void*, const void*))dlsym(RTLD_DEFAULT, "__free_hook");
  CHECK(mh != NULL && *mh != NULL && fh != NULL && *fh != NULL);
  void* h = (*mh)(40, NULL);
  CHECK(h != NULL && mine(h));
  (*fh)(h, NULL);

  /* Introspection answers from snmalloc, not from a woken glibc heap. */
  void* big = malloc(5u << 20);
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.uordblks >= (5u << 20) && mi.usmblks >= mi.uordblks);
  CHECK(mi.arena == mi.uordblks + mi.fordblks);
  free(big);
  CHECK(mallopt(M_ARENA_MAX, 1) == 1);
  /* 1 if freed memory was kept for reuse and is now given back (the check
   * build keeps none); then there is nothing left to give. */
  int trimmed = malloc_trim(0);
  CHECK(trimmed == 0 || trimmed == 1);
  CHECK(malloc_trim(0) == 0);
  char* buf = NULL;
  size_t buflen = 0;
  FILE* f = open_memstream(&buf, &buflen);
  CHECK(malloc_info(0, f) == 0);
  fclose(f);
  CHECK(strstr(buf, "snmalloc-rs") != NULL);
  free(buf);
  errno = 0;
  CHECK(malloc_info(1, stdout) == -1 && errno == EINVAL);

  puts("api ok");
  return 0;
}
