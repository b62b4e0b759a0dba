"""Units of the evaluation measures (tmrvc.evaluation): text normalisation and error rates,
MCD, F0 agreement and the pitch-shift baseline, on synthetic signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tmrvc.evaluation import asr
from tmrvc.evaluation import metrics as M


def test_numbers_and_normalisation():
    assert asr.number_words(37) == "thirty seven"
    assert asr.number_words(1908) == "one thousand nine hundred eight"
    assert asr.normalize("Thirty-seven people, at 7!") == ["thirty", "seven", "people", "at", "seven"]
    assert asr.normalize("37 people at seven") == asr.normalize("Thirty-seven people, at 7!")


def test_error_rates():
    assert asr.error_rates("the cat sat", "the cat sat") == (0, 3, 0, 11)
    we, n, ce, nc = asr.error_rates("the cat sat", "a cat sat down")
    assert (we, n) == (2, 3) and ce > 0 and nc == 11
    assert asr.edit_distance(list("kitten"), list("sitting")) == 3


def _tone(f0: float, seconds: float = 1.0, sr: int = 24000) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    vib = f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))              # a moving F0 so correlation is defined
    phase = 2 * np.pi * np.cumsum(vib) / sr
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 6))).astype(np.float32)


def test_mcd_is_zero_for_identical_and_grows_with_spectral_change():
    x = _tone(150)
    assert M.mcd(x, x) == pytest.approx(0.0, abs=1e-9)
    noisy = x + 0.05 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    assert 0.5 < M.mcd(noisy, x) < 30


def test_f0_agreement_and_pitch_shift():
    x = _tone(150)
    c, n = M.f0_agreement(M.log_f0(x), M.log_f0(x))
    assert c == pytest.approx(1.0) and n > 50
    up = M.pitch_shift(x, 4.0)
    c, _ = M.f0_agreement(M.log_f0(x), M.log_f0(up))
    assert c > 0.9
    shift = 12 * (M.mean_log_f0([up]) - M.mean_log_f0([x]))
    assert shift == pytest.approx(4.0, abs=0.35)
