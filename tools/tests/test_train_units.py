"""Fast unit checks of the training building blocks (no corpus, no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmrvc import constants as C
from tmrvc import frontend as F


def test_torch_ola_matches_reference_and_reconstructs():
    from tmrvc.train import dsp

    x = np.random.default_rng(0).standard_normal(24000).astype(np.float32) * 0.1
    mag, ph = F.vocoder_analysis(x)
    ref = F.istft_ola(mag, ph)
    y = dsp.istft_ola(torch.tensor(mag[None]).float(), torch.tensor(ph[None]).float())[0].numpy()
    assert np.abs(y - ref).max() < 1e-5
    assert np.abs(y[240:] - x[:-240]).max() < 1e-5          # one hop of delay
    m2, p2 = dsp.analysis(torch.tensor(x[None]), mag.shape[1])
    assert np.abs(m2[0].numpy() - mag).max() < 1e-4


def test_mrstft_loss_zero_for_identical_and_positive_otherwise():
    from tmrvc.train import dsp

    x = torch.randn(2, 4800)
    assert float(dsp.mrstft_loss(x, x)) < 1e-5
    assert float(dsp.mrstft_loss(x * 0.5, x)) > 0.1


def test_ir_params_definition():
    from tmrvc.data import rir

    assert len(rir.IR_PARAM_NAMES) == C.DIMS_IR_PARAMS
    assert rir.DRY_PARAMS.shape == (24,)
    rng = np.random.default_rng(1)
    h = rir.synthetic_rir(rng, rt60=0.6, drr_db=3.0)
    m = rir.measure_rir(h)
    assert abs(m["drr"] - 3.0) < 0.5
    mid = np.array(m["rt60_b"][2:6])                         # 0.5-4.5 kHz
    assert np.all((mid > 0.3) & (mid < 1.2)), mid
    y, params, _ = rir.random_channel(rng.standard_normal(24000) * 0.1, rng)
    assert y.shape == (24000,) and params.shape == (24,) and np.all(np.isfinite(params))


def test_vad_trims_silence():
    from tmrvc.data.vad import trim_silence

    sr = 24000
    x = np.concatenate([np.zeros(sr), np.sin(np.arange(sr) * 0.05) * 0.5, np.zeros(sr)])
    y = trim_silence(x, sr)
    assert 1.0 * sr <= len(y) <= 1.25 * sr


def test_sentences():
    from tmrvc.data import sentences as S

    assert len(S.SENTENCES) == 60 and len(set(S.SENTENCES)) == 60
    assert sum(S.is_eval_sentence(s) for s, _ in S.all_sentences()) == S.N_EVAL
    # generated extra sentences: training-only, reproducible, new ids and texts, a longer
    # list starting with a shorter one
    extra = S.extra_sentences(300)
    assert extra == S.extra_sentences(300) and extra[:40] == S.extra_sentences(40)
    assert extra[0][0] == "s100" and extra[-1][0] == "s399"
    assert not any(S.is_eval_sentence(sid) for sid, _ in extra)
    texts = [t for _, t in extra]
    assert len(set(texts)) == 300 and not set(texts) & set(S.SENTENCES)
    assert all(t[0].isupper() and t[-1] in ".?" for t in texts)


def test_lexicon_sentences(tmp_path):
    """The wide-vocabulary grammar reads festival's POS lexicon format: each word goes to its most
    probable tag, the skip list and non-``-ly`` adverbs are left out, and the list is reproducible."""
    from tmrvc.data import sentences as S

    lines = ["MNCL", '("!" ((punc -7.515) ) () )', '("Smith" ((nnp -5.0) ) () )',
             '("incest" ((nn -1.0) ) () )', '("very" ((rb -1.0) ) () )', '("record" ((nn -9.0) (vb -2.0) ) () )']
    for tag, stem in (("nn", "noun"), ("nns", "nouns"), ("jj", "adj"), ("vb", "verb"), ("vbd", "verbed"),
                      ("rb", "ly")):
        lines += [f'("{stem}{chr(97 + i)}{chr(97 + j)}{"ly" if tag == "rb" else ""}" (({tag} -{i + j / 10:.3f}) ) () )'
                  for i in range(6) for j in range(6)]
    lex = tmp_path / "poslex"
    lex.write_text("\n".join(lines) + "\n", encoding="latin-1")
    words = S._lexicon_words(str(lex))
    assert words["nn"][:2] == ["nounaa", "nounab"] and "incest" not in words["nn"]
    assert "record" in words["vb"] and "record" not in words["nn"] and "very" not in words["rb"]
    assert all(w.endswith("ly") for w in words["rb"]) and len(words["jj"]) == 36
    out = S.lexicon_sentences(150, lexicon=str(lex))
    assert out == S.lexicon_sentences(150, lexicon=str(lex)) and out[:20] == S.lexicon_sentences(20, lexicon=str(lex))
    assert out[0][0] == "s1000" and out[-1][0] == "s1149" and S.lexicon_sentences(0, lexicon="/nonexistent") == []
    assert all(S.is_extra_sentence(sid) and not S.is_eval_sentence(sid) for sid, _ in out)
    texts = [t for _, t in out]
    assert len(set(texts)) == 150 and all(t[0].isupper() and t[-1] in ".?" for t in texts)
    assert not {sid for sid, _ in out} & {sid for sid, _ in S.extra_sentences(900)}
    with pytest.raises(ValueError, match="at most 900"):
        S.extra_sentences(901)
    with pytest.raises(RuntimeError, match="nonexistent.*festival"):
        S.lexicon_sentences(5, lexicon=str(tmp_path / "nonexistent"))
    (tmp_path / "short").write_text("\n".join(lines[:40]) + "\n")
    with pytest.raises(RuntimeError, match="too few words"):
        S.lexicon_sentences(5, lexicon=str(tmp_path / "short"))


def test_lora_delta_layout_matches_converter():
    from tmrvc.models.converter import split_lora_delta
    from tmrvc.train.stages import LoRADelta

    lora = LoRADelta(torch.Generator().manual_seed(0))
    with torch.no_grad():
        lora.b[1].normal_()
    parts = split_lora_delta(lora.delta())
    assert torch.equal(parts["k_proj"][0], lora.a[0]) and torch.equal(parts["v_proj"][1], lora.b[1])


def test_converter_batch_equals_single_calls():
    from tmrvc.models import build_model
    from tmrvc.train.stages import converter_batch

    conv = build_model("converter")
    g = torch.Generator().manual_seed(0)
    args = [conv.example_inputs(20, generator=g) for _ in range(2)]
    batched = [torch.cat([a[i] for a in args]) for i in range(5)]
    out = converter_batch(conv, batched[0], batched[1], batched[2], batched[3], batched[4])
    for j, a in enumerate(args):
        ref = conv(*a, *conv.zero_states())[0]
        assert torch.allclose(out[j:j + 1], ref, atol=1e-6)


def test_teacher_unet_shapes_and_sampler():
    from tmrvc.train import teacher_net as TN

    net = TN.TeacherUNet(32)
    b, t = 2, 16
    cond = (torch.randn(b, 256, t), torch.randn(b, 2, t), torch.randn(b, 192), torch.randn(b, 32))
    assert net(torch.randn(b, 80, t), torch.rand(b), *cond).shape == (b, 80, t)
    x = TN.sample(net, cond, (b, 80, t), 3, torch.Generator().manual_seed(0))
    assert x.shape == (b, 80, t) and torch.isfinite(x).all()


def test_config_sizes_resolve():
    from tmrvc.train.config import load_config, stage_config

    for size in ("smoke", "full"):
        cfg = load_config(size)
        for stage in ("speaker_encoder", "content_encoder", "ir_estimator", "vocoder", "teacher", "distill", "adapt"):
            s = stage_config(cfg, stage)
            assert s["steps"] > 0 and s["lr"] > 0 and s["save_every"] > 0
    with pytest.raises(ValueError):
        load_config("nope")


def test_stage_config_is_typed_and_refuses_unknown_keys():
    """One typed definition of each stage's configuration: YAML values for the required keys,
    optional keys' defaults in tmrvc.train.config.OPTIONAL, unknown/missing keys and wrong
    types refused naming the stage and key."""
    from tmrvc.train.config import OPTIONAL, STAGE_FIELDS, load_config, stage_config

    for size in ("smoke", "full"):
        cfg = load_config(size)
        for stage, fields in STAGE_FIELDS.items():
            s = stage_config(cfg, stage)
            assert set(s) == set(fields) | set(OPTIONAL)
            assert all(isinstance(s[k], t) for k, t in fields.items())
    assert stage_config(load_config("full"), "distill")["rec_weight"] == 1.0   # the YAML's value, not a code default
    with pytest.raises(ValueError, match=r"stages\.vocoder: unknown key\(s\) w_logmg"):
        stage_config(load_config("full", overrides=["stages.vocoder.w_logmg=2"]), "vocoder")
    with pytest.raises(ValueError, match=r"stages\.distill\.batch: 'eight' is not a int"):
        stage_config(load_config("full", overrides=["stages.distill.batch=eight"]), "distill")
    cfg = load_config("full")
    del cfg["stages"]["joint"]["anchor_weight"]
    with pytest.raises(ValueError, match="missing key"):
        stage_config(cfg, "joint")


def test_evaluation_rerun_command(monkeypatch, tmp_path):
    """docs/quality.md names the command that regenerates it, with the directory it ran in."""
    from tmrvc.evaluation.run import ROOT, rerun_command

    monkeypatch.chdir(ROOT / "tools")
    cmd = rerun_command(["--doc", "../docs/quality.md", "--jobs", "2"])
    assert cmd.startswith("cd tools && ") and cmd.endswith(" -m tmrvc.evaluation --doc ../docs/quality.md --jobs 2")
    absolute = rerun_command(["--doc", str(ROOT / "docs" / "quality.md"), "--jobs", "2"])
    assert absolute == cmd, "a path inside the repository is written relative to the working directory"
    monkeypatch.chdir(ROOT)
    assert not rerun_command([]).startswith("cd ")
    monkeypatch.chdir(tmp_path)
    assert rerun_command(["--jobs", "2"]).endswith("-m tmrvc.evaluation --jobs 2")


def test_warp_mel_moves_bands_along_the_frequency_axis():
    """warp_mel (the joint stage's vocal-tract-length perturbation): alpha 1 is the identity; a
    peak at band i moves to the band whose centre is alpha times band i's centre (up for alpha > 1,
    down for alpha < 1); the frame count and the value range stay."""
    from tmrvc.frontend import _MEL_CENTRES_HZ, warp_mel

    rng = np.random.default_rng(0)
    mel = rng.normal(size=(C.DIMS_MEL, 7)).astype(np.float32)
    assert warp_mel(mel, 1.0) is mel
    peak = np.full((C.DIMS_MEL, 3), -5.0, np.float32)
    i = 40
    peak[i] = 2.0
    for alpha in (1.15, 1 / 1.15):
        out = warp_mel(peak, alpha)
        assert out.shape == peak.shape and out.dtype == np.float32
        assert out.min() >= -5.0 and out.max() <= 2.0
        j = int(np.argmax(out[:, 0]))
        want = int(np.argmin(np.abs(_MEL_CENTRES_HZ - alpha * _MEL_CENTRES_HZ[i])))
        assert abs(j - want) <= 1 and (j > i) == (alpha > 1), (alpha, j, want)
        # one frame (the engine's content warp, frame by frame) is warped as that column of a clip
        np.testing.assert_array_equal(warp_mel(mel[:, 3], alpha), warp_mel(mel, alpha)[:, 3])


def test_reverse_gradient_negates_only_the_gradient():
    from tmrvc.train.stages.diffusion import SpeakerAdversary, _ReverseGradient

    x = torch.randn(2, 3, requires_grad=True)
    y = _ReverseGradient.apply(x)
    assert torch.equal(y, x)
    (y * torch.arange(3.0)).sum().backward()
    assert torch.equal(x.grad, -torch.arange(3.0).expand(2, 3))
    logits = SpeakerAdversary(5)(torch.randn(4, C.DIMS_CONTENT, 11))
    assert logits.shape == (4, 5)
