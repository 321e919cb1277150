/* Counts the instructions of K malloc+free pairs by single-stepping them.
 *
 *   stepcount LIB_OR_EMPTY SIZE K
 *
 * Runs `fastpath steps SIZE K` (the fastpath binary next to this one, or
 * $FASTPATH) with LD_PRELOAD=LIB, or with LD_PRELOAD unset when LIB is "",
 * under ptrace. It lets the child run freely through start-up and warm-up
 * to the start marker (an int3 with a magic value in rax, see fastpath.c),
 * then single-steps until the child arrives at the end marker function.
 *
 * Each step is attributed by the address of the instruction it executed:
 * inside the fastpath executable (the loop, the call sites, the PLT stubs:
 * the harness, the same code under every allocator) or outside it (malloc,
 * free and whatever they call: the allocator). Every stretch of allocator
 * steps is one call, from the first instruction of malloc or free to its
 * return; they alternate malloc, free, malloc, ... and there must be 2K of
 * them. Prints one line of key=value fields:
 *
 *   alloc_per_pair  allocator instructions / K: the figure to compare
 *   total_per_pair  all instructions between the markers / K
 *   malloc_median, free_median, pair_median, pair_min, pair_max
 *                   the same per call or per pair; the medians are the fast
 *                   path, the maximum the costliest slow path met
 *   alloc_steps, total_steps   the raw counts
 *
 * A repeated string instruction traps after each iteration when
 * single-stepped; a step that leaves rip where it was is counted as part of
 * the same instruction, not as a new one.
 *
 * Tracer and child are pinned to one CPU: a single-step round trip between
 * two CPUs costs several times more (an IPI per wake-up), and pinning does
 * not change what is counted. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEP_MAGIC 0x7370657473617066ull /* as in fastpath.c */

static pid_t child;

static void die(const char* fmt, const char* arg) {
  fprintf(stderr, "stepcount: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  if (child > 0) kill(child, SIGKILL);
  exit(1);
}

/* Waits for the child's next stop and returns its signal; dies if the child
 * exited or was killed instead. */
static int wait_stop(const char* during) {
  int st;
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR) die("waitpid: %s", strerror(errno));
  char msg[160];
  if (WIFEXITED(st)) {
    snprintf(msg, sizeof msg, "child exited with status %d %s", WEXITSTATUS(st), during);
    child = 0;
    die("%s", msg);
  }
  if (WIFSIGNALED(st)) {
    snprintf(msg, sizeof msg, "child killed by signal %d (%s) %s", WTERMSIG(st),
             strsignal(WTERMSIG(st)), during);
    child = 0;
    die("%s", msg);
  }
  if (!WIFSTOPPED(st)) die("unexpected wait status %s", during);
  return WSTOPSIG(st);
}

static unsigned long long peek_rip(void) {
  errno = 0;
  long v = ptrace(PTRACE_PEEKUSER, child, (void*)offsetof(struct user, regs.rip), NULL);
  if (errno) die("PTRACE_PEEKUSER: %s", strerror(errno));
  return (unsigned long long)v;
}

static int cmp_u32(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n), sorting v. */
static double median(uint32_t* v, long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_u32);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

static void pin_to_one_cpu(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  int cpu = sched_getcpu();
  if (cpu < 0 || !CPU_ISSET(cpu, &set)) {
    for (cpu = CPU_SETSIZE - 1; cpu >= 0 && !CPU_ISSET(cpu, &set); cpu--) {}
    if (cpu < 0) return;
  }
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort */
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fputs("usage: stepcount LIB_OR_EMPTY SIZE K\n", stderr);
    return 2;
  }
  const char* lib = argv[1];
  char* end;
  long k = strtol(argv[3], &end, 10);
  if (*argv[3] == '\0' || *end != '\0' || k <= 0 || k > 100000000) die("bad K: %s", argv[3]);

  char fastpath[PATH_MAX];
  const char* env = getenv("FASTPATH");
  if (env && *env) {
    snprintf(fastpath, sizeof fastpath, "%s", env);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) die("readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    snprintf(fastpath, sizeof fastpath, "%s/fastpath", dirname(self));
  }
  if (access(fastpath, X_OK) != 0) die("cannot run %s", fastpath);
  if (*lib && access(lib, R_OK) != 0) die("cannot read %s", lib);

  /* Per call: calls[2i] is the i-th malloc, calls[2i+1] its free. */
  uint32_t* calls = calloc(2 * (size_t)k, sizeof *calls);
  uint32_t* pairs = calloc((size_t)k, sizeof *pairs);
  if (!calls || !pairs) die("%s", "out of memory");

  pin_to_one_cpu();
  child = fork();
  if (child < 0) die("fork: %s", strerror(errno));
  if (child == 0) {
    if (*lib) setenv("LD_PRELOAD", lib, 1);
    else unsetenv("LD_PRELOAD");
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(126);
    execl(fastpath, fastpath, "steps", argv[2], argv[3], (char*)NULL);
    _exit(127);
  }

  /* The exec stop. From here on, the child dies with us. */
  int sig = wait_stop("before exec");
  if (sig != SIGTRAP) die("first stop was %s, not the exec's SIGTRAP", strsignal(sig));
  if (ptrace(PTRACE_SETOPTIONS, child, NULL, (void*)(long)PTRACE_O_EXITKILL) != 0)
    die("PTRACE_SETOPTIONS: %s", strerror(errno));

  /* Run to the start marker, passing any other signal on. */
  struct user_regs_struct regs;
  int pass = 0;
  for (;;) {
    if (ptrace(PTRACE_CONT, child, NULL, (void*)(long)pass) != 0)
      die("PTRACE_CONT: %s", strerror(errno));
    sig = wait_stop("before the start marker");
    pass = sig;
    if (sig != SIGTRAP) continue;
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, child, NULL, &si) != 0)
      die("PTRACE_GETSIGINFO: %s", strerror(errno));
    if (ptrace(PTRACE_GETREGS, child, NULL, &regs) != 0)
      die("PTRACE_GETREGS: %s", strerror(errno));
    if (si.si_code == SI_KERNEL && regs.rax == STEP_MAGIC) break;
  }
  const unsigned long long end_marker = regs.rdx, lo = regs.rsi, hi = regs.rdi;
  if (!(lo < hi && lo <= end_marker && end_marker < hi))
    die("%s", "start marker carries implausible addresses");

  /* Single-step to the end marker; the marker's own SIGTRAP is swallowed.
   * ncalls counts the stretches of allocator steps seen so far. */
  unsigned long long rip = regs.rip, total = 0, alloc = 0, repeats = 0, passed = 0;
  long ncalls = 0;
  int in_alloc = 0;
  pass = 0;
  while (rip != end_marker) {
    if (ptrace(PTRACE_SINGLESTEP, child, NULL, (void*)(long)pass) != 0)
      die("PTRACE_SINGLESTEP: %s", strerror(errno));
    sig = wait_stop("between the markers");
    pass = sig == SIGTRAP ? 0 : sig;
    if (pass) { passed++; continue; } /* delivered with the next step */
    unsigned long long next = peek_rip();
    if (next == rip) { repeats++; continue; }
    total++;
    if (rip < lo || rip >= hi) {
      if (!in_alloc) {
        if (ncalls == 2 * k) die("%s", "more than 2K allocator calls between the markers");
        in_alloc = 1;
        ncalls++;
      }
      alloc++;
      calls[ncalls - 1]++;
    } else {
      in_alloc = 0;
    }
    rip = next;
  }
  if (ncalls != 2 * k) {
    char msg[96];
    snprintf(msg, sizeof msg, "%ld allocator calls between the markers, not 2K = %ld",
             ncalls, 2 * k);
    die("%s", msg);
  }
  if (passed)
    fprintf(stderr, "stepcount: warning: %llu signal(s) arrived between the markers; "
            "their handlers were counted\n", passed);
  if (repeats)
    fprintf(stderr, "stepcount: note: %llu repeated-string iterations counted as "
            "part of their instruction\n", repeats);

  /* Let the child finish, and check that it does so normally. */
  pass = 0;
  for (;;) {
    if (ptrace(PTRACE_CONT, child, NULL, (void*)(long)pass) != 0)
      die("PTRACE_CONT: %s", strerror(errno));
    int st;
    while (waitpid(child, &st, 0) < 0)
      if (errno != EINTR) die("waitpid: %s", strerror(errno));
    if (WIFEXITED(st)) {
      child = 0;
      if (WEXITSTATUS(st) != 0) die("%s", "child exited with an error after the end marker");
      break;
    }
    if (WIFSIGNALED(st)) { child = 0; die("%s", "child killed after the end marker"); }
    pass = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
  }

  uint32_t pmin = UINT32_MAX, pmax = 0;
  for (long i = 0; i < k; i++) {
    pairs[i] = calls[2 * i] + calls[2 * i + 1];
    if (pairs[i] < pmin) pmin = pairs[i];
    if (pairs[i] > pmax) pmax = pairs[i];
  }
  /* De-interleave: mallocs to the front half, frees to the back. */
  uint32_t* sorted = malloc(2 * (size_t)k * sizeof *sorted);
  if (!sorted) die("%s", "out of memory");
  for (long i = 0; i < k; i++) {
    sorted[i] = calls[2 * i];
    sorted[k + i] = calls[2 * i + 1];
  }
  double mmed = median(sorted, k), fmed = median(sorted + k, k), pmed = median(pairs, k);

  printf("alloc_per_pair=%.2f total_per_pair=%.2f malloc_median=%g free_median=%g "
         "pair_median=%g pair_min=%u pair_max=%u alloc_steps=%llu total_steps=%llu\n",
         (double)alloc / (double)k, (double)total / (double)k, mmed, fmed, pmed, pmin, pmax,
         alloc, total);
  return 0;
}
