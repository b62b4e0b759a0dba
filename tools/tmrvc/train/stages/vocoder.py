"""Vocoder stages: the source-filter vocoder on real audio and its fine-tune on the
converter's output (GTA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tmrvc import constants as C
from tmrvc import excitation, frontend
from tmrvc.data.rir import DRY_PARAMS
from tmrvc.train import dsp
from tmrvc.train.dataset import HOP, crop_audio, stack
from tmrvc.pitch import estimate_f0, estimator_version, log_f0_feature
from tmrvc.train.trainer import Stage, load_final
from tmrvc.train.stages.common import (trainable, frozen, run_streaming, converter_batch, _eval_rng,
                                      speaker_embeddings, converter_stage, content_encoder_stage)


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
    length and :func:`tmrvc.pitch.estimator_version` (YIN over a full corpus takes minutes); only
    missing clips are computed."""
    from tmrvc.atomic import replacing

    path = corpus / "pitch_cache.npz"
    cache = dict(np.load(path)) if path.exists() else {}
    version = estimator_version()
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
        roles = tuple(self.scfg["roles"])
        entries = [e for e in read_manifest(corpus) if e["role"] in roles]
        if not entries:
            raise ValueError(f"{corpus}: no clips with roles {roles}")
        audio = [load_clip(corpus, e) for e in entries]
        pitch = _cached_pitch(corpus, entries, audio, int(self.scfg["jobs"]), pool_map)
        clips = list(zip(entries, audio, pitch))
        self.train = [c for c in clips if c[0]["split"] == "train"]
        held = [c for c in clips if c[0]["split"] != "train"]
        self.eval = held[:: max(1, len(held) // 16)][:16] or self.train[:16]
        voc = trainable("vocoder", self.scfg["seed"])
        if self.scfg["init_from"]:
            warm_start_vocoder(voc, Path(self.scfg["init_from"]))
        self.modules = {"vocoder": voc}

    def _item(self, clip, rng, L: int, shift: bool):
        """(log-mel [80, L], pitch features [2, L], f0 Hz [L], target audio [L*240]) of a random
        crop of ``clip``, resampled by a random factor when ``shift``."""
        from scipy.signal import resample_poly

        _, audio, f0v = clip
        alpha = 2.0 ** (rng.uniform(-1, 1) * float(self.scfg["shift_octaves"])) if shift else 1.0
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
            e_h, e_n = excitation.excitation_spectra(f0, noise_start=int(rng.integers(0, 2 ** 31)))
            mels.append(mel), pits.append(pit), auds.append(y), ehs.append(e_h), ens.append(e_n)
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
        out["loss"] = out["mrstft"] + float(self.scfg["w_logmag"]) * out["logmag"]
        return out

    def train_step(self, step, rng, gen):
        return self._loss(*self._batch(self.train, rng, int(self.scfg["batch"]), float(self.scfg["mel_noise"]),
                                       float(self.scfg["p_shift"])))

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
        super().setup()
        root = Path(self.cfg["paths"]["checkpoints"])
        self.content_encoder = frozen(root, content_encoder_stage(self.cfg), "content_encoder")
        self.converter = frozen(root, converter_stage(self.cfg), "converter")
        self.spk = speaker_embeddings(root)
        self.modules["vocoder"].load_state_dict(load_final(root, "vocoder")["models"]["vocoder"])
        self.p_real = float(self.scfg["p_real"])

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
