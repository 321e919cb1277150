// Under Wine (scripts/windows.sh): a program linked the way MSVC links
// programs, against the Universal CRT through api-ms-win-crt-heap-l1-1-0.dll
// (MinGW's libucrt.a), with no MinGW start-up code and no msvcrt.dll.
//
//   ucrt.exe dynamic   allocate, LoadLibrary("snmalloc_rs.dll"), check
//   ucrt.exe loaded    the DLL must already be there (injected or imported)
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <windows.h>

static int checks, failures;
static HANDLE out;

static void say(const char* s) {
  DWORD n = 0, w;
  while (s[n]) n++;
  WriteFile(out, s, n, &w, NULL);
}
static void say_num(unsigned v) {
  char b[16];
  int i = 15;
  b[i] = 0;
  do b[--i] = (char)('0' + v % 10); while ((v /= 10) && i > 0);
  say(b + i);
}
#define CHECK(c) check((c) != 0, __LINE__)
static void check(int ok, int line) {
  checks++;
  if (!ok) {
    failures++;
    say("FAIL line ");
    say_num((unsigned)line);
    say("\r\n");
  }
}
static int all(const unsigned char* p, int v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

typedef int (*owns_fn)(const void*);

void mainCRTStartup(void) {
  out = GetStdHandle(STD_OUTPUT_HANDLE);
  const char* cmd = GetCommandLineA();
  int dynamic = 0;
  for (const char* c = cmd; *c; c++)
    if (c[0] == 'd' && c[1] == 'y' && c[2] == 'n') dynamic = 1;

  unsigned char* old = 0;
  unsigned char* old_grow = 0;
  void* old_aligned = 0;
  if (dynamic) {
    old = malloc(100);
    old_grow = malloc(40);
    for (int i = 0; i < 40; i++) old_grow[i] = 'g';
    old_aligned = _aligned_malloc(50, 256);
    CHECK(LoadLibraryA("snmalloc_rs.dll") != NULL);
  }
  HMODULE dll = GetModuleHandleA("snmalloc_rs.dll");
  CHECK(dll != NULL);
  if (!dll) ExitProcess(1);
  owns_fn owns = (owns_fn)(void (*)(void))GetProcAddress(dll, "snmalloc_rs_owns");
  CHECK(owns != NULL);
  if (!owns) ExitProcess(1);

  if (dynamic) {
    CHECK(!owns(old) && !owns(old_aligned));
    CHECK(_msize(old) >= 100);
    unsigned char* g = realloc(old_grow, 3000);
    CHECK(g && all(g, 'g', 40));
    free(g);
    free(old);
    _aligned_free(old_aligned);
  }
  unsigned char* p = malloc(1000);
  CHECK(p && owns(p) && _msize(p) >= 1000);
  for (int i = 0; i < 1000; i++) p[i] = 'p';
  unsigned char* q = realloc(p, 100000);
  CHECK(q && owns(q) && all(q, 'p', 1000));
  free(q);
  unsigned char* z = calloc(100, 10);
  CHECK(z && owns(z) && all(z, 0, 1000));
  for (int i = 0; i < 1000; i++) z[i] = 'z';
  unsigned char* r = _recalloc(z, 200, 10);
  CHECK(r && owns(r) && all(r, 'z', 1000) && all(r + 1000, 0, 1000));
  free(r);
  void* a = _aligned_malloc(100, 4096);
  CHECK(a && owns(a) && ((size_t)a & 4095) == 0);
  _aligned_free(a);
  errno = 0;
  CHECK(malloc((size_t)-1) == NULL && errno == ENOMEM);
  free(NULL);

  say("ucrt: ");
  say_num((unsigned)checks);
  say(" checks, ");
  say_num((unsigned)failures);
  say(" failed\r\n");
  ExitProcess(failures != 0);
}
