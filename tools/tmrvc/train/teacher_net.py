"""Teacher: a small non-causal 1-D U-Net on log-mel, trained as a v-prediction diffusion model.

It is never exported; it only provides targets for the one-step causal converter
(:class:`tmrvc.train.stages.DistillStage`).  Conditioning is exactly the converter's:
per-frame ``content`` (from the frozen content encoder) and ``pitch``; per-utterance
``spk_embed`` and ``acoustic_params``.

Diffusion (continuous time ``t`` in [0, 1], cosine schedule): ``alpha = cos(pi t / 2)``,
``sigma = sin(pi t / 2)``, ``x_t = alpha x0 + sigma eps``, the network predicts
``v = alpha eps - sigma x0`` (loss: MSE on v).  Sampling: deterministic DDIM
(probability-flow ODE) with ``n`` uniform steps from t = 1 to 0.  ``x0`` is the
normalised log-mel ``(mel - MEL_MEAN) / MEL_SCALE``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C

MEL_MEAN, MEL_SCALE = -5.0, 2.5
Tensor = torch.Tensor


def to_x0(mel: Tensor) -> Tensor:
    return (mel - MEL_MEAN) / MEL_SCALE


def from_x0(x0: Tensor) -> Tensor:
    return x0 * MEL_SCALE + MEL_MEAN


def alpha_sigma(t: Tensor) -> tuple[Tensor, Tensor]:
    return torch.cos(0.5 * math.pi * t), torch.sin(0.5 * math.pi * t)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = (t[:, None] * 1000.0) * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb: int) -> None:
        super().__init__()
        self.n1 = nn.GroupNorm(8, c_in)
        self.c1 = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb, 2 * c_out)
        self.n2 = nn.GroupNorm(8, c_out)
        self.c2 = nn.Conv1d(c_out, c_out, 5, padding=2)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(emb).unsqueeze(2).chunk(2, dim=1)
        h = self.n2(h) * (1 + scale) + shift
        return self.skip(x) + self.c2(F.silu(h))


class TeacherUNet(nn.Module):
    def __init__(self, channels: int = 128, mults: tuple[int, ...] = (1, 2, 2), cond_ch: int = 128,
                 emb: int = 256) -> None:
        super().__init__()
        self.levels = len(mults) - 1
        self.cond_in = nn.Conv1d(C.DIMS_CONTENT + C.DIMS_PITCH, cond_ch, 1)
        self.in_conv = nn.Conv1d(C.DIMS_MEL + cond_ch, channels, 3, padding=1)
        self.t_mlp = nn.Sequential(nn.Linear(channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.g_mlp = nn.Sequential(nn.Linear(C.DIMS_SPEAKER + C.DIMS_ACOUSTIC_PARAMS, emb), nn.SiLU(),
                                   nn.Linear(emb, emb))
        self.t_dim = channels
        chs = [channels * m for m in mults]
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        c = channels
        for i, co in enumerate(chs):
            self.down.append(ResBlock(c, co, emb))
            c = co
            if i < self.levels:
                self.pool.append(nn.Conv1d(c, c, 4, stride=2, padding=1))
        self.mid = nn.ModuleList([ResBlock(c, c, emb), ResBlock(c, c, emb)])
        self.up = nn.ModuleList()
        self.unpool = nn.ModuleList()
        for i in reversed(range(len(chs))):
            self.up.append(ResBlock(c + chs[i], chs[i], emb))
            c = chs[i]
            if i > 0:
                self.unpool.append(nn.Conv1d(c, c, 3, padding=1))
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv1d(c, C.DIMS_MEL, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @property
    def multiple(self) -> int:
        return 2 ** self.levels

    def forward(self, x_t: Tensor, t: Tensor, content: Tensor, pitch: Tensor, spk_embed: Tensor,
                acoustic: Tensor) -> Tensor:
        emb = self.t_mlp(timestep_embedding(t, self.t_dim)) + self.g_mlp(torch.cat([spk_embed, acoustic], 1))
        h = self.in_conv(torch.cat([x_t, self.cond_in(torch.cat([content, pitch], 1))], 1))
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < self.levels:
                h = self.pool[i](h)
        for block in self.mid:
            h = block(h, emb)
        for j, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], 1), emb)
            if j < self.levels:
                h = self.unpool[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)


def v_loss(model: TeacherUNet, x0: Tensor, cond: tuple, gen: torch.Generator) -> Tensor:
    b = x0.shape[0]
    t = torch.rand(b, generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    a, s = (v[:, None, None] for v in alpha_sigma(t))
    x_t = a * x0 + s * eps
    v = a * eps - s * x0
    return F.mse_loss(model(x_t, t, *cond), v)


@torch.no_grad()
def sample(model: TeacherUNet, cond: tuple, shape: tuple, steps: int, gen: torch.Generator,
           noise: Tensor | None = None) -> Tensor:
    """DDIM / probability-flow ODE from pure noise; returns x0 (normalised)."""
    x = torch.randn(shape, generator=gen) if noise is None else noise
    ts = torch.linspace(1.0, 0.0, steps + 1)
    for i in range(steps):
        t, s_next = ts[i], ts[i + 1]
        a, s = alpha_sigma(t)
        v = model(x, t.expand(shape[0]), *cond)
        x0 = a * x - s * v
        eps = s * x + a * v
        a2, s2 = alpha_sigma(s_next)
        x = a2 * x0 + s2 * eps
    return x
