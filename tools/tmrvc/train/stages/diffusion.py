"""Converter stages: the diffusion teacher, the distilled student (ODE trajectory, DMD) and
the joint content-encoder + converter fine-tune."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc.train import teacher_net as TN
from tmrvc.frontend import warp_mel
from tmrvc.train.dataset import MEL_FLOOR, ClipStore, crop, crop_start, input_mel, stack
from tmrvc.train.trainer import Stage, load_final
from tmrvc.train.stages.common import (Tensor, trainable, frozen, run_streaming, converter_batch, _eval_rng,
                                      _eval_store, speaker_embeddings, student_stage)

EVAL_NOISE_DRAWS = 8   # noise seeds the DMD stage's evaluation averages over


# ----------------------------------------------------------------------------- converter conditioning
class _CondMixin:
    """Batches for the teacher and the student: input mel (maybe augmented) -> frozen
    content encoder; pitch of the clean clip; speaker-mean embedding; acoustic params =
    [ir_params of the input channel, voice source (zeros with prob 1-p_voice_source)];
    target = the clean log-mel.

    Cross-speaker pairs (probability ``p_cross``): the corpus is parallel, so for a clip of
    speaker v reading sentence s another training speaker r who read s is drawn; the
    content and pitch still come from v's clip, but the target is r's clean log-mel warped
    onto v's time axis by DTW (the alignment of the content targets,
    :func:`tmrvc.data.features.dtw_warp`), with r's embedding and voice source.  This is
    conversion itself as a training signal, not only reconstruction; the DTW alignments
    are computed on first use and kept in memory."""

    def _setup_cond(self) -> None:
        root = Path(self.cfg["paths"]["checkpoints"])
        corpus = self.cfg["paths"]["corpus"]
        self.content_encoder = frozen(root, "content_encoder", "content_encoder")
        self.spk = speaker_embeddings(root)
        roles = tuple(self.scfg["roles"])
        self.store = ClipStore(corpus, splits=("train",), roles=roles)
        self.eval = _eval_store(corpus, roles=roles)
        self._warped: dict[tuple[str, str, str], np.ndarray] = {}

    def _partner(self, store, c, rng):
        """Another speaker's clip of the same sentence in ``store`` (None when there is none)."""
        others = [o for o in store.by_sentence.get(c.entry["sid"], ()) if o.speaker != c.speaker]
        return others[int(rng.integers(len(others)))] if others else None

    def _warped_target(self, src, ref) -> np.ndarray:
        """``ref``'s clean log-mel on ``src``'s time axis (DTW on cepstra, cached)."""
        from tmrvc.data.features import cepstrum, dtw_warp

        key = (src.speaker, ref.speaker, src.entry["sid"])
        if key not in self._warped:
            self._warped[key] = dtw_warp(cepstrum(src.f["mel"]), cepstrum(ref.f["mel"]), ref.f["mel"])
        return self._warped[key]

    def _cond_batch(self, store, rng, n, p_aug, p_vs, p_cross=0.0, p_warp=0.0, warp=0.0):
        """A batch of ``n`` clips of ``store``.  ``content`` is the frozen encoder's output on the
        input mel; with probability ``p_warp`` per clip, ``mel`` (the input of a trainable encoder,
        :class:`JointStage`) is that input warped in frequency by a factor drawn log-uniformly from
        [1/(1+warp), 1+warp] (:func:`warp_mel`), while ``content`` stays the unwarped input's."""
        warm, frames = int(self.scfg["warm"]), int(self.scfg["frames"])
        L = warm + frames
        mels, warped, pitches, tgts, spks, acs, names = [], [], [], [], [], [], []
        for c in store.sample(rng, n):
            mel, ir = input_mel(c, rng, p_aug)
            s = crop_start(rng, c.n_frames, L)
            mels.append(crop(mel, s, L, MEL_FLOOR))
            alpha = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(warp))) if p_warp > 0 and rng.random() < p_warp else 1.0
            warped.append(warp_mel(mels[-1], alpha))
            names.append(c.speaker)
            pitches.append(crop(c.f["pitch"], s, L, 0.0))
            ref = self._partner(store, c, rng) if p_cross > 0 and rng.random() < p_cross else None
            if ref is None:
                tgts.append(crop(c.f["mel"], s, L, MEL_FLOOR))
            else:
                tgts.append(crop(self._warped_target(c, ref), s, L, MEL_FLOOR))
            tgt_clip = ref or c
            spks.append(self.spk[tgt_clip.speaker])
            vs = tgt_clip.f["voice_source"] if rng.random() < p_vs else np.zeros(C.DIMS_VOICE_SOURCE, np.float32)
            acs.append(np.concatenate([ir, vs]))
        mel = stack(mels)
        with torch.no_grad():
            content = run_streaming(self.content_encoder, mel)[0]
        return {"content": content, "pitch": stack(pitches), "spk": stack(spks), "acoustic": stack(acs),
                "target": stack(tgts), "warm": warm, "speakers": names,
                "mel": mel if all(w is m for w, m in zip(warped, mels)) else stack(warped)}

    def _train_batch(self, rng) -> dict:
        """A training batch from the stage's config (``batch``, ``p_aug``, ``p_voice_source``,
        ``p_cross``)."""
        return self._cond_batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg["p_aug"]),
                                float(self.scfg["p_voice_source"]), float(self.scfg["p_cross"]))

    def _student(self, b, content: Tensor | None = None) -> Tensor:
        """The stage's converter on batch ``b`` (zero LoRA), scored frames only; ``content``
        replaces the batch's (frozen-encoder) content features."""
        content = b["content"] if content is None else content
        lora = torch.zeros(content.shape[0], C.LORA_DELTA_SIZE)
        out = converter_batch(self.modules["converter"], content, b["spk"], b["acoustic"], b["pitch"], lora)
        return out[..., b["warm"]:]

    @staticmethod
    def _teacher_cond(b: dict) -> tuple:
        w = b["warm"]
        return (b["content"][..., w:], b["pitch"][..., w:], b["spk"], b["acoustic"])


class TeacherStage(_CondMixin, Stage):
    name = "teacher"

    def setup(self) -> None:
        self._setup_cond()
        torch.manual_seed(int(self.scfg["seed"]))
        net = TN.TeacherUNet(int(self.scfg["channels"]), tuple(self.scfg["mults"]))
        if int(self.scfg["frames"]) % net.multiple:
            raise ValueError(f"teacher frames must be a multiple of {net.multiple}")
        self.modules = {"teacher": net}

    def train_step(self, step, rng, gen):
        b = self._train_batch(rng)
        x0 = TN.to_x0(b["target"][..., b["warm"]:])
        return {"loss": TN.v_loss(self.modules["teacher"], x0, self._teacher_cond(b), gen)}

    @torch.no_grad()
    def evaluate(self):
        b = self._cond_batch(self.eval or self.store, _eval_rng(), 4, 0.0, 1.0)
        cond = self._teacher_cond(b)
        x0 = TN.to_x0(b["target"][..., b["warm"]:])
        gen = torch.Generator().manual_seed(0)
        vl = TN.v_loss(self.modules["teacher"], x0, cond, gen)
        steps = int(self.scfg["eval_ode_steps"])
        xs = TN.sample(self.modules["teacher"], cond, x0.shape, steps, torch.Generator().manual_seed(1))
        return {"loss": float(vl), "ode_l1_mel": float((TN.from_x0(xs) - b["target"][..., b["warm"]:]).abs().mean())}


class DistillStage(_CondMixin, Stage):
    """Phase A: ODE-trajectory distillation.  The teacher integrates its probability-flow
    ODE (``ode_steps`` DDIM steps) from seeded noise on the batch's conditioning; the
    causal one-step converter regresses that endpoint (L1 in log-mel) plus
    ``rec_weight`` x L1 to the real clean mel.  (The converter has no noise input, so it
    learns the teacher's ODE map averaged over noise.)  Phase B is :class:`DMDStage`."""

    name = "distill"

    def setup(self) -> None:
        self._setup_cond()
        root = Path(self.cfg["paths"]["checkpoints"])
        tcfg = self.cfg.get("stages", {}).get("teacher", {})
        self.teacher = TN.TeacherUNet(int(tcfg.get("channels", 128)), tuple(tcfg.get("mults", [1, 2, 2])))
        self.teacher.load_state_dict(load_final(root, "teacher")["models"]["teacher"])
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.modules = {"converter": trainable("converter", self.scfg["seed"])}

    def _loss(self, b, gen, steps, pred: Tensor | None = None):
        """Phase-A terms; ``pred`` is the student's output on ``b`` when the caller has it."""
        cond = self._teacher_cond(b)
        target = b["target"][..., b["warm"]:]
        with torch.no_grad():
            teach = TN.from_x0(TN.sample(self.teacher, cond, target.shape, steps, gen))
        pred = self._student(b) if pred is None else pred
        out = {"ode": (pred - teach).abs().mean(), "rec": (pred - target).abs().mean()}
        out["loss"] = out["ode"] + float(self.scfg["rec_weight"]) * out["rec"]
        return out

    def train_step(self, step, rng, gen):
        b = self._train_batch(rng)
        return self._loss(b, gen, int(self.scfg["ode_steps"]))

    @torch.no_grad()
    def evaluate(self):
        store = self.eval or self.store
        b = self._cond_batch(store, _eval_rng(), 4, 0.0, 1.0)
        out = {k: float(v) for k, v in self._loss(b, torch.Generator().manual_seed(0),
                                                  int(self.scfg["ode_steps"])).items()}
        # conversion: another speaker's DTW-aligned reading of the same sentence as the target
        x = self._cond_batch(store, _eval_rng(7), 4, 0.0, 1.0, p_cross=1.0)
        out["cross_l1"] = float((self._student(x) - x["target"][..., x["warm"]:]).abs().mean())
        return out


class _ReverseGradient(torch.autograd.Function):
    """Identity forward, negated gradient backward (domain-adversarial training, Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class SpeakerAdversary(nn.Module):
    """Training-only speaker classifier on content features ``[B, 256, T]``: a centred
    (non-causal) 5-frame convolution, a ReLU, per-frame logits averaged over time."""

    def __init__(self, n_speakers: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(C.DIMS_CONTENT, hidden, 5, padding=2), nn.ReLU(),
                                 nn.Conv1d(hidden, n_speakers, 1))

    def forward(self, content: Tensor) -> Tensor:
        return self.net(content).mean(-1)


class JointStage(_CondMixin, Stage):
    """End-to-end fine-tune of the content encoder and the converter together, from the
    distilled student (``student_stage``: distill or dmd) and the content stage's encoder: the converter's
    output regresses the clean (or, for conversion pairs, the DTW-aligned other speaker's)
    log-mel with L1, the gradient flowing into the content encoder, so that the content
    features keep what the converter needs to render the words.  ``anchor_weight`` x L1
    between the fine-tuned and the original content features keeps the representation
    close to the one it started from.

    Two options push the speaker out of the content features (issue 19): ``p_warp`` /
    ``warp`` feed the trainable encoder a frequency-warped copy of the input (another vocal
    tract and register, :func:`warp_mel`) while the converter must still render the clean
    target and the anchor is the unwarped input's features, so the features must not depend on
    the timbre; ``adv_weight`` > 0 adds a speaker classifier (:class:`SpeakerAdversary`) on the
    scored frames' features, trained to recognise the training speaker while the encoder
    receives its gradient reversed and scaled by ``adv_weight``."""

    name = "joint"

    def setup(self) -> None:
        self._setup_cond()
        root = Path(self.cfg["paths"]["checkpoints"])
        enc = trainable("content_encoder", self.scfg["seed"])
        enc.load_state_dict(load_final(root, "content_encoder")["models"]["content_encoder"])
        conv = trainable("converter", self.scfg["seed"])
        conv.load_state_dict(load_final(root, student_stage(self.cfg))["models"]["converter"])
        self.modules = {"content_encoder": enc, "converter": conv}
        self.adv_weight = float(self.scfg["adv_weight"])
        self.speakers = {s: i for i, s in enumerate(self.store.speakers)}
        if self.adv_weight > 0:
            torch.manual_seed(int(self.scfg["seed"]))
            self.modules["speaker_adversary"] = SpeakerAdversary(len(self.speakers))

    def _batch(self, store, rng, n, p_aug, p_vs, p_cross, warped: bool) -> dict:
        w = (float(self.scfg["p_warp"]), float(self.scfg["warp"])) if warped else (0.0, 0.0)
        return self._cond_batch(store, rng, n, p_aug, p_vs, p_cross, *w)

    def _loss(self, b) -> dict[str, Tensor]:
        content = run_streaming(self.modules["content_encoder"], b["mel"])[0]
        pred = self._student(b, content)
        out = {"rec": (pred - b["target"][..., b["warm"]:]).abs().mean(), "anchor": (content - b["content"]).abs().mean()}
        out["loss"] = out["rec"] + float(self.scfg["anchor_weight"]) * out["anchor"]
        if self.adv_weight > 0:
            known = [i for i, s in enumerate(b["speakers"]) if s in self.speakers]
            if known:
                feats = _ReverseGradient.apply(content[known, :, b["warm"]:])
                logits = self.modules["speaker_adversary"](feats)
                labels = torch.tensor([self.speakers[b["speakers"][i]] for i in known])
                out["adv_ce"] = F.cross_entropy(logits, labels)
                out["adv_acc"] = (logits.argmax(-1) == labels).float().mean().detach()
                out["loss"] = out["loss"] + self.adv_weight * out["adv_ce"]
        return out

    def train_step(self, step, rng, gen):
        s = self.scfg
        return self._loss(self._batch(self.store, rng, int(s["batch"]), float(s["p_aug"]),
                                      float(s["p_voice_source"]), float(s["p_cross"]), warped=True))

    @torch.no_grad()
    def evaluate(self):
        store = self.eval or self.store
        out = {k: float(v) for k, v in self._loss(self._batch(store, _eval_rng(), 4, 0.0, 1.0, 0.0, False)).items()}
        out["cross_l1"] = float(self._loss(self._batch(store, _eval_rng(7), 4, 0.0, 1.0, 1.0, False))["rec"])
        if float(self.scfg["p_warp"]) > 0:
            out["warped_rec"] = float(self._loss(self._batch(store, _eval_rng(3), 4, 0.0, 1.0, 0.0, True))["rec"])
        return out


class DMDStage(DistillStage):
    """Phase B: distribution matching distillation (DMD, Yin et al. 2024) of the phase-A
    student.  Two score networks judge the student's outputs x0 = to_x0(converter(...)): the
    frozen teacher (the "real" score) and a "fake" score network, a copy of the teacher trained
    here with the v-prediction loss on the student's (detached) outputs, so that it follows the
    student's distribution.  Per step, x0 is noised to x_t at t ~ U(t_min, t_max); both networks
    predict x0 from x_t, and the student moves along (fake - real), normalised per sample by
    mean |x0 - real|: the gradient of the KL divergence from the teacher's distribution.  It is
    applied as ``0.5 * mse(x0, stopgrad(x0 - g))`` (whose gradient is g / numel).  The phase-A
    loss (ODE endpoint + real mel) stays on as a regulariser (``reg_weight``), as DMD's
    regression loss.  The two objectives touch disjoint parameters (the score predictions in
    the student's term are taken without gradient, the fake network's loss sees a detached
    x0), so one optimiser steps both.  Starts from the distill stage's final converter."""

    name = "dmd"

    def setup(self) -> None:
        super().setup()
        root = Path(self.cfg["paths"]["checkpoints"])
        self.modules["converter"].load_state_dict(load_final(root, "distill")["models"]["converter"])
        fake = copy.deepcopy(self.teacher)
        for p in fake.parameters():
            p.requires_grad_(True)
        self.modules["fake_score"] = fake

    def _x0_predictions(self, x0: Tensor, cond: tuple, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """(t, real x0-prediction, fake x0-prediction) on x0 noised at t ~ U(t_min, t_max)."""
        lo, hi = float(self.scfg["t_min"]), float(self.scfg["t_max"])
        t = lo + (hi - lo) * torch.rand(x0.shape[0], generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        a, s = (v[:, None, None] for v in TN.alpha_sigma(t))
        x_t = a * x0 + s * eps
        with torch.no_grad():
            real = a * x_t - s * self.teacher(x_t, t, *cond)
            fake = a * x_t - s * self.modules["fake_score"](x_t, t, *cond)
        return t, real, fake

    def _dmd_terms(self, b: dict, gen: torch.Generator) -> dict[str, Tensor]:
        cond = self._teacher_cond(b)
        pred = self._student(b)
        out = self._loss(b, gen, int(self.scfg["ode_steps"]), pred)  # phase A: ode, rec, loss
        x0 = TN.to_x0(pred)
        _, real, fake = self._x0_predictions(x0.detach(), cond, gen)
        norm = (x0.detach() - real).abs().mean(dim=(1, 2), keepdim=True).clamp_min(1e-4)
        g = (fake - real) / norm
        terms = {"phase_a": out["loss"], "ode": out["ode"], "rec": out["rec"],
                 "dmd": 0.5 * F.mse_loss(x0, (x0 - g).detach()),
                 "fake_v": TN.v_loss(self.modules["fake_score"], x0.detach(), cond, gen),
                 "gap": (fake - real).abs().mean()}
        terms["loss"] = (float(self.scfg["dmd_weight"]) * terms["dmd"]
                         + float(self.scfg["reg_weight"]) * terms["phase_a"] + terms["fake_v"])
        return terms

    def train_step(self, step, rng, gen):
        b = self._train_batch(rng)
        return self._dmd_terms(b, gen)

    @torch.no_grad()
    def evaluate(self):
        """Phase-A measures (ode, rec, loss = their sum as in distill, cross_l1) plus, on the
        same held-out batch, averaged over ``EVAL_NOISE_DRAWS`` fixed noise seeds (one draw of
        4 clips moves by more than 20 smoke-test steps do), the fake network's v-loss on the student's outputs
        (``fake_v``: falls as it learns the student's distribution) and the mean score gap
        |fake - real| in x0 units (``gap``)."""
        out = super().evaluate()
        b = self._cond_batch(self.eval or self.store, _eval_rng(), 4, 0.0, 1.0)
        runs = [self._dmd_terms(b, torch.Generator().manual_seed(seed)) for seed in range(EVAL_NOISE_DRAWS)]
        out.update({k: float(np.mean([float(r[k]) for r in runs])) for k in ("fake_v", "gap", "dmd")})
        return out
