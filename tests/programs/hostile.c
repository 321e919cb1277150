/* Programs in conditions a security review set up (tests/hostile.rs runs
 * them, preloaded):
 *
 *   hostile mlock       mlockall(MCL_CURRENT), then small and large blocks;
 *                       prints how much is locked (VmLck)
 *   hostile exhausted   a thread is started, memory is exhausted (1 MiB, then
 *                       16 KiB, 4 KiB, 64-byte and 16-byte blocks until
 *                       ENOMEM), then the thread makes
 *                       its first allocations: NULL with ENOMEM, or a block;
 *                       never an abort; all is freed and the thread ends
 *   hostile data-file   opens a data file (which takes fd 2 when the
 *                       program was started with stderr closed), writes a
 *                       line, and exits through exit()
 *   hostile smaps       prints the private dirty KiB of the library's
 *                       executable mappings (/proc/self/smaps)
 * Prints "hostile MODE ok" (and figures) and exits 0. */
#include "check.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static long status_kib(const char* field) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0) v = atol(line + n);
  fclose(f);
  return v;
}

static void* fill(size_t size) {
  void* head = NULL;
  for (;;) {
    void** p = malloc(size);
    if (p == NULL) return head;
    *p = head;
    head = p;
  }
}

static void release(void* head) {
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int first_err = -1;
static int first_ok = -1;

static void* late_thread(void* arg) {
  (void)arg;
  pthread_mutex_lock(&gate); /* until memory is exhausted */
  pthread_mutex_unlock(&gate);
  errno = 0;
  void* p = malloc(64);
  first_ok = p != NULL;
  first_err = errno;
  free(p);
  void* q = malloc(200000);
  free(q);
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  const char* mode = argv[1];
  if (strcmp(mode, "mlock") == 0) {
    if (mlockall(MCL_CURRENT) != 0) {
      fprintf(stderr, "hostile mlock: mlockall: %s\n", strerror(errno));
      return 1;
    }
    void* small[1000];
    for (int i = 0; i < 1000; i++) CHECK((small[i] = malloc(100)) != NULL);
    char* big = malloc(8 * MiB);
    CHECK(big != NULL);
    memset(big, 1, 8 * MiB);
    free(big);
    for (int i = 0; i < 1000; i++) free(small[i]);
    printf("hostile mlock ok, %ld KiB locked\n", status_kib("VmLck:"));
  } else if (strcmp(mode, "exhausted") == 0) {
    owns_fn mine = owns();
    pthread_t t;
    pthread_mutex_lock(&gate);
    CHECK(pthread_create(&t, NULL, late_thread, NULL) == 0);
    void* big = fill(MiB);
    void* chunks = fill(16384);
    void* pages = fill(4096);
    void* small = fill(64);
    void* tiny = fill(16);
    CHECK(big != NULL && mine(big));
    pthread_mutex_unlock(&gate);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(first_ok == 1 || first_err == ENOMEM);
    release(tiny);
    release(small);
    release(pages);
    release(chunks);
    release(big);
    void* again = malloc(MiB);
    CHECK(again != NULL && mine(again));
    free(again);
    printf("hostile exhausted ok, the thread's first malloc: %s\n",
           first_ok ? "a block" : "NULL, ENOMEM");
  } else if (strcmp(mode, "data-file") == 0) {
    const char* path = getenv("DATA_FILE");
    CHECK(path != NULL);
    FILE* f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "the program's own data, on fd %d\n", fileno(f));
    CHECK(fflush(f) == 0);
    free(malloc(100));
    printf("hostile data-file ok\n");
    exit(0); /* fclose at exit, after the library's report */
  } else if (strcmp(mode, "smaps") == 0) {
    FILE* f = fopen("/proc/self/smaps", "r");
    CHECK(f != NULL);
    char line[512];
    int in_ours = 0;
    long dirty = 0, mappings = 0;
    while (fgets(line, sizeof line, f)) {
      char perms[8] = "";
      char path[400] = "";
      unsigned long lo, hi;
      if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %399s", &lo, &hi, perms, path) >= 3 &&
          strchr(line, '-') < strchr(line, ' ')) {
        in_ours = strstr(path, "libsnmalloc_rs") != NULL && perms[2] == 'x';
        mappings += in_ours;
      } else if (in_ours && strncmp(line, "Private_Dirty:", 14) == 0) {
        dirty += atol(line + 14);
      }
    }
    fclose(f);
    CHECK(mappings > 0);
    printf("hostile smaps ok, %ld executable mappings, %ld KiB private dirty\n", mappings, dirty);
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
