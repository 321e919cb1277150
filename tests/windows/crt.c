// Run under Wine (scripts/windows.sh): the C runtime's allocator, before and
// after snmalloc_rs.dll redirects it.
//
//   crt.exe dynamic PATH\snmalloc_rs.dll   allocate, then load the DLL, then
//                                         check every hooked function
//   crt.exe loaded                          the DLL must already be there
//                                         (snmalloc-run.exe, or an import)
//   crt.exe busy PATH\snmalloc_rs.dll      the DLL loads while 4 threads are
//                                         in malloc/free all the time
//   crt.exe orphans PATH\snmalloc_rs.dll   threads that allocate after their
//                                         teardown (latedetach.c)
//   crt.exe thunks PATH\snmalloc_rs.dll    a CRT whose free is a jump to
//                                         _free_base (thunkcrt.c)
//   crt.exe refuse PATH\snmalloc_rs.dll    a CRT whose prologue cannot be
//                                         moved (fakecrt.c) is left alone
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

static int failures, checks;
#define CHECK(c)                                                         \
  do {                                                                   \
    checks++;                                                            \
    if (!(c)) {                                                          \
      failures++;                                                        \
      fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #c);               \
    }                                                                    \
  } while (0)

typedef int (*owns_fn)(const void*);
static owns_fn owns;

// ucrtbase.dll, used through GetProcAddress: MinGW links msvcrt.dll.
static struct {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*realloc)(void*, size_t);
  void* (*recalloc)(void*, size_t, size_t);
  size_t (*msize)(void*);
  void* (*aligned_malloc)(size_t, size_t);
  void* (*aligned_recalloc)(void*, size_t, size_t, size_t);
  size_t (*aligned_msize)(void*, size_t, size_t);
  void (*aligned_free)(void*);
  void* (*malloc_base)(size_t);
  void (*free_base)(void*);
  int* (*errno_)(void);
} ucrt;

static void load_ucrt(void) {
  HMODULE h = LoadLibraryA("ucrtbase.dll");
  CHECK(h != NULL);
#define GET(f, name) ucrt.f = (__typeof__(ucrt.f))(void (*)(void))GetProcAddress(h, name); CHECK(ucrt.f != NULL)
  GET(malloc, "malloc"); GET(free, "free"); GET(realloc, "realloc");
  GET(recalloc, "_recalloc"); GET(msize, "_msize");
  GET(aligned_malloc, "_aligned_malloc"); GET(aligned_recalloc, "_aligned_recalloc");
  GET(aligned_msize, "_aligned_msize"); GET(aligned_free, "_aligned_free");
  GET(malloc_base, "_malloc_base"); GET(free_base, "_free_base");
  GET(errno_, "_errno");
}

static int all_bytes(const void* p, int v, size_t n) {
  const unsigned char* c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != v) return 0;
  return 1;
}

// Threads: each allocates blocks that the next one frees.
#define THREADS 8
#define PER 2000
static void* volatile handoff[THREADS][PER];
static DWORD WINAPI worker(LPVOID arg) {
  int id = (int)(intptr_t)arg;
  for (int i = 0; i < PER; i++) {
    void* p = malloc(16 + (i % 512));
    if (!p || !owns(p)) return 1;
    memset(p, id, 16);
    handoff[id][i] = p;
  }
  return 0;
}
static DWORD WINAPI freer(LPVOID arg) {
  int id = (int)(intptr_t)arg;
  for (int i = 0; i < PER; i++) {
    unsigned char* p = handoff[id][i];
    if (p[0] != id) return 1;
    free(p);
  }
  return 0;
}
static void run_threads(void) {
  HANDLE h[THREADS];
  DWORD code;
  for (int i = 0; i < THREADS; i++) h[i] = CreateThread(NULL, 0, worker, (LPVOID)(intptr_t)i, 0, NULL);
  WaitForMultipleObjects(THREADS, h, TRUE, INFINITE);
  for (int i = 0; i < THREADS; i++) { GetExitCodeThread(h[i], &code); CHECK(code == 0); CloseHandle(h[i]); }
  // Freed by other threads than their allocators'.
  for (int i = 0; i < THREADS; i++) h[i] = CreateThread(NULL, 0, freer, (LPVOID)(intptr_t)((i + 1) % THREADS), 0, NULL);
  WaitForMultipleObjects(THREADS, h, TRUE, INFINITE);
  for (int i = 0; i < THREADS; i++) { GetExitCodeThread(h[i], &code); CHECK(code == 0); CloseHandle(h[i]); }
}

// Many short-lived threads: each one's allocator is torn down at exit and
// reused by the next; the process must not grow with their number.
static DWORD WINAPI short_lived(LPVOID arg) {
  void* keep[64];
  (void)arg;
  for (int i = 0; i < 64; i++) keep[i] = malloc(1000);
  for (int i = 0; i < 64; i++) free(keep[i]);
  return owns(keep[0]) ? 0 : 1;
}
static SIZE_T commit_now(void) {
  MEMORY_BASIC_INFORMATION m;
  SIZE_T total = 0;
  for (char* a = 0; VirtualQuery(a, &m, sizeof m); a = (char*)m.BaseAddress + m.RegionSize)
    if (m.State == MEM_COMMIT && m.Type == MEM_PRIVATE) total += m.RegionSize;
  return total;
}
static void churn_threads(int n) {
  for (int i = 0; i < n; i++) {
    HANDLE h = CreateThread(NULL, 0, short_lived, NULL, 0, NULL);
    DWORD code;
    WaitForSingleObject(h, INFINITE);
    GetExitCodeThread(h, &code);
    CloseHandle(h);
    if (code != 0) { CHECK(code == 0); return; }
  }
}

// Threads that allocate and free without pause, across the redirection:
// each keeps a ring of blocks, so blocks from before it are freed after it.
static volatile LONG stop_busy, redirected_seen;
static DWORD WINAPI busy(LPVOID arg) {
  char* ring[64] = {0};
  unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
  for (unsigned long i = 0; !stop_busy; i++) {
    x = x * 1103515245u + 12345u;
    size_t n = 8 + (x >> 16) % 3000;
    char** slot = &ring[i % 64];
    if (*slot) {
      if ((*slot)[0] != (char)(i % 64)) return 1; // corrupted
      free(*slot);
    }
    *slot = (i & 1) ? malloc(n) : calloc(1, n);
    if (!*slot) return 2;
    (*slot)[0] = (char)(i % 64);
    if (owns && owns(*slot)) InterlockedExchange(&redirected_seen, 1);
  }
  for (int k = 0; k < 64; k++) free(ring[k]);
  return 0;
}

static void after_redirection(void) {
  // malloc, calloc, realloc, _msize, _expand
  char* p = malloc(100);
  CHECK(p && owns(p));
  CHECK(_msize(p) >= 100);
  memset(p, 'x', 100);
  char* q = realloc(p, 5000);
  CHECK(q && owns(q) && all_bytes(q, 'x', 100));
  CHECK(_expand(q, 10) == q);
  CHECK(_expand(q, 1 << 20) == NULL);
  CHECK(realloc(q, 0) == NULL); // freed, as the Microsoft CRT does
  int* z = calloc(1000, sizeof(int));
  CHECK(z && owns(z) && all_bytes(z, 0, 1000 * sizeof(int)));
  free(z);
  char* s = _strdup("snmalloc"); // the CRT's internal malloc
  CHECK(s && owns(s) && strcmp(s, "snmalloc") == 0);
  free(s);

  // The aligned family.
  void* a = _aligned_malloc(1000, 4096);
  CHECK(a && owns(a) && ((uintptr_t)a & 4095) == 0);
  memset(a, 'a', 1000);
  void* b = _aligned_realloc(a, 20000, 4096);
  CHECK(b && owns(b) && ((uintptr_t)b & 4095) == 0 && all_bytes(b, 'a', 1000));
  _aligned_free(b);
  char* o = _aligned_offset_malloc(200, 64, 8);
  CHECK(o && owns(o) && ((uintptr_t)(o + 8) & 63) == 0);
  memset(o, 'o', 200);
  char* o2 = _aligned_offset_realloc(o, 5000, 64, 8);
  CHECK(o2 && owns(o2) && ((uintptr_t)(o2 + 8) & 63) == 0 && all_bytes(o2, 'o', 200));
  _aligned_free(o2);
  _aligned_free(NULL);

  // Bad input: defined answers, errno set.
  errno = 0;
  CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(_aligned_malloc(64, 3) == NULL && errno == EINVAL);
  free(NULL);
  void* keep = malloc(10);
  CHECK(realloc(keep, SIZE_MAX) == NULL);
  free(keep);

  // ucrtbase.dll: its own functions, and the ones msvcrt lacks.
  void* u = ucrt.malloc(300);
  CHECK(u && owns(u));
  memset(u, 'u', 300);
  char* ur = ucrt.recalloc(u, 10, 100);
  CHECK(ur && owns(ur) && all_bytes(ur, 'u', 300) && all_bytes(ur + 300, 0, 700));
  // A chain of small growths, in place and moving: every byte past the
  // data must read as zero, whatever the block's size class.
  // Freed, dirty blocks of every small size first, so that the chain gets
  // reused memory rather than fresh zero pages.
  for (size_t sz = 16; sz <= 4096; sz += 16) {
    void* d = ucrt.malloc(sz);
    memset(d, 0xAA, sz);
    ucrt.free(d);
  }
  char* chain = ucrt.recalloc(NULL, 1, 10);
  CHECK(chain && all_bytes(chain, 0, 10));
  size_t len = 10;
  for (size_t n = 11; n < 3000; n += 7) {
    memset(chain, 'c', len);
    chain = ucrt.recalloc(chain, 1, n);
    if (!chain || !all_bytes(chain, 'c', len) || !all_bytes(chain + len, 0, n - len)) {
      CHECK(!"_recalloc chain keeps data and zeroes growth");
      break;
    }
    len = n;
  }
  ucrt.free(chain);
  ucrt.free(ur);
  void* ub = ucrt.malloc_base(64);
  CHECK(ub && owns(ub));
  ucrt.free_base(ub);
  char* ua = ucrt.aligned_recalloc(NULL, 10, 10, 256);
  CHECK(ua && owns(ua) && ((uintptr_t)ua & 255) == 0 && all_bytes(ua, 0, 100));
  CHECK(ucrt.aligned_msize(ua, 256, 0) >= 100);
  ucrt.aligned_free(ua);
  *ucrt.errno_() = 0;
  CHECK(ucrt.malloc(SIZE_MAX) == NULL && *ucrt.errno_() == ENOMEM);

  // A C runtime loaded after the DLL is redirected as it loads.
  HMODULE m120 = LoadLibraryA("msvcr120.dll");
  CHECK(m120 != NULL);
  if (m120) {
    void* (*m)(size_t) = (void* (*)(size_t))GetProcAddress(m120, "malloc");
    void (*f)(void*) = (void (*)(void*))GetProcAddress(m120, "free");
    void* x = m(77);
    CHECK(x && owns(x));
    f(x);
  }

  run_threads();
  churn_threads(50);
  SIZE_T before = commit_now();
  churn_threads(500);
  SIZE_T after = commit_now();
  // 500 more threads may not add more than 8 MiB of committed memory.
  CHECK(after < before + (8u << 20));
  if (after >= before + (8u << 20))
    fprintf(stderr, "commit grew from %zu to %zu KiB\n", before >> 10, after >> 10);
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "dynamic") == 0) {
    load_ucrt();
    // Blocks from the CRTs' own heaps, before the redirection.
    char* old = malloc(100);
    memset(old, 'm', 100);
    char* old_grow = malloc(50);
    memset(old_grow, 'g', 50);
    void* old_aligned = _aligned_malloc(100, 64);
    char* old_dup = _strdup("before");
    void* old_u = ucrt.malloc(40);
    void* old_u_aligned = ucrt.aligned_malloc(40, 128);

    HMODULE dll = LoadLibraryA(argv[2]);
    CHECK(dll != NULL);
    if (!dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    CHECK(owns != NULL);
    if (!owns) return 1;

    // Across the boundary: the old blocks still work with the new functions.
    CHECK(!owns(old) && !owns(old_aligned) && !owns(old_u));
    CHECK(_msize(old) >= 100 && _msize(old) < 1000);
    char* grown = realloc(old_grow, 10000);
    CHECK(grown && all_bytes(grown, 'g', 50));
    free(grown);
    CHECK(strcmp(old_dup, "before") == 0);
    free(old_dup);
    free(old);
    _aligned_free(old_aligned);
    CHECK(ucrt.msize(old_u) >= 40);
    ucrt.free(old_u);
    ucrt.aligned_free(old_u_aligned);
    after_redirection();
    // The DLL pins itself: unloading it must change nothing.
    CHECK(FreeLibrary(dll));
    void* after_unload = malloc(10);
    CHECK(after_unload && owns(after_unload));
    free(after_unload);
  } else if (argc >= 2 && strcmp(argv[1], "loaded") == 0) {
    HMODULE dll = GetModuleHandleA("snmalloc_rs.dll");
    CHECK(dll != NULL);
    if (!dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    load_ucrt();
    void* first = malloc(10);
    CHECK(owns(first));
    free(first);
    after_redirection();
  } else if (argc >= 3 && strcmp(argv[1], "busy") == 0) {
    HANDLE h[4];
    for (int i = 0; i < 4; i++) h[i] = CreateThread(NULL, 0, busy, (LPVOID)(intptr_t)i, 0, NULL);
    Sleep(200);
    HMODULE dll = LoadLibraryA(argv[2]);
    CHECK(dll != NULL);
    if (!dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    Sleep(500);
    stop_busy = 1;
    WaitForMultipleObjects(4, h, TRUE, INFINITE);
    for (int i = 0; i < 4; i++) {
      DWORD code;
      GetExitCodeThread(h[i], &code);
      CHECK(code == 0);
    }
    CHECK(redirected_seen);
  } else if (argc >= 3 && strcmp(argv[1], "orphans") == 0) {
    HMODULE late = LoadLibraryA("latedetach.dll");
    CHECK(late != NULL);
    HMODULE dll = LoadLibraryA(argv[2]);
    CHECK(dll != NULL);
    if (!late || !dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    LONG (*detaches)(void) = (LONG (*)(void))GetProcAddress(late, "late_detaches");
    churn_threads(50);
    SIZE_T before = commit_now();
    churn_threads(500);
    SIZE_T after = commit_now();
    CHECK(detaches && detaches() >= 550); // it did allocate after our teardown
    // Without releasing orphans this grows by about 40 MiB.
    CHECK(after < before + (8u << 20));
    if (after >= before + (8u << 20))
      fprintf(stderr, "commit grew from %zu to %zu KiB\n", before >> 10, after >> 10);
  } else if (argc >= 3 && strcmp(argv[1], "thunks") == 0) {
    HMODULE t = LoadLibraryA("msvcr71.dll"); // thunkcrt.c
    CHECK(t != NULL);
    if (!t) return 1;
    void* (*m)(size_t) = (void* (*)(size_t))GetProcAddress(t, "malloc");
    void (*f)(void*) = (void (*)(void*))GetProcAddress(t, "free");
    void (*of)(void*) = (void (*)(void*))GetProcAddress(t, "_o_free");
    size_t (*ms)(void*) = (size_t (*)(void*))GetProcAddress(t, "_msize");
    void* a = m(100);
    void* b = m(200);
    HMODULE dll = LoadLibraryA(argv[2]);
    CHECK(dll != NULL);
    if (!dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    CHECK(!owns(a) && ms(a) == 100);
    f(a);  // foreign, through a thunk: once to the real _free_base
    of(b); // the same through the other thunk
    void* c = m(300);
    CHECK(c && owns(c));
    f(c);
  } else if (argc >= 3 && strcmp(argv[1], "refuse") == 0) {
    HMODULE dll = LoadLibraryA(argv[2]);
    CHECK(dll != NULL);
    if (!dll) return 1;
    owns = (owns_fn)GetProcAddress(dll, "snmalloc_rs_owns");
    HMODULE fake = LoadLibraryA("msvcr70.dll");
    CHECK(fake != NULL);
    if (!fake) return 1;
    void* (*m)(size_t) = (void* (*)(size_t))GetProcAddress(fake, "malloc");
    void (*f)(void*) = (void (*)(void*))GetProcAddress(fake, "free");
    void* x = m(100);
    CHECK(x != NULL && !owns(x)); // its own heap: not redirected
    memset(x, 1, 100);
    f(x);
    void* y = malloc(100); // msvcrt is still redirected
    CHECK(y && owns(y));
    free(y);
  } else {
    fprintf(stderr, "usage: crt.exe dynamic DLL | loaded | busy DLL | orphans DLL | thunks DLL | refuse DLL\n");
    return 2;
  }
  printf("crt: %d checks, %d failed\n", checks, failures);
  return failures != 0;
}
