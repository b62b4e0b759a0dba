"""Vocoder: target log-mel features -> STFT magnitude and phase (Vocos style, streaming).

ONNX interface (one call per frame, or per chunk; causal)::

    inputs : features [1, 80, T], state_in_0..4
    outputs: magnitude [1, 241, T], phase [1, 241, T], state_out_0..4

Architecture: causal conv 80->256 (k=3) -> 4 causal ConvNeXt blocks (dim 256,
expansion 3, depthwise k=7, dilation 1) -> LayerNorm -> Linear 256->482;
``magnitude = exp(min(x[:241], 7.0))`` (``vocoder.log_mag_clip``), ``phase = x[241:]``
(an angle in radians, unbounded; the engine forms ``mag*cos(phase)``,
``mag*sin(phase)`` and runs the causal iSTFT of :func:`tmrvc.frontend.istft_ola`).

States (in order): input conv [1,80,2], block0..3 depthwise [1,256,6] each.
"""

from __future__ import annotations

import torch
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import CausalConv1d, ConvNeXtBlock, StreamingModel, init_linear_

Tensor = torch.Tensor

BINS = C.VOCODER_N_FFT // 2 + 1


class Vocoder(StreamingModel):
    input_names = ("features",)
    output_names = ("magnitude", "phase")
    dynamic_time_inputs = {"features": 2}
    dynamic_time_outputs = {"magnitude": 2, "phase": 2}

    def __init__(self, dim: int = 256, n_blocks: int = 4) -> None:
        super().__init__()
        self.conv_in = CausalConv1d(C.DIMS_MEL, dim, 3)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, 3, 7, 1) for _ in range(n_blocks))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 2 * BINS)
        init_linear_(self.conv_in.conv, gain=0.25)
        init_linear_(self.head)
        with torch.no_grad():
            self.head.bias[:BINS].fill_(-2.0)     # start at quiet magnitudes (e^-2)

    def forward(self, features: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        x, s0 = self.conv_in(features, states[0])
        new_states = [s0]
        for i, block in enumerate(self.blocks):
            x, s = block(x, states[1 + i])
            new_states.append(s)
        x = self.head(self.norm(x.transpose(1, 2))).transpose(1, 2)                     # [1, 482, T]
        magnitude = torch.exp(torch.clamp(x[:, :BINS], max=C.VOCODER_LOG_MAG_CLIP))
        phase = x[:, BINS:]
        return (magnitude, phase, *new_states)

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        return (torch.randn(1, C.DIMS_MEL, T, generator=generator) * 2.0 - 5.0,)
