/* The library's first call is about a block it never gave out: it must ask
 * the block's owner, not crash. argv[1] picks the case:
 *
 *   dlopen-free LIB, dlopen-usable LIB, dlopen-realloc LIB: glibc allocates
 *     a block, the library is opened with dlopen, and its first call is
 *     free / malloc_usable_size / realloc of that block.
 *   dlopen-after-malloc LIB: the same, once the library has allocated.
 *   preload: run with the library preloaded; main's first allocator calls
 *     ask about a stack address and a glibc block.
 *
 * Prints "first call ok" and exits 0. */
#include "check.h"

#include <malloc.h>

typedef void* (*malloc_fn)(size_t);
typedef void (*free_fn)(void*);
typedef void* (*realloc_fn)(void*, size_t);
typedef size_t (*usable_fn)(void*);

/* glibc's own functions, whoever else exports the names. */
static void* libc_sym(const char* name) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  CHECK(libc != NULL);
  void* f = dlsym(libc, name);
  CHECK(f != NULL);
  return f;
}

/* glibc's heap must still be consistent: it aborts otherwise. */
static void exercise_glibc(malloc_fn m, free_fn f) {
  void* blocks[200];
  for (int i = 0; i < 200; i++) CHECK((blocks[i] = m(16 + 40 * (size_t)i)) != NULL);
  for (int i = 0; i < 200; i++) f(blocks[i]);
}

static void from_dlopen(const char* mode, const char* lib) {
  malloc_fn glibc_malloc = (malloc_fn)libc_sym("malloc");
  free_fn glibc_free = (free_fn)libc_sym("free");
  usable_fn glibc_usable = (usable_fn)libc_sym("malloc_usable_size");
  unsigned char* block = glibc_malloc(1000);
  CHECK(block != NULL);
  memset(block, 0xab, 1000);
  size_t glibc_size = glibc_usable(block);

  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    exit(1);
  }
  malloc_fn sn_malloc = (malloc_fn)dlsym(h, "malloc");
  free_fn sn_free = (free_fn)dlsym(h, "free");
  realloc_fn sn_realloc = (realloc_fn)dlsym(h, "realloc");
  usable_fn sn_usable = (usable_fn)dlsym(h, "malloc_usable_size");
  owns_fn sn_owns = (owns_fn)dlsym(h, "snmalloc_rs_owns");
  CHECK(sn_malloc && sn_free && sn_realloc && sn_usable && sn_owns);

  if (strcmp(mode, "dlopen-free") == 0) {
    sn_free(block);
  } else if (strcmp(mode, "dlopen-usable") == 0) {
    CHECK(sn_usable(block) == glibc_size);
    CHECK(!sn_owns(block));
    sn_free(block);
  } else if (strcmp(mode, "dlopen-realloc") == 0) {
    unsigned char* moved = sn_realloc(block, 5000);
    CHECK(moved != NULL && sn_owns(moved));
    for (int i = 0; i < 1000; i++) CHECK(moved[i] == 0xab);
    sn_free(moved);
  } else if (strcmp(mode, "dlopen-after-malloc") == 0) {
    void* mine = sn_malloc(100);
    CHECK(mine != NULL && sn_owns(mine));
    CHECK(sn_usable(block) == glibc_size);
    sn_free(block);
    sn_free(mine);
  } else {
    fprintf(stderr, "unknown case %s\n", mode);
    exit(2);
  }
  exercise_glibc(glibc_malloc, glibc_free);
  void* p = sn_malloc(64);
  CHECK(p != NULL && sn_owns(p));
  sn_free(p);
}

static void preloaded(void) {
  int local = 0;
  /* The first calls of main ask about memory snmalloc never gave out: a
   * stack address (whether it is ours, which our code answers), then a
   * block glibc gave out, whose size and free go to glibc. (Not the size of
   * a stack address: glibc would read a chunk header in front of it,
   * undefined.) */
  CHECK(!owns()(&local));
  malloc_fn glibc_malloc = (malloc_fn)libc_sym("malloc");
  free_fn glibc_free = (free_fn)libc_sym("free");
  usable_fn glibc_usable = (usable_fn)libc_sym("malloc_usable_size");
  void* block = glibc_malloc(300);
  CHECK(block != NULL && !owns()(block));
  CHECK(malloc_usable_size(block) == glibc_usable(block));
  free(block);
  exercise_glibc(glibc_malloc, glibc_free);
  check_served_by_us("free");
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  if (strcmp(argv[1], "preload") == 0) {
    preloaded();
  } else {
    CHECK(argc == 3);
    from_dlopen(argv[1], argv[2]);
  }
  puts("first call ok");
  return 0;
}
