"""Few-shot adaptation from wav files with the shipped weights (tmrvc.fewshot), and the
ONNX -> PyTorch weight read-back it rests on (tmrvc.models.from_onnx)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tmrvc import constants as C
from tmrvc.data.voices import available_voices
from tmrvc.export import _trace_inputs, io_names
from tmrvc.fewshot import FewShotError, adapt, main
from tmrvc.models import MODEL_NAMES
from tmrvc.models.from_onnx import OnnxWeightsError, load_from_onnx, onnx_state_dict
from tmrvc.onnx_utils import make_session
from tmrvc.speaker_file import SpeakerProfile

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
TEXTS = ("The quick brown fox jumps over the lazy dog.",
         "She sells sea shells by the sea shore every morning.",
         "A rainbow is a division of white light into many beautiful colors.",
         "Please call Stella and ask her to bring these things from the store.")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_weights_read_back_from_onnx_reproduce_onnx_runtime(name):
    model = load_from_onnx(name, WEIGHTS / f"{name}.onnx")
    args = _trace_inputs(name, model)
    with torch.no_grad():
        ref = model(*args)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    names, _ = io_names(model)
    got = make_session(WEIGHTS / f"{name}.onnx").run(None, {n: a.numpy() for n, a in zip(names, args)})
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        err = float(np.max(np.abs(g - r.numpy())))
        print(f"{name}: torch (weights from ONNX) vs ORT max abs {err:.2e}")
        assert err < 1e-4


def test_weights_from_another_model_are_rejected():
    with pytest.raises(OnnxWeightsError, match="vocoder.onnx: no initializer for converter parameter"):
        onnx_state_dict("converter", WEIGHTS / "vocoder.onnx")


@pytest.fixture(scope="module")
def utterances(tmp_path_factory):
    voices = available_voices(["flite_rms"]) or available_voices(["espeak_us"])
    if not voices:
        pytest.skip("neither flite nor espeak-ng is installed")
    d = tmp_path_factory.mktemp("utterances")
    paths = []
    for i, text in enumerate(TEXTS):
        audio, sr = voices[0].synthesize(text)
        # stereo at a rate other than 24 kHz, as a user's recordings may be
        p = d / f"utt{i}.wav"
        sf.write(p, np.stack([audio, 0.5 * audio], axis=1), sr)
        paths.append(p)
    return paths


def test_adaptation_from_wavs_beats_the_embedding_alone(utterances, tmp_path):
    out = tmp_path / "me.tmrvc_speaker"
    summary = adapt(utterances, out, WEIGHTS, overrides=["stages.adapt.steps=40", "stages.adapt.log_every=20"])
    zero, fitted = summary["eval_after"]["loss_zero_delta"], summary["eval_after"]["loss"]
    print(f"held-out log-mel L1: zero delta {zero:.3f}, fitted {fitted:.3f}")
    assert fitted < 0.9 * zero
    profile = SpeakerProfile.read(out)
    assert profile.metadata["name"] == "me" and profile.metadata["created_by"] == "tmrvc.fewshot"
    assert profile.metadata["sources"] == [f"me/utt{i}.wav" for i in range(3)]   # the 4th is held out
    assert abs(float(np.linalg.norm(profile.embedding)) - 1.0) < 1e-4
    assert profile.lora_delta.shape == (C.LORA_DELTA_SIZE,) and np.linalg.norm(profile.lora_delta) > 0
    assert profile.voice_source_preset is not None and np.all(np.isfinite(profile.voice_source_preset))


def test_adaptation_on_warped_inputs_fits_another_voice_s_content(utterances, tmp_path):
    """stages.adapt.p_warp / warp: the content encoder sees frequency-warped crops while the target
    stays the clean clip; the fit still beats the embedding alone, reports the held-out loss
    through warped inputs, and differs from the unwarped fit of the same seed."""
    steps = ["stages.adapt.steps=40", "stages.adapt.log_every=20"]
    plain = adapt(utterances, tmp_path / "plain.tmrvc_speaker", WEIGHTS, overrides=steps)
    warped = adapt(utterances, tmp_path / "warped.tmrvc_speaker", WEIGHTS,
                   overrides=[*steps, "stages.adapt.p_warp=1.0", "stages.adapt.warp=0.25"])
    after = warped["eval_after"]
    print(f"warped fit: held-out L1 {after['loss']:.3f} (zero delta {after['loss_zero_delta']:.3f}), "
          f"through warped inputs {after['warped_loss']:.3f}; plain fit {plain['eval_after']['loss']:.3f}")
    assert "warped_loss" not in plain["eval_after"]
    assert after["loss"] < 0.9 * after["loss_zero_delta"]
    assert np.isfinite(after["warped_loss"]) and after["warped_loss"] < warped["eval_before"]["warped_loss"]
    a = SpeakerProfile.read(tmp_path / "plain.tmrvc_speaker").lora_delta
    b = SpeakerProfile.read(tmp_path / "warped.tmrvc_speaker").lora_delta
    assert not np.allclose(a, b)


def test_unusable_inputs_name_the_file_and_write_nothing(utterances, tmp_path, capsys):
    out = tmp_path / "x.tmrvc_speaker"
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(utterances[0].read_bytes()[:30])
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(48000, np.float32), 48000)
    short = tmp_path / "short.wav"
    sf.write(short, 0.3 * np.sin(np.arange(4800) * 0.05).astype(np.float32), 24000)
    cases = [
        (utterances[:2], "2 utterance\\(s\\) given"),
        ([*utterances[:3], truncated], "truncated.wav: not a readable audio file"),
        ([*utterances[:3], silent], "silent.wav: silent"),
        ([*utterances[:3], short], "short.wav: 0.20 s of speech"),
        ([*utterances[:3], tmp_path / "missing.wav"], "missing.wav: no such file"),
        ([*utterances[:2], utterances[0]], "the same file is given twice"),
    ]
    for wavs, message in cases:
        with pytest.raises(FewShotError, match=message):
            adapt(wavs, out, WEIGHTS)
    with pytest.raises(FewShotError, match="nowhere/content_encoder.onnx: missing"):
        adapt(utterances, out, tmp_path / "nowhere")
    assert main([*map(str, utterances[:3]), str(truncated), "-o", str(out)]) == 2
    assert "truncated.wav" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("x.tmrvc_speaker*"))
