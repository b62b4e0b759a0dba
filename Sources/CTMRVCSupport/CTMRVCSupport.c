// The helpers are static inline in include/CTMRVCSupport.h, except the CPU query, which needs
// the compiler's CPU-detection runtime (this file is compiled for baseline x86-64).
#include "CTMRVCSupport.h"

int tmrvc_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
