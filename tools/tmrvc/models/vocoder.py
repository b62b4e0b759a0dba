"""Vocoder: target log-mel + output pitch -> source-filter envelopes (streaming).

ONNX interface (one call per frame, or per chunk; causal)::

    inputs : features [1, 80, T], pitch [1, 2, T], state_in_0..4
    outputs: harmonic [1, 241, T], noise [1, 241, T], state_out_0..4

``pitch`` is the *output* pitch (the converter's convention: channel 0 = log2(f0 / 200 Hz) on
voiced frames else 0, channel 1 = voicing), i.e. the source F0 after the register mapping.
``harmonic`` (H) and ``noise`` (N) are per-bin magnitudes (>= 0) of the n_fft-480 synthesis
STFT.  The engine synthesises each frame as ``Y = H * E_h + N * E_n``, where ``E_h``/``E_n`` are
the frame spectra of a band-limited harmonic excitation at the output F0 and of a seeded noise
excitation (:mod:`tmrvc.excitation`), then runs the causal iSTFT / overlap-add of
:func:`tmrvc.frontend.istft_ola`.  The harmonics and their phase continuity come from the DSP,
not from the network: voicing and intonation follow the pitch track by construction.

Architecture: causal conv 82->256 (k=3) -> 4 causal ConvNeXt blocks (dim 256, expansion 3,
depthwise k=7, dilation 1) -> LayerNorm -> Linear 256->482; ``H = exp(min(x[:241], 7.0))``,
``N = exp(min(x[241:], 7.0))`` (``vocoder.log_mag_clip``).

States (in order): input conv [1,82,2], block0..3 depthwise [1,256,6] each.
"""

from __future__ import annotations

import torch
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import CausalConv1d, ConvNeXtBlock, StreamingModel, init_linear_

Tensor = torch.Tensor

BINS = C.VOCODER_N_FFT // 2 + 1


class Vocoder(StreamingModel):
    input_names = ("features", "pitch")
    output_names = ("harmonic", "noise")
    dynamic_time_inputs = {"features": 2, "pitch": 2}
    dynamic_time_outputs = {"harmonic": 2, "noise": 2}

    def __init__(self, dim: int = 256, n_blocks: int = 4) -> None:
        super().__init__()
        self.conv_in = CausalConv1d(C.DIMS_MEL + C.DIMS_PITCH, dim, 3)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, 3, 7, 1) for _ in range(n_blocks))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 2 * BINS)
        init_linear_(self.conv_in.conv, gain=0.25)
        init_linear_(self.head)
        with torch.no_grad():
            self.head.bias[:BINS].fill_(-3.0)     # start at quiet envelopes
            self.head.bias[BINS:].fill_(-5.0)

    def forward(self, features: Tensor, pitch: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        x, s0 = self.conv_in(torch.cat([features, pitch], dim=1), states[0])
        new_states = [s0]
        for i, block in enumerate(self.blocks):
            x, s = block(x, states[1 + i])
            new_states.append(s)
        x = self.head(self.norm(x.transpose(1, 2))).transpose(1, 2)                     # [1, 482, T]
        x = torch.exp(torch.clamp(x, max=C.VOCODER_LOG_MAG_CLIP))
        return (x[:, :BINS], x[:, BINS:], *new_states)

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        g = generator
        pitch = torch.stack([torch.randn(1, T, generator=g) * 0.3, torch.rand(1, T, generator=g)], dim=1)
        return (torch.randn(1, C.DIMS_MEL, T, generator=g) * 2.0 - 5.0, pitch)
