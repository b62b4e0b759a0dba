"""In-memory clip store over a corpus and its feature cache, with seeded random crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tmrvc import constants as C
from tmrvc.data.corpus import load_clip, read_manifest
from tmrvc.data.features import load_features
from tmrvc.data.rir import DRY_PARAMS

MEL_FLOOR = float(np.log(C.FRONTEND_LOG_FLOOR))
HOP = C.AUDIO_HOP_LENGTH


@dataclass
class Clip:
    entry: dict
    f: dict                      # feature arrays (see tmrvc.data.features)
    audio: np.ndarray | None     # float32 24 kHz

    @property
    def speaker(self) -> str:
        return self.entry["speaker"]

    @property
    def n_frames(self) -> int:
        return self.f["mel"].shape[1]


class ClipStore:
    def __init__(self, corpus: Path, splits=("train",), roles=("main", "aug"), audio: bool = False,
                 speakers: list[str] | None = None) -> None:
        self.corpus = Path(corpus)
        entries = [e for e in read_manifest(self.corpus) if e["split"] in splits and e["role"] in roles
                   and (speakers is None or e["speaker"] in speakers)]
        if not entries:
            raise ValueError(f"{corpus}: no clips for splits={splits} roles={roles} speakers={speakers}")
        self.clips = [Clip(e, load_features(self.corpus, e), load_clip(self.corpus, e) if audio else None)
                      for e in entries]
        self.speakers = sorted({c.speaker for c in self.clips})
        self.by_speaker = {s: [c for c in self.clips if c.speaker == s] for s in self.speakers}
        self.by_sentence: dict[str, list[Clip]] = {}
        for c in self.clips:
            self.by_sentence.setdefault(c.entry["sid"], []).append(c)

    def __len__(self) -> int:
        return len(self.clips)

    def sample(self, rng: np.random.Generator, n: int, balanced: bool = False) -> list[Clip]:
        if balanced:
            spk = rng.choice(len(self.speakers), size=n, replace=n > len(self.speakers))
            return [self.by_speaker[self.speakers[s]][rng.integers(len(self.by_speaker[self.speakers[s]]))]
                    for s in spk]
        return [self.clips[i] for i in rng.integers(len(self.clips), size=n)]


def crop_start(rng: np.random.Generator, n_frames: int, length: int) -> int:
    return int(rng.integers(0, max(0, n_frames - length) + 1))


def crop(a: np.ndarray, start: int, length: int, pad_value: float | str = 0.0) -> np.ndarray:
    """Frames [start, start+length) of a [..., T] array, padded at the end."""
    out = a[..., start:start + length]
    short = length - out.shape[-1]
    if short > 0:
        widths = [(0, 0)] * (out.ndim - 1) + [(0, short)]
        out = np.pad(out, widths, mode="edge") if pad_value == "edge" else \
            np.pad(out, widths, constant_values=pad_value)
    return out


def crop_audio(x: np.ndarray, start_sample: int, length: int) -> np.ndarray:
    """Samples [start, start+length) with zeros outside the signal (start may be negative)."""
    out = np.zeros(length, dtype=np.float32)
    lo, hi = max(0, start_sample), min(len(x), start_sample + length)
    if hi > lo:
        out[lo - start_sample:hi - start_sample] = x[lo:hi]
    return out


def input_mel(clip: Clip, rng: np.random.Generator, p_aug: float) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel [80, T], ir_params [24]): a random augmented copy with probability p_aug."""
    k = clip.f["mel_aug"].shape[0]
    if k and rng.random() < p_aug:
        i = int(rng.integers(k))
        return clip.f["mel_aug"][i], clip.f["ir_aug"][i]
    return clip.f["mel"], DRY_PARAMS


def stack(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays).astype(np.float32))
