"""Small causal YIN F0 estimator producing the converter's ``pitch`` input (numpy only).

Frame ``t`` uses exactly the samples of front-end frame ``t``: the 960 newest
samples ``x[(t+1)*240 - 960 : (t+1)*240]`` (zeros before the stream start), so the
estimate is available at the same time as the log-mel frame (no lookahead).

Per frame (YIN, de Cheveigne & Kawahara 2002, with a learned voicing decision):

* the frame is low-passed by a 2nd-order Butterworth biquad at ``pitch.lowpass_hz`` (RBJ
  bilinear form, zero initial state, run over the frame oldest sample first: stateless, so any
  window of the stream gives the same answer) and **reversed**, so the integration window is the
  ``W = 480`` newest samples and the lagged copy reaches back: the estimate describes the newest
  20 ms instead of the oldest (about one frame less delay than YIN's usual orientation);
* difference function ``d(tau) = sum_{j<W} (y[j] - y[j + tau])^2`` of the reversed frame ``y`` for
  ``tau = 0 .. 480``; cumulative-mean-normalised ``d'(tau) = d(tau) * tau / sum_{k=1..tau} d(k)``;
* ``tau``: in ``[sr / f0_max, sr / f0_min]`` = ``[24, 480]``, the first ``tau`` with
  ``d'(tau) < threshold`` (then walked down to the local minimum), else the global minimum;
* **pitch track** (causal state, the octave reference): while a confident frame (voiced,
  ``d'(tau) < track_confident_dmin``) lies at most ``track_hold_frames`` frames back, the deepest
  local minima of ``d'`` near ``tau / 2``, ``2 tau`` and the track's own lag (within
  ``track_search_tolerance``) replace ``tau`` when their F0 is nearer the track's log-F0 and their
  ``d'`` is at most ``track_octave_margin`` above ``d'(tau)``: YIN's first-dip rule takes the half
  period when the second harmonic is strong, and the global minimum sits at a multiple of the
  period when no dip is below the threshold;
* parabolic interpolation refines ``tau``; ``f0 = sr / tau``;
* voiced when the RMS of the ``W`` newest samples is at least ``silence_rms`` (a frame whose
  newest 20 ms are silent is unvoiced, whatever came before) and the logistic score
  ``voicing_dmin_weight * d'(tau) + voicing_lowband_weight * L + voicing_previous_dmin_weight * d'_prev
  + voicing_bias > 0``, ``L`` = low-passed over full-band frame energy in dB (voiced speech keeps its
  energy below 1 kHz, fricatives do not), ``d'_prev`` the previous frame's ``d'`` (1 at the start).
  The weights were fitted to torchcrepe (``full``) periodicity > 0.21 labels of training-voice
  clips; they do not depend on the input level. A voiced frame that is not confident is unvoiced
  when a track is held and its log-F0 is more than ``track_max_jump_octaves`` from it (weakly
  periodic frames in fricatives and creak); with no track held (onsets) it stays voiced, because a
  voiced frame rendered unvoiced loses words (docs/training.md "F0 estimator"); a confident voiced
  frame sets the track. Voicing = ``clip(1 - d'(tau), 0, 1)`` for voiced frames, else 0.

Measured (``python -m tmrvc.evaluation.f0_accuracy``): docs/training.md "F0 estimator".

Pitch features (``dims.pitch`` = 2 channels): ``[log2(f0 / 200 Hz) if voiced else 0,
voicing]``.  This is a reference implementation for fixtures and data preparation; the engine's
``PitchEstimator`` follows it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from tmrvc import constants as C

SR = C.AUDIO_SAMPLE_RATE
HOP = C.AUDIO_HOP_LENGTH
FRAME = C.FRONTEND_WIN_LENGTH
W = FRAME // 2
TAU_MIN = int(np.floor(SR / C.PITCH_F0_MAX_HZ))
TAU_MAX = min(W, int(np.ceil(SR / C.PITCH_F0_MIN_HZ)))


def _frames(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = len(x) // HOP
    padded = np.concatenate([np.zeros(FRAME - HOP), x])
    idx = np.arange(n)[:, None] * HOP + np.arange(FRAME)[None, :]
    return padded[idx] if n else np.zeros((0, FRAME))


def lowpass_coefficients() -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of the 2nd-order Butterworth low-pass at ``pitch.lowpass_hz`` (RBJ cookbook,
    Q = 1/sqrt(2)), normalised so ``a[0] = 1``; float64."""
    w0 = 2.0 * np.pi * C.PITCH_LOWPASS_HZ / SR
    alpha = np.sin(w0) / (2.0 * np.sqrt(0.5))
    c = np.cos(w0)
    b = np.array([(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0])
    a = np.array([1.0 + alpha, -2.0 * c, 1.0 - alpha])
    return b / a[0], a / a[0]


def _difference(fr: np.ndarray) -> np.ndarray:
    """YIN difference function of every frame, ``d[:, tau] = sum_{j<W} (x[j] - x[j+tau])^2``,
    as ``e(0) + e(tau) - 2 r(tau)``: energies of the two windows from a cumulative sum, the
    cross-correlation ``r`` by FFT (float64; equal to the direct sum within ~1e-12 relative)."""
    n = fr.shape[0]
    size = 2048                                        # >= FRAME + W: no circular wrap
    spec_head = np.fft.rfft(fr[:, :W], size, axis=1)
    spec = np.fft.rfft(fr, size, axis=1)
    r = np.fft.irfft(np.conj(spec_head) * spec, size, axis=1)[:, :TAU_MAX + 1]
    sq = np.concatenate([np.zeros((n, 1)), np.cumsum(fr * fr, axis=1)], axis=1)
    taus = np.arange(TAU_MAX + 1)
    e_tau = sq[:, taus + W] - sq[:, taus]              # sum_{j<W} x[j+tau]^2
    d = e_tau[:, :1] + e_tau - 2.0 * r
    d[:, 0] = 0.0
    return np.maximum(d, 0.0)


def _near_minimum(row: np.ndarray, target: float) -> int | None:
    """The deepest local minimum of ``d'`` within ``pitch.track_search_tolerance`` (relative) of lag
    ``target``, inside ``(TAU_MIN, TAU_MAX)``; ``None`` when the deepest point there is not one."""
    tol = C.PITCH_TRACK_SEARCH_TOLERANCE
    lo = max(TAU_MIN, int(np.floor(target * (1.0 - tol))))
    hi = min(TAU_MAX, int(np.ceil(target * (1.0 + tol))))
    if hi - lo < 1:
        return None
    t = lo + int(np.argmin(row[lo:hi + 1]))
    if t <= TAU_MIN or t >= TAU_MAX or row[t] > row[t - 1] or row[t] > row[t + 1]:
        return None
    return t


def estimate_f0(audio_24k: np.ndarray, threshold: float = 0.15,
                silence_rms: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``(f0_hz, voicing)``, float64 arrays of length ``len(audio) // 240``, from the
    start of a stream (the track starts empty).

    ``threshold`` is YIN's absolute threshold for choosing the lag; ``f0_hz`` is 0 on unvoiced
    frames.
    """
    fr = _frames(audio_24k)
    n = fr.shape[0]
    b, a = lowpass_coefficients()
    low = lfilter(b, a, fr, axis=1)
    d = _difference(np.ascontiguousarray(low[:, ::-1]))
    cum = np.cumsum(d[:, 1:], axis=1)
    dn = np.ones_like(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        dn[:, 1:] = np.where(cum > 0, d[:, 1:] * np.arange(1, TAU_MAX + 1) / cum, 1.0)
    energy = np.mean(fr * fr, axis=1)
    lowband_db = 10.0 * np.log10((np.mean(low * low, axis=1) + 1e-12) / (energy + 1e-12))
    rms = np.sqrt(np.mean(fr[:, -W:] ** 2, axis=1))      # of the newest W samples (the reference window)
    f0 = np.zeros(n)
    voicing = np.zeros(n)
    hold = C.PITCH_TRACK_HOLD_FRAMES
    track, since_confident, previous_dmin = 0.0, hold + 1, 1.0
    for i in range(n):
        row = dn[i]
        cand = np.nonzero(row[TAU_MIN:TAU_MAX + 1] < threshold)[0]
        if len(cand):
            tau = TAU_MIN + int(cand[0])
            while tau + 1 <= TAU_MAX and row[tau + 1] < row[tau]:
                tau += 1
        else:
            tau = TAU_MIN + int(np.argmin(row[TAU_MIN:TAU_MAX + 1]))
        held = since_confident <= hold
        if held:                                       # octave choice by the track
            best = tau
            for t in (_near_minimum(row, tau / 2.0), _near_minimum(row, 2.0 * tau),
                      _near_minimum(row, SR / 2.0 ** track)):
                if (t is not None and row[t] <= row[tau] + C.PITCH_TRACK_OCTAVE_MARGIN
                        and abs(np.log2(SR / t) - track) < abs(np.log2(SR / best) - track)):
                    best = t
            tau = best
        dmin = row[tau]
        score = (C.PITCH_VOICING_DMIN_WEIGHT * dmin + C.PITCH_VOICING_LOWBAND_WEIGHT * lowband_db[i]
                 + C.PITCH_VOICING_PREVIOUS_DMIN_WEIGHT * previous_dmin + C.PITCH_VOICING_BIAS)
        previous_dmin = dmin
        voiced = score > 0.0 and rms[i] >= silence_rms
        t = float(tau)
        if TAU_MIN < tau < TAU_MAX:
            a3, b3, c3 = row[tau - 1], row[tau], row[tau + 1]
            den = a3 - 2.0 * b3 + c3
            if den > 0:
                t += 0.5 * (a3 - c3) / den
        log_f0 = np.log2(SR / t)
        if (voiced and dmin >= C.PITCH_TRACK_CONFIDENT_DMIN and held
                and abs(log_f0 - track) > C.PITCH_TRACK_MAX_JUMP_OCTAVES):
            voiced = False                             # weakly periodic and off the held track
        if voiced and dmin < C.PITCH_TRACK_CONFIDENT_DMIN:
            track, since_confident = log_f0, 0
        else:
            since_confident = min(since_confident + 1, hold + 1)
        if voiced:
            f0[i] = SR / t
            voicing[i] = min(1.0, max(0.0, 1.0 - dmin))
    return f0, voicing


def log_f0_feature(f0_hz: np.ndarray) -> np.ndarray:
    """The converter's first pitch channel for F0 values in Hz: ``log2(f0 / f0_ref)``, 0 where
    ``f0`` is 0 (unvoiced); float64."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    return np.where(f0 > 0, np.log2(np.maximum(f0, 1e-9) / C.PITCH_F0_REF_HZ), 0.0)


def pitch_features(audio_24k: np.ndarray, **kwargs) -> np.ndarray:
    """The converter's pitch input for a whole signal: float32 ``[2, T]``."""
    f0, voicing = estimate_f0(audio_24k, **kwargs)
    logf0 = log_f0_feature(f0)
    return np.stack([logf0, voicing]).astype(np.float32)


def estimator_version() -> str:
    """A fingerprint of this estimator (this file's source and the audio/front-end/pitch constants):
    caches of its output (the feature cache's ``pitch``, the vocoder stage's pitch cache) are stale
    when it changes."""
    h = hashlib.sha1(Path(__file__).read_bytes())
    consts = sorted((k, v) for k, v in vars(C).items() if k.startswith(("AUDIO_", "FRONTEND_", "PITCH_")))
    h.update(repr(consts).encode())
    return h.hexdigest()[:16]
