// nabla_alloc.c — keeps large tensor buffers in the process heap.
//
// glibc serves allocations above 128 KiB with mmap and returns them with munmap, so a
// training loop that frees and reallocates the same activation and gradient buffers every
// step pays a page fault per 4 KiB on every step (measured: ~40 % of an MLP epoch was
// system time). Raising the mmap and trim thresholds once at start-up lets freed buffers
// be reused directly, which is what a caching allocator would buy, without one.
#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#include <stdlib.h>

__attribute__((constructor))
static void nabla_tune_malloc(void) {
    if (getenv("NABLA_KEEP_MALLOC_DEFAULTS")) return;
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
}
#endif
