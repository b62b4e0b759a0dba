"""Reference DSP front end and vocoder synthesis of TMRVC (numpy only).

This module is the *specification by example* of the signal processing the Swift
engine implements; every number comes from ``configs/constants.yaml`` (via
:mod:`tmrvc.constants`).  It is deliberately written for clarity, not speed.

Analysis: causal log-mel
------------------------
The engine works on a 24 kHz mono stream ``x[n]`` (``n = 0, 1, ...``; samples with
``n < 0`` are zeros) cut into hops of ``H = 240`` samples (10 ms).  Frame ``t``
(``t = 0, 1, 2, ...``) is available as soon as hop ``t`` is complete and covers the
``win_length = 960`` newest samples::

    frame_t[m] = x[(t + 1) * H - 960 + m],   m = 0 .. 959

1. multiply by the periodic Hann window ``w[m] = 0.5 - 0.5 cos(2 pi m / 960)``;
2. zero-pad *at the end* to ``n_fft = 1024`` samples (the window is not centred);
3. real FFT -> 513 bins ``X[k]``; magnitude ``|X[k]|`` (power 1, not power 2);
4. ``mel = F @ |X|`` with the 80 x 513 Slaney-scale, Slaney-area-normalised
   filterbank of :func:`mel_filterbank` (identical to
   ``librosa.filters.mel(sr=24000, n_fft=1024, n_mels=80, fmin=0, fmax=12000,
   htk=False, norm='slaney')``);
5. ``log_mel = ln(max(mel, 1e-5))`` (natural log).  Digital silence therefore
   gives exactly ``ln(1e-5) = -11.5129...`` in every band.

Precision: the reference computes everything in float64 (float64 window,
float64 filterbank, float64 FFT) and casts the final log-mel to float32.  A plain
float32 implementation (float32 window, FFT and filterbank) deviated by at most
5.3e-5 (absolute, log domain, largest near the floor) on the fixture speech; the
fixtures allow 5e-4 for the front end.

Only complete hops produce frames: ``T = len(x) // 240``.

Synthesis: vocoder iSTFT (causal overlap-add)
---------------------------------------------
The vocoder predicts, per frame ``t``, a 241-bin spectrum ``X_t = mag * exp(i phase)``
(``n_fft = 480``).  Synthesis::

    seg_t   = irfft(X_t, n=480) * s          # s[m] = sqrt(0.5 - 0.5 cos(2 pi m / 480))
    block_t = seg_t[0:240] + seg_{t-1}[240:480]   # seg_{-1} = 0
    emit block_t (240 samples) immediately after frame t

i.e. the engine keeps a 240-sample overlap buffer (initially zeros): after each
frame it outputs ``overlap + seg_t[:240]`` and stores ``seg_t[240:]`` as the new
overlap.  ``istft_ola`` returns the concatenation of the emitted blocks, so its
output sample ``y[t*240 + k]`` is final right after frame ``t``.

Time alignment / latency: on the input-aligned time axis, frame ``t``'s 480-sample
segment spans samples ``[t*H - 240, t*H + 240)``; block ``t`` is therefore the
input-aligned span ``[(t-1)*H, t*H)`` -- the synthesis side delays by exactly one
hop (the overlap, 10 ms).  Together with the hop accumulation on the analysis
side (a hop must be complete before frame ``t`` exists, 10 ms) every sample
leaves the engine ``2 * H = 480`` samples = 20 ms after it entered
(``streaming.base_latency_ms``), plus any lookahead.

The squared synthesis window satisfies ``s[m]^2 + s[m + 240]^2 = 1``, so analysing
with the same window and the same frame placement (:func:`vocoder_analysis`) and
then calling :func:`istft_ola` reproduces the input delayed by one hop:
``y[n] = x[n - 240]`` (perfect reconstruction).
"""

from __future__ import annotations

import numpy as np

from tmrvc import constants as C

SAMPLE_RATE = C.AUDIO_SAMPLE_RATE
HOP = C.AUDIO_HOP_LENGTH
N_FFT = C.FRONTEND_N_FFT
WIN_LENGTH = C.FRONTEND_WIN_LENGTH
N_MELS = C.FRONTEND_N_MELS
N_BINS = N_FFT // 2 + 1
LOG_FLOOR = C.FRONTEND_LOG_FLOOR
VOC_N_FFT = C.VOCODER_N_FFT
VOC_HOP = C.VOCODER_HOP_LENGTH
VOC_BINS = VOC_N_FFT // 2 + 1

__all__ = [
    "hann_periodic", "sqrt_hann_periodic", "hz_to_mel_slaney", "mel_to_hz_slaney",
    "mel_filterbank", "log_mel", "StreamingLogMel", "vocoder_analysis", "istft_ola",
    "StreamingISTFT", "resample_to_24k",
]


# --------------------------------------------------------------------------- windows
def hann_periodic(n: int) -> np.ndarray:
    """Periodic Hann window ``0.5 - 0.5*cos(2*pi*m/n)``, ``m = 0..n-1`` (float64)."""
    m = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * m / n)


def sqrt_hann_periodic(n: int) -> np.ndarray:
    """Square root of :func:`hann_periodic` (float64); the vocoder synthesis window."""
    return np.sqrt(hann_periodic(n))


# --------------------------------------------------------------------------- mel scale
_F_SP = 200.0 / 3.0          # Hz per mel below 1 kHz (Slaney)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel_slaney(f: np.ndarray | float) -> np.ndarray:
    """Slaney (Auditory Toolbox) mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / _F_SP
    log_region = f >= _MIN_LOG_HZ
    return np.where(log_region, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz_slaney(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_slaney`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def _mel_points_hz() -> np.ndarray:
    """The 82 band edges in Hz: evenly spaced on the Slaney mel scale from fmin to fmax."""
    return mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(C.FRONTEND_FMIN), hz_to_mel_slaney(C.FRONTEND_FMAX), N_MELS + 2))


def mel_band_centres_hz() -> np.ndarray:
    """The 80 bands' centre frequencies in Hz (float64): the peak of each triangle."""
    return _mel_points_hz()[1:-1]


_MEL_CENTRES_HZ = mel_band_centres_hz()


def warp_mel(mel: np.ndarray, alpha: float) -> np.ndarray:
    """The log-mel ``[80, T]`` (or one frame, ``[80]``) of the same sound with every frequency
    scaled by ``alpha`` (vocal-tract-length change of harmonics and formants together, as a
    resampling would): band i takes the value the input has at ``centre_i / alpha``, interpolated
    linearly between bands on the Hz axis (the edge band beyond the last centre), in float64, then
    rounded to the input's dtype.  ``alpha`` 1 returns the input unchanged.  The training stages'
    perturbation and the engine's content warp (``TMRVCDSP.MelWarp``)."""
    if alpha == 1.0:
        return mel
    pos = np.interp(_MEL_CENTRES_HZ / alpha, _MEL_CENTRES_HZ, np.arange(len(_MEL_CENTRES_HZ), dtype=np.float64))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(_MEL_CENTRES_HZ) - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (mel.ndim - 1))
    return ((1.0 - w) * mel[lo] + w * mel[hi]).astype(mel.dtype)


def _mel_filterbank_f64() -> np.ndarray:
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2.0, N_BINS)
    hz_pts = _mel_points_hz()
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (hz_pts[2:] - hz_pts[:-2])          # Slaney area normalisation
    return weights * enorm[:, None]


_FB64 = _mel_filterbank_f64()
_WIN64 = hann_periodic(WIN_LENGTH)
_SYN_WIN64 = sqrt_hann_periodic(VOC_N_FFT)


def mel_filterbank() -> np.ndarray:
    """The [80, 513] float32 mel filterbank (Slaney scale, Slaney area norm).

    Row ``i`` is the triangle between mel points ``i`` and ``i + 2`` of 82 points
    evenly spaced on the Slaney mel scale from fmin=0 Hz to fmax=12 kHz, scaled by
    ``2 / (f[i+2] - f[i])``.  Equal to ``librosa.filters.mel(..., htk=False,
    norm='slaney')``.  (The reference :func:`log_mel` uses the float64 version.)
    """
    return _FB64.astype(np.float32)


# --------------------------------------------------------------------------- analysis
def _frames_to_log_mel(frames: np.ndarray) -> np.ndarray:
    """frames [T, 960] float64 (unwindowed) -> log-mel [80, T] float32."""
    spec = np.fft.rfft(frames * _WIN64[None, :], n=N_FFT, axis=1)   # zero-pad at the end
    mag = np.abs(spec)
    if C.FRONTEND_MAGNITUDE_POWER != 1.0:
        mag = mag ** C.FRONTEND_MAGNITUDE_POWER
    mel = mag @ _FB64.T                                            # [T, 80]
    return np.log(np.maximum(mel, LOG_FLOOR)).T.astype(np.float32)


def _causal_frames(padded: np.ndarray, n_frames: int) -> np.ndarray:
    """Frames [n_frames, 960] where frame t = padded[t*H : t*H + 960]."""
    if n_frames == 0:
        return np.zeros((0, WIN_LENGTH))
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(WIN_LENGTH)[None, :]
    return padded[idx]


def log_mel(audio_24k: np.ndarray) -> np.ndarray:
    """Causal log-mel of a 24 kHz mono signal -> float32 [80, len(audio) // 240].

    Frame ``t`` uses input samples ``[(t+1)*240 - 960, (t+1)*240)`` (zeros before the
    start).  See the module docstring for the exact recipe.
    """
    x = np.asarray(audio_24k, dtype=np.float64).reshape(-1)
    n_frames = len(x) // HOP
    padded = np.concatenate([np.zeros(WIN_LENGTH - HOP), x])
    return _frames_to_log_mel(_causal_frames(padded, n_frames))


class StreamingLogMel:
    """Streaming version of :func:`log_mel`.

    Feed arbitrary-size chunks with :meth:`push`; it returns the frames completed
    by that chunk as float32 ``[80, n]`` (``n`` may be 0).  The concatenation of all
    returned frames equals ``log_mel`` of the concatenated input.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the start of a stream (history = zeros)."""
        self._buf = np.zeros(WIN_LENGTH - HOP)   # history (720) + pending samples

    def push(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float64).reshape(-1)
        self._buf = np.concatenate([self._buf, chunk])
        n_frames = (len(self._buf) - (WIN_LENGTH - HOP)) // HOP
        if n_frames <= 0:
            return np.zeros((N_MELS, 0), dtype=np.float32)
        out = _frames_to_log_mel(_causal_frames(self._buf, n_frames))
        self._buf = self._buf[n_frames * HOP:]
        return out


# --------------------------------------------------------------------------- synthesis
def vocoder_analysis(audio_24k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """STFT matching the vocoder's synthesis convention -> (mag, phase), each [241, T].

    Frame ``t`` = ``x[t*240 - 240 : t*240 + 240]`` (zeros outside the signal) times the
    sqrt-Hann window, ``rfft(n=480)``; ``T = len(x) // 240``.  Useful for training
    targets and for the perfect-reconstruction test of :func:`istft_ola`.
    """
    x = np.asarray(audio_24k, dtype=np.float64).reshape(-1)
    n_frames = len(x) // VOC_HOP
    padded = np.concatenate([np.zeros(VOC_N_FFT - VOC_HOP), x, np.zeros(VOC_HOP)])
    idx = np.arange(n_frames)[:, None] * VOC_HOP + np.arange(VOC_N_FFT)[None, :]
    spec = np.fft.rfft(padded[idx] * _SYN_WIN64[None, :], n=VOC_N_FFT, axis=1)
    return np.abs(spec).T, np.angle(spec).T


def _segments(mag: np.ndarray, phase: np.ndarray) -> np.ndarray:
    mag = np.asarray(mag, dtype=np.float64)
    phase = np.asarray(phase, dtype=np.float64)
    if mag.ndim == 3:          # [1, 241, T] model output
        mag, phase = mag[0], phase[0]
    if mag.shape != phase.shape or mag.shape[0] != VOC_BINS:
        raise ValueError(f"expected mag/phase [241, T], got {mag.shape} / {phase.shape}")
    spec = mag * np.cos(phase) + 1j * (mag * np.sin(phase))     # as the engine does
    return np.fft.irfft(spec.T, n=VOC_N_FFT, axis=1) * _SYN_WIN64[None, :]   # [T, 480]


def istft_ola(mag: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Reference causal iSTFT of the vocoder output -> float32 audio [T * 240].

    ``mag``/``phase``: ``[241, T]`` (or ``[1, 241, T]``).  Output block ``t``
    (``y[t*240:(t+1)*240]``) = ``seg_t[:240] + seg_{t-1}[240:]``: it is complete
    right after frame ``t``; see the module docstring for the latency budget.
    Computed in float64, returned as float32.
    """
    seg = _segments(mag, phase)
    n = seg.shape[0]
    out = np.zeros(n * VOC_HOP)
    out += seg[:, :VOC_HOP].reshape(-1)
    if n > 1:
        out[VOC_HOP:] += seg[:-1, VOC_HOP:].reshape(-1)
    return out.astype(np.float32)


class StreamingISTFT:
    """Frame-by-frame :func:`istft_ola` with the engine's 240-sample overlap buffer."""

    def __init__(self) -> None:
        self.overlap = np.zeros(VOC_HOP)

    def push(self, mag: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """mag/phase [241, n] -> float32 audio [n * 240]."""
        seg = _segments(mag, phase)
        out = []
        for s in seg:
            out.append(self.overlap + s[:VOC_HOP])
            self.overlap = s[VOC_HOP:].copy()
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


# --------------------------------------------------------------------------- resampling
def resample_to_24k(audio: np.ndarray, sr: int) -> np.ndarray:
    """Resample mono audio from ``sr`` to 24 kHz with a polyphase FIR (scipy), float32.

    Offline helper for data preparation and fixtures (not the engine's streaming
    resampler).
    """
    from math import gcd

    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if sr == SAMPLE_RATE:
        return audio.astype(np.float32)
    g = gcd(int(sr), SAMPLE_RATE)
    return resample_poly(audio, SAMPLE_RATE // g, int(sr) // g).astype(np.float32)
