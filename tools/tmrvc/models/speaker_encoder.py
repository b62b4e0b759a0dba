"""Speaker encoder: log-mel of an utterance (any length) -> L2-normalised embedding.

ONNX interface (offline, non-streaming; run once when a speaker file is created)::

    inputs : mel [1, 80, T]   (T >= 1, dynamic)
    outputs: spk_embed [1, 192]   (unit L2 norm)

ECAPA-TDNN style: conv 80->192 (k=5) -> ReLU -> 3 residual SE blocks
(1x1 conv -> ReLU -> dilated conv k=3 (dilation 2, 3, 4) -> ReLU -> 1x1 conv ->
squeeze-excitation -> + residual) -> multi-layer feature aggregation (concat of the
three block outputs, 1x1 conv 576->384, ReLU) -> attentive statistics pooling
(attention over time conditioned on the global mean/std, weighted mean and std)
-> Linear 768->192 -> L2 normalisation.  All convolutions use symmetric "same"
zero padding (non-causal), no batch norm (keeps the op set small).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.models.layers import init_linear_

Tensor = torch.Tensor


class SEResBlock(nn.Module):
    def __init__(self, dim: int, dilation: int, se_dim: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, dim, 1)
        self.conv2 = nn.Conv1d(dim, dim, 3, dilation=dilation, padding=dilation)
        self.conv3 = nn.Conv1d(dim, dim, 1)
        self.se1 = nn.Linear(dim, se_dim)
        self.se2 = nn.Linear(se_dim, dim)
        for layer in (self.conv1, self.conv2, self.se1, self.se2):
            init_linear_(layer, gain=1.4)
        init_linear_(self.conv3, gain=0.5)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = self.conv3(h)
        s = torch.sigmoid(self.se2(F.relu(self.se1(h.mean(dim=2)))))   # [1, C]
        return x + h * s.unsqueeze(2)


class SpeakerEncoder(nn.Module):
    input_names = ("mel",)
    output_names = ("spk_embed",)
    dynamic_time_inputs = {"mel": 2}
    dynamic_time_outputs: dict[str, int] = {}

    def __init__(self, dim: int = 192, mfa_dim: int = 384, att_dim: int = 128) -> None:
        super().__init__()
        self.conv_in = nn.Conv1d(C.DIMS_MEL, dim, 5, padding=2)
        self.blocks = nn.ModuleList(SEResBlock(dim, d) for d in (2, 3, 4))
        self.mfa = nn.Conv1d(3 * dim, mfa_dim, 1)
        # attention input is cat(h, mean, std) (3*D channels); it is applied as
        # W_h h + W_g [mean; std] so the graph needs no Expand/Shape ops
        self.att1_h = nn.Conv1d(mfa_dim, att_dim, 1)
        self.att1_g = nn.Linear(2 * mfa_dim, att_dim, bias=False)
        self.att2 = nn.Conv1d(att_dim, mfa_dim, 1)
        self.proj = nn.Linear(2 * mfa_dim, C.DIMS_SPEAKER)
        init_linear_(self.conv_in, gain=0.35)
        init_linear_(self.mfa, gain=1.4)
        init_linear_(self.att1_h, gain=0.6)
        init_linear_(self.att1_g, gain=0.6)
        init_linear_(self.att2)
        init_linear_(self.proj)

    def forward(self, mel: Tensor) -> Tensor:
        x = F.relu(self.conv_in(mel))
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        h = F.relu(self.mfa(torch.cat(outs, dim=1)))                     # [1, D, T]
        mu = h.mean(dim=2)
        sd = torch.sqrt(torch.clamp((h * h).mean(dim=2) - mu * mu, min=1e-6))
        g = self.att1_g(torch.cat([mu, sd], dim=1)).unsqueeze(2)          # [1, A, 1]
        w = torch.softmax(self.att2(torch.tanh(self.att1_h(h) + g)), dim=2)   # over time
        wmu = (w * h).sum(dim=2)
        wsd = torch.sqrt(torch.clamp((w * h * h).sum(dim=2) - wmu * wmu, min=1e-6))
        e = self.proj(torch.cat([wmu, wsd], dim=1))                       # [1, 192]
        return e / torch.sqrt((e * e).sum(dim=1, keepdim=True) + 1e-12)

    def example_inputs(self, T: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        return (torch.randn(1, C.DIMS_MEL, T, generator=generator) * 2.0 - 5.0,)
