// FFTW3 single precision (Debian: libfftw3-dev).
#include <fftw3.h>
