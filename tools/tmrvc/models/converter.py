"""Converter: content + pitch + target-speaker conditioning -> target log-mel (streaming).

ONNX interface (one call per frame, or per chunk; causal)::

    inputs : content [1, 256, T], spk_embed [1, 192], acoustic_params [1, 32],
             pitch [1, 2, T], lora_delta [1, 4096], state_in_0..4
    outputs: features [1, 80, T] (predicted target log-mel), state_out_0..4

``pitch`` channel 0 = log2(f0 / 200 Hz) on voiced frames else 0, channel 1 =
voicing in [0, 1].  ``acoustic_params`` = ir_params (24, from ir_estimator) followed
by the voice-source vector (8).  ``spk_embed`` and ``lora_delta`` come from the
``.tmrvc_speaker`` file.

Structure
---------
* conditioning (slow inputs only): ``c = GELU(Linear(cat(spk_embed, acoustic_params)))``
  (224 -> 128); per ConvNeXt block ``i``: ``scale_i = Linear(c)``, ``shift_i = Linear(c)``
  (128 -> 256 each) used as FiLM after the block's LayerNorm.
* ``x = causal conv(cat(content, pitch))`` (258 -> 256, k=3);
* 4 causal ConvNeXt blocks (dim 256, expansion 2, depthwise k=3, dilations 1, 2, 4, 8)
  with FiLM;
* one cross-attention block over 8 speaker tokens:
  ``tokens = Linear(spk_embed)`` (192 -> 8*256) reshaped to [8, 256];
  ``h = LayerNorm(x)``; ``Q = Wq h``; ``K = tokens Wk^T + bk + (tokens A_k^T) B_k^T``;
  ``V = tokens Wv^T + bv + (tokens A_v^T) B_v^T`` (LoRA with rank 4 from ``lora_delta``);
  4 heads of 64, softmax over the 8 tokens, ``x = x + Wo(attn)``;
* output 1x1 conv 256 -> 80.

``lora_delta`` layout (``lora.targets`` order k_proj, v_proj; 1024 floats each):
``[A_k (4x256 row-major), B_k (256x4 row-major), A_v (4x256), B_v (256x4)]``, so that
``W_effective = W + B @ A``.  The LoRA term is computed as ``(tokens @ A^T) @ B^T`` so
the graph stays valid for any delta.

States (in order): input conv [1,258,2], block0..3 depthwise [1,256,2], [1,256,4],
[1,256,8], [1,256,16].  Frame t's output depends only on frames <= t (receptive
field 33 frames) and on the slow inputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import CausalConv1d, ConvNeXtBlock, StreamingModel, init_linear_

Tensor = torch.Tensor

D = C.DIMS_ATTENTION_DIM
HEADS = C.DIMS_ATTENTION_HEADS
TOKENS = C.DIMS_SPEAKER_TOKENS
RANK = C.LORA_RANK


def split_lora_delta(lora_delta: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """[1, 4096] -> {target: (A [rank, D], B [D, rank])} in ``lora.targets`` order."""
    out = {}
    block = RANK * D
    for i, target in enumerate(C.LORA_TARGETS):
        base = 2 * i * block
        a = lora_delta[:, base:base + block].reshape(RANK, D)
        b = lora_delta[:, base + block:base + 2 * block].reshape(D, RANK)
        out[target] = (a, b)
    return out


class SpeakerCrossAttention(nn.Module):
    def __init__(self, dim: int = D, heads: int = HEADS, tokens: int = TOKENS) -> None:
        super().__init__()
        self.dim, self.heads, self.tokens = dim, heads, tokens
        self.head_dim = dim // heads
        self.token_proj = nn.Linear(C.DIMS_SPEAKER, tokens * dim)
        self.norm = nn.LayerNorm(dim)
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.o_proj = nn.Linear(dim, dim)
        # spk_embed has unit norm (entries ~ 1/sqrt(192)); scale tokens to O(1)
        init_linear_(self.token_proj, gain=math.sqrt(C.DIMS_SPEAKER))
        for layer in (self.q_proj, self.k_proj, self.v_proj):
            init_linear_(layer)
        init_linear_(self.o_proj, gain=0.5)

    def forward(self, x: Tensor, spk_embed: Tensor, lora: dict[str, tuple[Tensor, Tensor]]) -> Tensor:
        tokens = self.token_proj(spk_embed).reshape(1, self.tokens, self.dim)          # [1, 8, D]
        a_k, b_k = lora["k_proj"]
        a_v, b_v = lora["v_proj"]
        k = self.k_proj(tokens) + torch.matmul(torch.matmul(tokens, a_k.t()), b_k.t())
        v = self.v_proj(tokens) + torch.matmul(torch.matmul(tokens, a_v.t()), b_v.t())
        h = self.norm(x.transpose(1, 2))                                                # [1, T, D]
        q = self.q_proj(h).reshape(1, -1, self.heads, self.head_dim).transpose(1, 2)   # [1, H, T, hd]
        k = k.reshape(1, self.tokens, self.heads, self.head_dim).permute(0, 2, 3, 1)   # [1, H, hd, 8]
        v = v.reshape(1, self.tokens, self.heads, self.head_dim).transpose(1, 2)       # [1, H, 8, hd]
        att = torch.softmax(torch.matmul(q, k) * (1.0 / math.sqrt(self.head_dim)), dim=3)
        o = torch.matmul(att, v).transpose(1, 2).reshape(1, -1, self.dim)               # [1, T, D]
        return x + self.o_proj(o).transpose(1, 2)


class Converter(StreamingModel):
    input_names = ("content", "spk_embed", "acoustic_params", "pitch", "lora_delta")
    output_names = ("features",)
    dynamic_time_inputs = {"content": 2, "pitch": 2}
    dynamic_time_outputs = {"features": 2}

    def __init__(self, dim: int = D, cond_dim: int = 128, dilations: tuple[int, ...] = (1, 2, 4, 8)) -> None:
        super().__init__()
        self.cond = nn.Linear(C.DIMS_SPEAKER + C.DIMS_ACOUSTIC_PARAMS, cond_dim)
        self.film_scale = nn.ModuleList(nn.Linear(cond_dim, dim) for _ in dilations)
        self.film_shift = nn.ModuleList(nn.Linear(cond_dim, dim) for _ in dilations)
        self.conv_in = CausalConv1d(C.DIMS_CONTENT + C.DIMS_PITCH, dim, 3)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, 2, 3, d) for d in dilations)
        self.attn = SpeakerCrossAttention(dim)
        self.conv_out = nn.Conv1d(dim, C.DIMS_MEL, 1)
        init_linear_(self.cond, gain=2.0)
        for layer in (*self.film_scale, *self.film_shift):
            init_linear_(layer, gain=0.3)
        init_linear_(self.conv_in.conv)
        init_linear_(self.conv_out, gain=1.5)
        with torch.no_grad():
            self.conv_out.bias.fill_(-5.0)      # start near typical log-mel values

    def forward(self, content: Tensor, spk_embed: Tensor, acoustic_params: Tensor, pitch: Tensor,
                lora_delta: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        c = F.gelu(self.cond(torch.cat([spk_embed, acoustic_params], dim=1)))          # [1, 128]
        x, s0 = self.conv_in(torch.cat([content, pitch], dim=1), states[0])
        new_states = [s0]
        for i, block in enumerate(self.blocks):
            scale = self.film_scale[i](c).unsqueeze(1)                                  # [1, 1, D]
            shift = self.film_shift[i](c).unsqueeze(1)
            x, s = block(x, states[1 + i], scale, shift)
            new_states.append(s)
        x = self.attn(x, spk_embed, split_lora_delta(lora_delta))
        return (self.conv_out(x), *new_states)

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        g = generator
        spk = torch.randn(1, C.DIMS_SPEAKER, generator=g)
        spk = spk / spk.norm()
        pitch = torch.stack([torch.randn(1, T, generator=g) * 0.3,
                             torch.rand(1, T, generator=g)], dim=1)
        return (torch.randn(1, C.DIMS_CONTENT, T, generator=g), spk,
                torch.randn(1, C.DIMS_ACOUSTIC_PARAMS, generator=g) * 0.5, pitch,
                torch.randn(1, C.LORA_DELTA_SIZE, generator=g) * 0.1)
