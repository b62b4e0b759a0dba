"""Source-filter excitation of the vocoder and the pitch register mapping (numpy reference).

The engine's Swift twins (``Sources/TMRVCDSP/ExcitationGenerator.swift``,
``Sources/TMRVCDSP/RegisterMap.swift``) follow this module; ``Tests/DSPTests`` compare them on
committed fixtures (``python -m tmrvc.excitation --fixtures``).

Excitation (per hop ``t``, given the output F0 ``f0[t]`` in Hz, 0 when unvoiced)
--------------------------------------------------------------------------------
Two excitation signals are generated sample by sample, 240 new samples per hop, spanning the
input-aligned samples ``[t*240, (t+1)*240)`` (the newest half of synthesis frame ``t``):

* **harmonic** ``e_h[n] = g[n] * A(f[n]) * (sum_{k=1..K} cos(k phi[n]) + r * cos((K+1) phi[n]))``
  with ``B = harmonic_cutoff_hz / f[n]``, ``K = floor(B)``, ``r = B - K`` (the next harmonic fades in
  smoothly as F0 falls, nothing is ever above ``cutoff + f0_max <= Nyquist``: band-limited), and
  ``A(f) = 2 sqrt(f / sr)`` (unit power: the spectral density equals the noise's).  The sum is the
  Dirichlet kernel ``sin((K + 1/2) p) / (2 sin(p / 2)) - 1/2`` of the phase centred on the pulse,
  ``p = phi - 2 pi round(phi / 2 pi)``, and ``K - p^2 K (K+1) (2K+1) / 12`` where ``|p| < 1e-5``.
  Within hop ``t`` the frequency ``f`` moves linearly from its value at the end of hop ``t-1`` to
  ``f0[t]`` (sample ``i`` of the hop takes the fraction ``(i+1)/240``); an unvoiced hop holds the last
  voiced frequency, and a voiced hop after an unvoiced one (an *onset*) starts at its own frequency
  (no glide from the held one).  ``phi`` advances by ``2 pi f / sr`` per sample (float64; reduced
  modulo ``2 pi`` at the end of every hop), continuous across hops.  The gain ``g`` is 1 in voiced
  hops and 0 in unvoiced ones, except at the transitions, which ramp over ``R =
  excitation.voicing_ramp_samples`` (60, 2.5 ms): an *offset* hop (unvoiced after voiced) has
  ``g = max(0, 1 - (i+1)/R)``; an onset hop has ``g = min(1, (240+i+1)/R)`` (1 for R <= 240), and
  its synthesis frame is voiced **retroactively**: the frame's first half (the previous hop's span,
  which the previous frame rendered unvoiced) takes the *onset prefix*
  ``g A(f) (...)`` at ``f = f0[t]``, ``phi_m = phi_end(t-1) - (239 - m) 2 pi f / sr`` and
  ``g = min(1, (m+1)/R)``, ``m = 0..239`` (the hop's own samples continued backwards).  A causal F0
  estimate can only call a frame voiced once it has seen periodicity; without the prefix the
  output's voicing started one hop late at every onset (docs/training.md, "V/UV agreement").
* **noise** ``e_n[n] = sqrt(12) * (u(n) - 1/2)``, unit variance, with ``u(n) = (h >> 8) / 2^24`` and
  ``h = lowbias32(uint32(n) ^ noise_seed)`` (a counter hash: deterministic, seekable, no state).

Frame ``t`` of each signal is ``s * e[(t-1)*240 : (t+1)*240]`` (``s`` the synthesis sqrt-Hann
window; samples before the stream start are 0; an onset frame's first half is the onset prefix),
transformed by a 480-point real FFT: ``E_h[k]``, ``E_n[k]`` (241 complex bins).  The vocoder predicts
per-bin magnitudes ``H`` and ``N`` and the engine synthesises ``Y = H E_h + N E_n`` with the existing
iSTFT / overlap-add.  With ``H = N = 1`` the output is ``e_h + e_n`` delayed by one hop (the synthesis
window's perfect reconstruction), plus ``hann * prefix`` over the hop before each onset.

Register mapping (output log-F0 from the source's)
-------------------------------------------------
``x = log2(f0 / f0_ref)`` on voiced frames.  The engine keeps running statistics of the source:
prior mean ``log2(register_prior_hz / f0_ref)``, variance ``register_prior_std^2``; on each voiced
frame ``n += 1``, ``k_mean = n + register_mean_prior_frames`` while ``n <= register_settle_frames``
(the first voiced frames set the register), then ``register_mean_frames`` (a slow exponential average:
a faster running mean would follow, and so remove, the sentence's own intonation);
``k_var = min(n + register_prior_frames, register_max_frames)``; ``d = x - mean``,
``mean += d / k_mean``, ``var += (d (x - mean) - var) / k_var``; then ``y = target_mean + (x - mean) * rho``
with ``rho = clip(target_std / sqrt(var), register_std_ratio_min, register_std_ratio_max)``.  The
user's pitch shift (semitones / 12) is added on top.  Without target statistics (a version-1
speaker file, or the manual mode) ``y = x + shift``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import frontend
from tmrvc.pitch import log_f0_feature

SR = C.AUDIO_SAMPLE_RATE
HOP = C.AUDIO_HOP_LENGTH
N_FFT = C.VOCODER_N_FFT
BINS = N_FFT // 2 + 1
CUTOFF = C.EXCITATION_HARMONIC_CUTOFF_HZ
SEED = C.EXCITATION_NOISE_SEED
RAMP = C.EXCITATION_VOICING_RAMP_SAMPLES
TWO_PI = 2.0 * math.pi
ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DIR = ROOT / "Tests" / "DSPTests" / "Resources"


def lowbias32(x: np.ndarray) -> np.ndarray:
    """Chris Wellons' lowbias32 integer hash on uint32 values (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    return x


def noise(start: int, count: int) -> np.ndarray:
    """Noise excitation samples ``start .. start + count - 1`` (float64, unit variance)."""
    idx = (np.arange(start, start + count, dtype=np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    h = lowbias32(idx ^ np.uint32(SEED))
    u = (h >> np.uint32(8)).astype(np.float64) * (1.0 / 16777216.0)
    return math.sqrt(12.0) * (u - 0.5)


def harmonic_samples(phi: np.ndarray, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Band-limited harmonic excitation for per-sample phase, frequency (Hz) and gain."""
    out = np.zeros_like(phi)
    on = (f > 0) & (g > 0)
    if not np.any(on):
        return out
    p, fo, go = phi[on], f[on], g[on]
    p = p - TWO_PI * np.round(p / TWO_PI)            # centred on the pulse: accurate near phi = 0
    b = CUTOFF / fo
    k = np.floor(b)
    r = b - k
    s2 = np.sin(0.5 * p)
    with np.errstate(divide="ignore", invalid="ignore"):
        dirichlet = np.where(np.abs(p) < 1e-5, k - p * p * k * (k + 1.0) * (2.0 * k + 1.0) / 12.0,
                             np.sin((k + 0.5) * p) / (2.0 * s2) - 0.5)
    out[on] = go * 2.0 * np.sqrt(fo / SR) * (dirichlet + r * np.cos((k + 1.0) * p))
    return out


class Excitation:
    """Streaming excitation generator: one :meth:`step` per hop (the engine's algorithm)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.phase = 0.0
        self.f_end = 0.0          # frequency at the end of the last hop (held while unvoiced)
        self.g_end = 0.0          # gain at the end of the last hop
        self.sample = 0           # excitation samples generated so far (noise counter)
        self.prev_h = np.zeros(HOP)
        self.prev_n = np.zeros(HOP)
        self.onset_prefix: np.ndarray | None = None
        self.win = frontend.sqrt_hann_periodic(N_FFT)

    def hop_signals(self, f0_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """The 240 new samples (harmonic, noise) of the next hop; after an onset hop
        :attr:`onset_prefix` holds the retroactive first half of its frame (else ``None``)."""
        voiced = f0_hz > 0
        onset = voiced and self.g_end == 0.0
        offset = not voiced and self.g_end > 0.0
        f1 = float(f0_hz) if voiced else self.f_end
        f0s = f1 if onset else self.f_end
        i = np.arange(HOP, dtype=np.float64)
        f = f0s + (f1 - f0s) * (i + 1) / HOP
        g = _hop_gain(voiced, onset, offset, i)
        phi = self.phase + np.cumsum(TWO_PI * f / SR)
        h = harmonic_samples(phi, f, g)
        self.onset_prefix = _onset_prefix(self.phase, f1) if onset else None
        n = noise(self.sample, HOP)
        self.phase = math.fmod(float(phi[-1]), TWO_PI)
        self.f_end, self.g_end = f1, (1.0 if voiced else 0.0)
        self.sample += HOP
        return h, n

    def step(self, f0_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Frame spectra ``(E_h, E_n)``, complex128 [241] each, for the next hop."""
        h, n = self.hop_signals(f0_hz)
        first_h = self.prev_h if self.onset_prefix is None else self.onset_prefix
        seg_h = np.concatenate([first_h, h])
        seg_n = np.concatenate([self.prev_n, n])
        self.prev_h, self.prev_n = h, n
        return np.fft.rfft(self.win * seg_h), np.fft.rfft(self.win * seg_n)


def _hop_gain(voiced, onset, offset, i: np.ndarray) -> np.ndarray:
    """Harmonic gain over a hop's samples ``i`` (0..239; arrays of flags broadcast per hop)."""
    return np.where(onset, np.minimum(1.0, (HOP + i + 1) / RAMP),
                    np.where(offset, np.maximum(0.0, 1.0 - (i + 1) / RAMP), np.where(voiced, 1.0, 0.0)))


def _onset_prefix(phase_before: float, f_hz: float) -> np.ndarray:
    """The retroactive first half of an onset frame: the onset hop's harmonic continued backwards
    over the previous hop's span, faded in over ``RAMP`` samples from the frame's start."""
    m = np.arange(HOP, dtype=np.float64)
    phi = phase_before - (HOP - 1 - m) * (TWO_PI * f_hz / SR)
    return harmonic_samples(phi, np.full(HOP, f_hz), np.minimum(1.0, (m + 1) / RAMP))


def signals(f0_hz: np.ndarray, noise_start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Whole-signal excitation (harmonic, noise), float64 [T*240] each, for per-frame F0
    (vectorised; equals :class:`Excitation`'s hop signals within float64 rounding of the phase
    sum).  ``noise_start`` offsets the noise counter (training crops use random offsets).
    Onset prefixes are not part of the signal: :func:`excitation_spectra` adds them."""
    e_h, _, e_n = _signals_and_onsets(f0_hz, noise_start)
    return e_h, e_n


def _signals_and_onsets(f0_hz, noise_start: int):
    f0 = np.asarray(f0_hz, dtype=np.float64).reshape(-1)
    T = len(f0)
    voiced = f0 > 0
    g_end = voiced.astype(np.float64)
    f_end = np.zeros(T)
    held = 0.0
    for t in range(T):                       # held frequency through unvoiced hops
        held = f0[t] if voiced[t] else held
        f_end[t] = held
    g_start = np.concatenate([[0.0], g_end[:-1]])
    onset = voiced & (g_start == 0.0)
    offset = ~voiced & (g_start > 0.0)
    f_start = np.concatenate([[0.0], f_end[:-1]])
    f_start = np.where(onset, f_end, f_start)
    i = np.arange(HOP, dtype=np.float64)
    f = (f_start[:, None] + (f_end - f_start)[:, None] * (i + 1) / HOP).reshape(-1)
    g = _hop_gain(voiced[:, None], onset[:, None], offset[:, None], i[None, :]).reshape(-1)
    phi = np.cumsum(TWO_PI * f / SR)
    onsets = {int(t): _onset_prefix(float(phi[t * HOP - 1]) if t > 0 else 0.0, float(f0[t]))
              for t in np.flatnonzero(onset)}
    return harmonic_samples(np.mod(phi, TWO_PI), f, g), onsets, noise(noise_start, T * HOP)


def frame_spectra(e: np.ndarray, first_halves: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Frames ``s * e[(t-1)*240 : (t+1)*240]`` -> rfft, complex128 [241, T]; ``first_halves``
    replaces the first half of the frames it names (onset prefixes)."""
    T = len(e) // HOP
    padded = np.concatenate([np.zeros(HOP), e[:T * HOP]])
    idx = np.arange(T)[:, None] * HOP + np.arange(N_FFT)[None, :]
    frames = padded[idx]
    for t, prefix in (first_halves or {}).items():
        frames[t, :HOP] = prefix
    return np.fft.rfft(frames * frontend.sqrt_hann_periodic(N_FFT), axis=1).T


def excitation_spectra(f0_hz: np.ndarray, noise_start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frame spectra ``(E_h, E_n)``, complex128 [241, T] each, for per-frame F0 (vectorised
    :meth:`Excitation.step`, onset prefixes included)."""
    e_h, onsets, e_n = _signals_and_onsets(f0_hz, noise_start)
    return frame_spectra(e_h, onsets), frame_spectra(e_n)


def synthesize(harmonic: np.ndarray, noise_mag: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """Reference source-filter synthesis: vocoder outputs ``H``, ``N`` [241, T] and the output F0
    [T] -> audio [T*240] (the engine's iSTFT / overlap-add of ``H E_h + N E_n``)."""
    e_h, e_n = excitation_spectra(f0_hz)
    y = harmonic * e_h + noise_mag * e_n
    return frontend.istft_ola(np.abs(y), np.angle(y))


class RegisterMap:
    """Maps source log2-F0 features into a target register (see the module docstring)."""

    def __init__(self, target_mean: float | None = None, target_std: float | None = None) -> None:
        self.target_mean, self.target_std = target_mean, target_std
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = math.log2(C.PITCH_REGISTER_PRIOR_HZ / C.PITCH_F0_REF_HZ)
        self.var = C.PITCH_REGISTER_PRIOR_STD ** 2

    def __call__(self, x: float, voiced: bool, shift_semitones: float = 0.0) -> float:
        """Output log2(f0 / f0_ref) for a frame (0 when unvoiced)."""
        if not voiced:
            return 0.0
        y = x
        if self.target_mean is not None:
            self.n += 1
            k_mean = (self.n + C.PITCH_REGISTER_MEAN_PRIOR_FRAMES if self.n <= C.PITCH_REGISTER_SETTLE_FRAMES
                      else C.PITCH_REGISTER_MEAN_FRAMES)
            k_var = min(self.n + C.PITCH_REGISTER_PRIOR_FRAMES, C.PITCH_REGISTER_MAX_FRAMES)
            d = x - self.mean
            self.mean += d / k_mean
            self.var += (d * (x - self.mean) - self.var) / k_var
            rho = min(max(self.target_std / math.sqrt(max(self.var, 1e-12)), C.PITCH_REGISTER_STD_RATIO_MIN),
                      C.PITCH_REGISTER_STD_RATIO_MAX)
            y = self.target_mean + (x - self.mean) * rho
        return y + shift_semitones / 12.0

    def content_warp(self, strength: float) -> float:
        """The content warp factor ``alpha = 2^(strength * (target mean - source mean))`` from the
        source statistics so far, clamped to [``pitch.content_warp_min``, ``_max``]; 1 when the
        strength is 0 or no target register is set."""
        if strength == 0.0 or self.target_mean is None:
            return 1.0
        a = 2.0 ** (strength * (self.target_mean - self.mean))
        return min(max(a, C.PITCH_CONTENT_WARP_MIN), C.PITCH_CONTENT_WARP_MAX)


def log_f0_stats(f0_hz: np.ndarray) -> tuple[float, float]:
    """(mean, std) of log2(f0 / f0_ref) over voiced frames: a speaker file's target register."""
    f = np.asarray(f0_hz, dtype=np.float64)
    x = np.log2(f[f > 0] / C.PITCH_F0_REF_HZ)
    if len(x) < 10:
        raise ValueError(f"only {len(x)} voiced frames: too little speech for pitch statistics")
    return float(x.mean()), float(max(x.std(), 0.02))


def write_fixtures(out: Path = FIXTURE_DIR) -> None:
    """Fixture for the Swift parity test: an F0 track (glides, octave jumps, voicing gaps,
    the range edges) and the reference frame spectra plus a register-mapping track."""
    T = 300
    t = np.arange(T)
    f0 = 110.0 * 2.0 ** (2.0 * t / T) + 15.0 * np.sin(t / 7.0)
    f0[40:55] = 0.0
    f0[100:103] = 0.0
    f0[150:170] *= 2.0
    f0[200:210] = 52.0
    f0[210:220] = 990.0
    f0[280:] = 0.0
    f0 = f0.astype(np.float32).astype(np.float64)     # the F0 track exactly as stored (float32)
    ex = Excitation()
    eh, en = zip(*(ex.step(float(v)) for v in f0))
    eh, en = np.stack(eh), np.stack(en)
    rm = RegisterMap(target_mean=0.3, target_std=0.12)
    x = log_f0_feature(f0)
    mapped = np.array([rm(float(v), bool(f > 0), 1.5) for v, f in zip(x, f0)])
    out.mkdir(parents=True, exist_ok=True)
    arr = np.concatenate([f0[:, None], eh.real, eh.imag, en.real, en.imag, x[:, None], mapped[:, None]], axis=1)
    # per hop: f0_hz, E_h real[241], E_h imag[241], E_n real[241], E_n imag[241], source log2(f0/200),
    # register-mapped (target mean 0.3, std 0.12, shift +1.5 semitones)
    np.save(out / "excitation_reference.npy", arr.astype(np.float32))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fixtures", action="store_true", help="write Tests/DSPTests/Resources/excitation_reference.npy")
    args = p.parse_args(argv)
    if args.fixtures:
        write_fixtures()
        print(f"wrote {FIXTURE_DIR / 'excitation_reference.npy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
