// Run set-user-ID root by tests/secure.rs: says whether the process is in
// secure-execution mode, whether snmalloc-rs serves its malloc, and whether
// the options reached it; then exits through exit(), where the report
// would be written.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(void)
{
  int (*owns)(const void*) = (int (*)(const void*))dlsym(RTLD_DEFAULT, "snmalloc_rs_owns");
  void* p = malloc(100);
  const char* file = getenv("SNMALLOC_STATS_FILE");
  printf(
    "secure=%lu euid=%d served=%d stats_file=%s\n",
    getauxval(AT_SECURE),
    (int)geteuid(),
    owns != NULL && owns(p),
    file ? file : "(unset)");
  free(p);
  exit(0);
}
