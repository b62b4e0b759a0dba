"""Differentiable (torch) versions of the vocoder synthesis convention and the training losses.

* :func:`istft_ola` -- batched torch twin of :func:`tmrvc.frontend.istft_ola`
  (n_fft 480, sqrt-periodic-Hann synthesis window, hop 240, the engine's causal
  overlap-add: block t = seg_t[:240] + seg_{t-1}[240:]); tested against the numpy
  reference;
* :func:`istft_complex` -- the same synthesis from complex spectra (the source-filter
  vocoder's ``H E_h + N E_n``);
* :func:`analysis` -- torch twin of :func:`tmrvc.frontend.vocoder_analysis` (the
  vocoder's magnitude/phase targets, same frame placement);
* :func:`mrstft_loss` -- multi-resolution STFT loss (spectral convergence + log
  magnitude L1) on waveforms;
* :func:`phase_loss` -- magnitude-weighted anti-wrapping phase loss ``1 - cos(dphi)``.
"""

from __future__ import annotations

import math

import torch

from tmrvc import constants as C

N_FFT = C.VOCODER_N_FFT
HOP = C.VOCODER_HOP_LENGTH
BINS = N_FFT // 2 + 1
Tensor = torch.Tensor


def sqrt_hann(n: int = N_FFT, device=None) -> Tensor:
    m = torch.arange(n, dtype=torch.float64, device=device)
    return torch.sqrt(0.5 - 0.5 * torch.cos(2 * math.pi * m / n)).float()


_WIN = sqrt_hann()


def istft_ola(mag: Tensor, phase: Tensor) -> Tensor:
    """mag/phase ``[B, 241, T]`` -> audio ``[B, T*240]`` (the engine's causal OLA)."""
    spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))      # [B, F, T]
    seg = torch.fft.irfft(spec.transpose(1, 2), n=N_FFT, dim=-1) * _WIN         # [B, T, 480]
    first, second = seg[..., :HOP], seg[..., HOP:]
    prev = torch.cat([torch.zeros_like(second[:, :1]), second[:, :-1]], dim=1)
    return (first + prev).reshape(seg.shape[0], -1)


def istft_complex(spec: Tensor) -> Tensor:
    """Complex spectra ``[B, 241, T]`` -> audio ``[B, T*240]`` (the engine's causal OLA)."""
    seg = torch.fft.irfft(spec.transpose(1, 2), n=N_FFT, dim=-1) * _WIN           # [B, T, 480]
    first, second = seg[..., :HOP], seg[..., HOP:]
    prev = torch.cat([torch.zeros_like(second[:, :1]), second[:, :-1]], dim=1)
    return (first + prev).reshape(seg.shape[0], -1)


def analysis(audio: Tensor, n_frames: int) -> tuple[Tensor, Tensor]:
    """audio ``[B, N]`` -> (mag, phase) ``[B, 241, n_frames]``; frame t = x[t*240-240 : t*240+240]."""
    pad = torch.nn.functional.pad(audio, (N_FFT - HOP, HOP))
    frames = pad.unfold(1, N_FFT, HOP)[:, :n_frames]                           # [B, T, 480]
    spec = torch.fft.rfft(frames * _WIN, dim=-1).transpose(1, 2)
    return spec.abs(), torch.angle(spec)


def stft_mag(x: Tensor, n_fft: int, hop: int) -> Tensor:
    win = torch.hann_window(n_fft, device=x.device)
    s = torch.stft(x, n_fft, hop, window=win, return_complex=True, center=True)
    return torch.sqrt(s.real ** 2 + s.imag ** 2 + 1e-9)


RESOLUTIONS = ((128, 32), (256, 64), (512, 128), (1024, 256), (2048, 512))


def mrstft_loss(pred: Tensor, target: Tensor, resolutions=RESOLUTIONS) -> Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes."""
    total = pred.new_zeros(())
    for n_fft, hop in resolutions:
        p, t = stft_mag(pred, n_fft, hop), stft_mag(target, n_fft, hop)
        sc = torch.linalg.norm(t - p) / (torch.linalg.norm(t) + 1e-7)
        lm = (torch.log(p + 1e-5) - torch.log(t + 1e-5)).abs().mean()
        total = total + sc + lm
    return total / len(resolutions)


def _mag_weight(target_mag: Tensor) -> Tensor:
    return target_mag / (target_mag.mean(dim=(1, 2), keepdim=True) + 1e-7)


def phase_loss(phase: Tensor, target_phase: Tensor, target_mag: Tensor) -> Tensor:
    """Magnitude-weighted anti-wrapping loss on the phase itself, ``1 - cos(phase - target)``
    ([B, bins, T] tensors)."""
    return (_mag_weight(target_mag) * (1.0 - torch.cos(phase - target_phase))).mean()


def phase_derivative_loss(phase: Tensor, target_phase: Tensor, target_mag: Tensor) -> Tensor:
    """The same anti-wrapping loss on the phase's differences along frequency (group delay)
    and along time (instantaneous frequency), as in APNet (Ai and Ling, 2023): they carry the
    phase's structure (harmonics advancing coherently from frame to frame, onsets aligned
    across bins) that the absolute phase alone, hard to predict, does not teach.  Each
    difference is weighted by the smaller of the two magnitudes it joins; the two terms are
    averaged."""
    w = _mag_weight(target_mag)
    gd = 1.0 - torch.cos(torch.diff(phase, dim=1) - torch.diff(target_phase, dim=1))
    iaf = 1.0 - torch.cos(torch.diff(phase, dim=2) - torch.diff(target_phase, dim=2))
    w_f = torch.minimum(w[:, 1:], w[:, :-1])
    w_t = torch.minimum(w[..., 1:], w[..., :-1])
    return 0.5 * ((w_f * gd).mean() + (w_t * iaf).mean())
