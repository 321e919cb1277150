/* operator new called from a process without a C++ runtime: the nothrow
 * form returns NULL; the throwing form cannot throw and aborts with a
 * message, never a crash. */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void* (*new_fn)(size_t);
typedef void* (*new_nothrow_fn)(size_t, const void*);

int main(void) {
  check_served_by_us("_Znwm");
  CHECK(dlsym(RTLD_DEFAULT, "__cxa_throw") == NULL); /* really no runtime */
  new_fn op_new = (new_fn)dlsym(RTLD_DEFAULT, "_Znwm");
  new_nothrow_fn op_new_nothrow =
    (new_nothrow_fn)dlsym(RTLD_DEFAULT, "_ZnwmRKSt9nothrow_t");
  CHECK(op_new != NULL && op_new_nothrow != NULL);

  void* p = op_new(100);
  CHECK(p != NULL && owns()(p));
  free(p);
  char nothrow_tag = 0;
  CHECK(op_new_nothrow(SIZE_MAX / 2, &nothrow_tag) == NULL);

  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    op_new(SIZE_MAX / 2);
    _exit(0); /* not reached */
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  puts("new from c ok");
  return 0;
}
