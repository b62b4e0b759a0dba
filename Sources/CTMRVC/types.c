/* Types (tmrvc_types.h) and the one C API function written in C. */
#include "tmrvc_types.h"

/* Every x86-64 CPU runs this library since runtime kernel dispatch (tmrvc_kernels). */
int tmrvc_cpu_supported(void) { return 1; }
