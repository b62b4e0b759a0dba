"""Room/channel simulation for augmentation and the 24 ``ir_params`` it defines.

The converter's ``acoustic_params[0:24]`` ("ir_params", produced by ``ir_estimator``
from 0.5 s of input log-mel) describe the *input channel*: the room the source
speaker is in, the microphone's colouring and the background noise.  Training
defines their meaning; this module is that definition.

Channel model (applied to clean 24 kHz speech ``x``)::

    y = EQ(x * h) + n        # h: room impulse response (direct path at sample 0, gain 1)
                             # EQ: low shelf 250 Hz, peak 1.5 kHz (Q 1), high shelf 4 kHz
                             # n: coloured noise at a given SNR (w.r.t. the reverberant speech)

The 24 parameters (``IR_PARAM_NAMES``), all *measured on h* (so any RIR source —
the synthetic generator below, pyroomacoustics, a recorded RIR — gets the same
definition), then normalised to O(1) numbers:

=====  ===============  ===========================================================
index  name             value (dry/clean value in brackets)
=====  ===============  ===========================================================
0-7    rt60_b0..b7      ``log2(RT60_b / 0.4 s)``, RT60 of band b from the Schroeder
                        decay (-5..-25 dB fit, x3); bands ``BAND_EDGES``  [-3]
8-15   c50_b0..b7       ``clip(C50_b dB, -10, 30) / 10``: early (<50 ms) to late
                        energy of band b  [3]
16     drr              ``clip(DRR dB, -10, 30) / 10``: direct path (first 2.5 ms)
                        to the rest  [3]
17     ts               ``log2(max(Ts, 2 ms) / 50 ms)``, centre time  [-4.64]
18     edt              ``log2(max(EDT, 0.05 s) / 0.4 s)``, early decay time (0..-10 dB
                        x6)  [-3]
19     snr              ``(clip(SNR dB, -5, 60) - 30) / 10``  [3]
20     noise_slope      noise spectral slope in dB/octave / 6 (0 = white) [0]
21     eq_low           low-shelf gain dB / 6  [0]
22     eq_mid           peak gain dB / 6  [0]
23     eq_high          high-shelf gain dB / 6  [0]
=====  ===============  ===========================================================

``DRY_PARAMS`` is the vector of a dry, clean, flat channel (h = delta, no noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tmrvc import constants as C

SR = C.AUDIO_SAMPLE_RATE
BAND_EDGES = (0.0, 250.0, 500.0, 1000.0, 2000.0, 3000.0, 4500.0, 7000.0, 12000.0)
N_BANDS = len(BAND_EDGES) - 1
IR_PARAM_NAMES = ([f"rt60_b{b}" for b in range(N_BANDS)] + [f"c50_b{b}" for b in range(N_BANDS)]
                  + ["drr", "ts", "edt", "snr", "noise_slope", "eq_low", "eq_mid", "eq_high"])
assert len(IR_PARAM_NAMES) == C.DIMS_IR_PARAMS

RT_REF, RT_FLOOR = 0.4, 0.05
TS_REF, TS_FLOOR = 0.05, 0.002
SNR_CLEAN = 60.0


def normalise(rt60_b, c50_b, drr, ts, edt, snr, noise_slope, eq) -> np.ndarray:
    rt = np.log2(np.maximum(np.asarray(rt60_b, float), RT_FLOOR) / RT_REF)
    c50 = np.clip(np.asarray(c50_b, float), -10, 30) / 10
    rest = [np.clip(drr, -10, 30) / 10, np.log2(max(ts, TS_FLOOR) / TS_REF),
            np.log2(max(edt, RT_FLOOR) / RT_REF), (np.clip(snr, -5, SNR_CLEAN) - 30) / 10,
            noise_slope / 6, eq[0] / 6, eq[1] / 6, eq[2] / 6]
    return np.concatenate([rt, c50, np.asarray(rest, float)]).astype(np.float32)


DRY_PARAMS = normalise([0.0] * N_BANDS, [30.0] * N_BANDS, 30.0, 0.0, 0.0, SNR_CLEAN, 0.0, (0.0, 0.0, 0.0))


# ----------------------------------------------------------------------------- filters
def _band_sos(b: int):
    from scipy.signal import butter

    lo, hi = BAND_EDGES[b], BAND_EDGES[b + 1]
    if lo <= 0:
        return butter(4, hi, "lowpass", fs=SR, output="sos")
    if hi >= SR / 2:
        return butter(4, lo, "highpass", fs=SR, output="sos")
    return butter(3, [lo, hi], "bandpass", fs=SR, output="sos")


_SOS = [_band_sos(b) for b in range(N_BANDS)]


def _biquad(kind: str, f0: float, gain_db: float, q: float = 0.707) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook biquad -> (b, a)."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / SR
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / (2 * q)
    if kind == "peak":
        b = [1 + alpha * A, -2 * cw, 1 - alpha * A]
        a = [1 + alpha / A, -2 * cw, 1 - alpha / A]
    else:
        sa = 2 * np.sqrt(A) * alpha
        if kind == "low":
            b = [A * ((A + 1) - (A - 1) * cw + sa), 2 * A * ((A - 1) - (A + 1) * cw), A * ((A + 1) - (A - 1) * cw - sa)]
            a = [(A + 1) + (A - 1) * cw + sa, -2 * ((A - 1) + (A + 1) * cw), (A + 1) + (A - 1) * cw - sa]
        else:
            b = [A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw), A * ((A + 1) + (A - 1) * cw - sa)]
            a = [(A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - sa]
    b, a = np.asarray(b), np.asarray(a)
    return b / a[0], a / a[0]


def apply_eq(x: np.ndarray, gains_db: tuple[float, float, float]) -> np.ndarray:
    from scipy.signal import lfilter

    y = np.asarray(x, dtype=np.float64)
    for (kind, f0, q), g in zip((("low", 250.0, 0.707), ("peak", 1500.0, 1.0), ("high", 4000.0, 0.707)), gains_db):
        if g != 0.0:
            b, a = _biquad(kind, f0, g, q)
            y = lfilter(b, a, y)
    return y


def coloured_noise(n: int, slope_db_per_oct: float, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spec *= (f / 1000.0) ** (slope_db_per_oct / (20 * np.log10(2)))
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


# ----------------------------------------------------------------------------- RIR
def synthetic_rir(rng: np.random.Generator, rt60: float | None = None, drr_db: float | None = None
                  ) -> np.ndarray:
    """Exponentially decaying noise RIR with per-band decay, sparse early reflections.

    Broadband RT60 log-uniform in [0.15, 1.2] s, high bands decay faster (random tilt),
    DRR uniform in [-3, 15] dB, pre-delay 2..15 ms.  Direct path = 1 at sample 0.
    """
    rt60 = float(np.exp(rng.uniform(np.log(0.15), np.log(1.2)))) if rt60 is None else rt60
    tilt = rng.uniform(-0.6, 0.1)
    rt_b = rt60 * np.exp(tilt * (np.arange(N_BANDS) - 3.5) / 3.5) * rng.uniform(0.9, 1.1, N_BANDS)
    n = int(min(1.5 * rt_b.max(), 1.5) * SR) + 1
    t = np.arange(n) / SR
    from scipy.signal import sosfilt

    noise = rng.standard_normal(n)
    tail = np.zeros(n)
    for b in range(N_BANDS):
        tail += sosfilt(_SOS[b], noise) * np.exp(-6.9078 * t / rt_b[b])
    pre = rng.uniform(0.002, 0.015)
    tail *= np.clip((t - pre) / 0.005, 0.0, 1.0)           # onset after the pre-delay
    sigma = np.sqrt(np.convolve(tail ** 2, np.ones(48) / 48, mode="same"))   # local tail rms (2 ms)
    for _ in range(rng.integers(4, 12)):                    # early reflections: each about as
        k = int(rng.uniform(pre, 0.05) * SR)                # strong as 1-2 ms of the diffuse tail
        tail[k] += rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 7.0) * sigma[k]
    drr = rng.uniform(-3.0, 15.0) if drr_db is None else drr_db
    late = np.sum(tail[int(0.0025 * SR):] ** 2)
    tail *= np.sqrt(10 ** (-drr / 10) / max(late, 1e-12))
    tail[:int(0.0025 * SR)] = 0.0
    tail[0] = 1.0
    return tail


def pra_rir(rng: np.random.Generator) -> np.ndarray:
    """Shoebox room via pyroomacoustics (image source + ray tracing off), direct path at 0."""
    import pyroomacoustics as pra

    dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.4, 4)])
    rt60 = float(np.exp(rng.uniform(np.log(0.15), np.log(1.0))))
    try:
        e_abs, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:
        e_abs, max_order = 0.5, 10
    room = pra.ShoeBox(dims, fs=SR, materials=pra.Material(e_abs), max_order=min(max_order, 12))
    src = rng.uniform(0.5, dims - 0.5)
    mic = rng.uniform(0.5, dims - 0.5)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float64)
    k = int(np.argmax(np.abs(h)))
    h = h[k:]
    return h / h[0]


def measure_rir(h: np.ndarray) -> dict:
    """Acoustic parameters of an RIR whose direct path is at sample 0."""
    from scipy.signal import sosfiltfilt

    h = np.asarray(h, dtype=np.float64)
    n50, nd = int(0.05 * SR), int(0.0025 * SR)

    def decay_time(e: np.ndarray, lo: float, hi: float, scale: float) -> float:
        edc = np.cumsum(e[::-1])[::-1]
        edc_db = 10 * np.log10(edc / max(edc[0], 1e-20) + 1e-20)
        i0 = np.argmax(edc_db <= lo)
        i1 = np.argmax(edc_db <= hi)
        if i1 <= i0:
            return 0.0
        t = np.arange(i0, i1) / SR
        slope = np.polyfit(t, edc_db[i0:i1], 1)[0]
        return float(-60.0 / slope) if slope < 0 else 0.0

    rt_b, c50_b = [], []
    pad = 4096                    # zero padding on both sides (filtfilt's default odd
    padded = np.concatenate([np.zeros(pad), h, np.zeros(pad)])   # extension would add a step)
    for b in range(N_BANDS):
        e = sosfiltfilt(_SOS[b], padded, padtype=None)[pad:pad + len(h)] ** 2
        rt_b.append(decay_time(e, -5.0, -25.0, 60.0) if len(h) > n50 else 0.0)
        late = e[n50:].sum()
        c50_b.append(10 * np.log10(e[:n50].sum() / late) if late > 0 else 30.0)
    e = h ** 2
    rest = e[nd:].sum()
    drr = 10 * np.log10(e[:nd].sum() / rest) if rest > 0 else 30.0
    ts = float(np.sum(np.arange(len(e)) / SR * e) / e.sum())
    edt = decay_time(e, 0.0 - 1e-9, -10.0, 60.0) if rest > 0 else 0.0
    return {"rt60_b": rt_b, "c50_b": c50_b, "drr": drr, "ts": ts, "edt": edt}


# ----------------------------------------------------------------------------- channel
@dataclass
class ChannelConfig:
    p_rir: float = 0.8
    p_eq: float = 0.6
    p_noise: float = 0.6
    snr_db: tuple[float, float] = (5.0, 40.0)
    rir_method: str = "synthetic"       # synthetic | pra (pyroomacoustics)
    extra: dict = field(default_factory=dict)


def random_channel(x: np.ndarray, rng: np.random.Generator, cfg: ChannelConfig | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Apply a random room/EQ/noise channel to clean speech.

    Returns ``(y float32 [len(x)], ir_params float32 [24], description dict)``; ``y`` has
    the same length and alignment as ``x`` (the direct path is at delay 0).
    """
    from scipy.signal import fftconvolve

    cfg = cfg or ChannelConfig()
    x = np.asarray(x, dtype=np.float64)
    desc: dict = {}
    if rng.random() < cfg.p_rir:
        h = pra_rir(rng) if cfg.rir_method == "pra" else synthetic_rir(rng)
        m = measure_rir(h)
        y = fftconvolve(x, h)[:len(x)]
        desc["rir_len_s"] = len(h) / SR
    else:
        m = {"rt60_b": [0.0] * N_BANDS, "c50_b": [30.0] * N_BANDS, "drr": 30.0, "ts": 0.0, "edt": 0.0}
        y = x.copy()
    eq = (0.0, 0.0, 0.0)
    if rng.random() < cfg.p_eq:
        eq = (float(rng.uniform(-9, 9)), float(rng.uniform(-6, 6)), float(rng.uniform(-12, 6)))
        y = apply_eq(y, eq)
    snr, slope = SNR_CLEAN, 0.0
    if rng.random() < cfg.p_noise:
        snr = float(rng.uniform(*cfg.snr_db))
        slope = float(rng.uniform(-6.0, 0.0))
        active = y[np.abs(y) > 0.01 * np.abs(y).max()]
        p_sig = np.mean(active ** 2) if len(active) else np.mean(y ** 2)
        y = y + coloured_noise(len(y), slope, rng) * np.sqrt(p_sig / 10 ** (snr / 10))
    peak = np.abs(y).max()
    if peak > 0.99:
        y *= 0.99 / peak
    desc.update(m)
    desc.update({"snr": snr, "noise_slope": slope, "eq": eq})
    params = normalise(m["rt60_b"], m["c50_b"], m["drr"], m["ts"], m["edt"], snr, slope, eq)
    return y.astype(np.float32), params, desc
