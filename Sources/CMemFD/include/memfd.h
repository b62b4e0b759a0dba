#ifndef TMRVC_MEMFD_H
#define TMRVC_MEMFD_H
/* memfd_create (glibc declares it only with _GNU_SOURCE, which Swift cannot set). */
int tmrvc_memfd(const char *name);
#endif
