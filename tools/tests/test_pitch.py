"""Reference YIN F0 estimator and pitch features."""

from __future__ import annotations

import numpy as np

from tmrvc import constants as C
from tmrvc import pitch


def test_sine_f0_and_features():
    sr = C.AUDIO_SAMPLE_RATE
    t = np.arange(sr // 2) / sr
    for f in (80.0, 150.0, 310.0):
        f0, v = pitch.estimate_f0(0.3 * np.sin(2 * np.pi * f * t))
        assert np.all(np.abs(f0[5:] - f) < 0.5) and np.all(v[5:] > 0.9)
    p = pitch.pitch_features(0.3 * np.sin(2 * np.pi * 400.0 * t))
    assert p.shape == (2, len(t) // 240) and p.dtype == np.float32
    assert np.allclose(p[0, 5:], np.log2(400.0 / C.PITCH_F0_REF_HZ), atol=2e-3)


def test_silence_and_noise_are_unvoiced():
    p = pitch.pitch_features(np.zeros(4800))
    assert np.all(p == 0)
    noise = np.random.default_rng(0).standard_normal(9600) * 0.1
    f0, v = pitch.estimate_f0(noise)
    assert (f0 > 0).mean() < 0.2
