/* A program opening a plugin with RTLD_DEEPBIND, as PHP does, and freeing
 * what the plugin allocated: the blocks come from glibc (the plugin's
 * malloc binds there) and our free must hand them back to glibc. */
#include "check.h"

int main(int argc, char** argv) {
  CHECK(argc == 2);
  check_served_by_us("free");
  owns_fn mine = owns();
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  CHECK(h != NULL);
  char* (*copy)(const char*) = (char* (*)(const char*))dlsym(h, "plugin_copy");
  void* (*pmalloc)(size_t) = (void* (*)(size_t))dlsym(h, "plugin_malloc");
  CHECK(copy != NULL && pmalloc != NULL);
  int foreign = 0;
  for (int i = 0; i < 100000; i++) {
    char* s = copy("a string made by the plugin");
    CHECK(s != NULL && strcmp(s, "a string made by the plugin") == 0);
    foreign += !mine(s);
    if (i % 2) {
      s = realloc(s, 1000);
      CHECK(s != NULL && mine(s) && strcmp(s, "a string made by the plugin") == 0);
    }
    free(s);
    free(pmalloc((size_t)i % 5000 + 1));
  }
  printf("deepbind ok, %d of 100000 plugin blocks were glibc's\n", foreign);
  return 0;
}
