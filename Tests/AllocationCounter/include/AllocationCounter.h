// Counts heap allocations made by the calling thread between begin and end.
// The test executable defines malloc/calloc/realloc/free/posix_memalign/aligned_alloc/memalign
// itself, pthread_mutex_lock/trylock and libc's system-call wrappers; ELF symbol interposition routes every call of the
// process (Swift runtime, OpenBLAS, FFTW, libc) through them, so no LD_PRELOAD is needed.
#ifndef TMRVC_ALLOCATION_COUNTER_H
#define TMRVC_ALLOCATION_COUNTER_H
#include <stddef.h>

/// Starts counting allocations on this thread (resets the count).
void tmrvc_allocation_counting_begin(void);
/// Stops counting on this thread and returns the number of allocation calls since begin.
long tmrvc_allocation_counting_end(void);
/// free() calls of non-NULL pointers on this thread between begin and end (read after end).
long tmrvc_frees_counted(void);
/// pthread_mutex_lock/trylock calls on this thread between begin and end (read after end).
long tmrvc_locks_counted(void);
/// Calls of libc's system-call wrappers on this thread between begin and end (read after end):
/// read/write/pread/pwrite/open/openat/close/ioctl, mmap/munmap/mprotect/madvise, poll/select,
/// nanosleep/clock_nanosleep/usleep/sleep/sched_yield, pthread_cond_wait/timedwait/signal/broadcast,
/// sem_wait/timedwait/post, pthread_create/join and syscall().
long tmrvc_syscalls_counted(void);
/// Whether the interposer is active in this process (sanity check for tests).
int tmrvc_allocation_counter_is_active(void);
/// 1 when built under ThreadSanitizer/AddressSanitizer, whose allocator owns malloc (no interposition).
int tmrvc_allocation_counter_sanitized(void);

#endif
