// nabla_alloc.c — keeps large tensor buffers in the process heap.
//
// glibc serves allocations above 128 KiB with mmap and returns them with munmap, so a
// training loop that frees and reallocates the same activation and gradient buffers every
// step pays a page fault per 4 KiB on every step (measured: allocating and filling a
// 40 MB tensor took 12–16 ms, against 1.3 ms for the same kernel into a reused buffer).
// Raising the mmap and trim thresholds once lets freed buffers be reused directly, which
// is what a caching allocator would buy, without one. NablaCore calls this before its
// first tensor allocation; NABLA_KEEP_MALLOC_DEFAULTS=1 turns it off.
#include "nabla_kernels.h"
#include <pthread.h>
#include <stdlib.h>
#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#endif

static pthread_once_t g_tune_once = PTHREAD_ONCE_INIT;

static void tune(void) {
#if defined(__linux__) && defined(__GLIBC__)
    if (getenv("NABLA_KEEP_MALLOC_DEFAULTS")) return;
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

void nabla_tune_allocator(void) { pthread_once(&g_tune_once, tune); }

// A process-wide counter for the autograd engine's topological-sort marks, atomic so that
// independent graphs can run backward() on different threads.
#include <stdatomic.h>
static _Atomic unsigned long long g_graph_mark = 0;
unsigned long long nabla_next_graph_mark(void) { return atomic_fetch_add(&g_graph_mark, 1) + 1; }
