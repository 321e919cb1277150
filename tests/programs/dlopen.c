/* Loading the library with dlopen instead of LD_PRELOAD must not crash the
 * process: it either loads and its functions work on their own memory, or
 * dlopen fails with a message. */
#include "check.h"

int main(int argc, char** argv) {
  CHECK(argc == 2);
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char* e = dlerror();
    printf("dlopen refused: %s\n", e ? e : "(no message)");
    return 0;
  }
  void* (*m)(size_t) = (void* (*)(size_t))dlsym(h, "malloc");
  void (*f)(void*) = (void (*)(void*))dlsym(h, "free");
  owns_fn o = (owns_fn)dlsym(h, "snmalloc_rs_owns");
  CHECK(m != NULL && f != NULL && o != NULL);
  for (int i = 0; i < 100000; i++) {
    char* p = m(1 + (size_t)i % 4000);
    CHECK(p != NULL && o(p));
    p[0] = 1;
    f(p);
  }
  /* The process's own malloc is untouched and still works. */
  char* own = malloc(100);
  CHECK(own != NULL && !o(own));
  free(own);
  puts("dlopen loaded ok");
  return 0;
}
