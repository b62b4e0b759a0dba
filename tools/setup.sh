#!/usr/bin/env bash
# Installs everything TMRVC needs on a fresh Debian 12 machine (run as root or with sudo):
# system libraries, a Python venv (.venv) with the pinned tools package, and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    pkg-config libopenblas-dev libfftw3-dev libsndfile1-dev espeak-ng flite gcc libc6-dev \
    pocketsphinx-testdata codec2-examples jackd2 libjack-jackd2-dev \
    cmake juce-modules-source lilv-utils liblilv-dev lv2-dev jalv xvfb x11-apps netpbm qemu-user time >/dev/null
# pocketsphinx-testdata, codec2-examples: real human recordings for `python -m tmrvc.evaluation --unseen`;
# jackd2 and its headers: `tmrvc live` and its test (tmrvc loads libjack only when `live` runs);
# cmake, juce-modules-source (JUCE 7): the plugin; lilv-utils, liblilv-dev, lv2-dev: the LV2 host test (jalv: to try
# the LV2 in a JACK graph by hand); xvfb,
# x11-apps, netpbm: the editor screenshot (tools/plugin_screenshot.sh); qemu-user: the check on a CPU without AVX2; time: tools/memory_check.sh
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e 'tools[dev,eval]'
# Resemblyzer (speaker similarity of the evaluation, speaker-encoder teacher) declares the
# `webrtcvad` sdist and the obsolete `typing` backport; webrtcvad-wheels provides the module
.venv/bin/pip install -q --no-deps "Resemblyzer==0.1.4"
# SVOX Pico, a TTS engine the training corpus does not use (evaluation --unseen): an sdist that
# compiles the Android Pico engine (C) and ships its en-US / en-GB voices; the evaluation runs
# without it (no Pico voices in the unseen section), so a failed build is only a warning
.venv/bin/pip install -q "ttspico==0.3.2" >/dev/null 2>&1 || echo "warning: ttspico did not install; evaluation --unseen runs without the Pico voices"
swift build -c release --product tmrvc
swift build -c release --product tmrvc-bench   # what `tmrvc bench` runs (Benchmarks/TMRVCBench)
bash tools/build_library.sh
bash tools/build_plugin.sh
echo "setup done: .venv ready, .build/release/tmrvc and tmrvc-bench built, the C library in dist/, the plugin in .build-plugin/ (docs/design/host-integration.md)"
