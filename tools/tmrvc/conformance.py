"""Write the ONNX backend node tests (model + test_data_set_*) for the Swift conformance target.

The pinned ``onnx`` wheel ships only the case generators, not the data files, so this command
materialises them in the standard layout::

    python -m tmrvc.conformance --out conformance/     # -> conformance/node/<case>/model.onnx, ...

and writes ``conformance/node/index.json`` (case name -> op types, opset, rtol/atol) for the
Swift harness (Tests/ConformanceTests). ~1,900 cases, ~56 MB; not committed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np


def _serialize(value, info) -> bytes:
    """Serialize one test value like onnx's own generator (tensor, sequence, map or optional)."""
    from onnx import numpy_helper

    import onnx

    if isinstance(value, onnx.TensorProto):
        return value.SerializeToString()
    t = info.type
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, info.name).SerializeToString()
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, info.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, info.name).SerializeToString()
    return numpy_helper.from_array(np.asarray(value), info.name).SerializeToString()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "conformance")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import onnx
    from onnx.backend.test.case import node as node_cases

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    index = {}
    for case in node_cases.collect_testcases():
        if case.kind != "node" or case.model is None:
            continue
        model = case.model
        case_dir = out / "node" / case.name
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir(parents=True)
        (case_dir / "model.onnx").write_bytes(model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets or []):
            data_dir = case_dir / f"test_data_set_{i}"
            data_dir.mkdir()
            for prefix, values, infos in (("input", inputs, model.graph.input), ("output", outputs, model.graph.output)):
                for j, value in enumerate(values):
                    try:
                        payload = _serialize(value, infos[j])
                    except (NotImplementedError, TypeError, ValueError) as exc:
                        print(f"warning: {case.name}: {prefix} {j} not serializable ({exc}); case skipped",
                              file=sys.stderr)
                        shutil.rmtree(case_dir)
                        break
                    (data_dir / f"{prefix}_{j}.pb").write_bytes(payload)
                if not case_dir.exists():
                    break
            if not case_dir.exists():
                break
        if not case_dir.exists():
            continue
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
        index[case.name] = {
            "ops": sorted({n.op_type for n in model.graph.node}),
            "domains": sorted({n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")}),
            "opset": opset,
            "non_tensor": any(not v.type.HasField("tensor_type") for v in list(model.graph.input) + list(model.graph.output)),
            "rtol": case.rtol,
            "atol": case.atol,
        }
    (out / "node").mkdir(exist_ok=True)
    (out / "node" / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))
    print(f"wrote {len(index)} node cases under {out / 'node'} (onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
