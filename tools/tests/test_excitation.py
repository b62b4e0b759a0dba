"""The source-filter excitation and the register mapping (tmrvc.excitation)."""

import math

import numpy as np
import pytest

from tmrvc import constants as C
from tmrvc import excitation as X
from tmrvc import frontend

F0 = np.concatenate([np.linspace(100, 300, 100), np.zeros(20), np.full(50, 220.0), np.linspace(50, 990, 80)])


def _streamed(f0):
    ex = X.Excitation()
    hs, ns = zip(*(ex.hop_signals(float(v)) for v in f0))
    return np.concatenate(hs), np.concatenate(ns)


def test_streaming_equals_vectorised():
    h, n = _streamed(F0)
    h2, n2 = X.signals(F0)
    assert np.abs(h - h2).max() < 1e-5 * np.abs(h).max()
    np.testing.assert_array_equal(n, n2)


def test_unit_power_and_unvoiced_silence():
    h, n = X.signals(np.full(400, 180.0))
    assert 0.9 < np.sqrt(np.mean(h[4800:] ** 2)) < 1.1
    assert 0.97 < np.std(n) < 1.03 and abs(np.mean(n)) < 0.02
    h, _ = X.signals(np.zeros(50))
    assert not h.any()


def test_voicing_ramps_and_the_onset_prefix():
    R = C.EXCITATION_VOICING_RAMP_SAMPLES
    f0 = np.array([0.0] * 5 + [200.0] * 5 + [0.0] * 3)
    h, _ = X.signals(f0)
    peak = np.abs(h[6 * 240:10 * 240]).max()
    rms = lambda x: np.sqrt(np.mean(x ** 2))
    # the onset hop is at full gain from its first sample (its fade-in went into the prefix)
    assert not h[:5 * 240].any() and abs(rms(h[5 * 240:5 * 240 + 120]) / rms(h[7 * 240:7 * 240 + 120]) - 1) < 1e-6
    assert not h[10 * 240 + R:].any() and np.abs(h[10 * 240:10 * 240 + 10]).max() > 0     # offset over R samples
    g = X.Excitation()
    for v in f0[:5]:
        g.hop_signals(float(v))
        assert g.onset_prefix is None
    h5 = g.hop_signals(200.0)[0]
    prefix = g.onset_prefix
    # the onset frame's first half is voiced (retroactively), faded in from its start ...
    assert np.abs(prefix[:R // 4]).max() < 0.3 * np.abs(prefix[R:]).max()
    assert np.abs(prefix[R:]).max() > 0.5 * peak
    # ... and continues the onset hop's own waveform backwards (the same pulse train)
    both = np.concatenate([prefix, h5])
    m = np.arange(R, 480)
    phi = (m - 239) * X.TWO_PI * 200.0 / X.SR
    np.testing.assert_allclose(both[R:], X.harmonic_samples(phi, np.full(len(m), 200.0), np.ones(len(m))), atol=1e-9)


def test_band_limited():
    for f in (52.0, 333.0, 990.0):
        h, _ = X.signals(np.full(200, f))
        x = h[24000:48000] if len(h) >= 48000 else h[4800:]
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / C.AUDIO_SAMPLE_RATE)
        top = C.EXCITATION_HARMONIC_CUTOFF_HZ + f          # the fading harmonic's highest position
        assert top <= C.AUDIO_SAMPLE_RATE / 2
        above = freqs > min(top + 60, C.AUDIO_SAMPLE_RATE / 2 - 100)
        assert spec[above].max() < 1e-3 * spec.max(), f


def test_phase_continuous_across_hops():
    h, _ = _streamed(np.full(20, 210.0))
    ref, _ = X.signals(np.full(20, 210.0))
    # no discontinuity at hop boundaries: the streamed signal equals the one-piece signal
    assert np.abs(h - ref).max() < 1e-6 * np.abs(ref).max()


def test_perfect_reconstruction_with_unit_envelopes():
    ones = np.ones((X.BINS, len(F0)))
    y = X.synthesize(ones, ones, F0)
    h, n = X.signals(F0)
    expected = np.concatenate([np.zeros(240), (h + n)[:-240]])
    _, onsets, _ = X._signals_and_onsets(F0, 0)
    assert sorted(onsets) == [0, 120]
    hann = frontend.sqrt_hann_periodic(X.N_FFT)[:240] ** 2
    for t, prefix in onsets.items():        # the prefix sounds in output block t (the hop before the onset)
        expected[t * 240:(t + 1) * 240] += hann * prefix
    assert np.abs(y - expected).max() < 1e-6 * np.abs(expected).max()


def test_frame_spectra_match_streaming_steps():
    ex = X.Excitation()
    eh, en = zip(*(ex.step(float(v)) for v in F0[:130]))
    vh, vn = X.excitation_spectra(F0[:130])
    np.testing.assert_allclose(np.stack(eh, 1), vh, atol=1e-5 * np.abs(np.stack(eh)).max())
    np.testing.assert_allclose(np.stack(en, 1), vn, atol=1e-9)


def test_register_map_moves_contour_into_target_register():
    rng = np.random.default_rng(1)
    src = math.log2(110 / 200) + 0.15 * np.sin(np.arange(2000) / 30) + 0.01 * rng.standard_normal(2000)
    rm = X.RegisterMap(target_mean=math.log2(230 / 200), target_std=0.2)
    y = np.array([rm(float(v), True) for v in src])
    tail = y[1000:]
    assert abs(tail.mean() - math.log2(230 / 200)) < 0.02
    assert abs(tail.std() - 0.2) < 0.03
    assert np.corrcoef(tail, src[1000:])[0, 1] > 0.995   # the running statistics still move a little
    assert rm(0.3, False) == 0.0                      # unvoiced stays unvoiced
    shift = X.RegisterMap()
    assert shift(0.25, True, 12.0) == pytest.approx(1.25)   # no target statistics: shift only


def test_content_warp_follows_the_register_difference_and_is_clamped():
    """RegisterMap.content_warp: 2^(strength (target mean - source mean)) from the statistics so far
    (the prior before any voiced frame), clamped; 1 without a target or at strength 0."""
    rm = X.RegisterMap(target_mean=math.log2(100 / 200), target_std=0.2)
    assert rm.content_warp(0.0) == 1.0 and X.RegisterMap().content_warp(0.25) == 1.0
    prior = 2.0 ** (0.25 * (math.log2(100 / 200) - math.log2(C.PITCH_REGISTER_PRIOR_HZ / 200)))
    assert rm.content_warp(0.25) == pytest.approx(prior)
    for _ in range(200):                              # a source an octave above the target
        rm(math.log2(200 / 200), True)
    assert abs(rm.mean) < 0.03                        # the source's register, the prior nearly gone
    assert rm.content_warp(0.25) == pytest.approx(2.0 ** (0.25 * (rm.target_mean - rm.mean)))
    assert rm.content_warp(0.25) == pytest.approx(2.0 ** -0.25, rel=0.01)     # warped down ~16 %
    assert rm.content_warp(1.0) == C.PITCH_CONTENT_WARP_MIN           # 0.5, clamped
    low = X.RegisterMap(target_mean=math.log2(300 / 200), target_std=0.2)
    for _ in range(200):
        low(math.log2(75 / 200), True)
    assert low.content_warp(1.0) == C.PITCH_CONTENT_WARP_MAX


def test_log_f0_stats():
    f0 = np.array([0.0] * 5 + [200.0, 400.0] * 10)
    m, s = X.log_f0_stats(f0)
    assert m == pytest.approx(0.5) and s == pytest.approx(0.5)
    with pytest.raises(ValueError, match="voiced"):
        X.log_f0_stats(np.zeros(50))


def test_committed_fixture_is_current():
    arr = np.load(X.FIXTURE_DIR / "excitation_reference.npy")
    ex = X.Excitation()
    rows = [ex.step(float(v)) for v in arr[:, 0]]
    eh = np.stack([r[0] for r in rows])
    np.testing.assert_allclose(arr[:, 1:242], eh.real, atol=1e-5 * np.abs(eh).max())
    np.testing.assert_allclose(arr[:, 724:965], np.stack([r[1] for r in rows]).imag, atol=1e-4)
