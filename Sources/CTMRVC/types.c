/* Types (tmrvc_types.h) and the one C API function written in C: the CPU check, which must run
 * on any x86-64 CPU, so it lives in this target, compiled for baseline x86-64 (the Swift targets
 * are compiled for AVX2/FMA). */
#include "tmrvc_types.h"

int tmrvc_cpu_supported(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 1;
#endif
}
