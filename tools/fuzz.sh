#!/usr/bin/env bash
# Fuzzes a reader with libFuzzer + AddressSanitizer for a bounded time (default 60 s), starting
# from its committed seed corpus: ONNXFuzz (the ONNX reader and the load-time compiler,
# Tests/FuzzCorpus/seeds), SpeakerFuzz (the .tmrvc_speaker reader, Tests/FuzzCorpus/speaker-seeds)
# or AudioFuzz (libsndfile through AudioFileReader, Tests/FuzzCorpus/audio-seeds).
#
#   tools/fuzz.sh [seconds] [ONNXFuzz|SpeakerFuzz|AudioFuzz] [extra libFuzzer flags...]
#
# The instrumented build lives in .build/fuzz (separate from the normal build, which it would
# otherwise invalidate); FUZZ_CONFIG=release builds it optimised (-c release, still with ASan and
# coverage: many times more executions per second, for long runs; the default debug build compiles
# faster, for the short runs of tools/test.sh). New corpus entries go to .build/fuzz-run/TARGET/corpus; a crash is written
# to .build/fuzz-run/TARGET/artifacts/ and the script exits non-zero. To keep a crash as a regression test,
# copy it to Tests/FuzzCorpus/regressions/ (GraphValidationTests.testFuzzRegressions replays them),
# fix the bug, and rerun. Replay one input: .build/fuzz/debug/TARGET FILE (or release/)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
shift || true
TARGET=ONNXFuzz
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then TARGET=$1; shift; fi
case $TARGET in
  ONNXFuzz) CORPUS="Tests/FuzzCorpus/seeds Tests/FuzzCorpus/regressions"; LIMITS="-max_len=8192 -dict=Tests/FuzzCorpus/onnx.dict" ;;
  SpeakerFuzz) CORPUS="Tests/FuzzCorpus/speaker-seeds"; LIMITS="-max_len=40000" ;;
  AudioFuzz) CORPUS="Tests/FuzzCorpus/audio-seeds"; LIMITS="-max_len=4096" ;;
  *) echo "unknown fuzz target $TARGET (ONNXFuzz, SpeakerFuzz, AudioFuzz)" >&2; exit 2 ;;
esac
SCRATCH=.build/fuzz
CONFIG=${FUZZ_CONFIG:-debug}
case $CONFIG in debug|release) ;; *) echo "FUZZ_CONFIG must be debug or release, not $CONFIG" >&2; exit 2 ;; esac
WORK=.build/fuzz-run/$TARGET
echo "== building $TARGET ($CONFIG) with -sanitize=fuzzer,address (scratch path $SCRATCH)"
# SwiftPM applies -sanitize=fuzzer (and so coverage) only to some compile jobs; ask for the
# coverage libFuzzer needs explicitly so that the reader and the runtime are instrumented.
mkdir -p "$SCRATCH"
if ! swift build -c "$CONFIG" --scratch-path "$SCRATCH" --sanitize fuzzer --sanitize address --product "$TARGET" \
     -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp > "$SCRATCH/fuzz-build.log" 2>&1; then
  grep -v "Cannot export local symbol" "$SCRATCH/fuzz-build.log" >&2
  echo "fuzz build failed" >&2
  exit 2
fi
grep -v "Cannot export local symbol" "$SCRATCH/fuzz-build.log" | tail -3
BIN="$SCRATCH/$CONFIG/$TARGET"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
echo "== fuzzing for ${SECONDS_TO_RUN}s"
# SWIFT_BACKTRACE=enable=no: let libFuzzer report crashes at once (the Swift backtracer would
# take tens of seconds). detect_leaks=0: the Swift runtime's metadata caches read as leaks.
# (A comment line inside this command used to end it early, so the fuzzer ran without these.)
# shellcheck disable=SC2086
SWIFT_BACKTRACE=enable=no \
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:handle_abort=1" \
"$BIN" "$WORK/corpus" $CORPUS \
  -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=4096 $LIMITS \
  -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 "$@"
