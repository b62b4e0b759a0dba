// Counts heap allocations made by the calling thread between begin and end.
// The test executable defines malloc/calloc/realloc/free/posix_memalign/aligned_alloc/memalign
// itself; ELF symbol interposition routes every allocation of the process (Swift runtime,
// OpenBLAS, FFTW, libc) through them, so no LD_PRELOAD is needed.
#ifndef TMRVC_ALLOCATION_COUNTER_H
#define TMRVC_ALLOCATION_COUNTER_H
#include <stddef.h>

/// Starts counting allocations on this thread (resets the count).
void tmrvc_allocation_counting_begin(void);
/// Stops counting on this thread and returns the number of allocation calls since begin.
long tmrvc_allocation_counting_end(void);
/// Whether the interposer is active in this process (sanity check for tests).
int tmrvc_allocation_counter_is_active(void);

#endif
