#!/usr/bin/env bash
# Builds the JUCE plugin (plugin/) in VST3, LV2 and Standalone formats into .build-plugin/,
# over dist/ (tools/build_library.sh runs first if dist/ is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/lib/libtmrvc.so ] || bash tools/build_library.sh
cmake -S plugin -B .build-plugin -DCMAKE_BUILD_TYPE=Release -Wno-dev >/dev/null
cmake --build .build-plugin -j "$(nproc)" 2>&1 | grep -E "error|warning: unused|Built target|^make.*Error" || true
test -f .build-plugin/TMRVC_artefacts/Release/VST3/TMRVC.vst3/Contents/x86_64-linux/TMRVC.so
echo "plugin: $(find .build-plugin/TMRVC_artefacts/Release -maxdepth 2 -name 'TMRVC*' | sort | tr '\n' ' ')"
