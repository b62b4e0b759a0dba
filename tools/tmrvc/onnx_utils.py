"""ONNX / ONNX Runtime helpers shared by export, fixtures and tests.

Only numpy, onnx and onnxruntime are imported here (never torch), so the fixture
verification path stays light.

Conventions of the exported graphs (see docs/design/onnx-contract.md):

* the time axis of per-frame tensors is axis 2 and is named ``"T"``;
* streaming state inputs are ``state_in_<i>`` and the matching outputs
  ``state_out_<i>`` (same shape, float32); zero states = start of stream;
* every other input without a ``T`` axis is a "slow" input, constant over a stream
  (it may change between calls, e.g. the ir_params every 10 frames).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

TIME_AXIS = 2
TIME_NAME = "T"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_session(path: str | Path, optimize: bool = False):
    """ORT CPU session on one thread (deterministic).

    ``optimize=False`` uses ORT_ENABLE_BASIC (only semantics-preserving rewrites such
    as constant folding) -- used for fixtures and parity checks; ``optimize=True``
    uses ORT_ENABLE_ALL (operator fusion) -- used for timing.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def quantize_dynamic_int8(weights: Path, out: Path, names: list[str], files: dict[str, str] | None = None) -> Path:
    """ONNX Runtime's dynamic INT8 (``quantize_dynamic``: per-output-channel int8 weights, QInt8;
    activations quantised to uint8 at run time) of each model ``weights/<file>`` into
    ``out/<name>.onnx`` (``files`` maps names to file names, default ``<name>.onnx``).

    ``reduce_range``: weights in 7 bits (-64..63), as ONNX Runtime recommends on x86-64 without
    VNNI: its uint8 x int8 kernels there add adjacent products in int16 with saturation
    (vpmaddubsw), which 255 x 127 x 2 overflows; with 7-bit weights no sum can, so ORT computes
    the operators' exact integer products. Measured on these models with full-range weights: ORT
    differs from ONNX's own reference evaluator (``onnx.reference``) by up to 0.07 on single
    calls, where this runtime's exact sums match that evaluator."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)
    for name in names:
        src = Path(weights) / (files or {}).get(name, f"{name}.onnx")
        quantize_dynamic(src, Path(out) / f"{name}.onnx", weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True)
    return Path(out)


def _dims(shape) -> list[int | str]:
    return [d if isinstance(d, int) else str(d) for d in shape]


def io_spec(session) -> dict[str, list[dict]]:
    """{'inputs': [{name, shape, dtype}], 'outputs': [...]} from a session."""
    def one(v):
        dtype = v.type.replace("tensor(", "").replace(")", "")
        return {"name": v.name, "shape": _dims(v.shape), "dtype": "float32" if dtype == "float" else dtype}
    return {"inputs": [one(v) for v in session.get_inputs()], "outputs": [one(v) for v in session.get_outputs()]}


def state_input_names(session) -> list[str]:
    return [v.name for v in session.get_inputs() if v.name.startswith("state_in_")]


def zero_states(session) -> dict[str, np.ndarray]:
    return {v.name: np.zeros(v.shape, dtype=np.float32)
            for v in session.get_inputs() if v.name.startswith("state_in_")}


def time_inputs(session) -> list[str]:
    return [v.name for v in session.get_inputs()
            if not v.name.startswith("state_in_") and len(v.shape) > TIME_AXIS and v.shape[TIME_AXIS] == TIME_NAME]


def run_chunk(session, inputs: dict[str, np.ndarray], states: dict[str, np.ndarray] | None = None
              ) -> dict[str, np.ndarray]:
    """One call; ``states`` default to zeros.  Returns every output by name."""
    feeds = dict(inputs)
    feeds.update(states if states is not None else zero_states(session))
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def run_stream(session, inputs: dict[str, np.ndarray], n_frames: int,
               per_frame_slow: dict[str, np.ndarray] | None = None,
               state_frames: list[int] | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run ``n_frames`` calls of T=1 with state feedback, from zero states.

    ``inputs``: full-length tensors for the time inputs ([1, C, >=n_frames]) and the
    slow inputs (used unchanged for every frame).  ``per_frame_slow``: optional
    ``{name: [n_frames, *shape]}`` overriding a slow input per frame.
    Returns ``(outputs, states)``: outputs stacked per frame as ``[n_frames, *shape_T1]``
    and, for the frames in ``state_frames`` (default all), the ``state_out_*`` after
    that frame stacked as ``[len(state_frames), *state_shape]``.
    """
    t_names = set(time_inputs(session))
    states = zero_states(session)
    out_names = [o.name for o in session.get_outputs()]
    keep = set(range(n_frames) if state_frames is None else state_frames)
    outs: dict[str, list[np.ndarray]] = {n: [] for n in out_names if not n.startswith("state_out_")}
    st_hist: dict[str, list[np.ndarray]] = {n: [] for n in out_names if n.startswith("state_out_")}
    for t in range(n_frames):
        feeds = {}
        for name, value in inputs.items():
            feeds[name] = np.ascontiguousarray(value[:, :, t:t + 1]) if name in t_names else value
        if per_frame_slow:
            for name, value in per_frame_slow.items():
                feeds[name] = value[t]
        feeds.update(states)
        result = dict(zip(out_names, session.run(out_names, feeds)))
        for name in outs:
            outs[name].append(result[name])
        for name in st_hist:
            states["state_in_" + name[len("state_out_"):]] = result[name]
            if t in keep:
                st_hist[name].append(result[name])
    return ({n: np.stack(v) for n, v in outs.items()},
            {n: np.stack(v) for n, v in st_hist.items()})


def frames_to_time(stacked: np.ndarray) -> np.ndarray:
    """[N, 1, C, 1] per-frame outputs -> [1, C, N]."""
    return np.concatenate(list(stacked), axis=TIME_AXIS)


# ----------------------------------------------------------------------------- graph stats
def op_types(model) -> list[str]:
    """Sorted op types of the main graph (and any subgraphs)."""
    ops = set()

    def walk(graph):
        for node in graph.node:
            ops.add(node.op_type if not node.domain or node.domain == "ai.onnx" else f"{node.domain}:{node.op_type}")
            for attr in node.attribute:
                if attr.g is not None and attr.g.node:
                    walk(attr.g)
    walk(model.graph)
    return sorted(ops)


def count_macs(model, t: int = 1) -> dict[str, int]:
    """Multiply-accumulates of Conv / MatMul / Gemm with the time axis fixed to ``t``.

    Runs ONNX shape inference on a copy whose symbolic ``T`` dims are set to ``t``.
    Returns ``{op_type: macs}`` (elementwise ops, normalisation and activations are
    not counted; FLOPs = 2 * MACs).
    """
    import onnx
    from onnx import shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for v in m.graph.input:
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param == TIME_NAME:
                d.Clear()
                d.dim_value = t
    for v in m.graph.output:
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param == TIME_NAME:
                d.Clear()
                d.dim_value = t
    del m.graph.value_info[:]
    m = shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
    shapes: dict[str, list[int]] = {}
    for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    for init in m.graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in m.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = list(a.t.dims)

    def shape(name: str) -> list[int]:
        s = shapes.get(name)
        if s is None or any(d < 0 for d in s):
            raise ValueError(f"shape of {name!r} not inferred at T={t}")
        return s

    macs: dict[str, int] = {}
    for node in m.graph.node:
        if node.op_type == "Conv":
            w = shape(node.input[1])
            y = shape(node.output[0])
            n = int(np.prod(y)) * int(np.prod(w[1:]))
        elif node.op_type == "MatMul":
            a = shape(node.input[0])
            y = shape(node.output[0])
            n = int(np.prod(y)) * a[-1]
        elif node.op_type == "Gemm":
            a = shape(node.input[0])
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            y = shape(node.output[0])
            n = int(np.prod(y)) * (a[0] if trans_a else a[1])
        else:
            continue
        macs[node.op_type] = macs.get(node.op_type, 0) + n
    return macs
