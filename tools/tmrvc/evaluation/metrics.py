"""Objective measures of the evaluation: speaker similarity, F0 agreement, mel-cepstral
distortion, and the pitch-shift baseline.  Everything runs on 24 kHz float32 audio."""

from __future__ import annotations

from math import gcd

import numpy as np

from tmrvc import frontend
from tmrvc.pitch import estimate_f0

SR = 24000
MCD_ORDER = 24                  # cepstral coefficients c1..c24 of the 80-band log-mel


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if sr_in == sr_out:
        return np.asarray(x, np.float32)
    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class SpeakerSimilarity:
    """Resemblyzer (pretrained GE2E d-vector, 256-d; its weights ship in the wheel)."""

    def __init__(self) -> None:
        from tmrvc.data.features import _Resemblyzer

        self.enc = _Resemblyzer()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        return self.enc(np.asarray(audio, np.float32))

    def reference(self, clips: list[np.ndarray]) -> np.ndarray:
        e = np.mean([self.embed(c) for c in clips], axis=0)
        return e / np.linalg.norm(e)


def log_f0(audio: np.ndarray) -> np.ndarray:
    """log2 F0 per 10 ms frame (NaN where unvoiced), from the runtime's YIN estimator."""
    f0, _ = estimate_f0(audio)
    return np.where(f0 > 0, np.log2(np.maximum(f0, 1e-9)), np.nan)


def f0_agreement(src_log_f0: np.ndarray, out_log_f0: np.ndarray) -> tuple[float, int]:
    """Pearson correlation of two :func:`log_f0` tracks (source vs output, same time axis)
    over the frames voiced in both; invariant to the output's mean shift.  Returns
    (correlation, frames used); NaN with fewer than 10 frames."""
    n = min(len(src_log_f0), len(out_log_f0))
    a, b = src_log_f0[:n], out_log_f0[:n]
    m = ~np.isnan(a) & ~np.isnan(b)
    if m.sum() < 10 or np.std(a[m]) == 0 or np.std(b[m]) == 0:
        return float("nan"), int(m.sum())
    return float(np.corrcoef(a[m], b[m])[0, 1]), int(m.sum())


def mean_voiced(log_f0_tracks: list[np.ndarray]) -> float:
    """Mean log2 F0 over the voiced frames of :func:`log_f0` tracks (NaN if none is voiced)."""
    v = np.concatenate(log_f0_tracks)
    v = v[~np.isnan(v)]
    return float(np.mean(v)) if len(v) else float("nan")


def mean_log_f0(clips: list[np.ndarray]) -> float:
    return mean_voiced([log_f0(c) for c in clips])


def mel_cepstrum(audio: np.ndarray) -> np.ndarray:
    """Mel-cepstrum c1..c24 per frame [24, T] of the runtime's 80-band log-mel (natural log of
    the mel-weighted magnitude): with the unnormalised DCT-II y_k, ln|X| = y_0/2N +
    sum_k (y_k/N) cos(...) = c_0 + 2 sum_k c_k cos(...), so c_k = y_k / 2N, the scale of the
    usual (SPTK) mel-cepstra used for MCD.  c0 (level) is excluded."""
    from scipy.fft import dct

    mel = frontend.log_mel(np.asarray(audio, np.float32)).astype(np.float64)
    return dct(mel, type=2, axis=0, norm=None)[1:MCD_ORDER + 1] / (2.0 * mel.shape[0])


def mcd(out: np.ndarray, target: np.ndarray) -> float:
    """Mel-cepstral distortion in dB between two utterances of the same sentence, aligned by
    DTW on the cepstra: mean over the path of (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2)."""
    from librosa.sequence import dtw

    a, b = mel_cepstrum(out), mel_cepstrum(target)
    _, wp = dtw(X=a, Y=b, metric="euclidean", backtrack=True)
    diff = a[:, wp[:, 0]] - b[:, wp[:, 1]]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff * diff, axis=0))))


def pitch_shift(audio: np.ndarray, semitones: float) -> np.ndarray:
    """The pitch-shift-only baseline (librosa: phase-vocoder time stretch + resampling)."""
    import librosa

    return librosa.effects.pitch_shift(np.asarray(audio, np.float32), sr=SR, n_steps=float(semitones)).astype(np.float32)
