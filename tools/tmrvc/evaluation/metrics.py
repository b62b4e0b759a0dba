"""Objective measures of the evaluation: speaker similarity, F0 agreement (correlation, V/UV
agreement, voiced fraction, RMSE to the expected register-mapped contour), mel-cepstral
distortion, the DNSMOS P.835 naturalness predictor, and the pitch-shift baseline.  Everything
runs on 24 kHz float32 audio; F0 tracks are per 10 ms frame, log2 Hz, NaN where unvoiced."""

from __future__ import annotations

from math import gcd

import numpy as np

from tmrvc import frontend
from tmrvc.jit_cache import first_call_locked
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
        from tmrvc.speech_models import Resemblyzer

        self.enc = Resemblyzer()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        return self.enc(np.asarray(audio, np.float32))

    def reference(self, clips: list[np.ndarray]) -> np.ndarray:
        e = np.mean([self.embed(c) for c in clips], axis=0)
        return e / np.linalg.norm(e)


def log_f0(audio: np.ndarray) -> np.ndarray:
    """log2 F0 per 10 ms frame (NaN where unvoiced) from probabilistic YIN with HMM smoothing
    (``librosa.pyin`` on the audio resampled to 16 kHz, 64 ms frames, 50..800 Hz, 0.2-semitone
    grid): the evaluation's measuring tracker.  It is independent of the system under test (the
    engine's own YIN drives the excitation, so measuring with it would be circular) and steady on
    natural speech: a librosa pitch shift of a source, which keeps the contour by construction,
    correlates 0.97..1.00 per clip with its source under pYIN, 0.05..0.87 under the runtime's YIN
    and 0.46..0.91 under WORLD's DIO, which also doubles piper_joe's 92 Hz voice (10 held-out clips,
    2026-12-06)."""
    import librosa

    x = resample(np.asarray(audio, np.float32), SR, 16000)
    f0, voiced, _ = first_call_locked(librosa.pyin, x, fmin=50.0, fmax=800.0, sr=16000, frame_length=1024,
                                      hop_length=160, resolution=0.2)
    return np.where(voiced, np.log2(np.maximum(np.nan_to_num(f0), 1e-9)), np.nan)


def log_f0_runtime(audio: np.ndarray) -> np.ndarray:
    """log2 F0 per 10 ms frame (NaN where unvoiced) from the runtime's YIN estimator
    (:func:`tmrvc.pitch.estimate_f0`, what the engine itself hears)."""
    return log2_hz(estimate_f0(audio)[0])


def log2_hz(f0_hz: np.ndarray) -> np.ndarray:
    """An F0 track in Hz (0 = unvoiced) as log2 Hz, NaN where unvoiced."""
    f0 = np.asarray(f0_hz, np.float64)
    return np.where(f0 > 0, np.log2(np.maximum(f0, 1e-9)), np.nan)


def median_f0_hz(log_f0_track: np.ndarray) -> float:
    """Median F0 in Hz over the voiced frames of a :func:`log_f0` track (NaN if none is voiced)."""
    v = np.asarray(log_f0_track, np.float64)
    v = v[~np.isnan(v)]
    return float(2.0 ** np.median(v)) if len(v) else float("nan")


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


def voiced_fraction(log_f0_track: np.ndarray) -> float:
    """Fraction of the frames of a :func:`log_f0` track that are voiced (NaN for an empty track)."""
    t = np.asarray(log_f0_track)
    return float(np.mean(~np.isnan(t))) if len(t) else float("nan")


def vuv_agreement(src_log_f0: np.ndarray, out_log_f0: np.ndarray) -> float:
    """Fraction of frames whose voiced/unvoiced decisions agree between two :func:`log_f0`
    tracks, frames aligned 1:1 over the shorter track (NaN when it is empty)."""
    n = min(len(src_log_f0), len(out_log_f0))
    if n == 0:
        return float("nan")
    return float(np.mean(np.isnan(src_log_f0[:n]) == np.isnan(out_log_f0[:n])))


def log_f0_stats(log_f0_tracks: list[np.ndarray]) -> tuple[float, float]:
    """(mean, standard deviation) of log2 F0 over the voiced frames of the tracks: a speaker's
    register (NaN, NaN if no frame is voiced)."""
    v = np.concatenate([np.asarray(t, np.float64) for t in log_f0_tracks]) if log_f0_tracks else np.zeros(0)
    v = v[~np.isnan(v)]
    return (float(np.mean(v)), float(np.std(v))) if len(v) else (float("nan"), float("nan"))


def expected_log_f0(src_log_f0: np.ndarray, src_stats: tuple[float, float],
                    tgt_stats: tuple[float, float]) -> np.ndarray:
    """The source contour moved into the target's register: target mean + (source log2 F0 -
    source mean) * (target std / source std), frame by frame (NaN stays NaN)."""
    (sm, ss), (tm, ts) = src_stats, tgt_stats
    return tm + (np.asarray(src_log_f0, np.float64) - sm) * (ts / ss if ss > 0 else 1.0)


def f0_rmse_cents(expected: np.ndarray, out_log_f0: np.ndarray) -> tuple[float, int]:
    """RMS difference in cents (1200 x log2 ratio) between an expected log2 F0 contour and the
    output's, over the frames voiced in both (aligned 1:1).  Returns (RMSE, frames used); NaN
    with fewer than 10 frames."""
    n = min(len(expected), len(out_log_f0))
    a, b = np.asarray(expected[:n], np.float64), np.asarray(out_log_f0[:n], np.float64)
    m = ~np.isnan(a) & ~np.isnan(b)
    if m.sum() < 10:
        return float("nan"), int(m.sum())
    return float(1200.0 * np.sqrt(np.mean((a[m] - b[m]) ** 2))), int(m.sum())


def mean_voiced(log_f0_tracks: list[np.ndarray]) -> float:
    """Mean log2 F0 over the voiced frames of :func:`log_f0` tracks (NaN if none is voiced)."""
    v = np.concatenate(log_f0_tracks)
    v = v[~np.isnan(v)]
    return float(np.mean(v)) if len(v) else float("nan")


def mean_log_f0(clips: list[np.ndarray]) -> float:
    return mean_voiced([log_f0(c) for c in clips])


class DNSMOS:
    """DNSMOS P.835 (Reddy et al., ICASSP 2022): a non-intrusive predictor of the ITU-T P.835
    listening-test scores of speech quality, SIG (signal), BAK (background) and OVRL (overall),
    each on 1..5, plus the P.808 MOS.  The ONNX models ship inside the PyPI package
    ``speechmos`` (Microsoft, MIT licence), so it runs offline; they take 16 kHz audio in 9.01 s
    windows hopped by 1 s (shorter clips are repeated up to 9.01 s) and the scores are the
    window means.  Here the 24 kHz clip is resampled to 16 kHz and clipped to [-1, 1]."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
            import speechmos
            from speechmos.dnsmos import DNSMOS as _Model
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("DNSMOS needs the PyPI package speechmos (tools/setup.sh installs it with the "
                              "eval extra: pip install -e 'tools[eval]')") from exc
        from pathlib import Path

        models = Path(speechmos.__file__).parent / "dnsmos_models"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        model = _Model.__new__(_Model)      # its __init__ makes sessions with all cores' threads
        model.primary_model_path = str(models / "sig_bak_ovr.onnx")
        model.onnx_sess = ort.InferenceSession(model.primary_model_path, opts, providers=["CPUExecutionProvider"])
        model.p808_onnx_sess = ort.InferenceSession(str(models / "model_v8.onnx"), opts,
                                                    providers=["CPUExecutionProvider"])
        self.model = model

    def __call__(self, audio_24k: np.ndarray) -> dict:
        """{"ovrl", "sig", "bak", "p808"} for one clip of 24 kHz audio."""
        x = np.clip(resample(np.asarray(audio_24k, np.float32), SR, 16000), -1.0, 1.0)
        if len(x) < 160:
            raise ValueError("DNSMOS needs at least 10 ms of audio")
        r = self.model(x, 16000, False)
        return {"ovrl": float(r["ovrl_mos"]), "sig": float(r["sig_mos"]), "bak": float(r["bak_mos"]),
                "p808": float(r["p808_mos"])}


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
    _, wp = first_call_locked(dtw, X=a, Y=b, metric="euclidean", backtrack=True)
    diff = a[:, wp[:, 0]] - b[:, wp[:, 1]]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff * diff, axis=0))))


def pitch_shift(audio: np.ndarray, semitones: float) -> np.ndarray:
    """The pitch-shift-only baseline (librosa: phase-vocoder time stretch + resampling)."""
    import librosa

    return first_call_locked(librosa.effects.pitch_shift, np.asarray(audio, np.float32), sr=SR,
                             n_steps=float(semitones)).astype(np.float32)
