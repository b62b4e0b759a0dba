// Thread-local allocation counter via malloc interposition (see include/AllocationCounter.h).
#include "AllocationCounter.h"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int counting;
static __thread long count, frees, locks, syscalls;
static volatile int active;

void tmrvc_allocation_counting_begin(void) { count = 0; frees = 0; locks = 0; syscalls = 0; counting = 1; }
long tmrvc_allocation_counting_end(void) { counting = 0; return count; }
long tmrvc_frees_counted(void) { return frees; }
long tmrvc_locks_counted(void) { return locks; }
long tmrvc_syscalls_counted(void) { return syscalls; }
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TMRVC_SANITIZER_OWNS_MALLOC 1
#endif
#endif

int tmrvc_allocation_counter_sanitized(void) {
#ifdef TMRVC_SANITIZER_OWNS_MALLOC
    return 1;
#else
    return 0;
#endif
}

int tmrvc_allocation_counter_is_active(void) {
#ifdef TMRVC_SANITIZER_OWNS_MALLOC
    return 0;   // the sanitizer's malloc: a __libc_free of its pointer would crash
#else
    active = 0;
    void *p = __builtin_malloc(8);   // goes through our malloc if interposition works
    __libc_free(p);
    return active;
#endif
}

#ifndef TMRVC_SANITIZER_OWNS_MALLOC
// (Under ThreadSanitizer/AddressSanitizer the sanitizer's allocator owns malloc: no interposition,
// tmrvc_allocation_counter_is_active() returns 0 and testCounterSeesAllocations skips.)
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

/* System calls: libc's exported wrappers of the calls a real-time thread must not make (I/O,
   memory mapping, sleeping, yielding, waiting or signalling, thread creation, and the generic
   syscall()), each forwarded to the next definition. Calls glibc makes internally (malloc's own
   mmap, say) bypass these symbols; the allocation counts above cover those. The next definitions
   are looked up at start-up (resolve_syscalls), so a first call inside a counted window does not
   count dlsym's own allocations. */
#define REAL(name) \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)
#define FORWARD(ret, name, params, args) \
    static __typeof__(&name) real_##name; \
    ret name params { \
        if (counting) syscalls++; \
        REAL(name); \
        return real_##name args; \
    }
FORWARD(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))
FORWARD(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
FORWARD(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
FORWARD(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
FORWARD(int, close, (int fd), (fd))
FORWARD(void *, mmap, (void *a, size_t n, int p, int f, int fd, off_t o), (a, n, p, f, fd, o))
FORWARD(int, munmap, (void *a, size_t n), (a, n))
FORWARD(int, mprotect, (void *a, size_t n, int p), (a, n, p))
FORWARD(int, madvise, (void *a, size_t n, int adv), (a, n, adv))
FORWARD(int, poll, (struct pollfd *f, nfds_t n, int t), (f, n, t))
FORWARD(int, select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t))
FORWARD(int, nanosleep, (const struct timespec *r, struct timespec *rem), (r, rem))
FORWARD(int, clock_nanosleep, (clockid_t c, int f, const struct timespec *r, struct timespec *rem), (c, f, r, rem))
FORWARD(int, usleep, (useconds_t u), (u))
FORWARD(unsigned, sleep, (unsigned s), (s))
FORWARD(int, sched_yield, (void), ())
FORWARD(int, pthread_cond_wait, (pthread_cond_t *c, pthread_mutex_t *m), (c, m))
FORWARD(int, pthread_cond_timedwait, (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), (c, m, t))
FORWARD(int, pthread_cond_signal, (pthread_cond_t *c), (c))
FORWARD(int, pthread_cond_broadcast, (pthread_cond_t *c), (c))
FORWARD(int, sem_wait, (sem_t *s), (s))
FORWARD(int, sem_timedwait, (sem_t *s, const struct timespec *t), (s, t))
FORWARD(int, sem_post, (sem_t *s), (s))
FORWARD(int, pthread_create, (pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg), (t, a, f, arg))
FORWARD(int, pthread_join, (pthread_t t, void **r), (t, r))
static __typeof__(&open) real_open;
int open(const char *path, int flags, ...) {
    if (counting) syscalls++;
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    REAL(open);
    return real_open(path, flags, mode);
}
static __typeof__(&openat) real_openat;
int openat(int dir, const char *path, int flags, ...) {
    if (counting) syscalls++;
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    REAL(openat);
    return real_openat(dir, path, flags, mode);
}
static __typeof__(&ioctl) real_ioctl;
int ioctl(int fd, unsigned long request, ...) {
    if (counting) syscalls++;
    va_list ap; va_start(ap, request); void *arg = va_arg(ap, void *); va_end(ap);
    REAL(ioctl);
    return real_ioctl(fd, request, arg);
}
static __typeof__(&syscall) real_syscall;
long syscall(long number, ...) {
    if (counting) syscalls++;
    va_list ap; va_start(ap, number);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    REAL(syscall);
    return real_syscall(number, a, b, c, d, e, f);
}
__attribute__((constructor)) static void resolve_syscalls(void) {
    REAL(read); REAL(write); REAL(pread); REAL(pwrite); REAL(close); REAL(mmap); REAL(munmap);
    REAL(mprotect); REAL(madvise); REAL(poll); REAL(select); REAL(nanosleep); REAL(clock_nanosleep);
    REAL(usleep); REAL(sleep); REAL(sched_yield); REAL(pthread_cond_wait); REAL(pthread_cond_timedwait);
    REAL(pthread_cond_signal); REAL(pthread_cond_broadcast); REAL(sem_wait); REAL(sem_timedwait);
    REAL(sem_post); REAL(pthread_create); REAL(pthread_join); REAL(open); REAL(openat); REAL(ioctl);
    REAL(syscall);
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
