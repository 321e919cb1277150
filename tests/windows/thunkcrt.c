// A stand-in "msvcr71.dll" shaped like the Universal CRT: `free` is only a
// jump to `_free_base`, which does the work, and `_o_free` calls it from
// its body. A foreign block freed through either must reach the real
// `_free_base` code once, not come back through the redirected entry
// forever.
#include <windows.h>

void* thunk_malloc(size_t n) { return HeapAlloc(GetProcessHeap(), 0, n ? n : 1); }
__attribute__((noinline)) void thunk_free_base(void* p) {
  if (p) HeapFree(GetProcessHeap(), 0, p);
}
static volatile int o_free_calls;
void thunk_o_free(void* p) {
  o_free_calls++;
  thunk_free_base(p); // through the (redirected) entry of _free_base
  o_free_calls++;
}
size_t thunk_msize(void* p) { return HeapSize(GetProcessHeap(), 0, p); }
static int errno_value;
int* thunk_errno(void) { return &errno_value; }

__asm__(".text\n"
        ".globl thunk_free\nthunk_free:\n\tjmp thunk_free_base\n\t.byte 0xcc, 0xcc, 0xcc\n");

BOOL WINAPI DllMainCRTStartup(HINSTANCE h, DWORD r, LPVOID p) {
  (void)h; (void)r; (void)p;
  return TRUE;
}
