#!/usr/bin/env python3
"""Generate the reference arrays of the Swift DSP tests (Tests/DSPTests/Resources/*.npy).

The arrays come from the Python specification ``tmrvc.frontend`` (log-mel, iSTFT/OLA) and
``tmrvc.pitch`` (YIN); the Swift tests in Tests/DSPTests compare TMRVCDSP against them.

Regenerate (from the repository root)::

    .venv/bin/python tools/dsp_reference.py

``--tools-dir DIR`` imports ``tmrvc`` from another checkout (e.g. while ``tmrvc/frontend.py`` is
not merged yet: ``--tools-dir /work/main/tools``).  Output is deterministic (fixed seeds).

Files (float32, little-endian, C order):

* ``dsp_audio.npy``     [36000]    1.5 s test signal at 24 kHz: exponential chirp 60 Hz -> 11 kHz,
  a speech-like segment (glottal pulses with a gliding F0 through formant resonators + a
  fricative noise burst), digital silence, low-level noise;
* ``dsp_log_mel.npy``   [80, 150]  ``frontend.log_mel(dsp_audio)``;
* ``dsp_pitch.npy``     [2, 150]   ``pitch.pitch_features(dsp_audio)``;
* ``dsp_speech.npy``    [N]        speech: Tests/Fixtures/audio/utt2_en-gb-m3.wav (a low male voice)
  then utt1_en-us-f3.wav (female), int16 / 32768; ``dsp_speech_pitch.npy`` [2, N / 240] its
  ``pitch.pitch_features`` (the pitch track across real voicing onsets, octave choices and a
  speaker change);
* ``dsp_ola_mag.npy``   [241, 16]  random magnitudes, ``dsp_ola_phase.npy`` [241, 16] random phases;
* ``dsp_ola_out.npy``   [3840]     ``frontend.istft_ola(mag, phase)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _lfilter(b: list[float], a: list[float], x: np.ndarray) -> np.ndarray:
    """Direct-form IIR filter (scipy.signal.lfilter for a[0] == 1), numpy only."""
    y = np.zeros(len(x))
    for n in range(len(x)):
        acc = sum(b[k] * x[n - k] for k in range(len(b)) if n - k >= 0)
        acc -= sum(a[k] * y[n - k] for k in range(1, len(a)) if n - k >= 0)
        y[n] = acc
    return y


def make_signal(sr: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    parts = []
    # 0.5 s exponential chirp 60 Hz -> 11 kHz, amplitude 0.3
    n = sr // 2
    t = np.arange(n) / sr
    f0, f1, dur = 60.0, 11000.0, n / sr
    k = (f1 / f0) ** (1.0 / dur)
    phase = 2 * np.pi * f0 * (k ** t - 1.0) / np.log(k)
    parts.append(0.3 * np.sin(phase))
    # 0.7 s speech-like: glottal pulse train (F0 110 -> 180 Hz) through three formant resonators
    n = int(0.7 * sr)
    f0_track = np.linspace(110.0, 180.0, n)
    ph = np.cumsum(2 * np.pi * f0_track / sr)
    src = np.zeros(n)
    src[1:] = np.diff(np.floor(ph / (2 * np.pi))) > 0           # one pulse per period
    src = _lfilter([1.0], [1.0, -0.95], src)                         # glottal tilt
    y = np.zeros(n)
    for fc, bw, g in ((700.0, 90.0, 1.0), (1200.0, 110.0, 0.6), (2600.0, 160.0, 0.3)):
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * fc / sr), r * r]
        y += g * _lfilter([1.0 - r], a, src)
    y *= 0.4 / np.max(np.abs(y))
    burst = rng.standard_normal(int(0.12 * sr)) * 0.05
    burst = _lfilter([1.0, -1.0], [1.0], burst)                      # high-passed fricative
    y[-len(burst):] += burst
    parts.append(y)
    # 0.1 s digital silence, 0.2 s low-level noise (-60 dBFS-ish)
    parts.append(np.zeros(int(0.1 * sr)))
    parts.append(rng.standard_normal(int(0.2 * sr)) * 1e-3)
    return np.concatenate(parts).astype(np.float32)


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools-dir", type=Path, default=here, help="directory that contains the tmrvc package")
    ap.add_argument("--out", type=Path, default=here.parent / "Tests" / "DSPTests" / "Resources")
    args = ap.parse_args()
    sys.path.insert(0, str(args.tools_dir.resolve()))
    from tmrvc import constants as C
    from tmrvc import frontend, pitch

    sr = C.AUDIO_SAMPLE_RATE
    audio = make_signal(sr)
    assert len(audio) == int(1.5 * sr)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr, dtype="<f4")
        np.save(out / name, arr)
        print(f"{name}: {arr.shape}")

    save("dsp_audio.npy", audio)
    save("dsp_log_mel.npy", frontend.log_mel(audio))
    save("dsp_pitch.npy", pitch.pitch_features(audio))
    from scipy.io import wavfile
    fixtures = here.parent / "Tests" / "Fixtures" / "audio"
    speech = []
    for name in ("utt2_en-gb-m3.wav", "utt1_en-us-f3.wav"):
        rate, pcm = wavfile.read(fixtures / name)
        assert rate == sr and pcm.dtype == np.int16, f"{fixtures / name}: expected 24 kHz int16"
        speech.append(pcm.astype(np.float32) / 32768.0)
    speech = np.concatenate(speech)
    speech = speech[:len(speech) // 240 * 240]
    save("dsp_speech.npy", speech)
    save("dsp_speech_pitch.npy", pitch.pitch_features(speech))
    rng = np.random.default_rng(99)
    frames = 16
    mag = (rng.random((frontend.VOC_BINS, frames)) * 2.0).astype(np.float32)
    phase = rng.uniform(-np.pi, np.pi, (frontend.VOC_BINS, frames)).astype(np.float32)
    save("dsp_ola_mag.npy", mag)
    save("dsp_ola_phase.npy", phase)
    save("dsp_ola_out.npy", frontend.istft_ola(mag, phase))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
