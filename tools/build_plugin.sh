#!/usr/bin/env bash
# Builds the JUCE plugin (plugin/) in VST3, LV2 and Standalone formats into .build-plugin/,
# over dist/ (tools/build_library.sh runs first if dist/ is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/lib/libtmrvc.so ] || bash tools/build_library.sh
cmake -S plugin -B .build-plugin -DCMAKE_BUILD_TYPE=Release -Wno-dev >/dev/null
# The build's own status decides (artefacts of an earlier build would survive a failed one).
status=0
cmake --build .build-plugin -j "$(nproc)" > .build-plugin/build.log 2>&1 || status=$?
grep -E "error|warning: unused|Built target|^make.*Error" .build-plugin/build.log || true
if [ "$status" -ne 0 ]; then echo "plugin build failed (exit $status; full log: .build-plugin/build.log)" >&2; exit 1; fi
test -f .build-plugin/TMRVC_artefacts/Release/VST3/TMRVC.vst3/Contents/x86_64-linux/TMRVC.so
echo "plugin: $(find .build-plugin/TMRVC_artefacts/Release -maxdepth 2 -name 'TMRVC*' | sort | tr '\n' ' ')"
