// Thread-local allocation counter via malloc interposition (see include/AllocationCounter.h).
#include "AllocationCounter.h"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int counting;
static __thread long count, frees, locks;
static volatile int active;

void tmrvc_allocation_counting_begin(void) { count = 0; frees = 0; locks = 0; counting = 1; }
long tmrvc_allocation_counting_end(void) { counting = 0; return count; }
long tmrvc_frees_counted(void) { return frees; }
long tmrvc_locks_counted(void) { return locks; }
int tmrvc_allocation_counter_is_active(void) {
    active = 0;
    void *p = __builtin_malloc(8);   // goes through our malloc if interposition works
    __libc_free(p);
    return active;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TMRVC_SANITIZER_OWNS_MALLOC 1
#endif
#endif
#ifndef TMRVC_SANITIZER_OWNS_MALLOC
// (Under ThreadSanitizer/AddressSanitizer the sanitizer's allocator owns malloc: no interposition,
// tmrvc_allocation_counter_is_active() returns 0 and the allocation tests skip.)
void *malloc(size_t n) { active = 1; if (counting) count++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { if (counting) count++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { if (counting) count++; return __libc_realloc(p, n); }
void free(void *p) { if (counting && p) frees++; __libc_free(p); }

/* Mutex acquisitions (the real functions found with dlsym(RTLD_NEXT) at start-up). */
static int (*real_lock)(pthread_mutex_t *), (*real_trylock)(pthread_mutex_t *);
__attribute__((constructor)) static void resolve_locks(void) {
    real_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
    real_trylock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_trylock");
}
int pthread_mutex_lock(pthread_mutex_t *m) {
    if (counting) locks++;
    if (!real_lock) resolve_locks();
    return real_lock(m);
}
int pthread_mutex_trylock(pthread_mutex_t *m) {
    if (counting) locks++;
    if (!real_trylock) resolve_locks();
    return real_trylock(m);
}
void *memalign(size_t a, size_t n) { if (counting) count++; return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { if (counting) count++; return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    if (counting) count++;
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
#endif
