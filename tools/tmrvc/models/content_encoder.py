"""Content encoder: causal log-mel -> speaker-independent content features.

ONNX interface (per frame or per chunk, streaming)::

    inputs : mel [1, 80, T], state_in_0..3
    outputs: content [1, 256, T], state_out_0..3

Architecture: causal conv 80->256 (k=3) -> GELU -> 3 causal ConvNeXt blocks
(dim 256, expansion 2, depthwise k=5, dilations 1, 2, 4) -> 1x1 conv 256->256.
States (in this order): input conv [1,80,2], block0 dw [1,256,4], block1 dw [1,256,8],
block2 dw [1,256,16].  Receptive field: 1 + 2 + 4*(1+2+4) = 31 frames, all past.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import CausalConv1d, ConvNeXtBlock, StreamingModel, init_linear_

Tensor = torch.Tensor


class ContentEncoder(StreamingModel):
    input_names = ("mel",)
    output_names = ("content",)
    dynamic_time_inputs = {"mel": 2}
    dynamic_time_outputs = {"content": 2}

    def __init__(self, dim: int = C.DIMS_CONTENT, n_mels: int = C.DIMS_MEL,
                 dilations: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        self.conv_in = CausalConv1d(n_mels, dim, 3)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, 2, 5, d) for d in dilations)
        self.conv_out = nn.Conv1d(dim, C.DIMS_CONTENT, 1)
        # log-mel is roughly in [-11.5, 3]; scale the first conv so activations are O(1)
        init_linear_(self.conv_in.conv, gain=0.25)
        init_linear_(self.conv_out)

    def forward(self, mel: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        x, s0 = self.conv_in(mel, states[0])
        x = F.gelu(x)
        new_states = [s0]
        for i, block in enumerate(self.blocks):
            x, s = block(x, states[1 + i])
            new_states.append(s)
        return (self.conv_out(x), *new_states)

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        return (torch.randn(1, C.DIMS_MEL, T, generator=generator) * 2.0 - 5.0,)
