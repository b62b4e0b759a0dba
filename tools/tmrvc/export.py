"""Export the five TMRVC models to ONNX and describe them in ``weights/models.json``.

Usage (from ``tools/``, or anywhere with the package installed)::

    python -m tmrvc.export [--out weights/] [--seed 0]   # export + checks + models.json
    python -m tmrvc.export --measure [--out weights/]    # ORT timing of the exported files

Export details:

* TorchScript-based exporter (``dynamo=False``), opset ``OPSET`` (20: it has a native
  ``Gelu`` op), constant folding on, weights inlined into one ``.onnx`` file each
  (no external data);
* static channel dims, dynamic time axis ``"T"`` (axis 2) on per-frame tensors;
* streaming models get ``state_in_<i>`` inputs after the real inputs and
  ``state_out_<i>`` outputs after the real outputs (see ``tmrvc.models.layers``);
* ``onnx.checker.check_model(full_check=True)`` must pass, else the export stops
  with an error naming the file;
* weights are initialised from ``--seed`` (trained weights come later), so the
  export is deterministic: two runs give byte-identical files;
* state contract check: each streaming model is run 300 frames one at a time through
  ONNX Runtime (CPU, 1 thread) with state feedback and compared with one T=300 call
  from zero state (tolerance ``STREAM_TOL``); ORT is also compared with PyTorch.

``models.json`` records, per model: parameter count, fp32 weight bytes, MACs and
FLOPs per frame (Conv/MatMul/Gemm, from ONNX shape inference at T=1), input/output
names and shapes, the state layout, the ONNX op types and the file's sha256.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import onnx_utils as U

OPSET = 20
STREAM_FRAMES = 300
STREAM_TOL = 1e-5
TORCH_TOL = 1e-4
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "weights"
MODELS_JSON = "models.json"


class ExportError(RuntimeError):
    """An export that produced an invalid or inconsistent ONNX file."""


# ----------------------------------------------------------------------------- export
def _trace_inputs(name: str, model) -> tuple:
    import torch

    g = torch.Generator().manual_seed(1234)
    t = C.STREAMING_IR_WINDOW_FRAMES if name == "ir_estimator" else 7
    args = tuple(model.example_inputs(t, generator=g))
    if hasattr(model, "state_shapes"):
        args = args + tuple(torch.randn(s, generator=g) for s in model.state_shapes())
    return args


def io_names(model) -> tuple[list[str], list[str]]:
    n_states = len(model.state_shapes()) if hasattr(model, "state_shapes") else 0
    ins = list(model.input_names) + [f"state_in_{i}" for i in range(n_states)]
    outs = list(model.output_names) + [f"state_out_{i}" for i in range(n_states)]
    return ins, outs


def state_layout(model) -> list[dict]:
    """[{input, output, layer, shape, kernel, dilation, channels}] in state order."""
    from tmrvc.models.layers import CausalConv1d

    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, CausalConv1d)]
    if [m for _, m in convs] != model.causal_convs():
        raise ExportError("causal conv order mismatch")
    out = []
    for i, (layer, m) in enumerate(convs):
        out.append({"input": f"state_in_{i}", "output": f"state_out_{i}", "layer": layer,
                    "shape": list(m.state_shape()), "kernel": m.conv.kernel_size[0],
                    "dilation": m.conv.dilation[0], "groups": m.conv.groups})
    return out


def export_model(name: str, model, path: Path) -> bytes:
    """Export ``model`` to ``path`` (ONNX, one file); returns the file bytes."""
    import onnx
    import torch

    ins, outs = io_names(model)
    dyn = {}
    for k, axis in getattr(model, "dynamic_time_inputs", {}).items():
        dyn[k] = {axis: U.TIME_NAME}
    for k, axis in getattr(model, "dynamic_time_outputs", {}).items():
        dyn[k] = {axis: U.TIME_NAME}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, _trace_inputs(name, model), buf, dynamo=False, opset_version=OPSET,
                          input_names=ins, output_names=outs, dynamic_axes=dyn or None,
                          do_constant_folding=True, export_params=True)
    proto = onnx.load_from_string(buf.getvalue())
    simplify_graph(proto)
    if hasattr(model, "state_shapes"):          # the exporter leaves state outputs symbolic
        shapes = {f"state_out_{i}": s for i, s in enumerate(model.state_shapes())}
        for out in proto.graph.output:
            if out.name in shapes:
                dims = out.type.tensor_type.shape.dim
                for d, v in zip(dims, shapes[out.name]):
                    d.Clear()
                    d.dim_value = v
    proto.doc_string = f"TMRVC {name}"
    meta = {"tmrvc.model": name, "tmrvc.format": "tmrvc-onnx-v1"}
    if hasattr(model, "state_shapes"):
        meta["tmrvc.states"] = json.dumps(state_layout(model), separators=(",", ":"))
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    data = proto.SerializeToString(deterministic=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    check_onnx_file(path)
    return data


def simplify_graph(proto) -> None:
    """Make the exported graph plainer for a small runtime (in place, semantics kept).

    * ``Constant`` nodes become initializers (named after their output);
    * ``Identity`` nodes the exporter inserts when it de-duplicates equal
      initializers (e.g. zero biases) are replaced by a copy of the initializer;
    * transposed Linear weights named ``onnx::MatMul_<n>`` are renamed
      ``<module>.weight_t`` after the MatMul that uses them.
    """
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    keep = []
    for node in g.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = onnx_tensor_copy(node.attribute[0].t, node.output[0])
            g.initializer.append(t)
            inits[t.name] = t
        elif node.op_type == "Identity" and node.input[0] in inits:
            t = onnx_tensor_copy(inits[node.input[0]], node.output[0])
            g.initializer.append(t)
            inits[t.name] = t
        else:
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)
    rename = {}
    for node in g.node:
        if node.op_type == "MatMul" and node.input[1].startswith("onnx::MatMul_") and node.name.endswith("/MatMul"):
            rename[node.input[1]] = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".") + ".weight_t"
    if len(set(rename.values())) != len(rename):
        rename = {}
    for node in g.node:
        for i, n in enumerate(node.input):
            if n in rename:
                node.input[i] = rename[n]
    for init in g.initializer:
        if init.name in rename:
            init.name = rename[init.name]
    # drop initializers nobody uses any more, keep a stable order (by name)
    used = {n for node in g.node for n in node.input} | {o.name for o in g.output}
    ordered = sorted((i for i in g.initializer if i.name in used), key=lambda i: i.name)
    del g.initializer[:]
    g.initializer.extend(ordered)


def onnx_tensor_copy(tensor, name: str):
    import onnx

    t = onnx.TensorProto()
    t.CopyFrom(tensor)
    t.name = name
    return t


def check_onnx_file(path: Path) -> None:
    """Full ONNX checker; raises ExportError naming the file on failure."""
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ExportError(f"{path}: ONNX checker failed: {exc}") from exc
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        raise ExportError(f"{path}: uses external data; everything must be inlined")


# ----------------------------------------------------------------------------- checks
def example_feeds(name: str, model, T: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Seeded random (realistically scaled) real inputs for a model, as numpy."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if name == "ir_estimator":
        T = C.STREAMING_IR_WINDOW_FRAMES
    args = model.example_inputs(T, generator=g)
    return {n: a.numpy().astype(np.float32) for n, a in zip(model.input_names, args)}


def stream_vs_chunk_ort(path: Path, feeds: dict[str, np.ndarray], n_frames: int = STREAM_FRAMES
                        ) -> dict[str, float]:
    """Per output: max abs error between frame-by-frame (state feedback) and one chunked call,
    divided by max(1, peak |chunked value|) -- absolute for O(1) outputs, relative for large
    ones (a trained vocoder's magnitudes reach tens, where float32 rounding alone is ~1e-6
    relative)."""
    sess = U.make_session(path)
    chunk = U.run_chunk(sess, feeds)
    outs, states = U.run_stream(sess, feeds, n_frames, state_frames=[n_frames - 1])
    errs = {}

    def scaled(a, ref):
        return float(np.abs(a - ref).max() / max(1.0, float(np.abs(ref).max())))

    for name, stacked in outs.items():
        errs[name] = scaled(U.frames_to_time(stacked), chunk[name])
    for name, st in states.items():
        errs[name] = scaled(st[-1], chunk[name])
    return errs


def ort_vs_torch(path: Path, model, feeds: dict[str, np.ndarray]) -> float:
    import torch

    sess = U.make_session(path)
    ort_out = U.run_chunk(sess, feeds)
    args = [torch.from_numpy(feeds[n]) for n in model.input_names]
    if hasattr(model, "zero_states"):
        args += model.zero_states()
    with torch.no_grad():
        ref = model(*args)
    if isinstance(ref, torch.Tensor):
        ref = (ref,)
    _, outs = io_names(model)
    return max(float(np.abs(ort_out[n] - r.numpy()).max()) for n, r in zip(outs, ref))


# ----------------------------------------------------------------------------- main export
def export_all(out_dir: Path, seed: int = 0, verbose: bool = True, check: bool = True,
               models: dict | None = None, source: str | None = None) -> dict:
    """Export every model into ``out_dir``, run the checks, write models.json.

    ``models`` maps model names to trained modules (``tmrvc.train`` passes the weights of
    its checkpoints here); missing names are built from ``seed``.  ``source`` is recorded
    in models.json (e.g. the checkpoint folder).
    """
    import onnx
    import onnxruntime as ort
    import torch

    from tmrvc.models import MODEL_NAMES, STREAMING_MODELS, build_model, param_count

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    log = print if verbose else (lambda *a, **k: None)
    info: dict = {
        "format": "tmrvc-models-v1",
        "seed": seed,
        "opset": OPSET,
        "exporter": f"torch {torch.__version__} (TorchScript, dynamo=False)",
        "onnx": onnx.__version__,
        "time_axis": {"index": U.TIME_AXIS, "name": U.TIME_NAME},
        "flops_note": "FLOPs = 2 * MACs of Conv/MatMul/Gemm from ONNX shape inference at T=1; "
                      "elementwise/normalisation ops not counted",
        "models": {},
    }
    if models:
        info["weights_from"] = source or "trained"
        info["trained_models"] = sorted(models)
    for name in MODEL_NAMES:
        model = models[name] if models and name in models else build_model(name, seed)
        model.eval()
        path = out_dir / f"{name}.onnx"
        data = export_model(name, model, path)
        proto = onnx.load_from_string(data)
        streaming = name in STREAMING_MODELS
        sess = U.make_session(path)
        entry: dict = {
            "file": path.name,
            "sha256": U.sha256_file(path),
            "file_bytes": len(data),
            "streaming": streaming,
            "params": param_count(model),
            "weight_bytes_fp32": 4 * param_count(model),
            **U.io_spec(sess),
            "op_types": U.op_types(proto),
            "n_nodes": len(proto.graph.node),
        }
        if streaming:
            entry["states"] = state_layout(model)
        if name == "ir_estimator":
            macs = sum(U.count_macs(proto).values())
            entry["macs_per_call"] = macs
            entry["flops_per_call"] = 2 * macs
            entry["calls_per_frame"] = 1.0 / C.STREAMING_IR_UPDATE_INTERVAL
            entry["flops_per_frame"] = 2 * macs // C.STREAMING_IR_UPDATE_INTERVAL
        else:
            macs1 = U.count_macs(proto, t=1)
            entry["macs_per_frame"] = sum(macs1.values())
            entry["flops_per_frame"] = 2 * entry["macs_per_frame"]
            entry["macs_by_op"] = macs1
            if name == "speaker_encoder":
                m100, m200 = (sum(U.count_macs(proto, t=t).values()) for t in (100, 200))
                entry["flops_per_additional_frame"] = 2 * (m200 - m100) // 100
        info["models"][name] = entry
        log(f"exported {path} ({len(data) / 1e6:.2f} MB, {entry['params']:,} params, "
            f"{entry['flops_per_frame'] / 1e6:.2f} MFLOPs/frame)")
        if check:
            feeds = example_feeds(name, model, STREAM_FRAMES if streaming else 64)
            err = ort_vs_torch(path, model, feeds)
            log(f"  ORT vs torch max abs error: {err:.3g}")
            if not err <= TORCH_TOL:
                raise ExportError(f"{path}: ORT disagrees with PyTorch (max abs {err:.3g} > {TORCH_TOL})")
            if streaming:
                errs = stream_vs_chunk_ort(path, feeds)
                worst = max(errs.values())
                log(f"  ORT 300 x T=1 (state feedback) vs T=300 chunk: max error / max(1, peak) {worst:.3g} "
                    + " ".join(f"{k}={v:.2g}" for k, v in errs.items()))
                if not worst <= STREAM_TOL:
                    raise ExportError(f"{path}: streaming != chunked (max error / max(1, peak) {worst:.3g} > {STREAM_TOL})")
    per_frame = [info["models"][n] for n in STREAMING_MODELS]
    info["per_frame_total"] = {
        "models": list(STREAMING_MODELS),
        "params": sum(e["params"] for e in per_frame),
        "weight_bytes_fp32": sum(e["weight_bytes_fp32"] for e in per_frame),
        "flops_per_frame": sum(e["flops_per_frame"] for e in per_frame),
        "flops_per_frame_with_ir": sum(e["flops_per_frame"] for e in per_frame)
        + info["models"]["ir_estimator"]["flops_per_frame"],
    }
    info["onnxruntime_checked_with"] = ort.__version__
    (out_dir / MODELS_JSON).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    log(f"wrote {out_dir / MODELS_JSON}")
    return info


# ----------------------------------------------------------------------------- timing
def measure(out_dir: Path, n_frames: int = 2000, warmup: int = 200) -> dict[str, dict[str, float]]:
    """ORT per-call wall time (ms) on one thread; streaming models at T=1 with state feedback."""
    info = json.loads((Path(out_dir) / MODELS_JSON).read_text())
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, float]] = {}
    for name, entry in info["models"].items():
        path = Path(out_dir) / entry["file"]
        for optimize in (True, False):
            sess = U.make_session(path, optimize=optimize)
            feeds = {}
            for v in entry["inputs"]:
                if v["name"].startswith("state_in_"):
                    continue
                t = 300 if name == "speaker_encoder" else 1
                shape = [t if d == U.TIME_NAME else d for d in v["shape"]]
                feeds[v["name"]] = rng.standard_normal(shape).astype(np.float32)
            states = U.zero_states(sess)
            out_names = [o.name for o in sess.get_outputs()]
            calls = 50 if name == "speaker_encoder" else n_frames
            times = []
            for i in range(warmup + calls):
                t0 = time.perf_counter()
                res = sess.run(out_names, {**feeds, **states})
                dt = time.perf_counter() - t0
                for n, r in zip(out_names, res):
                    if n.startswith("state_out_"):
                        states["state_in_" + n[len("state_out_"):]] = r
                if i >= warmup:
                    times.append(dt * 1e3)
            key = name + ("" if optimize else " (basic opt)")
            results[key] = {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)),
                            "mean_ms": float(np.mean(times)), "calls": calls,
                            "T": 300 if name == "speaker_encoder" else (50 if name == "ir_estimator" else 1)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the TMRVC models to ONNX.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: weights/)")
    parser.add_argument("--seed", type=int, default=0, help="weight init seed")
    parser.add_argument("--measure", action="store_true",
                        help="only time the already exported files with ORT (1 thread)")
    parser.add_argument("--frames", type=int, default=2000, help="frames timed per model with --measure")
    args = parser.parse_args(argv)
    if args.measure:
        res = measure(args.out, n_frames=args.frames)
        for k, v in res.items():
            print(f"{k:32s} T={v['T']:<4d} median {v['median_ms']:.4f} ms  p90 {v['p90_ms']:.4f} ms  "
                  f"mean {v['mean_ms']:.4f} ms  ({v['calls']} calls)")
        per = sum(res[n]["median_ms"] for n in ("content_encoder", "converter", "vocoder"))
        ir = res["ir_estimator"]["median_ms"] / C.STREAMING_IR_UPDATE_INTERVAL
        print(f"per-frame models (content_encoder + converter + vocoder), sum of medians: {per:.4f} ms "
              f"(+ ir_estimator amortised {ir:.4f} ms) of a 10 ms hop")
        return 0
    try:
        export_all(args.out, seed=args.seed)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
