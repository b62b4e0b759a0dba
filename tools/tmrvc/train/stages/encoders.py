"""Encoder stages: speaker encoder, content encoder, IR estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.train.dataset import MEL_FLOOR, ClipStore, crop, crop_start, input_mel, stack
from tmrvc.train.trainer import Stage
from tmrvc.train.stages.common import Tensor, trainable, run_streaming, _eval_rng, _eval_store


# ----------------------------------------------------------------------------- speaker encoder
class CosineHead(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, C.DIMS_SPEAKER) * 0.1)

    def forward(self, e: Tensor) -> Tensor:
        return F.normalize(e, dim=1) @ F.normalize(self.weight, dim=1).t()


class SpeakerStage(Stage):
    """Speaker classification (additive-margin cosine softmax over the training voices)
    plus, when Resemblyzer d-vectors are cached, distillation of the teacher's pairwise
    cosine-similarity matrix (dimension-free, so 256-d teacher -> 192-d student)."""

    name = "speaker_encoder"

    def setup(self) -> None:
        corpus = self.cfg["paths"]["corpus"]
        self.store = ClipStore(corpus, splits=("train",))
        self.eval = _eval_store(corpus)
        self.modules = {"speaker_encoder": trainable("speaker_encoder", self.scfg["seed"]),
                        "head": CosineHead(len(self.store.speakers))}
        self.spk_index = {s: i for i, s in enumerate(self.store.speakers)}

    def _batch(self, store: ClipStore, rng, n: int, p_aug: float):
        clips = store.sample(rng, n, balanced=True)
        frames = int(self.scfg["frames"])
        mels = []
        for c in clips:
            mel, _ = input_mel(c, rng, p_aug)
            mels.append(crop(mel, crop_start(rng, c.n_frames, frames), frames, MEL_FLOOR))
        return clips, stack(mels)

    def _loss(self, clips, mel) -> dict[str, Tensor]:
        enc, head = self.modules["speaker_encoder"], self.modules["head"]
        e = torch.cat([enc(mel[i:i + 1]) for i in range(mel.shape[0])], 0)
        out = {}
        labels = torch.tensor([self.spk_index.get(c.speaker, -100) for c in clips])
        cos = head(e)
        m, s = float(self.scfg["margin"]), float(self.scfg["scale"])
        onehot = F.one_hot(labels.clamp(min=0), cos.shape[1]).float() * (labels >= 0).float()[:, None]
        out["ce"] = F.cross_entropy(s * (cos - m * onehot), labels, ignore_index=-100) \
            if (labels >= 0).any() else cos.new_zeros(())
        loss = out["ce"]
        w = float(self.scfg["distill_weight"])
        if w > 0 and all("resemblyzer" in c.f for c in clips):
            r = F.normalize(torch.from_numpy(np.stack([c.f["resemblyzer"] for c in clips])), dim=1)
            mask = 1.0 - torch.eye(len(clips))
            out["sim"] = (((e @ e.t()) - (r @ r.t())) ** 2 * mask).sum() / mask.sum()
            loss = loss + w * out["sim"]
        out["loss"] = loss
        return out

    def train_step(self, step, rng, gen):
        clips, mel = self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg["p_aug"]))
        return self._loss(clips, mel)

    @torch.no_grad()
    def _embed_all(self, store: ClipStore) -> dict[str, np.ndarray]:
        enc = self.modules["speaker_encoder"]
        return {f"{c.speaker}/{c.entry['sid']}": enc(torch.from_numpy(c.f["mel"])[None])[0].numpy()
                for c in store.clips}

    @staticmethod
    def separation(emb: dict[str, np.ndarray]) -> dict[str, float]:
        keys = sorted(emb)
        if len(keys) < 2:
            return {}
        e = np.stack([emb[k] for k in keys])
        spk = np.array([k.split("/")[0] for k in keys])
        sim = e @ e.T
        same = (spk[:, None] == spk[None]) & ~np.eye(len(keys), dtype=bool)
        diff = spk[:, None] != spk[None]
        out = {}
        if same.any() and diff.any():
            out["cos_same"] = float(sim[same].mean())
            out["cos_diff"] = float(sim[diff].mean())
            out["separation"] = out["cos_same"] - out["cos_diff"]
        return out

    @torch.no_grad()
    def evaluate(self):
        rng = _eval_rng()
        store = self.eval or self.store
        clips, mel = self._batch(store, rng, max(4, int(self.scfg["batch"])), 0.0)
        res = {k: float(v) for k, v in self._loss(clips, mel).items()}
        res.update(self.separation(self._embed_all(store)))
        return res

    def finish(self, ckpt_dir: Path) -> dict:
        """Embeddings of every clip (all splits) -> embeddings.npz (per clip and per speaker mean)."""
        full = ClipStore(self.cfg["paths"]["corpus"], splits=("train", "eval_sent", "eval_spk"))
        emb = self._embed_all(full)
        per_spk: dict[str, list] = {}
        for k, v in emb.items():
            per_spk.setdefault(k.split("/")[0], []).append(v)
        means = {f"speaker:{s}": (np.mean(v, 0) / np.linalg.norm(np.mean(v, 0))).astype(np.float32)
                 for s, v in per_spk.items()}
        np.savez(ckpt_dir / "embeddings.npz", **{f"clip:{k}": v for k, v in emb.items()}, **means)
        eval_spk = {k: v for k, v in emb.items() if k.split("/")[0] in
                    {c.speaker for c in full.clips if c.entry["split"] == "eval_spk"}}
        return {"eval_spk_separation": self.separation(eval_spk)}


# ----------------------------------------------------------------------------- content encoder
class ContentStage(Stage):
    """Causal content encoder + training-only 1x1 heads: one (256 -> 80) regresses the
    speaker-averaged, DTW-aligned reference log-mel (``content_target``); with
    ``whisper_weight`` > 0 a second (256 -> 512) regresses the standardised Whisper-base
    encoder features (``whisper``, :mod:`tmrvc.data.whisper_content`), a sharper phonetic
    target.  Inputs are clean or channel-augmented mels, so the features also learn to
    ignore the room."""

    name = "content_encoder"

    def setup(self) -> None:
        corpus = self.cfg["paths"]["corpus"]
        self.store = ClipStore(corpus, splits=("train",))
        self.eval = _eval_store(corpus)
        self.whisper_weight = float(self.scfg["whisper_weight"])
        self.modules = {"content_encoder": trainable("content_encoder", self.scfg["seed"]),
                        "head": nn.Conv1d(C.DIMS_CONTENT, C.DIMS_MEL, 1)}
        if self.whisper_weight > 0:
            from tmrvc.data import whisper_content as wc

            missing = [c.entry["path"] for c in self.store.clips if wc.KEY not in c.f]
            if missing:
                raise RuntimeError(f"content_encoder.whisper_weight > 0 but {len(missing)} clips have no cached "
                                   f"Whisper features (first: {missing[0]}); set data.whisper: true and rerun "
                                   f"`python -m tmrvc.train data`")
            self.whisper_key = wc.KEY
            self.whisper_norm = wc.standardisation(c.f for c in self.store.clips)
            self.modules["whisper_head"] = nn.Conv1d(C.DIMS_CONTENT, wc.DIMS, 1)

    def _batch(self, store, rng, n, p_aug):
        warm, frames = int(self.scfg["warm"]), int(self.scfg["frames"])
        mels, tgts, whs = [], [], []
        for c in store.sample(rng, n):
            mel, _ = input_mel(c, rng, p_aug)
            s = crop_start(rng, c.n_frames, warm + frames)
            mels.append(crop(mel, s, warm + frames, MEL_FLOOR))
            tgts.append(crop(c.f["content_target"], s, warm + frames, "edge")[:, warm:])
            if self.whisper_weight > 0:
                w = crop(c.f[self.whisper_key], s, warm + frames, "edge")[:, warm:].astype(np.float32)
                whs.append((w - self.whisper_norm[0]) / self.whisper_norm[1])
        return stack(mels), stack(tgts), (stack(whs) if whs else None)

    def _loss(self, mel, tgt, wh):
        warm = int(self.scfg["warm"])
        content = run_streaming(self.modules["content_encoder"], mel)[0][..., warm:]
        out = {"mel_l1": (self.modules["head"](content) - tgt).abs().mean()}
        if wh is not None:
            out["whisper_l1"] = (self.modules["whisper_head"](content) - wh).abs().mean()
            out["loss"] = out["mel_l1"] + self.whisper_weight * out["whisper_l1"]
        else:
            out["loss"] = out.pop("mel_l1")
        return out

    def train_step(self, step, rng, gen):
        return self._loss(*self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg["p_aug"])))

    @torch.no_grad()
    def evaluate(self):
        out = {k: float(v) for k, v in self._loss(*self._batch(self.eval or self.store, _eval_rng(), 8, 0.0)).items()}
        out["loss_aug"] = float(self._loss(*self._batch(self.eval or self.store, _eval_rng(1), 8, 1.0))["loss"])
        return out


# ----------------------------------------------------------------------------- ir estimator
class IRStage(Stage):
    """ir_estimator regression (MSE) on 50-frame windows of channel-augmented mels to the
    24 measured channel parameters (clean clips -> DRY_PARAMS)."""

    name = "ir_estimator"

    def setup(self) -> None:
        corpus = self.cfg["paths"]["corpus"]
        self.store = ClipStore(corpus, splits=("train",))
        self.eval = _eval_store(corpus)
        self.modules = {"ir_estimator": trainable("ir_estimator", self.scfg["seed"])}

    def _batch(self, store, rng, n, p_aug):
        w = C.STREAMING_IR_WINDOW_FRAMES
        wins, tgts = [], []
        for c in store.sample(rng, n):
            mel, params = input_mel(c, rng, p_aug)
            padded = np.concatenate([np.full((C.DIMS_MEL, w - 1), MEL_FLOOR, np.float32), mel], axis=1)
            end = int(rng.integers(min(w // 2, c.n_frames - 1), c.n_frames))   # window ends at frame `end`
            wins.append(padded[:, end:end + w])
            tgts.append(params)
        return stack(wins), stack(tgts)

    def _loss(self, win, tgt):
        return {"loss": F.mse_loss(self.modules["ir_estimator"](win), tgt)}

    def train_step(self, step, rng, gen):
        return self._loss(*self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg["p_aug"])))

    @torch.no_grad()
    def evaluate(self):
        win, tgt = self._batch(self.eval or self.store, _eval_rng(), 32, 0.85)
        pred = self.modules["ir_estimator"](win)
        err = (pred - tgt).abs().mean(0).numpy()
        return {"loss": float(F.mse_loss(pred, tgt)), "mae_rt60": float(err[:8].mean()),
                "mae_c50": float(err[8:16].mean()), "mae_snr": float(err[19]),
                "baseline_mse": float(F.mse_loss(tgt.mean(0, keepdim=True).expand_as(tgt), tgt))}
