/* The tmrvc executable's CPU check: runs before any Swift code (a constructor), compiled for
 * baseline x86-64, and stops with a clear message instead of an illegal-instruction crash on a
 * CPU without AVX2/FMA (the Swift code is compiled for them). */
#include "cpu_check.h"
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void tmrvc_check_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        static const char message[] =
            "tmrvc: this build needs an x86-64 CPU with AVX2 and FMA (Intel Haswell / AMD Excavator, 2013, or newer); "
            "this CPU lacks them. Build from source on it without -target-cpu haswell (much slower), or use a newer CPU.\n";
        ssize_t ignored = write(2, message, sizeof message - 1);
        (void)ignored;
        _exit(1);
    }
#endif
}

void tmrvc_cpu_check_linked(void) {}
