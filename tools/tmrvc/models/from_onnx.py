"""PyTorch modules with their weights read back from exported ONNX files.

:mod:`tmrvc.export` keeps every parameter as a named initializer: ``<module>.<param>`` as in
the module's ``state_dict``, except the weight of a ``Linear`` layer that became a MatMul,
which is stored transposed as ``<module>.weight_t``.  That makes the export invertible, so
the shipped ``weights/*.onnx`` are enough to continue from the trained models (few-shot
adaptation, :mod:`tmrvc.fewshot`) without the training checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tmrvc.models import MODEL_NAMES, build_model


class OnnxWeightsError(ValueError):
    """An ONNX file whose initializers do not fill the model's parameters exactly."""


def onnx_state_dict(name: str, path: str | Path, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of model ``name`` (``model``, or a freshly built one, gives the keys and
    shapes) recovered from the initializers of ``path``.

    Raises :class:`OnnxWeightsError` naming the file and the first missing or mis-shaped
    parameter when the file was not exported from this model definition.
    """
    import onnx
    from onnx import numpy_helper

    if name not in MODEL_NAMES:
        raise OnnxWeightsError(f"unknown model {name!r} (one of {', '.join(MODEL_NAMES)})")
    path = Path(path)
    try:
        graph = onnx.load(str(path)).graph
    except FileNotFoundError:
        raise
    except Exception as exc:  # protobuf decode errors have no common base class
        raise OnnxWeightsError(f"{path}: not a readable ONNX file ({exc})") from exc
    inits = {i.name: i for i in graph.initializer}
    reference = (model if model is not None else build_model(name)).state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, ref in reference.items():
        if key in inits:
            value = numpy_helper.to_array(inits[key])
        elif key.endswith(".weight") and key + "_t" in inits:
            value = numpy_helper.to_array(inits[key + "_t"]).T
        else:
            raise OnnxWeightsError(f"{path}: no initializer for {name} parameter {key!r} "
                                   f"(was this file exported from the {name} model?)")
        if tuple(value.shape) != tuple(ref.shape):
            raise OnnxWeightsError(f"{path}: {key} has shape {list(value.shape)}, the {name} model "
                                   f"expects {list(ref.shape)}")
        out[key] = torch.from_numpy(np.array(value, dtype=np.float32))
    return out


def load_from_onnx(name: str, path: str | Path) -> nn.Module:
    """Model ``name`` in eval mode with the weights of the exported file ``path``, frozen
    (:func:`tmrvc.models.build_model` returns it so; loading weights keeps that)."""
    model = build_model(name)
    model.load_state_dict(onnx_state_dict(name, path, model))
    return model
