/* Preloaded before the allocator by the "torn" shape of fork_shapes.c, so
 * that the allocator's mmap calls come here first. Once armed, the next
 * mmap waits until released: the thread that made it stays inside whatever
 * section of the allocator called it (a reservation for the shared pool),
 * for as long as the program wants, and a fork meanwhile copies that
 * section half done. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int armed, holding, released;

void hold_mmap_arm(void) { __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST); }
int hold_mmap_holding(void) { return __atomic_load_n(&holding, __ATOMIC_SEQ_CST); }
void hold_mmap_release(void) { __atomic_store_n(&released, 1, __ATOMIC_SEQ_CST); }

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (__atomic_exchange_n(&armed, 0, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&holding, 1, __ATOMIC_SEQ_CST);
    struct timespec t = {0, 100000};
    while (!__atomic_load_n(&released, __ATOMIC_SEQ_CST)) nanosleep(&t, NULL);
  }
  return (void*)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
