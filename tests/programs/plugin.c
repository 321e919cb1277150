/* A plugin, built as a shared library by the test: its malloc binds to
 * glibc's when it is opened with RTLD_DEEPBIND (glibc 2.34+ has no hooks
 * to bring it back to the preloaded allocator). */
#include <stdlib.h>
#include <string.h>

char* plugin_copy(const char* s) {
  size_t n = strlen(s) + 1;
  char* p = malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

void* plugin_malloc(size_t n) { return malloc(n); }
