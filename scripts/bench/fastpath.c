/* Allocator fast path: one malloc(SIZE) and its free(), over and over.
 *
 *   fastpath cycles SIZE N [REPS]   time REPS (default 7) runs of N pairs
 *                                   with rdtsc; print the best run's TSC
 *                                   ticks per pair
 *   fastpath steps SIZE K           run exactly K pairs between two markers
 *                                   for scripts/bench/stepcount.c, which
 *                                   single-steps them
 *
 * Both modes first warm up with WARMUP pairs, so that every lazy binding,
 * thread-local initialisation and first-time slow path of the allocator is
 * behind us. Build with -O2 -fno-builtin: malloc and free stay real calls
 * through the PLT, as in any program.
 *
 * The markers of steps mode: the start is an `int3` executed with
 * rax = STEP_MAGIC, and with the addresses the tracer needs in registers:
 * rdx = the end marker (a noinline function called right after the K-th
 * pair), rsi/rdi = the bounds of this executable's text (the call sites and
 * PLT stubs, which the tracer counts apart from the allocator's own code).
 * Without a tracer, the SIGTRAP goes to a handler that does nothing. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#define STEP_MAGIC 0x7370657473617066ull /* "fpastesp" */
enum { WARMUP = 100000 };

extern const char __executable_start[];
extern const char etext[];

/* The allocator call we measure. noinline: one copy of the loop, the same
 * in both modes and for every allocator. */
static __attribute__((noinline)) void pairs(size_t size, long n) {
  for (long i = 0; i < n; i++) {
    char* p = malloc(size);
    if (!p) { fputs("fastpath: malloc failed\n", stderr); exit(1); }
    *(volatile char*)p = (char)i;
    free(p);
  }
}

__attribute__((noinline)) void fastpath_end_marker(void) {
  __asm__ volatile("" ::: "memory");
}

static void on_sigtrap(int sig) { (void)sig; }

static uint64_t ticks(void) {
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

static long arg_long(const char* s, const char* what) {
  char* end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0) {
    fprintf(stderr, "fastpath: bad %s: %s\n", what, s);
    exit(2);
  }
  return v;
}

static int usage(void) {
  fputs("usage: fastpath cycles SIZE N [REPS]\n"
        "       fastpath steps SIZE K\n", stderr);
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  size_t size = (size_t)arg_long(argv[2], "SIZE");
  long n = arg_long(argv[3], "count");

  if (strcmp(argv[1], "cycles") == 0 && argc <= 5) {
    long reps = argc == 5 ? arg_long(argv[4], "REPS") : 7;
    if (n == 0 || reps == 0) return usage();
    pairs(size, WARMUP);
    uint64_t best = UINT64_MAX;
    for (long r = 0; r < reps; r++) {
      uint64_t t0 = ticks();
      pairs(size, n);
      uint64_t t = ticks() - t0;
      if (t < best) best = t;
    }
    printf("%.2f\n", (double)best / (double)n);
    return 0;
  }

  if (strcmp(argv[1], "steps") == 0 && argc == 4) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigtrap;
    sigaction(SIGTRAP, &sa, NULL);
    pairs(size, WARMUP);
    /* The tracer starts counting after this int3, and stops on arrival at
     * fastpath_end_marker: what lies between is the call of pairs(size, n),
     * its loop and the K allocator calls. */
    register uint64_t magic __asm__("rax") = STEP_MAGIC;
    register void (*end)(void) __asm__("rdx") = fastpath_end_marker;
    register const char* lo __asm__("rsi") = __executable_start;
    register const char* hi __asm__("rdi") = etext;
    __asm__ volatile("int3" : : "r"(magic), "r"(end), "r"(lo), "r"(hi) : "memory");
    pairs(size, n);
    fastpath_end_marker();
    return 0;
  }

  return usage();
}
