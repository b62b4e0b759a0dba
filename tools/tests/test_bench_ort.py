"""The ONNX Runtime side of `tmrvc bench`: its dynamic-INT8 peer models."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quantize_dynamic_int8_gives_ort_integer_models_close_to_float(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    from tmrvc.onnx_utils import quantize_dynamic_int8

    out = quantize_dynamic_int8(ROOT / "weights", tmp_path, ["content_encoder"])
    model = onnx.load(str(out / "content_encoder.onnx"))
    ops = {n.op_type for n in model.graph.node}
    weights = [i for i in model.graph.initializer if i.name.endswith("_quantized")]
    assert weights and all(np.abs(numpy_helper.to_array(w)).max() <= 64 for w in weights)   # 7-bit (reduce_range)
    assert "DynamicQuantizeLinear" in ops and ({"MatMulInteger", "ConvInteger"} & ops), sorted(ops)
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                for p in (ROOT / "weights" / "content_encoder.onnx", out / "content_encoder.onnx")]
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sessions[0].get_inputs():
        shape = [1 if isinstance(d, str) or d is None else d for d in i.shape]
        feeds[i.name] = np.zeros(shape, np.float32) if i.name.startswith("state_in_") else \
            rng.standard_normal(shape).astype(np.float32) * 0.5
    ref, q = (s.run(None, feeds)[0] for s in sessions)
    err = np.abs(q - ref).max() / np.abs(ref).max()
    assert 0 < err < 0.2, err   # quantised (not identical), but the same function
