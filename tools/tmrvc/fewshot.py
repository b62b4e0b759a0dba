"""Few-shot speaker adaptation from your own recordings, with the shipped (or any exported) models.

Usage (from ``tools/``, with the venv of ``tools/setup.sh``)::

    python -m tmrvc.fewshot me1.wav me2.wav me3.wav ... -o me.tmrvc_speaker [--models ../weights]

From 3 to 20 utterances of one speaker (any sample rate, mono or multi-channel; silence at the
ends is trimmed and each clip peak-normalised exactly like the training corpus) it computes the
speaker embedding with ``speaker_encoder.onnx``, the voice-source preset from the clips'
descriptors, and fits the rank-4 LoRA delta of the converter's cross-attention K/V
(everything else frozen) so that the converter reconstructs the clips: the same procedure as
the ``adapt`` training stage, which made the shipped speaker files, but with the weights read
back from the exported ONNX files (:mod:`tmrvc.models.from_onnx`) instead of the training
checkpoints, so it works from a fresh clone.  Steps, batch and learning rate default to the
``adapt`` stage of ``configs/train_student.yaml`` (``--size full``).

With 4 or more clips the last one is held out of the fit and reported: the converter's L1
reconstruction error of its log-mel with a zero delta (the embedding alone) and with the fitted
delta.  The file is written atomically (docs/design/speaker-file.md); nothing is written when
any input is unusable.  ``tmrvc enroll`` (Swift) makes the embedding-only file without Python.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc.speaker_file import SpeakerFileError, SpeakerProfile

ROOT = Path(__file__).resolve().parents[2]
MIN_UTTERANCES = 3
MIN_SECONDS = 1.0


class FewShotError(ValueError):
    """An input that cannot be used for adaptation; the message names the file."""


def load_utterance(path: Path) -> np.ndarray:
    """A recording as the corpus builder prepares clips (24 kHz mono, trimmed, peak-normalised)."""
    import soundfile as sf

    from tmrvc.data.corpus import prepare_audio

    if not path.is_file():
        raise FewShotError(f"{path}: no such file")
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors: truncated or not audio
        raise FewShotError(f"{path}: not a readable audio file ({exc})") from None
    if audio.shape[0] == 0:
        raise FewShotError(f"{path}: no samples")
    if not np.all(np.isfinite(audio)):
        raise FewShotError(f"{path}: contains NaN or infinite samples")
    mono = audio.mean(axis=1)
    if float(np.abs(mono).max()) < 1e-4:
        raise FewShotError(f"{path}: silent (peak below -80 dBFS)")
    clip = prepare_audio(mono, int(sr))
    seconds = len(clip) / C.AUDIO_SAMPLE_RATE
    if seconds < MIN_SECONDS:
        raise FewShotError(f"{path}: {seconds:.2f} s of speech after trimming silence; "
                           f"at least {MIN_SECONDS:.1f} s per utterance is needed")
    return clip


def utterance_clip(path: Path, speaker: str):
    """A :class:`tmrvc.train.dataset.Clip` with the features the adaptation reads."""
    from tmrvc.data.features import clean_features
    from tmrvc.train.dataset import Clip

    return Clip({"speaker": speaker, "sid": path.name}, clean_features(load_utterance(path)), None)


def adapt(wavs: list[Path], out: Path, models: Path = ROOT / "weights", name: str | None = None,
          overrides: list[str] | None = None, log=print) -> dict:
    """Fits a speaker file from ``wavs``; returns the stage summary (losses, paths)."""
    from tmrvc.models.from_onnx import load_from_onnx
    from tmrvc.train.config import load_config, stage_config
    from tmrvc.train.stages import AdaptStage
    from tmrvc.train.trainer import run_stage

    wavs, out, models = [Path(w) for w in wavs], Path(out), Path(models)
    if len(wavs) < MIN_UTTERANCES:
        raise FewShotError(f"{len(wavs)} utterance(s) given; few-shot adaptation needs at least {MIN_UTTERANCES}")
    if len({w.resolve() for w in wavs}) != len(wavs):
        raise FewShotError("the same file is given twice")
    if not out.parent.is_dir():
        raise FewShotError(f"{out}: folder {out.parent} does not exist")
    needed = ("content_encoder", "speaker_encoder", "converter")
    for m in needed:
        if not (models / f"{m}.onnx").is_file():
            raise FewShotError(f"{models / (m + '.onnx')}: missing (the exported models' folder is --models)")
    speaker = name or out.name.split(".")[0]
    clips = [utterance_clip(w, speaker) for w in wavs]
    log(f"fewshot: {len(clips)} utterances of {speaker!r}, "
        f"{sum(c.n_frames for c in clips) / 100:.1f} s of speech after trimming")
    cfg = load_config("full", overrides=overrides)
    scfg = {**stage_config(cfg, "adapt"), "created_by": "tmrvc.fewshot"}
    onnx_models = tuple(load_from_onnx(m, models / f"{m}.onnx") for m in needed)
    fit, held = (clips[:-1], clips[-1:]) if len(clips) >= 4 else (clips, clips)

    class UtteranceAdaptation(AdaptStage):
        def select_clips(self):
            return speaker, fit, held

        def frozen_models(self):
            return onnx_models

        def speaker_file_path(self) -> Path:
            return out

    with tempfile.TemporaryDirectory(prefix="tmrvc-fewshot-") as work:
        summary = run_stage(UtteranceAdaptation(cfg, scfg), Path(work), log=log)
    held_note = f"held-out clip {held[0].entry['sid']}" if held is not fit else "the fitted clips (none held out)"
    before, after = summary["eval_before"]["loss_zero_delta"], summary["eval_after"]["loss"]
    log(f"fewshot: log-mel L1 on {held_note}: {before:.3f} with the embedding alone -> {after:.3f} with the LoRA")
    log(f"wrote {out}")
    return summary


def add_pitch_statistics(wavs: list[Path], out: Path, log=print) -> tuple[float, float]:
    """Rewrites speaker file ``out`` with the target register (log2-F0 mean and std of the voiced
    frames, the engine's YIN) of ``wavs``; every other field stays as it was."""
    from tmrvc.excitation import log_f0_stats
    from tmrvc.pitch import estimate_f0

    profile = SpeakerProfile.read(out)
    f0 = np.concatenate([estimate_f0(load_utterance(Path(w)))[0] for w in wavs])
    try:
        profile.pitch_stats = log_f0_stats(f0)
    except ValueError as exc:
        raise FewShotError(f"{', '.join(str(w) for w in wavs)}: {exc}") from exc
    profile.write(out)
    log(f"{out}: target register log2(f0/{C.PITCH_F0_REF_HZ:g}) mean {profile.pitch_stats[0]:+.3f} "
        f"({C.PITCH_F0_REF_HZ * 2 ** profile.pitch_stats[0]:.0f} Hz), std {profile.pitch_stats[1]:.3f} octaves")
    return profile.pitch_stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tmrvc.fewshot", description=__doc__.split("\n\n")[0])
    p.add_argument("wavs", nargs="+", type=Path, help=f"{MIN_UTTERANCES} to 20 recordings of one speaker")
    p.add_argument("-o", "--out", type=Path, required=True, help="the .tmrvc_speaker file to write")
    p.add_argument("--models", type=Path, default=ROOT / "weights", help="folder with the exported ONNX models")
    p.add_argument("--name", help="speaker name stored in the file (default: the output file's stem)")
    p.add_argument("--steps", type=int, help="LoRA fitting steps (default: the adapt stage's, 300)")
    p.add_argument("--seed", type=int, help="seed of the LoRA initialisation and the crops (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--pitch-only", action="store_true",
                   help="only (re)write the pitch statistics of the existing speaker file -o from the recordings "
                        "(embedding, LoRA delta and preset unchanged; e.g. to upgrade a version-1 file)")
    a = p.parse_args(argv)
    if a.pitch_only:
        try:
            add_pitch_statistics(a.wavs, a.out)
        except (FewShotError, SpeakerFileError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if a.steps is not None and a.steps < 1:
        p.error("--steps must be at least 1")
    import torch

    from tmrvc.models.from_onnx import OnnxWeightsError

    torch.set_num_threads(max(1, a.threads))
    overrides = [f"stages.adapt.{k}={v}" for k, v in (("steps", a.steps), ("seed", a.seed)) if v is not None]
    try:
        adapt(a.wavs, a.out, a.models, a.name, overrides)
    except (FewShotError, OnnxWeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
