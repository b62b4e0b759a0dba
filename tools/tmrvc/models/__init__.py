"""The five TMRVC models (PyTorch definitions; exported to ONNX by :mod:`tmrvc.export`).

=================  ==========  ===================================================
name               streaming   role
=================  ==========  ===================================================
content_encoder    yes         log-mel -> content features (per frame)
converter          yes         content + pitch + speaker -> target log-mel (per frame)
vocoder            yes         target log-mel -> STFT magnitude/phase (per frame)
ir_estimator       no          0.5 s log-mel window -> 24 room parameters (every 10 frames)
speaker_encoder    no          utterance log-mel -> 192-d embedding (offline)
=================  ==========  ===================================================
"""

from __future__ import annotations

import torch
from torch import nn

from tmrvc.models.content_encoder import ContentEncoder
from tmrvc.models.converter import Converter
from tmrvc.models.ir_estimator import IREstimator
from tmrvc.models.layers import CausalConv1d, ConvNeXtBlock, StreamingModel, param_count
from tmrvc.models.speaker_encoder import SpeakerEncoder
from tmrvc.models.vocoder import Vocoder

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "content_encoder": ContentEncoder,
    "converter": Converter,
    "vocoder": Vocoder,
    "ir_estimator": IREstimator,
    "speaker_encoder": SpeakerEncoder,
}
MODEL_NAMES = tuple(MODEL_CLASSES)
STREAMING_MODELS = ("content_encoder", "converter", "vocoder")

# parameter budgets (upper bounds checked by the tests)
PARAM_BUDGETS = {
    "content_encoder": 1_000_000,
    "converter": 2_500_000,
    "vocoder": 2_000_000,
    "ir_estimator": 500_000,
    "speaker_encoder": 2_000_000,
}
PER_FRAME_BUDGET = (3_500_000, 5_000_000)   # content_encoder + converter + vocoder


def build_model(name: str, seed: int = 0) -> nn.Module:
    """Construct model ``name`` with deterministic initial weights, in eval mode.

    Each model gets its own seed (``seed * 1000 + index``) so models are independent
    of the order they are built in.
    """
    index = MODEL_NAMES.index(name)
    torch.manual_seed(seed * 1000 + index)
    model = MODEL_CLASSES[name]()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


__all__ = [
    "CausalConv1d", "ConvNeXtBlock", "StreamingModel", "ContentEncoder", "Converter", "Vocoder",
    "IREstimator", "SpeakerEncoder", "MODEL_CLASSES", "MODEL_NAMES", "STREAMING_MODELS",
    "PARAM_BUDGETS", "PER_FRAME_BUDGET", "build_model", "param_count",
]
