// A DLL that allocates and frees in its DLL_THREAD_DETACH. Loaded before
// snmalloc_rs.dll, it is detached after it (reverse initialisation order),
// so its malloc/free find the thread's allocator already torn down: each
// such thread gets an "orphan" allocator, which must be released once the
// thread has ended (crt.exe orphans).
#include <stdlib.h>
#include <string.h>
#include <windows.h>

static volatile LONG detaches;
__declspec(dllexport) LONG late_detaches(void) { return detaches; }

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID r) {
  (void)h;
  (void)r;
  if (reason == DLL_THREAD_DETACH) {
    char* p = malloc(1000);
    if (p) {
      memset(p, 1, 1000);
      free(p);
    }
    InterlockedIncrement(&detaches);
  }
  return TRUE;
}
