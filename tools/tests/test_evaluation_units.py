"""Units of the evaluation measures (tmrvc.evaluation): text normalisation and error rates,
MCD, F0 agreement and the pitch-shift baseline, on synthetic signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tmrvc import speech_models as asr
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


# ----------------------------------------------------------------------------- pitch measures (issue 19)
def test_voiced_fraction_and_vuv_agreement_on_known_tracks():
    nan = np.nan
    a = np.array([nan, 7.0, 7.1, 7.2, nan, nan, 7.0, 7.0])
    b = np.array([nan, 8.0, nan, 8.2, 8.0, nan, 8.0, 8.0, 8.0])     # one frame longer: ignored
    assert M.voiced_fraction(a) == pytest.approx(5 / 8)
    assert np.isnan(M.voiced_fraction(np.zeros(0)))
    assert M.vuv_agreement(a, a) == 1.0
    assert M.vuv_agreement(a, b) == pytest.approx(6 / 8)          # frames 2 and 4 disagree


def test_expected_contour_and_f0_rmse_in_cents():
    rng = np.random.default_rng(0)
    src = 7.0 + 0.1 * rng.standard_normal(200)
    src[::7] = np.nan                                            # unvoiced frames stay unvoiced
    s = M.log_f0_stats([src])
    assert s == pytest.approx((np.nanmean(src), np.nanstd(src)))
    # the register mapping: target mean + (x - source mean) * target std / source std
    t = (8.0, 2 * s[1])
    exp = M.expected_log_f0(src, s, t)
    assert np.isnan(exp[0]) and exp[1] == pytest.approx(8.0 + 2 * (src[1] - s[0]))
    assert M.log_f0_stats([exp]) == pytest.approx(t)
    # identity: RMSE 0; the output one semitone above the expected contour: 100 cents
    assert M.f0_rmse_cents(exp, exp)[0] == pytest.approx(0.0, abs=1e-9)
    r, n = M.f0_rmse_cents(exp, exp + 1 / 12)
    assert r == pytest.approx(100.0) and n == int(np.sum(~np.isnan(src)))
    assert M.f0_rmse_cents(exp, exp - 0.25)[0] == pytest.approx(300.0)
    # frames unvoiced in the output are left out; too few frames -> NaN
    out = exp.copy()
    out[::2] = np.nan
    assert M.f0_rmse_cents(exp, out)[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(M.f0_rmse_cents(exp[:8], exp[:8])[0])


def test_f0_measures_on_synthetic_tones_with_a_known_shift():
    x, y = _tone(150), _tone(150 * 2 ** (3 / 12))                 # the same contour 3 semitones up
    lx, ly = M.log_f0(x), M.log_f0(y)
    assert M.vuv_agreement(lx, ly) > 0.95 and M.voiced_fraction(lx) > 0.9
    # the raw source contour is 300 cents off; mapped into y's register it matches
    assert M.f0_rmse_cents(lx, ly)[0] == pytest.approx(300.0, abs=15.0)
    expected = M.expected_log_f0(lx, M.log_f0_stats([lx]), M.log_f0_stats([ly]))
    assert M.f0_rmse_cents(expected, ly)[0] < 15.0
    assert M.f0_agreement(lx, ly)[0] > 0.95


def _vowel(seconds: float = 3.0, sr: int = 24000) -> np.ndarray:
    """A clean synthetic vowel: a glottal-like harmonic series with a slow F0 contour through
    three formant resonances, a little breath noise, and short pauses."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(1)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    pulses = np.zeros_like(t)
    pulses[np.nonzero(np.diff(np.floor(np.cumsum(f0) / sr)))[0]] = 1.0
    x = pulses + 0.02 * rng.standard_normal(len(t))
    for fc, bw in ((700, 90), (1200, 110), (2600, 160)):
        r = np.exp(-np.pi * bw / sr)
        x = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / sr), r * r], x)
    x *= (np.sin(2 * np.pi * 0.5 * t) > -0.8)                  # pauses between "syllables"
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def test_dnsmos_prefers_a_clean_vowel_to_white_noise():
    pytest.importorskip("speechmos")
    mos = M.DNSMOS()
    vowel = mos(_vowel())
    noise = mos((0.3 * np.random.default_rng(0).standard_normal(3 * 24000)).astype(np.float32))
    for s in (vowel, noise):
        assert set(s) == {"ovrl", "sig", "bak", "p808"} and all(1.0 <= v <= 5.0 for k, v in s.items() if k != "p808")
    assert vowel["ovrl"] > noise["ovrl"] + 0.3 and vowel["bak"] > noise["bak"]


# ----------------------------------------------------------------------------- report helpers
def test_target_checks_met_and_missed():
    from tmrvc.evaluation.run import target_checks, targets_table

    summ = {"source": {"n": 4, "wer": 5.0, "voiced": 0.60, "dnsmos_ovrl": 3.0},
            "tmrvc": {"n": 4, "wer": 7.5, "voiced": 0.66, "vuv_agree": 0.88, "f0_corr": 0.9, "sim_target": 0.82,
                      "dnsmos_ovrl": 2.6},
            "tmrvc, no LoRA": {"n": 4, "wer": 9.0, "sim_target": 0.85}}
    met = {name: m for name, _, _, m, _ in target_checks(summ)}
    assert met == {"log-F0 correlation with the source": True, "voiced fraction, converted vs source": True,
                   "V/UV agreement with the source": False, "WER, converted − source": True,
                   "similarity to target": False, "DNSMOS OVRL, converted − source": False}
    md = targets_table(summ, summ)
    assert md.count("**met**") == 6 and md.count("missed") == 6 and "+10.0 %" in md
    assert all(m is None for *_, m, _ in target_checks({"source": {"n": 1, "wer": 0.0}}))


def test_unseen_round_robin_and_transcripts(tmp_path):
    from tmrvc.evaluation import unseen as U

    z = np.zeros(10, np.float32)
    clips = [U.Clip(f"{v}/{i}", v, k, "test", None, z) for v, k, n in
             (("h1", "human", 5), ("h2", "human", 2), ("t1", U.KINDS[1], 3)) for i in range(n)]
    assert U.round_robin(clips, None) == clips
    assert [c.name for c in U.round_robin(clips, 4)] == ["h1/0", "h1/1", "h2/0", "t1/0"]
    assert len(U.round_robin(clips, 100)) == 10
    f = tmp_path / "transcription"
    f.write_text("<s> ten of clubs  </s> (001)\n<s> he was not an ill disposed young man </s> (ss-0880)\n")
    assert U._sphinx_transcripts(f) == {"001": "ten of clubs", "ss-0880": "he was not an ill disposed young man"}


def test_f0_accuracy_score_counts_voicing_and_gross_errors():
    """tmrvc.evaluation.f0_accuracy.score: estimator frame t+1 against reference frame t."""
    from tmrvc.evaluation.f0_accuracy import score

    ref = np.array([0.0, 100.0, 100.0, 100.0, 200.0])
    est = np.array([999.0, 0.0, 0.0, 101.0, 150.0, 230.0])    # frame 0 has no reference frame
    s = score([est], [ref])
    assert s["frames"] == 5
    assert s["vuv_error_pct"] == pytest.approx(20.0)            # reference frame 1 voiced, estimate 0
    assert s["gpe_pct"] == pytest.approx(100.0 / 3)            # 150 vs 100 is gross; 101, 230 vs 200 not
    assert s["voiced_pct"] == pytest.approx(60.0)


def test_measuring_and_runtime_trackers_agree_on_a_clean_tone():
    x = _tone(180)
    world, yin = M.log_f0(x), M.log_f0_runtime(x)
    assert M.median_f0_hz(world) == pytest.approx(180, rel=0.03)
    assert M.median_f0_hz(yin) == pytest.approx(M.median_f0_hz(world), rel=0.03)
    assert np.isnan(M.median_f0_hz(np.full(5, np.nan)))


def test_wer_by_source_f0_band():
    from tmrvc.evaluation.run import wer_by_f0_band

    def row(system, hz, errors, words=10):
        return {"system": system, "src_f0_hz": hz, "word_errors": errors, "words": words}
    rows = [row("source", 100, 1), row("tmrvc", 100, 2), row("source", 110, 0), row("tmrvc", 110, 0),
            row("source", 250, 0), row("tmrvc", 250, 5), row("pitch shift", 250, 3),
            {"system": "target", "word_errors": 9, "words": 10}]          # no source: not in any band
    lines = wer_by_f0_band(rows).splitlines()
    assert lines[0].startswith("| source's median F0 | clips | WER % source | WER % pitch shift | WER % tmrvc")
    assert lines[2] == "| < 120 Hz | 2 | 5.0 | – | 10.0 | – | – |"           # no LoRA, q = 1: no rows
    assert lines[3] == "| ≥ 225 Hz | 1 | 0.0 | 30.0 | 50.0 | – | – |"
    assert len(lines) == 4                                        # empty bands are left out


def test_pitch_path_best_lag_finds_a_delayed_contour():
    from tmrvc.evaluation.pitch_path import _best_lag

    rng = np.random.default_rng(1)
    a = 7.0 + np.cumsum(0.02 * rng.standard_normal(300))
    b = np.concatenate([np.full(2, np.nan), a[:-2]])             # a, two frames later
    assert _best_lag(a, b) == pytest.approx(1.0)
    assert M.f0_agreement(a, b)[0] < 0.999
    assert np.isnan(_best_lag(a[:5], b[:5]))


def test_precision_rows_follow_the_environment_and_flags(monkeypatch, capsys):
    from tmrvc.evaluation import run as R

    monkeypatch.setenv(R.PRECISIONS_ENV, "fp32,int8")
    assert R.precision_systems() == ("tmrvc, Swift fp32", "tmrvc, Swift int8")
    monkeypatch.setenv(R.PRECISIONS_ENV, "")
    assert R.precision_systems() == ()
    for argv in (["--precisions", "int4"], ["--precisions-only"],
                 ["--precisions", "int8", "--precisions-only", "--doc", "x.md"]):
        with pytest.raises(SystemExit):
            R.main(argv)
        assert "--precisions" in capsys.readouterr().err


def test_ab_summary_and_a_corpus_without_targets(tmp_path, capsys):
    """tmrvc.evaluation.ab: WER pools words over clips; a corpus it cannot use is an error naming it."""
    from tmrvc.evaluation import ab

    rows = [{"word_errors": 1, "words": 10, "sim_target": 0.7}, {"word_errors": 2, "words": 5, "sim_target": 0.8}]
    s = ab.summary(rows)
    assert s["wer"] == pytest.approx(20.0) and s["sim_target"] == pytest.approx(0.75)
    assert (s["words"], s["clips"]) == (15, 2)
    assert ab.main(["--corpus", str(tmp_path)]) == 2
    assert f"{tmp_path}: no manifest.jsonl" in capsys.readouterr().err
