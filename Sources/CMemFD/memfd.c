#define _GNU_SOURCE
#include <sys/mman.h>
#include "memfd.h"

int tmrvc_memfd(const char *name) { return memfd_create(name, 0); }
