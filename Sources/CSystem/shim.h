#ifndef LANTERN_CSYSTEM_SHIM_H
#define LANTERN_CSYSTEM_SHIM_H
// System calls that Swift's Glibc module does not export.
#include <malloc.h>

// glibc gives each thread that allocates its own arena (up to 8 per core), and keeps their
// memory after connections end; a thread-per-connection server on a small box wants few.
// musl (the Embedded --musl build) has one allocator with neither knob: these are no-ops there.
#ifdef __GLIBC__
static inline void lantern_limit_malloc_arenas(int count) { mallopt(M_ARENA_MAX, count); }
static inline void lantern_malloc_trim(void) { malloc_trim(0); }
#else
static inline void lantern_limit_malloc_arenas(int count) { (void)count; }
static inline void lantern_malloc_trim(void) {}
#endif
#endif
