#!/usr/bin/env bash
# Builds the C API library for distribution into dist/ (not committed):
#   dist/lib/libtmrvc.so  self-contained (Swift runtime linked statically, only tmrvc_* exported,
#                         stripped); needs libc, libstdc++, libm, OpenBLAS and FFTW at run time
#   dist/lib/libtmrvc.a   the same code as a static archive (link line: examples/c-host/README.md)
#   dist/include/tmrvc.h, tmrvc_types.h
#   dist/bin/tmrvc_stream the example host (examples/c-host), linked against dist/lib/libtmrvc.so
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-lib
swift build -c release --scratch-path "$scratch" --product tmrvc-c -Xswiftc -static-stdlib \
  -Xlinker --version-script="$PWD/Sources/CTMRVC/exports.map" -Xlinker -soname=libtmrvc.so -Xlinker --gc-sections
swift build -c release --scratch-path "$scratch" --product tmrvc-c-static -Xswiftc -static-stdlib
rm -rf dist.partial && mkdir -p dist.partial/lib dist.partial/include dist.partial/bin
cp "$scratch/release/libtmrvc-c.so" dist.partial/lib/libtmrvc.so
strip --strip-unneeded dist.partial/lib/libtmrvc.so
cp "$scratch/release/libtmrvc-c-static.a" dist.partial/lib/libtmrvc.a
cp Sources/CTMRVC/include/tmrvc.h Sources/CTMRVC/include/tmrvc_types.h dist.partial/include/
cc -O2 -Wall -Wextra -Werror -std=c11 -I dist.partial/include examples/c-host/tmrvc_stream.c \
  -L dist.partial/lib -ltmrvc -lsndfile -Wl,-rpath,'$ORIGIN/../lib' -o dist.partial/bin/tmrvc_stream
if ldd dist.partial/lib/libtmrvc.so | grep -q swift; then
  echo "build_library: libtmrvc.so still needs Swift shared libraries:" >&2
  ldd dist.partial/lib/libtmrvc.so >&2
  exit 1
fi
rm -rf dist && mv dist.partial dist
ls -l dist/lib dist/bin | awk 'NR > 1 && $5 { printf "%-40s %6.1f MB\n", $9, $5 / 1e6 }'
