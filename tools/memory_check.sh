#!/usr/bin/env bash
# `tmrvc convert` streams from file to file: its peak memory must not grow with the input's length.
# Converts 30 s and 5 min of 48 kHz audio and compares the peak resident set sizes (GNU time).
#   bash tools/memory_check.sh [.build/release/tmrvc]
set -euo pipefail
cd "$(dirname "$0")/.."
tmrvc=${1:-.build/release/tmrvc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
.venv/bin/python - "$dir" <<'PY'
import sys, numpy as np, soundfile as sf
from scipy.signal import resample_poly
x, sr = sf.read("weights/examples/flite_awb_s055.wav", dtype="float32")
x = resample_poly(x, 48000 // np.gcd(48000, sr), sr // np.gcd(48000, sr)).astype(np.float32)
for name, seconds in (("short", 30), ("long", 300)):
    n = seconds * 48000
    sf.write(f"{sys.argv[1]}/{name}.wav", np.tile(x, n // len(x) + 1)[:n], 48000, subtype="PCM_16")
PY
peak() { /usr/bin/time -f "%M" "$tmrvc" convert "$dir/$1.wav" -o "$dir/$1-out.wav" --speaker weights/speakers/flite_rms.tmrvc_speaker --q 0 2>&1 >/dev/null | tail -1; }
short=$(peak short)
long=$(peak long)
echo "memory_check: peak RSS 30 s: $((short / 1024)) MB, 5 min: $((long / 1024)) MB (goal <= 200 MB for any length, growth < 20 MB)"
[ "$long" -le $((200 * 1024)) ] && [ $((long - short)) -lt $((20 * 1024)) ] || { echo "memory_check: FAILED" >&2; exit 1; }
