"""IR (room-acoustics) estimator: a 0.5 s log-mel window -> 24 acoustic parameters.

ONNX interface (stateless; the engine runs it every ``streaming.ir_update_interval``
= 10 frames on the newest ``streaming.ir_window_frames`` = 50 mel frames, oldest
first, and caches the result in between)::

    inputs : mel_window [1, 80, 50]
    outputs: ir_params  [1, 24]

Architecture: conv 80->128 (k=3, same padding) -> GELU -> conv 128->128 (k=3,
stride 2) -> GELU -> conv 128->128 (k=3, stride 2) -> GELU -> mean over time ->
Linear 128->24.  The parameters are unbounded, in normalised units; their meaning
is defined by training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import init_linear_

Tensor = torch.Tensor


class IREstimator(nn.Module):
    input_names = ("mel_window",)
    output_names = ("ir_params",)

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(C.DIMS_MEL, hidden, 3, padding=1)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(hidden, hidden, 3, stride=2, padding=1)
        self.proj = nn.Linear(hidden, C.DIMS_IR_PARAMS)
        init_linear_(self.conv1, gain=0.25)
        init_linear_(self.conv2, gain=1.5)
        init_linear_(self.conv3, gain=1.5)
        init_linear_(self.proj)

    def forward(self, mel_window: Tensor) -> Tensor:
        x = F.gelu(self.conv1(mel_window))
        x = F.gelu(self.conv2(x))
        x = F.gelu(self.conv3(x))
        return self.proj(x.mean(dim=2))

    def example_inputs(self, T: int = C.STREAMING_IR_WINDOW_FRAMES,
                       generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        return (torch.randn(1, C.DIMS_MEL, C.STREAMING_IR_WINDOW_FRAMES, generator=generator) * 2.0 - 5.0,)
