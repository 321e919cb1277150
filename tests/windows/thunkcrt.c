// A stand-in "msvcr71.dll" shaped like the Universal CRT: `free` and
// `_o_free` are only jumps to `_free_base`, which does the work. A foreign
// block freed through a thunk must reach the real `_free_base` code once,
// not come back through the redirected `_free_base` forever.
#include <windows.h>

void* thunk_malloc(size_t n) { return HeapAlloc(GetProcessHeap(), 0, n ? n : 1); }
void thunk_free_base(void* p) {
  if (p) HeapFree(GetProcessHeap(), 0, p);
}
size_t thunk_msize(void* p) { return HeapSize(GetProcessHeap(), 0, p); }
static int errno_value;
int* thunk_errno(void) { return &errno_value; }

__asm__(".text\n"
        ".globl thunk_free\nthunk_free:\n\tjmp thunk_free_base\n\t.byte 0xcc, 0xcc, 0xcc\n"
        ".globl thunk_o_free\nthunk_o_free:\n\tjmp thunk_free_base\n\t.byte 0xcc, 0xcc, 0xcc\n");

BOOL WINAPI DllMainCRTStartup(HINSTANCE h, DWORD r, LPVOID p) {
  (void)h; (void)r; (void)p;
  return TRUE;
}
