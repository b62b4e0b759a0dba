"""Shared building blocks of the TMRVC models.

Streaming state convention
--------------------------
Every causal convolution with kernel ``k`` and dilation ``d`` (``k > 1``) owns one
state tensor ``[1, C_in, (k-1)*d]``: the last ``(k-1)*d`` input frames it has seen
(oldest first).  A zero state means "start of stream" (the input before frame 0 is
treated as zeros, exactly like zero left-padding of an offline causal conv)::

    buf       = cat([state, x], dim=2)          # [1, C_in, (k-1)*d + T]
    y         = conv(buf)                       # no padding -> [1, C_out, T]
    new_state = buf[:, :, -(k-1)*d:]

Because of this, running T frames one at a time with state feedback gives the same
result as one call with all T frames (up to float rounding).

Models collect their causal convs in a fixed order (``causal_convs()``); state
``i`` of the ONNX graph (``state_in_i``/``state_out_i``) belongs to conv ``i``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


class CausalConv1d(nn.Module):
    """Causal 1-D convolution with explicit streaming state (see module docstring)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if kernel_size < 2:
            raise ValueError("use nn.Conv1d for 1x1 convolutions (no state)")
        self.c_in = c_in
        self.context = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation, groups=groups, bias=bias)

    def state_shape(self) -> tuple[int, int, int]:
        return (1, self.c_in, self.context)

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        buf = torch.cat([state, x], dim=2)
        return self.conv(buf), buf[:, :, -self.context:]


class ConvNeXtBlock(nn.Module):
    """Causal ConvNeXt block with optional FiLM after the LayerNorm.

    ``x -> depthwise causal conv(k, d) -> [B,T,C] -> LayerNorm -> (FiLM) -> Linear(C, eC)
    -> GELU -> Linear(eC, C) -> [B,C,T] -> + x``.  FiLM: ``h * (1 + scale) + shift`` with
    ``scale``/``shift`` of shape ``[1, 1, C]`` (per utterance, broadcast over time).
    The second Linear is initialised small (``layer_scale``) so a stack of randomly
    initialised blocks stays well conditioned (same role as Vocos' layer scale, but
    folded into the weights so the graph has no extra Mul).
    """

    def __init__(self, dim: int, expansion: int, kernel_size: int, dilation: int = 1,
                 layer_scale: float = 0.5) -> None:
        super().__init__()
        self.dwconv = CausalConv1d(dim, dim, kernel_size, dilation=dilation, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, expansion * dim)
        self.pw2 = nn.Linear(expansion * dim, dim)
        with torch.no_grad():
            self.pw2.weight.mul_(layer_scale)
            self.pw2.bias.zero_()

    def forward(self, x: Tensor, state: Tensor, scale: Tensor | None = None,
                shift: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h, new_state = self.dwconv(x, state)
        h = self.norm(h.transpose(1, 2))
        if scale is not None:
            h = h * (1.0 + scale) + shift
        h = self.pw2(F.gelu(self.pw1(h)))
        return x + h.transpose(1, 2), new_state


class StreamingModel(nn.Module):
    """Base class: a model whose ONNX graph is ``forward(*inputs, *states)``.

    Subclasses define ``input_names``, ``output_names``, ``example_inputs(T)`` and
    ``causal_convs()``; the export wrapper adds ``state_in_i``/``state_out_i``.
    """

    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    dynamic_time_inputs: dict[str, int] = {}     # input name -> time axis
    dynamic_time_outputs: dict[str, int] = {}

    def causal_convs(self) -> list[CausalConv1d]:
        return [m for m in self.modules() if isinstance(m, CausalConv1d)]

    def state_shapes(self) -> list[tuple[int, int, int]]:
        return [c.state_shape() for c in self.causal_convs()]

    def zero_states(self) -> list[Tensor]:
        return [torch.zeros(s) for s in self.state_shapes()]

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        raise NotImplementedError


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_linear_(layer: nn.Linear | nn.Conv1d, gain: float = 1.0) -> None:
    """Variance-preserving (fan-in) normal init, zero bias."""
    fan_in = layer.weight[0].numel()
    with torch.no_grad():
        layer.weight.normal_(0.0, gain / math.sqrt(fan_in))
        if layer.bias is not None:
            layer.bias.zero_()
