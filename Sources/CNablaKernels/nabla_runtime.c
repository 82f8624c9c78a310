// nabla_runtime.c — CPU feature detection, the persistent worker pool, per-thread
// scratch buffers and the autograd mode flag.
#define _GNU_SOURCE
#include "nabla_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(NABLA_X86)
#include <cpuid.h>
#endif

// ---------------------------------------------------------------------------------------
// CPU detection
// ---------------------------------------------------------------------------------------

static atomic_int g_detected_isa = -1;  // detected once
static atomic_int g_forced_isa = -1;    // -1 = use detected

#if defined(NABLA_X86)
static uint64_t nabla_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static int nabla_detect_isa(void) {
#if defined(NABLA_X86)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return NABLA_ISA_SCALAR;
    int has_osxsave = (c >> 27) & 1, has_avx = (c >> 28) & 1, has_fma = (c >> 12) & 1;
    if (!has_osxsave || !has_avx) return NABLA_ISA_SCALAR;
    uint64_t xcr0 = nabla_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return NABLA_ISA_SCALAR;  // XMM+YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return NABLA_ISA_SCALAR;
    int has_avx2 = (b >> 5) & 1;
    int has_avx512f = (b >> 16) & 1, has_avx512dq = (b >> 17) & 1;
    int has_avx512bw = (b >> 30) & 1, has_avx512vl = (b >> 31) & 1;
    if (has_avx512f && has_avx512dq && has_avx512bw && has_avx512vl && has_fma && has_avx2 &&
        (xcr0 & 0xE6) == 0xE6)
        return NABLA_ISA_AVX512;
    if (has_avx2 && has_fma) return NABLA_ISA_AVX2;
    return NABLA_ISA_SCALAR;
#elif defined(NABLA_ARM64)
    return NABLA_ISA_NEON;
#else
    return NABLA_ISA_SCALAR;
#endif
}

nabla_isa nabla_cpu_isa(void) {
    int v = atomic_load_explicit(&g_detected_isa, memory_order_relaxed);
    if (NABLA_UNLIKELY(v < 0)) {
        v = nabla_detect_isa();
        atomic_store(&g_detected_isa, v);
    }
    return (nabla_isa)v;
}

nabla_isa nabla_isa_current(void) {
    int f = atomic_load_explicit(&g_forced_isa, memory_order_relaxed);
    if (f >= 0) return (nabla_isa)f;
    return nabla_cpu_isa();
}

static const char *isa_name(nabla_isa isa) {
    switch (isa) {
    case NABLA_ISA_AVX512: return "avx512";
    case NABLA_ISA_AVX2: return "avx2";
    case NABLA_ISA_NEON: return "neon";
    default: return "scalar";
    }
}

const char *nabla_cpu_isa_name(void) { return isa_name(nabla_isa_current()); }

nabla_isa nabla_force_isa(int isa) {
    nabla_isa det = nabla_cpu_isa();
    if (isa < 0) {
        atomic_store(&g_forced_isa, -1);
        return det;
    }
    int want = isa;
    // Only allow levels the CPU supports; anything else falls back to the detected one.
    int ok = want == NABLA_ISA_SCALAR || want == (int)det ||
             (want == NABLA_ISA_AVX2 && det == NABLA_ISA_AVX512);
    if (!ok) want = det;
    atomic_store(&g_forced_isa, want);
    return (nabla_isa)want;
}

// ---------------------------------------------------------------------------------------
// Autograd flag
// ---------------------------------------------------------------------------------------

static _Thread_local int tl_grad_disabled = 0;  // zero-initialised => enabled by default
int nabla_grad_enabled(void) { return !tl_grad_disabled; }
void nabla_set_grad_enabled(int enabled) { tl_grad_disabled = !enabled; }

// ---------------------------------------------------------------------------------------
// Scratch buffers
// ---------------------------------------------------------------------------------------

#define NABLA_SCRATCH_SLOTS 10
typedef struct {
    void *ptr[NABLA_SCRATCH_SLOTS];
    size_t size[NABLA_SCRATCH_SLOTS];
} scratch_set;

static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local scratch_set *tl_scratch = NULL;

static void scratch_free(void *p) {
    scratch_set *s = (scratch_set *)p;
    if (!s) return;
    for (int i = 0; i < NABLA_SCRATCH_SLOTS; i++) free(s->ptr[i]);
    free(s);
}
static void scratch_key_init(void) { pthread_key_create(&g_scratch_key, scratch_free); }

void *nabla_scratch(int slot, size_t bytes) {
    scratch_set *s = tl_scratch;
    if (NABLA_UNLIKELY(!s)) {
        pthread_once(&g_scratch_once, scratch_key_init);
        s = (scratch_set *)calloc(1, sizeof(scratch_set));
        if (!s) abort();
        pthread_setspecific(g_scratch_key, s);
        tl_scratch = s;
    }
    if (s->size[slot] < bytes) {
        free(s->ptr[slot]);
        size_t sz = (bytes + 4095) & ~(size_t)4095;
        void *p = NULL;
        if (posix_memalign(&p, 64, sz) != 0) abort();
        s->ptr[slot] = p;
        s->size[slot] = sz;
    }
    return s->ptr[slot];
}

// ---------------------------------------------------------------------------------------
// Thread pool
// ---------------------------------------------------------------------------------------

#define NABLA_MAX_THREADS 256

static inline void cpu_relax(void) {
#if defined(NABLA_X86)
    __builtin_ia32_pause();
#elif defined(NABLA_ARM64)
    __asm__ volatile("yield");
#endif
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Workers spin this long after a job before sleeping on the condition variable, so that
// back-to-back kernel calls do not pay a futex wake-up each time.
#define NABLA_SPIN_NS 40000ull

static atomic_int g_num_threads = 0;  // 0 = not yet initialised

// Job protocol: `word` packs (generation << 32) | remaining-items. Anyone (workers and the
// calling thread) claims an item with a CAS that decrements `remaining` while the generation
// is unchanged, so a worker that wakes up late (or was descheduled) can never take an item of
// a finished job, and the caller only waits for items that were actually claimed: if the
// workers are slow to start, the caller simply does all the work itself.
typedef struct {
    pthread_mutex_t dispatch;  // serialises dispatching callers (trylock; busy => serial)
    pthread_mutex_t m;
    pthread_cond_t cv;
    atomic_uint_fast64_t word;  // generation << 32 | remaining items
    atomic_long done;           // items finished in the current job
    atomic_int sleeping;        // workers blocked on cv
    void (*fn)(void *, long);
    void *ctx;
    long n;
    int nworkers;               // started workers
    uint32_t start_gen[NABLA_MAX_THREADS];  // generation each worker starts from
} nabla_pool;

static nabla_pool g_pool = {
    .dispatch = PTHREAD_MUTEX_INITIALIZER,
    .m = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static _Thread_local int tl_in_pool = 0;  // set inside workers and during dispatch

static inline uint32_t word_gen(uint64_t w) { return (uint32_t)(w >> 32); }

// Claims and runs items of generation g until none are left.
static void pool_drain(uint32_t g) {
    for (;;) {
        uint64_t w = atomic_load(&g_pool.word);
        if (word_gen(w) != g || (uint32_t)w == 0) return;
        if (!atomic_compare_exchange_weak(&g_pool.word, &w, w - 1)) continue;
        // Claimed: the job cannot finish before this item does, so its fields are stable.
        long i = g_pool.n - (long)(uint32_t)w;
        g_pool.fn(g_pool.ctx, i);
        atomic_fetch_add_explicit(&g_pool.done, 1, memory_order_release);
    }
}

static void *pool_worker(void *arg) {
    int id = (int)(intptr_t)arg;
    tl_in_pool = 1;
    uint32_t seen = g_pool.start_gen[id];  // written before pthread_create
    for (;;) {
        uint32_t g = word_gen(atomic_load(&g_pool.word));
        if (g == seen) {
            uint64_t t0 = now_ns();
            int iter = 0;
            while ((g = word_gen(atomic_load(&g_pool.word))) == seen) {
                cpu_relax();
                if ((++iter & 63) == 0 && now_ns() - t0 > NABLA_SPIN_NS) break;
            }
            if (g == seen) {
                pthread_mutex_lock(&g_pool.m);
                atomic_fetch_add(&g_pool.sleeping, 1);
                while ((g = word_gen(atomic_load(&g_pool.word))) == seen) pthread_cond_wait(&g_pool.cv, &g_pool.m);
                atomic_fetch_sub(&g_pool.sleeping, 1);
                pthread_mutex_unlock(&g_pool.m);
            }
        }
        seen = g;
        // Workers beyond the current thread count sit out (a racy read is harmless here).
        if (id + 1 < atomic_load_explicit(&g_num_threads, memory_order_relaxed)) pool_drain(g);
    }
    return NULL;
}

static int default_threads(void) {
    const char *e = getenv("NABLA_NUM_THREADS");
    if (e && *e) {
        int v = atoi(e);
        if (v >= 1) return v > NABLA_MAX_THREADS ? NABLA_MAX_THREADS : v;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    if (c < 1) c = 1;
    if (c > NABLA_MAX_THREADS) c = NABLA_MAX_THREADS;
    return (int)c;
}

int nabla_get_num_threads(void) {
    int v = atomic_load_explicit(&g_num_threads, memory_order_relaxed);
    if (NABLA_UNLIKELY(v == 0)) {
        int d = default_threads();
        int expected = 0;
        atomic_compare_exchange_strong(&g_num_threads, &expected, d);
        v = atomic_load(&g_num_threads);
    }
    return v;
}

extern void nabla_blas_threads_changed(int n);  // in nabla_gemm.c

void nabla_set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > NABLA_MAX_THREADS) n = NABLA_MAX_THREADS;
    atomic_store(&g_num_threads, n);
    nabla_blas_threads_changed(n);
}

static void run_serial(long n, void *ctx, void (*fn)(void *, long)) {
    for (long i = 0; i < n; i++) fn(ctx, i);
}

typedef struct {
    void *ctx;
    void (*fn)(void *, long);
    long n, per;
} big_range;

static void big_range_task(void *c, long part) {
    big_range *b = (big_range *)c;
    long lo = part * b->per, hi = lo + b->per < b->n ? lo + b->per : b->n;
    for (long i = lo; i < hi; i++) b->fn(b->ctx, i);
}

void nabla_pool_run(long n, void *ctx, void (*fn)(void *ctx, long i)) {
    if (n <= 0) return;
    int nt = nabla_get_num_threads();
    if (n == 1 || nt <= 1 || tl_in_pool) {
        run_serial(n, ctx, fn);
        return;
    }
    if (n > 0x3fffffffL) {
        big_range b = {ctx, fn, n, (n + 0x3ffffffeL) / 0x3fffffffL};
        nabla_pool_run((n + b.per - 1) / b.per, &b, big_range_task);
        return;
    }
    if (pthread_mutex_trylock(&g_pool.dispatch) != 0) {
        // Another thread is using the pool: do the work on this thread.
        run_serial(n, ctx, fn);
        return;
    }
    int want = nt - 1;
    while (g_pool.nworkers < want) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        g_pool.start_gen[g_pool.nworkers] = word_gen(atomic_load(&g_pool.word));
        int rc = pthread_create(&th, &attr, pool_worker, (void *)(intptr_t)g_pool.nworkers);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        g_pool.nworkers++;
    }
    if (g_pool.nworkers == 0) {
        pthread_mutex_unlock(&g_pool.dispatch);
        run_serial(n, ctx, fn);
        return;
    }
    tl_in_pool = 1;
    g_pool.fn = fn;
    g_pool.ctx = ctx;
    g_pool.n = n;
    atomic_store(&g_pool.done, 0);
    uint32_t g = word_gen(atomic_load(&g_pool.word)) + 1;
    atomic_store(&g_pool.word, ((uint64_t)g << 32) | (uint64_t)n);  // publishes the job
    if (atomic_load(&g_pool.sleeping) > 0) {
        pthread_mutex_lock(&g_pool.m);
        pthread_cond_broadcast(&g_pool.cv);
        pthread_mutex_unlock(&g_pool.m);
    }
    pool_drain(g);
    int iter = 0;
    while (atomic_load_explicit(&g_pool.done, memory_order_acquire) < n) {
        cpu_relax();
        if (++iter > 20000) sched_yield();
    }
    tl_in_pool = 0;
    pthread_mutex_unlock(&g_pool.dispatch);
}

int nabla_in_pool(void) { return tl_in_pool; }

void nabla_parallel_for(long n, void *ctx, void (*fn)(void *ctx, long i)) {
    nabla_pool_run(n, ctx, fn);
}

// ---------------------------------------------------------------------------------------
// Pointer slots published once (a view's contiguous copy, made on first use by any thread)
// ---------------------------------------------------------------------------------------
void *nabla_ptr_load(void *const *slot) {
    return __atomic_load_n((void **)slot, __ATOMIC_ACQUIRE);
}

int nabla_ptr_cas(void **slot, void *expected, void *desired) {
    return __atomic_compare_exchange_n(slot, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// Active graph captures (process-wide count; the capture itself is task-local in Swift)
// ---------------------------------------------------------------------------------------
static long g_captures_active = 0;

long nabla_captures_active(void) { return __atomic_load_n(&g_captures_active, __ATOMIC_RELAXED); }

void nabla_captures_add(long delta) { __atomic_add_fetch(&g_captures_active, delta, __ATOMIC_SEQ_CST); }
