"""Models and export: state contract (torch and ORT), shapes, budgets, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tmrvc import constants as C
from tmrvc import export as E
from tmrvc import onnx_utils as U
from tmrvc.models import (MODEL_NAMES, PARAM_BUDGETS, PER_FRAME_BUDGET, STREAMING_MODELS, build_model,
                          param_count)

N_FRAMES = 300


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("weights")
    info = E.export_all(out, seed=0, verbose=False, check=False)
    return out, info


def _inputs(model, T, seed=3):
    return model.example_inputs(T, generator=torch.Generator().manual_seed(seed))


def test_param_budgets():
    counts = {n: param_count(build_model(n)) for n in MODEL_NAMES}
    for n, c in counts.items():
        assert c <= PARAM_BUDGETS[n], (n, c)
    per_frame = sum(counts[n] for n in STREAMING_MODELS)
    assert PER_FRAME_BUDGET[0] <= per_frame <= PER_FRAME_BUDGET[1]


@pytest.mark.parametrize("name", STREAMING_MODELS)
def test_torch_stream_equals_chunk(name):
    model = build_model(name)
    ins = _inputs(model, N_FRAMES)
    t_idx = [i for i, n in enumerate(model.input_names) if n in model.dynamic_time_inputs]
    n_out = len(model.output_names)
    with torch.no_grad():
        chunk = model(*ins, *model.zero_states())
        states = model.zero_states()
        outs = []
        for t in range(N_FRAMES):
            frame = [x[:, :, t:t + 1] if i in t_idx else x for i, x in enumerate(ins)]
            res = model(*frame, *states)
            outs.append(res[:n_out])
            states = list(res[n_out:])
    for k in range(n_out):
        stream = torch.cat([o[k] for o in outs], dim=2)
        assert stream.shape == chunk[k].shape
        assert (stream - chunk[k]).abs().max().item() <= 1e-5
    for s, c in zip(states, chunk[n_out:]):
        assert (s - c).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", STREAMING_MODELS)
def test_ort_stream_equals_chunk(exported, name):
    out, info = exported
    model = build_model(name)
    feeds = E.example_feeds(name, model, N_FRAMES)
    errs = E.stream_vs_chunk_ort(out / info["models"][name]["file"], feeds, N_FRAMES)
    assert max(errs.values()) <= E.STREAM_TOL, errs


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_ort_matches_torch_and_shapes(exported, name):
    out, info = exported
    model = build_model(name)
    path = out / info["models"][name]["file"]
    sess = U.make_session(path)
    t_values = [C.STREAMING_IR_WINDOW_FRAMES] if name == "ir_estimator" else [1, 7]
    for T in t_values:
        feeds = E.example_feeds(name, model, T)
        assert E.ort_vs_torch(path, model, feeds) <= E.TORCH_TOL
        res = U.run_chunk(sess, feeds)
        for o in info["models"][name]["outputs"]:
            want = [T if d == U.TIME_NAME else d for d in o["shape"]]
            assert list(res[o["name"]].shape) == want, (o, T)
            assert np.isfinite(res[o["name"]]).all()


def test_io_contract(exported):
    _, info = exported
    m = info["models"]
    names = lambda lst: [v["name"] for v in lst]  # noqa: E731
    assert names(m["content_encoder"]["inputs"]) == ["mel"] + [f"state_in_{i}" for i in range(4)]
    assert names(m["converter"]["inputs"]) == ["content", "spk_embed", "acoustic_params", "pitch",
                                                "lora_delta"] + [f"state_in_{i}" for i in range(5)]
    assert names(m["vocoder"]["inputs"]) == ["features", "pitch"] + [f"state_in_{i}" for i in range(5)]
    assert names(m["vocoder"]["outputs"]) == ["harmonic", "noise"] + [f"state_out_{i}" for i in range(5)]
    assert m["ir_estimator"]["inputs"][0]["shape"] == [1, C.DIMS_MEL, C.STREAMING_IR_WINDOW_FRAMES]
    assert m["ir_estimator"]["outputs"][0]["shape"] == [1, C.DIMS_IR_PARAMS]
    assert m["speaker_encoder"]["inputs"][0]["shape"] == [1, C.DIMS_MEL, "T"]
    assert m["converter"]["inputs"][4]["shape"] == [1, C.LORA_DELTA_SIZE]
    for name in STREAMING_MODELS:
        ins = {v["name"]: v["shape"] for v in m[name]["inputs"]}
        outs = {v["name"]: v["shape"] for v in m[name]["outputs"]}
        for st in m[name]["states"]:
            assert ins[st["input"]] == outs[st["output"]] == st["shape"]
            assert st["shape"][2] == (st["kernel"] - 1) * st["dilation"]


def test_speaker_encoder_any_length_unit_norm():
    model = build_model("speaker_encoder")
    with torch.no_grad():
        for T in (1, 2, 57):
            e = model(*_inputs(model, T))
            assert e.shape == (1, C.DIMS_SPEAKER)
            assert abs(e.norm().item() - 1.0) < 1e-5


def test_converter_is_causal_and_uses_lora_and_speaker():
    model = build_model("converter")
    content, spk, ac, pitch, lora = _inputs(model, 40)
    with torch.no_grad():
        y = model(content, spk, ac, pitch, lora, *model.zero_states())[0]
        c2, p2 = content.clone(), pitch.clone()
        c2[:, :, 25:] += 3.0
        p2[:, :, 25:] = 0.0
        y2 = model(c2, spk, ac, p2, lora, *model.zero_states())[0]
        assert torch.equal(y[:, :, :25], y2[:, :, :25]) and not torch.equal(y, y2)
        y3 = model(content, spk, ac, pitch, torch.zeros_like(lora), *model.zero_states())[0]
        assert (y - y3).abs().max() > 1e-3
        spk2 = torch.roll(spk, 1, dims=1)
        y4 = model(content, spk2, ac, pitch, lora, *model.zero_states())[0]
        assert (y - y4).abs().max() > 1e-3


def test_vocoder_envelopes_sensible():
    model = build_model("vocoder")
    with torch.no_grad():
        harmonic, noise = model(*_inputs(model, 50), *model.zero_states())[:2]
    for env in (harmonic, noise):
        assert torch.isfinite(env).all() and (env > 0).all()
        assert (env < np.exp(C.VOCODER_LOG_MAG_CLIP) * 0.99).float().mean() > 0.99
        assert env.std() > 1e-4
    assert harmonic.mean() > noise.mean()          # initialised voiced-leaning


def test_export_is_deterministic(exported, tmp_path):
    out, info = exported
    E.export_all(tmp_path, seed=0, verbose=False, check=False)
    for name in MODEL_NAMES:
        f = info["models"][name]["file"]
        assert (tmp_path / f).read_bytes() == (out / f).read_bytes(), f
    assert (tmp_path / "models.json").read_bytes() == (out / "models.json").read_bytes()


def test_models_json_contents(exported):
    out, info = exported
    on_disk = json.loads((out / "models.json").read_text())
    assert on_disk == info
    for name, e in info["models"].items():
        assert e["sha256"] == U.sha256_file(out / e["file"])
        assert e["weight_bytes_fp32"] == 4 * e["params"]
        assert e["flops_per_frame"] > 0
        assert e["op_types"] and "Constant" not in e["op_types"] and "Identity" not in e["op_types"]


def test_checker_failure_names_file(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(E.ExportError, match="broken.onnx"):
        E.check_onnx_file(bad)


def test_macs_counting():
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "T"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, "T"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [6, 4, 1], np.ones(24, np.float32))
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    assert U.count_macs(m, t=1) == {"Conv": 24}
    assert U.count_macs(m, t=10) == {"Conv": 240}
