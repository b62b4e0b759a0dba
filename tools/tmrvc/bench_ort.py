"""ONNX Runtime side of ``tmrvc bench``: per-frame latency of the streaming models.

Runs each per-frame model at T=1 with state feedback through ONNX Runtime (CPU EP,
``intra_op_num_threads=1``, all graph optimisations, IOBinding so no per-call
allocation or copies of inputs), the per-frame pipeline (content_encoder, converter,
vocoder, and ir_estimator every 10th frame), plus ORT's bare per-call overhead on an
identity model, and prints JSON on stdout::

    python -m tmrvc.bench_ort --weights weights/ --frames 20000 [--warmup 500] [--int8]

``--int8`` first quantises the models with ONNX Runtime's own dynamic INT8
(``onnxruntime.quantization.quantize_dynamic``: int8 weights per output channel, uint8 activations
quantised per tensor at run time, MatMulInteger / DynamicQuantizeLinear / ConvInteger) into a
temporary folder and benchmarks those files instead (the JSON says ``"quantized": "dynamic int8"``).

Inputs are deterministic (seeded normal noise of realistic scale), the same the Swift
side uses (``tmrvc bench`` fills inputs with the same generator contract: N(0,1) * 0.5).
Only numpy + onnxruntime are imported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tmrvc import onnx_utils as U

MODELS = ["content_encoder", "converter", "vocoder", "ir_estimator"]


def _session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _stats(samples_us: list[float]) -> dict:
    a = np.sort(np.asarray(samples_us))
    q = lambda p: float(a[min(len(a) - 1, int(round(p * (len(a) - 1))))])  # noqa: E731
    return {"n": len(a), "min_us": float(a[0]), "median_us": q(0.5), "p99_us": q(0.99),
            "p999_us": q(0.999), "max_us": float(a[-1]), "mean_us": float(a.mean())}


class _Runner:
    """One model with IOBinding and zero-copy state feedback (OrtValues of each state pair swapped)."""

    def __init__(self, path: Path, seed: int = 0):
        import onnxruntime as ort

        self.sess = _session(path)
        rng = np.random.default_rng(seed)
        self.binding = self.sess.io_binding()
        self.values = {}
        for inp in self.sess.get_inputs():
            shape = [1 if isinstance(d, str) or d is None else d for d in inp.shape]
            arr = np.zeros(shape, np.float32) if inp.name.startswith("state_in_") else \
                (rng.standard_normal(shape).astype(np.float32) * 0.5)
            self.values[inp.name] = ort.OrtValue.ortvalue_from_numpy(arr)
        self.outs = {}
        for out in self.sess.get_outputs():
            shape = [1 if isinstance(d, str) or d is None else d for d in out.shape]
            self.outs[out.name] = ort.OrtValue.ortvalue_from_numpy(np.zeros(shape, np.float32))
        self.pairs = [(n, "state_out_" + n[len("state_in_"):]) for n in self.values if n.startswith("state_in_")]

    def run(self) -> float:
        """Binds, runs once (timed: the run call only), swaps states; returns microseconds."""
        b = self.binding
        b.clear_binding_inputs()
        b.clear_binding_outputs()
        for name, v in self.values.items():
            b.bind_ortvalue_input(name, v)
        for name, v in self.outs.items():
            b.bind_ortvalue_output(name, v)
        t0 = time.perf_counter_ns()
        self.sess.run_with_iobinding(b)
        t1 = time.perf_counter_ns()
        for sin, sout in self.pairs:
            self.values[sin], self.outs[sout] = self.outs[sout], self.values[sin]
        return (t1 - t0) / 1000.0


def bench_model(path: Path, frames: int, warmup: int) -> dict:
    r = _Runner(path)
    times = []
    for i in range(warmup + frames):
        us = r.run()
        if i >= warmup:
            times.append(us)
    return _stats(times)


IR_INTERVAL = 10


def bench_pipeline(weights: Path, frames: int, warmup: int) -> dict:
    """Per frame: content_encoder, converter, vocoder, plus ir_estimator every 10th frame; the
    frame's time is the sum of the timed run calls (Python binding work between calls is not
    counted, which favours ONNX Runtime slightly)."""
    runners = {n: _Runner(weights / f"{n}.onnx", seed=k) for k, n in enumerate(MODELS)}
    times = []
    for i in range(warmup + frames):
        us = runners["content_encoder"].run()
        if i % IR_INTERVAL == 0:
            us += runners["ir_estimator"].run()
        us += runners["converter"].run()
        us += runners["vocoder"].run()
        if i >= warmup:
            times.append(us)
    return _stats(times)


def bench_identity(frames: int, warmup: int) -> dict:
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 80, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 80, 1])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "identity.onnx"
        onnx.save(model, p)
        return bench_model(p, frames, warmup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path(__file__).resolve().parents[2] / "weights")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--int8", action="store_true", help="benchmark ORT's dynamic-INT8 versions of the models")
    parser.add_argument("--int8-out", type=Path, metavar="DIR",
                        help="with --int8: write the quantised models to DIR (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    import onnxruntime as ort

    result = {"onnxruntime": ort.__version__, "frames": args.frames, "models": {}}
    if args.int8:
        import tempfile

        tmp = tempfile.TemporaryDirectory()
        out = args.int8_out or Path(tmp.name)
        out.mkdir(parents=True, exist_ok=True)
        args.weights = U.quantize_dynamic_int8(args.weights, out, args.models.split(","))
        result["quantized"] = "dynamic int8 (quantize_dynamic: per-channel QInt8 weights, reduce_range)"
    for name in args.models.split(","):
        path = args.weights / f"{name}.onnx"
        if not path.is_file():
            print(f"error: {path}: model file not found", file=sys.stderr)
            return 2
        result["models"][name] = bench_model(path, args.frames, args.warmup)
    if set(MODELS) <= set(args.models.split(",")):
        result["pipeline"] = bench_pipeline(args.weights, args.frames, args.warmup)
    result["identity"] = bench_identity(args.frames, args.warmup)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
