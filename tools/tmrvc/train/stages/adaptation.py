"""Few-shot adaptation: the rank-4 K/V LoRA delta and the adapt stage that writes a
.tmrvc_speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tmrvc import constants as C
from tmrvc import excitation
from tmrvc.data.rir import DRY_PARAMS
from tmrvc.frontend import warp_mel
from tmrvc.train.dataset import MEL_FLOOR, ClipStore, crop, crop_start, stack
from tmrvc.train.trainer import Stage
from tmrvc.train.stages.common import (Tensor, frozen, run_streaming, converter_batch, _eval_rng, converter_stage,
                                      content_encoder_stage)


# ----------------------------------------------------------------------------- few-shot LoRA
class LoRADelta(nn.Module):
    """lora_delta [1, 4096] as trainable A/B blocks (layout of docs/design/onnx-contract.md §6)."""

    def __init__(self, gen: torch.Generator) -> None:
        super().__init__()
        r, d = C.LORA_RANK, C.DIMS_ATTENTION_DIM
        self.a = nn.ParameterList([nn.Parameter(torch.randn(r, d, generator=gen) / d ** 0.5) for _ in C.LORA_TARGETS])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(d, r)) for _ in C.LORA_TARGETS])

    def delta(self) -> Tensor:
        parts = []
        for a, b in zip(self.a, self.b):
            parts += [a.reshape(-1), b.reshape(-1)]
        return torch.cat(parts)[None]


class AdaptStage(Stage):
    """Few-shot adaptation: from ``utterances`` clips of a speaker no stage trained on,
    spk_embed = normalised mean speaker_encoder embedding, voice_source preset = mean
    voice descriptors, and a rank-4 K/V LoRA of the converter's cross-attention fitted
    (everything else frozen) to reconstruct those clips; writes a .tmrvc_speaker.

    With ``p_warp`` > 0 that share of the fitting crops reaches the content encoder warped in
    frequency by a factor drawn log-uniformly from [1/(1+warp), 1+warp] (:func:`warp_mel`:
    another vocal tract and register) while the target stays the clean clip, so the LoRA learns
    to render this speaker from content that sounds like someone else's, as at conversion time,
    not only from its own."""

    name = "adapt"

    def setup(self) -> None:
        self.speaker, self.adapt_clips, self.held_out = self.select_clips()
        self.content_encoder, enc, self.converter = self.frozen_models()
        with torch.no_grad():
            e = torch.cat([enc(torch.from_numpy(c.f["mel"])[None]) for c in self.adapt_clips]).mean(0)
        self.spk_embed = (e / e.norm()).numpy().astype(np.float32)
        self.voice_source = np.mean([c.f["voice_source"] for c in self.adapt_clips], 0).astype(np.float32)
        pit = np.concatenate([c.f["pitch"] for c in self.adapt_clips], axis=1)
        self.pitch_stats = excitation.log_f0_stats(np.where(pit[1] > 0, C.PITCH_F0_REF_HZ * 2.0 ** pit[0], 0.0))
        self.modules = {"lora": LoRADelta(torch.Generator().manual_seed(int(self.scfg["seed"])))}

    def select_clips(self) -> tuple[str, list, list]:
        """(speaker, adaptation clips, held-out clips) from the corpus: the configured speaker's
        training-sentence clips; the held-out sentences score the result."""
        full = ClipStore(self.cfg["paths"]["corpus"], splits=("train", "eval_sent", "eval_spk"))
        speaker = self.scfg["speaker"]
        if speaker in (None, "auto"):
            cands = sorted({c.speaker for c in full.clips if c.entry["split"] == "eval_spk"}) or full.speakers
            speaker = cands[0]
        from tmrvc.data.sentences import is_eval_sentence

        clips = [c for c in full.by_speaker[speaker] if not is_eval_sentence(c.entry["sid"])]
        n = int(self.scfg["utterances"])
        if len(clips) < min(3, n):
            raise ValueError(f"speaker {speaker}: only {len(clips)} adaptation clips")
        held_out = [c for c in full.by_speaker[speaker] if is_eval_sentence(c.entry["sid"])] or clips[:n]
        return speaker, clips[:n], held_out

    def frozen_models(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """(content encoder, speaker encoder, converter), frozen, from the training checkpoints."""
        root = Path(self.cfg["paths"]["checkpoints"])
        return (frozen(root, content_encoder_stage(self.cfg), "content_encoder"),
                frozen(root, "speaker_encoder", "speaker_encoder"),
                frozen(root, converter_stage(self.cfg), "converter"))

    def _batch(self, clips, rng, n, p_warp: float = 0.0):
        warm, frames = int(self.scfg["warm"]), int(self.scfg["frames"])
        L, warp = warm + frames, float(self.scfg["warp"])
        mels, inputs, pitches = [], [], []
        for i in range(n):
            c = clips[int(rng.integers(len(clips)))]
            s = crop_start(rng, c.n_frames, L)
            mels.append(crop(c.f["mel"], s, L, MEL_FLOOR))
            pitches.append(crop(c.f["pitch"], s, L, 0.0))
            alpha = 1.0                 # no draw when p_warp is 0: the unwarped fit's random stream is unchanged
            if p_warp > 0 and rng.random() < p_warp:
                alpha = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(warp)))
            inputs.append(warp_mel(mels[-1], alpha))
        mel, pitch = stack(mels), stack(pitches)
        with torch.no_grad():
            content = run_streaming(self.content_encoder, stack(inputs))[0]
        return content, pitch, mel

    def _loss(self, content, pitch, mel, delta):
        b = content.shape[0]
        spk = torch.from_numpy(self.spk_embed)[None].expand(b, -1)
        ac = torch.from_numpy(np.concatenate([DRY_PARAMS, self.voice_source]))[None].expand(b, -1)
        pred = converter_batch(self.converter, content, spk, ac, pitch, delta.expand(b, -1))
        w = int(self.scfg["warm"])
        return (pred[..., w:] - mel[..., w:]).abs().mean()

    def train_step(self, step, rng, gen):
        content, pitch, mel = self._batch(self.adapt_clips, rng, int(self.scfg["batch"]), float(self.scfg["p_warp"]))
        return {"loss": self._loss(content, pitch, mel, self.modules["lora"].delta())}

    @torch.no_grad()
    def evaluate(self):
        batch = self._batch(self.held_out, _eval_rng(), 4)
        lora = self.modules["lora"].delta()
        out = {"loss": float(self._loss(*batch, lora)),
               "loss_zero_delta": float(self._loss(*batch, torch.zeros_like(lora))),
               "train_loss": float(self._loss(*self._batch(self.adapt_clips, _eval_rng(), 4), lora))}
        if float(self.scfg["warp"]) > 0:        # held-out clips through warped inputs (another voice's content)
            out["warped_loss"] = float(self._loss(*self._batch(self.held_out, _eval_rng(1), 4, 1.0), lora))
        return out

    def speaker_file_path(self) -> Path:
        out_dir = Path(self.cfg["paths"]["checkpoints"]) / "speakers"
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir / f"{self.speaker}.{C.SPEAKER_FILE_EXTENSION}"

    def finish(self, ckpt_dir: Path) -> dict:
        from tmrvc.speaker_file import SpeakerProfile

        path = self.speaker_file_path()
        delta = self.modules["lora"].delta().detach().numpy()[0].astype(np.float32)
        SpeakerProfile(self.spk_embed, delta, self.voice_source,
                       {"name": self.speaker, "created_by": self.scfg["created_by"],
                        "sources": [f"{c.speaker}/{c.entry['sid']}" for c in self.adapt_clips],
                        "steps": int(self.scfg["steps"])}, self.pitch_stats).write(path)
        back = SpeakerProfile.read(path)
        assert np.array_equal(back.lora_delta, delta)
        return {"speaker": self.speaker, "speaker_file": str(path), "utterances": len(self.adapt_clips),
                "lora_delta_norm": float(np.linalg.norm(delta))}
