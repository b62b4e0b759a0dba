"""The training stages (see docs/training.md for the losses and the order).

==================  ===============  =====================================================
stage               trains           needs (final.pt of)
==================  ===============  =====================================================
speaker_encoder     speaker_encoder  --
content_encoder     content_encoder  --
ir_estimator        ir_estimator     --
vocoder             vocoder          --
teacher             teacher U-Net    content_encoder, speaker_encoder (embeddings)
distill             converter        content_encoder, speaker_encoder, teacher
dmd                 converter        content_encoder, speaker_encoder, teacher, distill
joint               content_encoder  content_encoder, speaker_encoder, distill (or dmd)
                    + converter
adapt               a lora_delta     speaker_encoder, joint (or content_encoder + distill/dmd)
vocoder_gta         vocoder          speaker_encoder, joint (or content_encoder + distill/dmd), vocoder
==================  ===============  =====================================================
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tmrvc import constants as C
from tmrvc import excitation, frontend
from tmrvc.data.rir import DRY_PARAMS
from tmrvc.models import build_model
from tmrvc.train import dsp
from tmrvc.train import teacher_net as TN
from tmrvc.train.dataset import MEL_FLOOR, HOP, ClipStore, crop, crop_audio, crop_start, input_mel, stack
from tmrvc.pitch import estimate_f0, log_f0_feature
from tmrvc.train.trainer import Stage, load_final

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- helpers
def trainable(name: str, seed: int = 0) -> nn.Module:
    m = build_model(name, seed)
    for p in m.parameters():
        p.requires_grad_(True)
    return m


def frozen(ckpt_root: Path, stage: str, name: str, seed: int = 0) -> nn.Module:
    """Model ``name`` with the weights of ``stage``'s final.pt, in eval mode and frozen (as
    :func:`tmrvc.models.build_model` returns it; loading weights keeps that)."""
    m = build_model(name, seed)
    m.load_state_dict(load_final(ckpt_root, stage)["models"][name])
    return m


def run_streaming(model: nn.Module, *inputs: Tensor) -> tuple[Tensor, ...]:
    """Offline call of a streaming model on a batch from zero states (= start of stream)."""
    b = inputs[0].shape[0]
    states = [torch.zeros((b,) + tuple(s[1:])) for s in model.state_shapes()]
    n_out = len(model.output_names)
    return model(*inputs, *states)[:n_out]


def converter_batch(conv: nn.Module, content: Tensor, spk: Tensor, acoustic: Tensor, pitch: Tensor,
                    lora: Tensor) -> Tensor:
    """The converter's graph is written for batch 1 (exact ONNX interface); loop over the batch."""
    states = [torch.zeros(s) for s in conv.state_shapes()]
    outs = [conv(content[i:i + 1], spk[i:i + 1], acoustic[i:i + 1], pitch[i:i + 1], lora[i:i + 1], *states)[0]
            for i in range(content.shape[0])]
    return torch.cat(outs, 0)


def _eval_rng(seed: int = 12345) -> np.random.Generator:
    return np.random.default_rng(seed)


def _eval_store(corpus: Path, candidates=(("eval_sent", "eval_spk"), ("eval_sent",), ("train",)), **kw) -> ClipStore | None:
    """The first of ``candidates`` (tuples of splits) that has clips, or None."""
    for splits in candidates:
        try:
            return ClipStore(corpus, splits=splits, **kw)
        except ValueError:
            continue
    return None


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
        self.modules = {"speaker_encoder": trainable("speaker_encoder", self.scfg.get("seed", 0)),
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
        m, s = float(self.scfg.get("margin", 0.2)), float(self.scfg.get("scale", 30.0))
        onehot = F.one_hot(labels.clamp(min=0), cos.shape[1]).float() * (labels >= 0).float()[:, None]
        out["ce"] = F.cross_entropy(s * (cos - m * onehot), labels, ignore_index=-100) \
            if (labels >= 0).any() else cos.new_zeros(())
        loss = out["ce"]
        w = float(self.scfg.get("distill_weight", 1.0))
        if w > 0 and all("resemblyzer" in c.f for c in clips):
            r = F.normalize(torch.from_numpy(np.stack([c.f["resemblyzer"] for c in clips])), dim=1)
            mask = 1.0 - torch.eye(len(clips))
            out["sim"] = (((e @ e.t()) - (r @ r.t())) ** 2 * mask).sum() / mask.sum()
            loss = loss + w * out["sim"]
        out["loss"] = loss
        return out

    def train_step(self, step, rng, gen):
        clips, mel = self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg.get("p_aug", 0.5)))
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


def speaker_embeddings(ckpt_root: Path) -> dict[str, np.ndarray]:
    path = Path(ckpt_root) / "speaker_encoder" / "embeddings.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run the 'speaker_encoder' stage first")
    with np.load(path) as z:
        return {k[len("speaker:"):]: z[k] for k in z.files if k.startswith("speaker:")}


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
        self.whisper_weight = float(self.scfg.get("whisper_weight", 0.0))
        self.modules = {"content_encoder": trainable("content_encoder", self.scfg.get("seed", 0)),
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
        return self._loss(*self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg.get("p_aug", 0.7))))

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
        self.modules = {"ir_estimator": trainable("ir_estimator", self.scfg.get("seed", 0))}

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
        return self._loss(*self._batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg.get("p_aug", 0.85))))

    @torch.no_grad()
    def evaluate(self):
        win, tgt = self._batch(self.eval or self.store, _eval_rng(), 32, 0.85)
        pred = self.modules["ir_estimator"](win)
        err = (pred - tgt).abs().mean(0).numpy()
        return {"loss": float(F.mse_loss(pred, tgt)), "mae_rt60": float(err[:8].mean()),
                "mae_c50": float(err[8:16].mean()), "mae_snr": float(err[19]),
                "baseline_mse": float(F.mse_loss(tgt.mean(0, keepdim=True).expand_as(tgt), tgt))}


# ----------------------------------------------------------------------------- vocoder
def _clip_pitch(audio: np.ndarray) -> np.ndarray:
    """(f0 Hz, voicing) [2, T] of a whole clip with the engine's YIN (module-level: pool_map)."""
    return np.stack(estimate_f0(audio)).astype(np.float32)


def warm_start_vocoder(voc: nn.Module, path: Path) -> None:
    """Initialises the source-filter vocoder from an exported vocoder of the earlier
    magnitude/phase contract (features -> magnitude, phase; same trunk): the trunk's parameters
    are copied, the input conv's two pitch channels start at zero, and both envelope heads start
    from the old log-magnitude head, offset by the excitations' typical frame magnitudes (about
    e^3.3 for a harmonic peak, e^2.7 for noise; the noise head 1.5 lower still)."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    state = voc.state_dict()
    loaded = 0
    for key, ref in state.items():
        value = inits.get(key)
        if value is None and key.endswith(".weight") and key + "_t" in inits:
            value = inits[key + "_t"].T
        if value is None:
            continue
        value = torch.from_numpy(np.array(value, dtype=np.float32))
        if key == "conv_in.conv.weight" and value.shape[1] == C.DIMS_MEL and ref.shape[1] == C.DIMS_MEL + C.DIMS_PITCH:
            value = torch.cat([value, torch.zeros(ref.shape[0], C.DIMS_PITCH, ref.shape[2])], dim=1)
        elif key.startswith("head."):
            bins = ref.shape[0] // 2
            mag = value[:bins]
            offset = torch.tensor([-3.3] * bins + [-4.2] * bins) if key == "head.bias" else 0.0
            value = torch.cat([mag, mag]) + offset
        if value.shape != ref.shape:
            raise ValueError(f"{path}: {key} has shape {list(value.shape)}, the vocoder needs {list(ref.shape)}")
        state[key] = value
        loaded += 1
    if loaded != len(state):
        raise ValueError(f"{path}: only {loaded} of {len(state)} vocoder parameters found: not a TMRVC vocoder export")
    voc.load_state_dict(state)


def _cached_pitch(corpus: Path, entries: list[dict], audio: list[np.ndarray], jobs: int, pool_map) -> list[np.ndarray]:
    """:func:`_clip_pitch` of every clip, cached in ``<corpus>/pitch_cache.npz`` by clip path,
    length and the estimator's constants (YIN over a full corpus takes minutes); only missing
    clips are computed."""
    from tmrvc.atomic import replacing

    path = corpus / "pitch_cache.npz"
    cache = dict(np.load(path)) if path.exists() else {}
    version = f"{C.PITCH_LOWPASS_HZ}/{C.PITCH_VOICING_DMIN_WEIGHT}/{C.PITCH_VOICING_LOWBAND_WEIGHT}/{C.PITCH_VOICING_BIAS}"
    keys = [f"{e['path']}:{len(a)}:{version}" for e, a in zip(entries, audio)]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        for i, p in zip(todo, pool_map(_clip_pitch, [audio[i] for i in todo], jobs=jobs)):
            cache[keys[i]] = p
        with replacing(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **cache)
    return [cache[k] for k in keys]


class VocoderStage(Stage):
    """Source-filter vocoder on real audio: (log-mel, pitch) -> harmonic and noise envelopes
    H, N; the synthesis ``Y = H E_h + N E_n`` with the excitation of :mod:`tmrvc.excitation` at
    the clip's own YIN F0 (what the engine feeds it), the engine's iSTFT / OLA, and a
    multi-resolution STFT loss on the waveform plus a log-magnitude L1 of ``|Y|`` against the
    analysis of the target (frame placement of the synthesis).  With probability ``p_shift`` a
    crop is resampled by a factor ``2^u`` (``u`` uniform in ±``shift_octaves``), which moves its
    F0 and formants together: higher and lower voices than the corpus holds.  The crop's log-mel
    is computed from the (resampled) audio, its F0 track is the clip's scaled and re-timed."""

    name = "vocoder"

    def setup(self) -> None:
        from tmrvc.data.corpus import load_clip, read_manifest
        from tmrvc.data.parallel import pool_map

        corpus = Path(self.cfg["paths"]["corpus"])
        roles = tuple(self.scfg.get("roles", ["main", "aug"]))
        entries = [e for e in read_manifest(corpus) if e["role"] in roles]
        if not entries:
            raise ValueError(f"{corpus}: no clips with roles {roles}")
        audio = [load_clip(corpus, e) for e in entries]
        pitch = _cached_pitch(corpus, entries, audio, int(self.scfg.get("jobs", 1)), pool_map)
        clips = list(zip(entries, audio, pitch))
        self.train = [c for c in clips if c[0]["split"] == "train"]
        held = [c for c in clips if c[0]["split"] != "train"]
        self.eval = held[:: max(1, len(held) // 16)][:16] or self.train[:16]
        voc = trainable("vocoder", self.scfg.get("seed", 0))
        if self.scfg.get("init_from"):
            warm_start_vocoder(voc, Path(self.scfg["init_from"]))
        self.modules = {"vocoder": voc}

    def _item(self, clip, rng, L: int, shift: bool):
        """(log-mel [80, L], pitch features [2, L], f0 Hz [L], target audio [L*240]) of a random
        crop of ``clip``, resampled by a random factor when ``shift``."""
        from scipy.signal import resample_poly

        _, audio, f0v = clip
        alpha = 2.0 ** (rng.uniform(-1, 1) * float(self.scfg.get("shift_octaves", 0.3))) if shift else 1.0
        q = int(round(100 * alpha))
        alpha = q / 100.0                                   # y(t) = x(alpha t): F0 and formants x alpha
        need = int(np.ceil((L + 1) * HOP * alpha)) + 4 * HOP
        start = int(rng.integers(-3 * HOP, max(-3 * HOP, len(audio) - need // 2) + 1))
        seg = crop_audio(audio, start, need)
        y = (resample_poly(seg, 100, q) if q != 100 else seg).astype(np.float32)[:(L + 1) * HOP]
        y = np.pad(y, (0, (L + 1) * HOP - len(y)))
        mel = frontend.log_mel(y)[:, :L]
        t = np.arange(L)
        # the network's pitch input: YIN frame t of y, centred on its sample (t+1)*240 - 480, as the
        # engine computes it; read from the clip's track at the same instant of x
        f0, voicing = self._f0_at(f0v, start + alpha * ((t + 1) * HOP - 480), alpha, len(audio))
        feats = np.stack([log_f0_feature(f0), voicing])
        # the excitation's F0 at the end of hop t (y-sample (t+1)*240, where the generator reaches
        # it): aligned with the target audio, so the harmonics the loss compares sit where the
        # target's are (the causal estimate lags by 1.5 hops; at run time that only delays the
        # output's contour by 15 ms)
        f0_ex, _ = self._f0_at(f0v, start + alpha * (t + 1) * HOP, alpha, len(audio))
        return mel, feats.astype(np.float32), f0_ex, y[:L * HOP]

    @staticmethod
    def _f0_at(f0v: np.ndarray, x_pos: np.ndarray, alpha: float, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(F0 x alpha, voicing) of the clip's YIN track at x-sample positions: linear between
        the two nearest frame centres when both are voiced, else the nearest frame's; 0 outside
        the clip and outside the estimator's range."""
        pos = (x_pos + 480) / HOP - 1                        # fractional YIN frame index
        last = f0v.shape[1] - 1
        lo = np.clip(np.floor(pos).astype(int), 0, last)
        hi = np.clip(lo + 1, 0, last)
        w = np.clip(pos - lo, 0.0, 1.0)
        f_lo, f_hi = f0v[0, lo], f0v[0, hi]
        near = np.where(w < 0.5, lo, hi)
        f0 = np.where((f_lo > 0) & (f_hi > 0), f_lo * (1 - w) + f_hi * w, f0v[0, near]) * alpha
        inside = (x_pos > -480) & (x_pos < n_samples)
        f0 = np.where(inside & (f0 >= C.PITCH_F0_MIN_HZ) & (f0 <= C.PITCH_F0_MAX_HZ), f0, 0.0)
        return f0, np.where(f0 > 0, f0v[1, near], 0.0)

    def _batch(self, clips, rng, n: int, noise: float, p_shift: float):
        L = int(self.scfg["warm"]) + int(self.scfg["frames"])
        mels, pits, ehs, ens, auds = [], [], [], [], []
        for i in rng.integers(len(clips), size=n):
            mel, pit, f0, y = self._item(clips[i], rng, L, rng.random() < p_shift)
            if noise > 0:
                mel = mel + rng.normal(0, noise, mel.shape).astype(np.float32)
            e_h, e_n = excitation.signals(f0, noise_start=int(rng.integers(0, 2 ** 31)))
            mels.append(mel), pits.append(pit), auds.append(y)
            ehs.append(excitation.frame_spectra(e_h)), ens.append(excitation.frame_spectra(e_n))
        cplx = lambda a: torch.from_numpy(np.stack(a).astype(np.complex64))
        return stack(mels), stack(pits), cplx(ehs), cplx(ens), stack(auds)

    def _loss(self, mel, pit, e_h, e_n, aud):
        warm = int(self.scfg["warm"])
        h, n = run_streaming(self.modules["vocoder"], mel, pit)
        y = h * e_h + n * e_n
        wave = dsp.istft_complex(y)[:, warm * HOP:]
        # output block t is the input-aligned span [(t-1)H, tH): the target is the audio one hop late
        target = torch.nn.functional.pad(aud, (HOP, 0))[:, warm * HOP:aud.shape[1]]
        wave = wave[:, :target.shape[1]]
        tmag, _ = dsp.analysis(aud, mel.shape[2])
        out = {"mrstft": dsp.mrstft_loss(wave, target),
               "logmag": (torch.log(y.abs()[..., warm:] + 1e-5) - torch.log(tmag[..., warm:] + 1e-5)).abs().mean()}
        out["loss"] = out["mrstft"] + float(self.scfg.get("w_logmag", 1.0)) * out["logmag"]
        return out

    def train_step(self, step, rng, gen):
        return self._loss(*self._batch(self.train, rng, int(self.scfg["batch"]), float(self.scfg.get("mel_noise", 0.0)),
                                       float(self.scfg.get("p_shift", 0.5))))

    @torch.no_grad()
    def evaluate(self):
        out = {k: float(v) for k, v in self._loss(*self._batch(self.eval, _eval_rng(), 8, 0.0, 0.0)).items()}
        out["loss_shifted"] = float(self._loss(*self._batch(self.eval, _eval_rng(), 8, 0.0, 1.0))["loss"])
        return out

    @torch.no_grad()
    def finish(self, ckpt_dir: Path) -> dict:
        """Resynthesise one held-out clip (samples/vocoder_<clip>.wav) for listening."""
        import soundfile as sf

        entry, audio, f0v = self.eval[0]
        mel = frontend.log_mel(audio)
        f0 = f0v[0, :mel.shape[1]]
        pit = np.stack([log_f0_feature(f0), f0v[1, :mel.shape[1]]])
        h, n = run_streaming(self.modules["vocoder"], torch.from_numpy(mel)[None], stack([pit]))
        y = excitation.synthesize(h[0].double().numpy(), n[0].double().numpy(), f0)
        (ckpt_dir / "samples").mkdir(exist_ok=True)
        name = f"vocoder_{entry['speaker']}_{entry['sid']}.wav"
        sf.write(str(ckpt_dir / "samples" / name), np.clip(y, -1, 1), C.AUDIO_SAMPLE_RATE, subtype="PCM_16")
        return {"sample": f"samples/{name}"}


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
        roles = tuple(self.scfg.get("roles", ["main"]))
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

    def _cond_batch(self, store, rng, n, p_aug, p_vs, p_cross=0.0):
        warm, frames = int(self.scfg["warm"]), int(self.scfg["frames"])
        L = warm + frames
        mels, pitches, tgts, spks, acs = [], [], [], [], []
        for c in store.sample(rng, n):
            mel, ir = input_mel(c, rng, p_aug)
            s = crop_start(rng, c.n_frames, L)
            mels.append(crop(mel, s, L, MEL_FLOOR))
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
                "target": stack(tgts), "warm": warm, "mel": mel}

    def _train_batch(self, rng) -> dict:
        """A training batch from the stage's config (``batch``, ``p_aug``, ``p_voice_source``,
        ``p_cross``)."""
        return self._cond_batch(self.store, rng, int(self.scfg["batch"]), float(self.scfg.get("p_aug", 0.5)),
                                float(self.scfg.get("p_voice_source", 0.5)), float(self.scfg.get("p_cross", 0.0)))

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
        torch.manual_seed(int(self.scfg.get("seed", 0)))
        net = TN.TeacherUNet(int(self.scfg.get("channels", 128)), tuple(self.scfg.get("mults", [1, 2, 2])))
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
        steps = int(self.scfg.get("eval_ode_steps", 8))
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
        self.modules = {"converter": trainable("converter", self.scfg.get("seed", 0))}

    def _loss(self, b, gen, steps, pred: Tensor | None = None):
        """Phase-A terms; ``pred`` is the student's output on ``b`` when the caller has it."""
        cond = self._teacher_cond(b)
        target = b["target"][..., b["warm"]:]
        with torch.no_grad():
            teach = TN.from_x0(TN.sample(self.teacher, cond, target.shape, steps, gen))
        pred = self._student(b) if pred is None else pred
        out = {"ode": (pred - teach).abs().mean(), "rec": (pred - target).abs().mean()}
        out["loss"] = out["ode"] + float(self.scfg.get("rec_weight", 0.5)) * out["rec"]
        return out

    def train_step(self, step, rng, gen):
        b = self._train_batch(rng)
        return self._loss(b, gen, int(self.scfg.get("ode_steps", 8)))

    @torch.no_grad()
    def evaluate(self):
        store = self.eval or self.store
        b = self._cond_batch(store, _eval_rng(), 4, 0.0, 1.0)
        out = {k: float(v) for k, v in self._loss(b, torch.Generator().manual_seed(0),
                                                  int(self.scfg.get("ode_steps", 8))).items()}
        # conversion: another speaker's DTW-aligned reading of the same sentence as the target
        x = self._cond_batch(store, _eval_rng(7), 4, 0.0, 1.0, p_cross=1.0)
        out["cross_l1"] = float((self._student(x) - x["target"][..., x["warm"]:]).abs().mean())
        return out


class JointStage(_CondMixin, Stage):
    """End-to-end fine-tune of the content encoder and the converter together, from the
    distilled student (``student_stage``: distill or dmd) and the content stage's encoder: the converter's
    output regresses the clean (or, for conversion pairs, the DTW-aligned other speaker's)
    log-mel with L1, the gradient flowing into the content encoder, so that the content
    features keep what the converter needs to render the words.  ``anchor_weight`` x L1
    between the fine-tuned and the original content features keeps the representation
    close to the speaker-independent one it started from."""

    name = "joint"

    def setup(self) -> None:
        self._setup_cond()
        root = Path(self.cfg["paths"]["checkpoints"])
        enc = trainable("content_encoder", self.scfg.get("seed", 0))
        enc.load_state_dict(load_final(root, "content_encoder")["models"]["content_encoder"])
        conv = trainable("converter", self.scfg.get("seed", 0))
        conv.load_state_dict(load_final(root, student_stage(self.cfg))["models"]["converter"])
        self.modules = {"content_encoder": enc, "converter": conv}

    def _loss(self, b) -> dict[str, Tensor]:
        content = run_streaming(self.modules["content_encoder"], b["mel"])[0]
        pred = self._student(b, content)
        out = {"rec": (pred - b["target"][..., b["warm"]:]).abs().mean(), "anchor": (content - b["content"]).abs().mean()}
        out["loss"] = out["rec"] + float(self.scfg.get("anchor_weight", 1.0)) * out["anchor"]
        return out

    def train_step(self, step, rng, gen):
        return self._loss(self._train_batch(rng))

    @torch.no_grad()
    def evaluate(self):
        store = self.eval or self.store
        out = {k: float(v) for k, v in self._loss(self._cond_batch(store, _eval_rng(), 4, 0.0, 1.0)).items()}
        out["cross_l1"] = float(self._loss(self._cond_batch(store, _eval_rng(7), 4, 0.0, 1.0, p_cross=1.0))["rec"])
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
        lo, hi = float(self.scfg.get("t_min", 0.02)), float(self.scfg.get("t_max", 0.98))
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
        out = self._loss(b, gen, int(self.scfg.get("ode_steps", 8)), pred)  # phase A: ode, rec, loss
        x0 = TN.to_x0(pred)
        _, real, fake = self._x0_predictions(x0.detach(), cond, gen)
        norm = (x0.detach() - real).abs().mean(dim=(1, 2), keepdim=True).clamp_min(1e-4)
        g = (fake - real) / norm
        terms = {"phase_a": out["loss"], "ode": out["ode"], "rec": out["rec"],
                 "dmd": 0.5 * F.mse_loss(x0, (x0 - g).detach()),
                 "fake_v": TN.v_loss(self.modules["fake_score"], x0.detach(), cond, gen),
                 "gap": (fake - real).abs().mean()}
        terms["loss"] = (float(self.scfg.get("dmd_weight", 1.0)) * terms["dmd"]
                         + float(self.scfg.get("reg_weight", 1.0)) * terms["phase_a"] + terms["fake_v"])
        return terms

    def train_step(self, step, rng, gen):
        b = self._train_batch(rng)
        return self._dmd_terms(b, gen)

    @torch.no_grad()
    def evaluate(self):
        """Phase-A measures (ode, rec, loss = their sum as in distill, cross_l1) plus, on the
        same held-out batch at fixed seeds, the fake network's v-loss on the student's outputs
        (``fake_v``: falls as it learns the student's distribution) and the mean score gap
        |fake - real| in x0 units (``gap``)."""
        out = super().evaluate()
        b = self._cond_batch(self.eval or self.store, _eval_rng(), 4, 0.0, 1.0)
        terms = self._dmd_terms(b, torch.Generator().manual_seed(0))
        out.update({"fake_v": float(terms["fake_v"]), "gap": float(terms["gap"]), "dmd": float(terms["dmd"])})
        return out


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


# ----------------------------------------------------------------------------- vocoder on converter output
class VocoderGTAStage(VocoderStage):
    """Fine-tunes the trained vocoder on the student converter's own output ("ground-truth
    aligned" features, as in Tacotron/HiFi-GAN fine-tuning): the converter's log-mel is smoother
    than a real one.  Per batch item, with probability ``p_real`` the item is a
    :class:`VocoderStage` item (real mel, maybe resampled); otherwise the frozen content encoder
    and converter reconstruct the crop (no resampling) from its clean log-mel with the speaker's
    own mean embedding, the dry channel's ir_params, a zero voice source and zero LoRA, running
    over ``warm`` extra leading frames so the converter's state is warm where the crop starts.
    The pitch input (converter and vocoder) and the excitation are the clip's own, so the
    waveform losses apply unchanged."""

    name = "vocoder_gta"

    def setup(self) -> None:
        self.scfg = {**self.scfg, "roles": self.scfg.get("roles", ["main"])}
        super().setup()
        root = Path(self.cfg["paths"]["checkpoints"])
        self.content_encoder = frozen(root, content_encoder_stage(self.cfg), "content_encoder")
        self.converter = frozen(root, converter_stage(self.cfg), "converter")
        self.spk = speaker_embeddings(root)
        self.modules["vocoder"].load_state_dict(load_final(root, "vocoder")["models"]["vocoder"])
        self.p_real = float(self.scfg.get("p_real", 0.5))

    def _item(self, clip, rng, L: int, shift: bool):
        if rng.random() < self.p_real:
            return super()._item(clip, rng, L, shift)
        mel, pit, f0, y = super()._item(clip, rng, L + int(self.scfg["warm"]), False)
        acoustic = np.concatenate([DRY_PARAMS, np.zeros(C.DIMS_VOICE_SOURCE, np.float32)])
        with torch.no_grad():
            content = run_streaming(self.content_encoder, torch.from_numpy(mel)[None])[0]
            out = converter_batch(self.converter, content, torch.from_numpy(self.spk[clip[0]["speaker"]])[None],
                                  torch.from_numpy(acoustic)[None], torch.from_numpy(pit)[None],
                                  torch.zeros(1, C.LORA_DELTA_SIZE))
        w = int(self.scfg["warm"])
        return out[0, :, w:].numpy(), pit[:, w:], f0[w:], y[w * HOP:]

    @torch.no_grad()
    def evaluate(self):
        self.p_real, p = 0.0, self.p_real
        out = super().evaluate()
        self.p_real = 1.0
        out["loss_real_mel"] = float(self._loss(*self._batch(self.eval, _eval_rng(), 8, 0.0, 0.0))["loss"])
        self.p_real = p
        return out


class AdaptStage(Stage):
    """Few-shot adaptation: from ``utterances`` clips of a speaker no stage trained on,
    spk_embed = normalised mean speaker_encoder embedding, voice_source preset = mean
    voice descriptors, and a rank-4 K/V LoRA of the converter's cross-attention fitted
    (everything else frozen) to reconstruct those clips; writes a .tmrvc_speaker."""

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
        self.modules = {"lora": LoRADelta(torch.Generator().manual_seed(int(self.scfg.get("seed", 0))))}

    def select_clips(self) -> tuple[str, list, list]:
        """(speaker, adaptation clips, held-out clips) from the corpus: the configured speaker's
        training-sentence clips; the held-out sentences score the result."""
        full = ClipStore(self.cfg["paths"]["corpus"], splits=("train", "eval_sent", "eval_spk"))
        speaker = self.scfg.get("speaker", "auto")
        if speaker in (None, "auto"):
            cands = sorted({c.speaker for c in full.clips if c.entry["split"] == "eval_spk"}) or full.speakers
            speaker = cands[0]
        from tmrvc.data.sentences import is_eval_sentence

        clips = [c for c in full.by_speaker[speaker] if not is_eval_sentence(c.entry["sid"])]
        n = int(self.scfg.get("utterances", 10))
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

    def _batch(self, clips, rng, n):
        warm, frames = int(self.scfg["warm"]), int(self.scfg["frames"])
        L = warm + frames
        mels = []
        for i in range(n):
            c = clips[int(rng.integers(len(clips)))]
            s = crop_start(rng, c.n_frames, L)
            mels.append((crop(c.f["mel"], s, L, MEL_FLOOR), crop(c.f["pitch"], s, L, 0.0)))
        mel, pitch = stack([m for m, _ in mels]), stack([p for _, p in mels])
        with torch.no_grad():
            content = run_streaming(self.content_encoder, mel)[0]
        return content, pitch, mel

    def _loss(self, content, pitch, mel, delta):
        b = content.shape[0]
        spk = torch.from_numpy(self.spk_embed)[None].expand(b, -1)
        ac = torch.from_numpy(np.concatenate([DRY_PARAMS, self.voice_source]))[None].expand(b, -1)
        pred = converter_batch(self.converter, content, spk, ac, pitch, delta.expand(b, -1))
        w = int(self.scfg["warm"])
        return (pred[..., w:] - mel[..., w:]).abs().mean()

    def train_step(self, step, rng, gen):
        content, pitch, mel = self._batch(self.adapt_clips, rng, int(self.scfg["batch"]))
        return {"loss": self._loss(content, pitch, mel, self.modules["lora"].delta())}

    @torch.no_grad()
    def evaluate(self):
        batch = self._batch(self.held_out, _eval_rng(), 4)
        lora = self.modules["lora"].delta()
        return {"loss": float(self._loss(*batch, lora)),
                "loss_zero_delta": float(self._loss(*batch, torch.zeros_like(lora))),
                "train_loss": float(self._loss(*self._batch(self.adapt_clips, _eval_rng(), 4), lora))}

    def speaker_file_path(self) -> Path:
        out_dir = Path(self.cfg["paths"]["checkpoints"]) / "speakers"
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir / f"{self.speaker}.{C.SPEAKER_FILE_EXTENSION}"

    def finish(self, ckpt_dir: Path) -> dict:
        from tmrvc.speaker_file import SpeakerProfile

        path = self.speaker_file_path()
        delta = self.modules["lora"].delta().detach().numpy()[0].astype(np.float32)
        SpeakerProfile(self.spk_embed, delta, self.voice_source,
                       {"name": self.speaker, "created_by": self.scfg.get("created_by", "tmrvc.train adapt"),
                        "sources": [f"{c.speaker}/{c.entry['sid']}" for c in self.adapt_clips],
                        "steps": int(self.scfg["steps"])}, self.pitch_stats).write(path)
        back = SpeakerProfile.read(path)
        assert np.array_equal(back.lora_delta, delta)
        return {"speaker": self.speaker, "speaker_file": str(path), "utterances": len(self.adapt_clips),
                "lora_delta_norm": float(np.linalg.norm(delta))}


STAGES: dict[str, type[Stage]] = {
    "speaker_encoder": SpeakerStage,
    "content_encoder": ContentStage,
    "ir_estimator": IRStage,
    "vocoder": VocoderStage,
    "teacher": TeacherStage,
    "distill": DistillStage,
    "dmd": DMDStage,
    "joint": JointStage,
    "adapt": AdaptStage,
    "vocoder_gta": VocoderGTAStage,
}
STAGE_ORDER = tuple(STAGES)
# which stage's final.pt provides each exported model (the converter's: converter_stage(cfg))
EXPORT_SOURCES = {"content_encoder": "content_encoder", "converter": "distill", "vocoder": "vocoder",
                  "ir_estimator": "ir_estimator", "speaker_encoder": "speaker_encoder"}


def _steps(cfg: dict, stage: str) -> int:
    return int(cfg.get("stages", {}).get(stage, {}).get("steps", 0))


def student_stage(cfg: dict) -> str:
    """The stage whose converter is the distilled student: ``dmd`` when it is configured with
    steps > 0, else ``distill`` (the dmd stage is skipped then)."""
    return "dmd" if _steps(cfg, "dmd") > 0 else "distill"


def converter_stage(cfg: dict) -> str:
    """The stage whose converter is exported (and adapted): ``joint`` when it is configured
    with steps > 0, else :func:`student_stage`."""
    return "joint" if _steps(cfg, "joint") > 0 else student_stage(cfg)


def content_encoder_stage(cfg: dict) -> str:
    """The stage whose content encoder is exported: ``joint`` when it has steps > 0 (it
    fine-tunes the encoder with the converter), else ``content_encoder``.  The teacher and the
    distillation always use the ``content_encoder`` stage's encoder."""
    return "joint" if _steps(cfg, "joint") > 0 else "content_encoder"


def vocoder_stage(cfg: dict) -> str:
    """The stage whose vocoder is exported: ``vocoder_gta`` when it is configured with
    steps > 0 (the fine-tune on the converter's output), else ``vocoder``."""
    return "vocoder_gta" if _steps(cfg, "vocoder_gta") > 0 else "vocoder"


def export_sources(cfg: dict) -> dict[str, str]:
    """EXPORT_SOURCES with the content encoder from :func:`content_encoder_stage`, the
    converter from :func:`converter_stage` and the vocoder from :func:`vocoder_stage`."""
    return {**EXPORT_SOURCES, "content_encoder": content_encoder_stage(cfg), "converter": converter_stage(cfg),
            "vocoder": vocoder_stage(cfg)}


def summaries(ckpt_root: Path) -> dict:
    out = {}
    for s in STAGE_ORDER:
        p = Path(ckpt_root) / s / "summary.json"
        if p.exists():
            out[s] = json.loads(p.read_text())
        elif s == "adapt":              # one run per speaker (adapt.speakers)
            for q in sorted((Path(ckpt_root) / s).glob("*/summary.json")):
                out[f"{s}/{q.parent.name}"] = json.loads(q.read_text())
    return out
