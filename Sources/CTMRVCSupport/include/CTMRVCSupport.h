// Small C helpers the Swift runtime cannot express directly.
#ifndef CTMRVC_SUPPORT_H
#define CTMRVC_SUPPORT_H
#include <stdint.h>
#include <time.h>

/// Runs `n` dependent single-cycle integer additions (the optimizer cannot remove or fold
/// them); timing it estimates the core clock (benchmarks only).
static inline uint64_t tmrvc_dependent_adds(uint64_t n) {
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++) {
#if defined(__x86_64__)
        __asm__ volatile("add %1, %0" : "+r"(x) : "r"(i));
#elif defined(__aarch64__)
        __asm__ volatile("add %0, %0, %1" : "+r"(x) : "r"(i));
#else
        x += i;
#endif
    }
    return x;
}

/// 1 when this CPU has AVX2 and FMA (x86-64; 0 elsewhere): chooses the kernel build (TMRVCKernels).
int tmrvc_cpu_has_avx2_fma(void);

/// Monotonic clock in nanoseconds (vDSO, no system call, no allocation).
static inline uint64_t tmrvc_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/// Sets flush-to-zero and denormals-are-zero for SSE/AVX arithmetic; returns the previous MXCSR.
static inline uint32_t tmrvc_enable_ftz_daz(void) {
    uint32_t old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
/// Restores a control word returned by tmrvc_enable_ftz_daz.
static inline void tmrvc_restore_fp_mode(uint32_t old) { _mm_setcsr(old); }
#elif defined(__aarch64__)
static inline uint32_t tmrvc_enable_ftz_daz(void) {
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr | (1ull << 24)));
    return (uint32_t)fpcr;
}
static inline void tmrvc_restore_fp_mode(uint32_t old) {
    uint64_t v = old;
    __asm__ volatile("msr fpcr, %0" ::"r"(v));
}
#else
static inline uint32_t tmrvc_enable_ftz_daz(void) { return 0; }
static inline void tmrvc_restore_fp_mode(uint32_t old) { (void)old; }
#endif

#endif
