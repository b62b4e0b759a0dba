// OpenBLAS CBLAS interface (Debian: libopenblas-dev). The include path comes from pkg-config "openblas".
#include <cblas.h>
