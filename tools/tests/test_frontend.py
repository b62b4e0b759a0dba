"""Reference DSP front end: filterbank, causal log-mel, streaming, iSTFT, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from tmrvc import constants as C
from tmrvc import frontend as F

librosa = pytest.importorskip("librosa")


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic tone with vibrato + noise bursts and a silent gap (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / C.AUDIO_SAMPLE_RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    ph = 2 * np.pi * np.cumsum(f0) / C.AUDIO_SAMPLE_RATE
    x = sum(0.3 / k * np.sin(k * ph) for k in range(1, 12))
    x = x + 0.05 * rng.standard_normal(n)
    x[n // 3: n // 3 + 4000] = 0.0
    return (x * 0.5).astype(np.float32)


def test_mel_filterbank_matches_librosa():
    ref = librosa.filters.mel(sr=C.AUDIO_SAMPLE_RATE, n_fft=C.FRONTEND_N_FFT, n_mels=C.FRONTEND_N_MELS,
                              fmin=C.FRONTEND_FMIN, fmax=C.FRONTEND_FMAX, htk=False, norm="slaney")
    fb = F.mel_filterbank()
    assert fb.shape == (80, 513) and fb.dtype == np.float32
    assert np.abs(fb - ref).max() < 1e-6


def test_slaney_mel_scale_roundtrip():
    f = np.array([0.0, 500.0, 1000.0, 3000.0, 12000.0])
    assert np.allclose(F.mel_to_hz_slaney(F.hz_to_mel_slaney(f)), f)
    assert np.allclose(F.hz_to_mel_slaney(f), librosa.hz_to_mel(f, htk=False))


def _librosa_log_mel(x: np.ndarray) -> np.ndarray:
    """Independent reference: librosa.stft on the same causal frames.

    librosa centres the 960-sample window inside the 1024-sample FFT frame (offset 32);
    a circular shift only changes the phase, so padding the signal by 720 + 32 zeros
    at the front gives the same windowed samples and identical magnitudes.
    """
    hop, win, n_fft = C.AUDIO_HOP_LENGTH, C.FRONTEND_WIN_LENGTH, C.FRONTEND_N_FFT
    n_frames = len(x) // hop
    off = (n_fft - win) // 2
    y = np.concatenate([np.zeros(win - hop + off), x.astype(np.float64), np.zeros(n_fft)])
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window="hann",
                            center=False, dtype=np.complex128))[:, :n_frames]
    mel = librosa.feature.melspectrogram(S=S, sr=C.AUDIO_SAMPLE_RATE, n_fft=n_fft, power=1.0,
                                         n_mels=C.FRONTEND_N_MELS, fmin=C.FRONTEND_FMIN,
                                         fmax=C.FRONTEND_FMAX, htk=False, norm="slaney")
    return np.log(np.maximum(mel, C.FRONTEND_LOG_FLOOR))


def _numpy_log_mel(x: np.ndarray) -> np.ndarray:
    """Straightforward per-frame loop, exactly as the spec reads."""
    hop, win = C.AUDIO_HOP_LENGTH, C.FRONTEND_WIN_LENGTH
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    fb = F.mel_filterbank().astype(np.float64)
    out = []
    for t in range(len(x) // hop):
        lo = (t + 1) * hop - win
        frame = np.array([x[i] if i >= 0 else 0.0 for i in range(lo, lo + win)], dtype=np.float64)
        buf = np.zeros(C.FRONTEND_N_FFT)
        buf[:win] = frame * w
        out.append(np.log(np.maximum(fb @ np.abs(np.fft.rfft(buf)), C.FRONTEND_LOG_FLOOR)))
    return np.stack(out, axis=1)


def test_log_mel_matches_references():
    x = _speechlike(24000 + 123)
    lm = F.log_mel(x)
    assert lm.shape == (80, len(x) // 240) and lm.dtype == np.float32
    assert np.abs(lm - _librosa_log_mel(x)).max() < 1e-5
    assert np.abs(lm[:, :40] - _numpy_log_mel(x[:40 * 240])).max() < 1e-5


def test_log_mel_is_causal_and_only_complete_hops():
    x = _speechlike(4800)
    a = F.log_mel(x)
    b = F.log_mel(np.concatenate([x, np.ones(239, np.float32)]))   # incomplete hop: no new frame
    assert np.array_equal(a, b)
    c = F.log_mel(np.concatenate([x, np.ones(480, np.float32)]))   # future samples do not change the past
    assert c.shape[1] == a.shape[1] + 2 and np.array_equal(c[:, :a.shape[1]], a)
    assert F.log_mel(np.zeros(0, np.float32)).shape == (80, 0)


def test_silence_gives_log_floor():
    lm = F.log_mel(np.zeros(2400, np.float32))
    assert np.all(lm == np.float32(np.log(C.FRONTEND_LOG_FLOOR)))


def test_streaming_equals_offline():
    x = _speechlike(30000, seed=3)
    ref = F.log_mel(x)
    rng = np.random.default_rng(5)
    s = F.StreamingLogMel()
    outs, i = [], 0
    while i < len(x):
        n = int(rng.choice([0, 1, 7, 239, 240, 241, 960, 1500]))
        outs.append(s.push(x[i:i + n]))
        i += n
    got = np.concatenate(outs, axis=1)
    assert got.shape == ref.shape
    assert np.array_equal(got, ref)


def test_istft_perfect_reconstruction():
    x = _speechlike(12000 + 100, seed=1).astype(np.float64)
    mag, phase = F.vocoder_analysis(x)
    assert mag.shape == (241, len(x) // 240)
    y = F.istft_ola(mag, phase)
    n = y.shape[0]
    assert n == mag.shape[1] * 240
    # output block t is complete after frame t and equals the input delayed by one hop
    assert np.abs(y[:240]).max() < 1e-6
    assert np.abs(y[240:] - x[:n - 240]).max() < 1e-5
    # streaming synthesis == offline
    st = F.StreamingISTFT()
    z = np.concatenate([st.push(mag[:, i:i + 3], phase[:, i:i + 3]) for i in range(0, mag.shape[1], 3)])
    assert np.array_equal(z, y)


def test_synthesis_window_is_power_complementary():
    s = F.sqrt_hann_periodic(C.VOCODER_N_FFT)
    h = C.VOCODER_HOP_LENGTH
    assert np.allclose(s[:h] ** 2 + s[h:] ** 2, 1.0)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_resample_to_24k(sr):
    t = np.arange(sr) / sr
    x = np.sin(2 * np.pi * 440 * t)
    y = F.resample_to_24k(x, sr)
    assert y.dtype == np.float32 and abs(len(y) - 24000) <= 1
    ref = np.sin(2 * np.pi * 440 * np.arange(len(y)) / 24000)
    assert np.abs(y[1000:-1000] - ref[1000:-1000]).max() < 1e-2
