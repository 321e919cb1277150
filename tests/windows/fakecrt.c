// A stand-in "msvcr70.dll" whose malloc starts with an instruction the
// hook's decoder does not know (jrcxz): snmalloc_rs.dll must leave the whole
// module alone, say so, and the module must keep working on its own heap.
#include <windows.h>

void* fake_malloc_impl(size_t n) { return HeapAlloc(GetProcessHeap(), 0, n ? n : 1); }
void fake_free(void* p) {
  if (p) HeapFree(GetProcessHeap(), 0, p);
}
static int fake_errno_value;
int* fake_errno(void) { return &fake_errno_value; }

// jrcxz +0 (a no-op either way), then the real work.
__asm__(".text\n.globl fake_malloc\nfake_malloc:\n\t.byte 0xe3, 0x00\n\tjmp fake_malloc_impl\n");

BOOL WINAPI DllMainCRTStartup(HINSTANCE h, DWORD r, LPVOID p) {
  (void)h; (void)r; (void)p;
  return TRUE;
}
