#!/usr/bin/env bash
# The project's test command (README, CI): Python checks, then the Swift build and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== constants freshness"
(cd tools && ../$PY -m tmrvc.constants_gen --check)
if [ -f Tests/Fixtures/manifest.json ]; then
  echo "== ONNX Runtime re-check of committed fixtures"
  (cd tools && ../$PY -m tmrvc.fixtures --verify)
fi
echo "== ONNX Runtime's dynamic-INT8 files of the models and its outputs on the fixture inputs (.build/ort-int8-fixtures, for FixtureParityTests)"
(cd tools && ../$PY -m tmrvc.fixtures --ort-int8 ../.build/ort-int8-fixtures | tail -1)
if [ ! -f conformance/node/index.json ]; then
  echo "== generating ONNX backend node tests (conformance/, not committed)"
  (cd tools && ../$PY -m tmrvc.conformance --out ../conformance)
fi
echo "== Swift build + tests, the whole suite under AddressSanitizer (optimised build)"
# ASan replaces a plain test run (it finds what that run finds, plus out-of-bounds and
# use-after-free in the runtime's raw-pointer code). Both sanitizer runs use optimised (-c release,
# -enable-testing) builds: the debug build's unspecialised SIMD code is tens of times slower, far
# more so under ThreadSanitizer, and the sources have no debug-only checks (no assert; the
# preconditions and overflow traps stay in -O); the fuzz builds below compile the sources in debug.
# Leak detection is off because Foundation and the XCTest harness keep allocations alive at exit.
# Under a sanitizer the allocation counter is off (the sanitizer's allocator owns malloc): the zero
# allocation/lock/system-call counts are checked in the plain release step below. The example C
# host runs there too, against dist/lib, which is built after these steps.
sanitizer_skips=(--skip "CAPITests.CAPITests/testExampleCHostMatchesConvert")
swift build -c release --build-tests -Xswiftc -enable-testing --sanitize address --scratch-path .build-asan
ASAN_OPTIONS=detect_leaks=0 swift test -c release -Xswiftc -enable-testing --skip-build --sanitize address \
  --scratch-path .build-asan "${sanitizer_skips[@]}"
echo "== the test targets whose code runs threads (engine, DSP, C API, CLI) under ThreadSanitizer (optimised build; halt on the first report)"
# The ONNX format, runtime, parity and conformance targets test single-threaded code (the runtime
# starts no thread of its own and shares nothing between sessions): they run under ASan above
# (parity also in the release step below) and would add only time here. So would the real-time
# target (RealtimeTests: allocation counts and the soak, one thread driving the engine or the C API,
# posts included; under a sanitizer the counter is off; ASan runs them, and the release step).
swift build -c release --build-tests -Xswiftc -enable-testing --sanitize thread --scratch-path .build-tsan
TSAN_OPTIONS="halt_on_error=1" swift test -c release -Xswiftc -enable-testing --skip-build --sanitize thread \
  --scratch-path .build-tsan "${sanitizer_skips[@]}" \
  --skip '^ONNXFormatTests\.' --skip '^RuntimeTests\.' --skip '^ParityTests\.' --skip '^ConformanceTests\.' \
  --skip '^RealtimeTests\.'
echo "== in a release build: real-time checks (zero allocations, frees, locks, system calls; 60 s soak), fp16- and int8-weight parity, ORT's own INT8 files vs ORT, every control changing while audio runs (3 s), engine vs Python reference, batched vs one-hop conversion, CLI parity"
swift build -c release --build-tests -Xswiftc -enable-testing
swift test -c release -Xswiftc -enable-testing --skip-build --filter RealtimeTests \
  --filter FixtureParityTests/testAllModelsWithFloat16WeightsStayNearONNXRuntime --filter FixtureParityTests/testAllModelsWithInt8WeightsStayNearONNXRuntime \
  --filter FixtureParityTests/testONNXRuntimeInt8FilesMatchONNXRuntime \
  --filter StreamingEngineTests/testEveryControlChangesWhileAudioRuns --filter ReferenceEngineTests --filter BatchedEngineTests \
  --filter CLITests/testInspectAndParityOnShippedModels
echo "== the same, and fp32 parity, with the generic (baseline x86-64) kernel build forced (TMRVC_KERNELS=generic)"
TMRVC_KERNELS=generic swift test -c release -Xswiftc -enable-testing --skip-build --filter RealtimeTests \
  --filter FixtureParityTests --filter KernelSelectionTests
echo "== tmrvc convert streams from file to file: flat memory (30 s vs 5 min of audio)"
bash tools/memory_check.sh .build/release/tmrvc
echo "== C library (dist/: self-contained libtmrvc.so, libtmrvc.a) and the example C host run against it"
bash tools/build_library.sh
TMRVC_C_LIBRARY="$PWD/dist/lib/libtmrvc.so" swift test -c release -Xswiftc -enable-testing --skip-build \
  --filter CAPITests/testExampleCHostMatchesConvert
echo "== on a CPU without AVX2/FMA (qemu-x86_64 -cpu Nehalem): the CLI and the C host pick the generic kernels and convert"
in=Tests/Fixtures/audio/utt2_en-gb-m3.wav spk=weights/speakers/flite_rms.tmrvc_speaker q=$(mktemp -d)
qemu-x86_64 -cpu Nehalem .build/release/tmrvc convert "$in" -o "$q/cli.wav" --speaker "$spk" --float | grep "generic kernels"
TMRVC_KERNELS=generic .build/release/tmrvc convert "$in" -o "$q/native.wav" --speaker "$spk" --float > /dev/null
qemu-x86_64 -cpu Nehalem dist/bin/tmrvc_stream weights "$spk" "$in" "$q/host.wav" 2>&1 | grep "generic kernels"
TMRVC_KERNELS=generic dist/bin/tmrvc_stream weights "$spk" "$in" "$q/host_native.wav" 2> /dev/null
$PY - "$q" <<'PYEOF'
import sys, numpy as np, soundfile as sf
d = sys.argv[1]
r = {n: sf.read(f"{d}/{n}.wav", dtype="float32")[0] for n in ("cli", "native", "host", "host_native")}
for a, b in (("cli", "native"), ("host", "host_native")):
    diff = float(np.abs(r[a] - r[b]).max())
    print(f"emulated Nehalem vs native generic kernels ({a}): {len(r[a])} samples, max |difference| {diff:.2e}")
    assert len(r[a]) == len(r[b]) and np.isfinite(r[a]).all() and diff <= 1e-4, (a, diff)
PYEOF
rm -rf "$q"
echo "== tmrvc live as a JACK client (jackd dummy backend, real-time scheduling where allowed, compared with tmrvc convert --streaming): its default int8 weights 60 s (after 30 s of the same graph with jack_thru in its place: the xruns of the server and machine alone), fp32 30 s"
$PY tools/live_check.py --tmrvc .build/release/tmrvc --seconds 60 --baseline-seconds 30
$PY tools/live_check.py --tmrvc .build/release/tmrvc --seconds 30 --precision fp32
echo "== the plugin in hosts: VST3 in pedalboard (== tmrvc convert, latency, parameters, state), LV2 through lilv"
bash tools/build_plugin.sh
$PY tools/plugin_check.py --build .build-plugin --tmrvc .build/release/tmrvc
echo "== the plugin's Standalone as a JACK client, headless under Xvfb (jackd dummy backend, 30 s)"
$PY tools/live_check.py --tmrvc .build/release/tmrvc --seconds 30 --standalone .build-plugin/TMRVC_artefacts/Release/Standalone/TMRVC
echo "== the plugin's LV2 in jalv as a JACK client (jackd dummy backend, 30 s)"
$PY tools/live_check.py --tmrvc .build/release/tmrvc --seconds 30 --jalv .build-plugin/TMRVC_artefacts/Release/LV2
echo "== fuzzing the ONNX reader and compiler for 60 s (libFuzzer + ASan, committed corpus)"
bash tools/fuzz.sh 60 2>&1 | grep -vE "^#[0-9]+ +(NEW|REDUCE|pulse)" | tail -8
echo "== fuzzing the speaker-file reader for 20 s (libFuzzer + ASan; accepted files must re-encode to the same values)"
bash tools/fuzz.sh 20 SpeakerFuzz 2>&1 | grep -vE "^#[0-9]+ +(NEW|REDUCE|pulse)" | tail -4
echo "== fuzzing the audio reader (libsndfile through AudioFileReader) for 20 s"
bash tools/fuzz.sh 20 AudioFuzz 2>&1 | grep -vE "^#[0-9]+ +(NEW|REDUCE|pulse)" | tail -4
echo "== Python tests (two worker processes, one test file each at a time: torch runs on one thread per process)"
(cd tools && ../$PY -m pytest -q -n 2 --dist loadfile)
