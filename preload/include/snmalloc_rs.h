/* snmalloc-rs: the C interface of libsnmalloc_rs beyond the standard
 * allocation functions (malloc, free, ..., which it exports under their
 * usual names; declare them with <stdlib.h> and <malloc.h>).
 *
 *   cc app.c $(pkg-config --cflags --libs snmalloc_rs)
 *
 * The same functions are there when the library is preloaded: a program
 * can look them up with dlsym(RTLD_DEFAULT, "snmalloc_rs_owns") to learn
 * whether it runs on snmalloc. */
#ifndef SNMALLOC_RS_H
#define SNMALLOC_RS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where snmalloc's memory is, in bytes (docs/memory.md). */
struct snmalloc_rs_memory_usage {
  size_t current;   /* held by the program's threads now */
  size_t peak;      /* the most ever held at once */
  size_t retained;  /* freed, kept committed for reuse */
  uint64_t returned; /* given back to the OS since the start, in all */
  size_t reserved;  /* address space reserved */
};

/* 1 if the block at p is snmalloc's, else 0 (NULL included). */
int snmalloc_rs_owns(const void* p);

/* Fills *out; does nothing for NULL. */
void snmalloc_rs_memory_usage(struct snmalloc_rs_memory_usage* out);

/* Gives back to the OS every freed range kept for reuse; returns the
 * bytes. */
size_t snmalloc_rs_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* SNMALLOC_RS_H */
