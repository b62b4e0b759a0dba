#!/usr/bin/env bash
# Builds the C API library for distribution into dist/ (not committed):
#   dist/lib/libtmrvc.so  self-contained (Swift runtime linked statically, only tmrvc_* exported,
#                         stripped); needs libc, libstdc++, libm, OpenBLAS and FFTW at run time
#   dist/lib/libtmrvc.a   the same code as a static archive (link line: examples/c-host/README.md)
#   dist/include/tmrvc.h, tmrvc_types.h
#   dist/bin/tmrvc_stream the example host (examples/c-host), linked against dist/lib/libtmrvc.so
#   dist/bin/tmrvc_stream_static  the same linked against libtmrvc.a (checked: identical output)
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
# The same host linked against the static archive (the link line docs/design/host-integration.md
# gives), run once: its output must equal the shared build's, sample for sample.
swift_static="$(dirname "$(dirname "$(command -v swift)")")/lib/swift_static/linux"
cc -O2 -std=c11 -I dist.partial/include examples/c-host/tmrvc_stream.c "$swift_static/x86_64/swiftrt.o" dist.partial/lib/libtmrvc.a \
  -L "$swift_static" -lswiftCore -lswift_Concurrency -lswiftSynchronization -lswiftGlibc -lswift_StringProcessing \
  -lswift_RegexParser -ldispatch -lBlocksRuntime -lopenblas -lfftw3f -lfftw3 -lsndfile -lstdc++ -lm -ldl -lpthread \
  -o dist.partial/bin/tmrvc_stream_static
check=$(mktemp -d)
for variant in tmrvc_stream tmrvc_stream_static; do
  dist.partial/bin/$variant weights weights/speakers/flite_rms.tmrvc_speaker Tests/Fixtures/audio/utt2_en-gb-m3.wav \
    "$check/$variant.wav" 0 2>/dev/null
done
# (samples, not bytes: libsndfile's PEAK chunk carries a timestamp)
.venv/bin/python -c "import sys, soundfile as sf; a, b = (sf.read(f)[0] for f in sys.argv[1:]); sys.exit(not (a == b).all())" \
  "$check/tmrvc_stream.wav" "$check/tmrvc_stream_static.wav" || { echo "build_library: static and shared builds differ" >&2; exit 1; }
rm -rf "$check"
if ldd dist.partial/lib/libtmrvc.so | grep -q swift; then
  echo "build_library: libtmrvc.so still needs Swift shared libraries:" >&2
  ldd dist.partial/lib/libtmrvc.so >&2
  exit 1
fi
rm -rf dist && mv dist.partial dist
ls -l dist/lib dist/bin | awk 'NR > 1 && $5 { printf "%-40s %6.1f MB\n", $9, $5 / 1e6 }'
