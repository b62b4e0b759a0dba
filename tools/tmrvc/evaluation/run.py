"""Objective evaluation of exported models on held-out speakers and sentences, and on voices unlike the training data.

``python -m tmrvc.evaluation --models DIR --speakers DIR [--corpus DIR] [--doc docs/quality.md] [--unseen]``
(or ``python -m tmrvc.train evaluate --size full``, which takes the paths from the configs).

Targets are the corpus's held-out speakers (split ``eval_spk``) that have a few-shot
``.tmrvc_speaker`` file in ``--speakers``; sources are the other ``main`` voices reading the
held-out sentences (``eval_sent`` sentences, which no training stage saw).  Every conversion
runs the exported ONNX models frame by frame with their states fed back, exactly as the
engine does at q = 0 (:func:`tmrvc.reference_engine.convert`, a black box here).

Systems in the table, per (source clip, target speaker):

* ``source``         -- the unconverted source recording;
* ``pitch shift``    -- the source shifted by the mean log-F0 difference between the two
                        speakers (librosa phase vocoder + resampling), the cheap baseline;
* ``tmrvc``          -- the conversion with the target's speaker file;
* ``tmrvc, no LoRA`` -- the same with the file's lora_delta zeroed (the embedding alone);
* ``tmrvc, q = 1``  -- the conversion by the Swift engine at its largest quality setting (``tmrvc
                        convert --q 1``: lookahead, longer F0 window, more frequent room updates),
                        the release CLI ``.build/release/tmrvc`` (``TMRVC_CLI`` overrides the path);

and two reference rows per target clip: the parallel ``target`` recording itself and
``target, vocoded`` (:func:`tmrvc.reference_engine.copy_synthesis`: the clip resynthesised
through the exported vocoder, the vocoder's ceiling).

Measures: speaker similarity (Resemblyzer cosine to the target's reference embedding = mean
over its clips of the 50 written training sentences; also to the source's), WER/CER of
Whisper-base (beam 5, seeded fallback on repetition loops) transcripts against the sentence
text, mel-cepstral distortion (c1..c24 of the 80-band log-mel, DTW) against the parallel target
recording; from pYIN F0 tracks (:func:`tmrvc.evaluation.metrics.log_f0`, 10 ms frames): the voiced-frame fraction, the
voiced/unvoiced agreement with the source (frames aligned 1:1), the log-F0 correlation with the
source on frames voiced in both (invariant to the register change; repeated with the runtime's
own YIN, the measure of earlier versions), the RMSE in cents between
the output's F0 and the *expected* F0 (the source contour moved into the target's register:
log2 F0 = target mean + (source log2 F0 - source mean) x target std / source std, with each
speaker's mean and standard deviation over the voiced frames of its reference clips) on frames
voiced in both, and the output's mean log-F0 minus the target speaker's (semitones); and the
DNSMOS P.835 naturalness predictor (OVRL, SIG, BAK; :class:`tmrvc.evaluation.metrics.DNSMOS`).
For ``target, vocoded`` the F0 measures compare with the target recording it resynthesises.

``--unseen`` adds the "Unseen voices" section (:mod:`tmrvc.evaluation.unseen`): real human
recordings and a TTS engine the corpus does not use (and the corpus's never-read voices, when
it has them) converted into the same targets and into a real voice enrolled with
``python -m tmrvc.fewshot`` from five recordings; no parallel recording exists there, so no MCD,
and a clip without a shipped transcript is scored against the source clip's own Whisper
transcript.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import frontend
from tmrvc.atomic import replacing
from tmrvc.evaluation import metrics as M

ROOT = Path(__file__).resolve().parents[3]
LARGEST_Q = "tmrvc, q = 1"
# `--precisions fp32,int8` adds a row per weight storage: the Swift engine at q = 0 with `tmrvc convert
# --precision P` (set through the environment so the spawned workers see it too).
PRECISIONS_ENV = "TMRVC_EVAL_PRECISIONS"
# `--precisions-only`: convert with those rows only (and keep the `source` row), a quick A/B of storages.
PRECISIONS_ONLY_ENV = "TMRVC_EVAL_PRECISIONS_ONLY"


def precision_systems() -> tuple[str, ...]:
    names = [p for p in os.environ.get(PRECISIONS_ENV, "").split(",") if p]
    return tuple(f"tmrvc, Swift {p}" for p in names)


SYSTEMS = ("source", "pitch shift", "tmrvc", "tmrvc, no LoRA", LARGEST_Q) + precision_systems()
REFERENCES = ("target", "target, vocoded")
COLUMNS_ID = (("sim_target", "similarity to target ↑"), ("sim_source", "similarity to source ↓"),
              ("wer", "WER % ↓"), ("cer", "CER % ↓"), ("mcd", "MCD vs target (dB) ↓"))
COLUMNS_PITCH = (("f0_corr", "log-F0 corr. with source ↑"), ("f0_corr_runtime", "same, runtime YIN"),
                 ("f0_rmse_cents", "F0 RMSE vs expected (cents) ↓"),
                 ("f0_offset_st", "mean F0 − target's (st)"), ("voiced", "voiced %"),
                 ("vuv_agree", "V/UV agreement with source % ↑"), ("dnsmos_ovrl", "DNSMOS OVRL ↑"),
                 ("dnsmos_sig", "SIG ↑"), ("dnsmos_bak", "BAK ↑"))
COLUMNS = COLUMNS_ID + COLUMNS_PITCH
MEAN_KEYS = ("sim_target", "sim_source", "f0_corr", "f0_corr_runtime", "f0_rmse_cents", "f0_offset_st", "mcd", "voiced",
             "voiced_src",              "vuv_agree", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808")
PERCENT_KEYS = ("voiced", "vuv_agree")          # fractions in the rows, shown in %
F0_BANDS = ((0.0, 120.0), (120.0, 165.0), (165.0, 225.0), (225.0, float("inf")))   # source clip's median F0, Hz


class EvaluationError(RuntimeError):
    pass


@dataclasses.dataclass
class Follow:
    """The clip an output should follow (its source; for a resynthesis the original): its
    log-F0 tracks under the measuring tracker (:func:`M.log_f0`) and under the runtime's YIN,
    and the register (log2 mean, std) of its speaker."""
    log_f0: np.ndarray
    log_f0_runtime: np.ndarray
    register: tuple[float, float]

    @classmethod
    def of(cls, audio: np.ndarray, register: tuple[float, float]) -> "Follow":
        return cls(M.log_f0(audio), M.log_f0_runtime(audio), register)


@dataclasses.dataclass
class Ref:
    """A speaker's reference: mean Resemblyzer embedding and log2-F0 register (mean, std)."""
    embed: np.ndarray
    f0: tuple[float, float]


class Judge:
    """The measuring instruments (Resemblyzer, Whisper-base, DNSMOS) and :meth:`measure`."""

    def __init__(self) -> None:
        from tmrvc.speech_models import WhisperASR

        try:
            self.mos = M.DNSMOS()
        except ImportError as exc:
            raise EvaluationError(str(exc)) from None
        self.sim, self.asr = M.SpeakerSimilarity(), WhisperASR()
        self._cache: dict = {}

    def reference(self, clips: list[np.ndarray]) -> Ref:
        return Ref(self.sim.reference(clips), M.log_f0_stats([M.log_f0(c) for c in clips]))

    def transcribe(self, y: np.ndarray, key=None) -> str:
        if key is not None and ("asr", key) in self._cache:
            return self._cache[("asr", key)]
        hyp = self.asr.transcribe(y)
        if key is not None:
            self._cache[("asr", key)] = hyp
        return hyp

    def measure(self, y: np.ndarray, text: str, target: Ref, source: Ref | None = None,
                follow: Follow | None = None, parallel: np.ndarray | None = None,
                key=None) -> dict:
        """One row's measures of the output ``y``: ``text`` is the reference transcript, ``target``
        the target speaker's reference, ``source`` the source speaker's (similarity to it);
        ``follow`` describes the clip whose contour ``y`` should follow (the source clip; for a
        resynthesis the original), ``parallel`` the parallel target recording
        (MCD).  ``key`` caches the transcript and DNSMOS scores of audio measured again (a source
        clip, once per target)."""
        from tmrvc.speech_models import error_rates

        hyp = self.transcribe(y, key)
        errs = error_rates(text, hyp)
        if key is not None and ("mos", key) in self._cache:
            mos = self._cache[("mos", key)]
        else:
            mos = self.mos(y)
            if key is not None:
                self._cache[("mos", key)] = mos
        e = self.sim.embed(y)
        lf0 = M.log_f0(y)                      # the measuring tracker once per output
        row = {"sim_target": M.cosine(e, target.embed), "transcript": hyp,
               "word_errors": errs[0], "words": errs[1], "char_errors": errs[2], "chars": errs[3],
               "f0_offset_st": 12.0 * (M.mean_voiced([lf0]) - target.f0[0]), "voiced": M.voiced_fraction(lf0),
               **{f"dnsmos_{k}": v for k, v in mos.items()}}
        if source is not None:
            row["sim_source"] = M.cosine(e, source.embed)
        if follow is not None:
            src_f0 = follow.log_f0
            row["f0_corr"], row["f0_frames"] = M.f0_agreement(src_f0, lf0)
            row["f0_corr_runtime"], _ = M.f0_agreement(follow.log_f0_runtime, M.log_f0_runtime(y))
            row["vuv_agree"], row["voiced_src"] = M.vuv_agreement(src_f0, lf0), M.voiced_fraction(src_f0)
            row["f0_rmse_cents"], row["f0_rmse_frames"] = M.f0_rmse_cents(
                M.expected_log_f0(src_f0, follow.register, target.f0), lf0)
            row["src_f0_hz"] = M.median_f0_hz(src_f0)
        if parallel is not None:
            row["mcd"] = M.mcd(y, parallel)
        return row


def _select(corpus: Path, speakers_dir: Path, max_sources: int | None, max_sentences: int | None):
    from tmrvc.data.corpus import read_manifest
    from tmrvc.data.sentences import is_eval_sentence, is_extra_sentence

    if not (Path(corpus) / "manifest.jsonl").exists():
        raise EvaluationError(f"{corpus}: no manifest.jsonl (build the corpus with `python -m tmrvc.train data`)")
    manifest = [e for e in read_manifest(corpus) if e["role"] == "main"]
    if not manifest:
        raise EvaluationError(f"{corpus}: no 'main' clips in manifest.jsonl (build it with `python -m tmrvc.train data`)")
    held = sorted({e["speaker"] for e in manifest if e["split"] == "eval_spk"})
    files = {s: Path(speakers_dir) / f"{s}.{C.SPEAKER_FILE_EXTENSION}" for s in held}
    targets = [s for s in held if files[s].exists()]
    if not targets:
        raise EvaluationError(f"{speakers_dir}: no speaker file for any held-out speaker "
                              f"({', '.join(str(files[s].name) for s in held) or 'none in the corpus'})")
    sids = sorted({e["sid"] for e in manifest if is_eval_sentence(e["sid"])})[:max_sentences or None]
    if not sids:
        raise EvaluationError(f"{corpus}: no held-out sentences in the manifest")
    speakers = sorted({e["speaker"] for e in manifest})
    sources = [s for s in speakers if s not in held][:max_sources or None] + [s for s in held]
    by_key = {(e["speaker"], e["sid"]): e for e in manifest}
    # a speaker's reference = its clips of the 50 written training sentences (not the generated
    # extra ones, so the references do not depend on how many of those the corpus holds)
    train_clips = {s: [e for e in manifest if e["speaker"] == s and not is_eval_sentence(e["sid"])
                       and not is_extra_sentence(e["sid"])] for s in speakers}
    return targets, files, sources, sids, by_key, train_clips


def _check_models(models: Path) -> None:
    for name in ("content_encoder", "ir_estimator", "converter", "vocoder"):
        if not (models / f"{name}.onnx").exists():
            raise EvaluationError(f"{models / (name + '.onnx')}: missing (export the trained models first)")
    cli_path()


def _profiles(path: Path):
    """(the speaker file's profile, the same with its LoRA delta zeroed)."""
    from tmrvc.speaker_file import SpeakerProfile

    profile = SpeakerProfile.read(path)
    return profile, dataclasses.replace(profile, lora_delta=np.zeros_like(profile.lora_delta),
                                        metadata=dict(profile.metadata))


def _spectrogram_png(path: Path, panels: list[tuple[str, np.ndarray]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 1.9 * len(panels)), sharex=True)
    for ax, (title, audio) in zip(axes, panels):
        mel = frontend.log_mel(audio)
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=max(-2.0, float(mel.max())),
                  extent=(0, mel.shape[1] / 100.0, 0, mel.shape[0]))
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("mel band", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def cli_path() -> Path:
    """The release CLI the ``tmrvc, q = 1`` row runs (``$TMRVC_CLI`` or ``.build/release/tmrvc``);
    raises :class:`EvaluationError` when it is missing."""
    cli = Path(os.environ.get("TMRVC_CLI") or ROOT / ".build" / "release" / "tmrvc")
    if not cli.exists():
        raise EvaluationError(f"{cli}: no release CLI for the '{LARGEST_Q}' row (swift build -c release, or set TMRVC_CLI)")
    return cli


def convert_with_cli(audio: np.ndarray, speaker: Path, models: Path, q: float = 1.0, precision: str = "fp32") -> np.ndarray:
    """``audio`` (24 kHz) converted by ``tmrvc convert --q q --precision precision`` (noise gate off, float
    output), same length."""
    import tempfile

    import soundfile as sf

    cli = cli_path()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(src, np.asarray(audio, np.float32), C.AUDIO_SAMPLE_RATE, subtype="FLOAT")
        r = subprocess.run([str(cli), "convert", str(src), "-o", str(out), "--speaker", str(speaker),
                            "--models", str(models), "--q", str(q), "--gate", "-120", "--float", "--precision", precision],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise EvaluationError(f"{cli} convert --q {q} failed ({r.returncode}): {(r.stderr or r.stdout)[-800:]}")
        y, rate = sf.read(out, dtype="float32")
    if rate != C.AUDIO_SAMPLE_RATE or len(y) != len(audio):
        raise EvaluationError(f"{cli} convert: {rate} Hz, {len(y)} samples for a {len(audio)}-sample 24 kHz input")
    return y


def _convert_all(src: np.ndarray, shift: float, speaker: Path, profile, plain, sessions,
                 models: Path) -> dict[str, np.ndarray]:
    from tmrvc.reference_engine import convert

    systems = {
        "source": lambda: src,
        "pitch shift": lambda: M.pitch_shift(src, shift),
        "tmrvc": lambda: convert(src, profile, sessions=sessions),
        "tmrvc, no LoRA": lambda: convert(src, plain, sessions=sessions),
        LARGEST_Q: lambda: convert_with_cli(src, speaker, models),
        **{name: (lambda p=name.rsplit(" ", 1)[1]: convert_with_cli(src, speaker, models, q=0.0, precision=p))
           for name in precision_systems()}}
    if os.environ.get(PRECISIONS_ONLY_ENV):
        systems = {k: v for k, v in systems.items() if k == "source" or k in precision_systems()}
    return {name: make() for name, make in systems.items()}


# ----------------------------------------------------------------------------- corpus evaluation
def evaluate(models: Path, speakers_dir: Path, corpus: Path, out_dir: Path, max_sources: int | None = None,
             max_sentences: int | None = None, plots: bool = True, log=print, jobs: int = 1,
             only_targets: list[str] | None = None) -> dict:
    """Runs every system on every (target, source, sentence); writes ``out_dir/results.json``
    and returns it.  ``jobs`` > 1 evaluates the targets in that many worker processes (one
    target each at a time) and merges their rows; ``only_targets`` restricts the run to
    those targets (what a worker does)."""
    if jobs > 1 and only_targets is None:
        return _evaluate_parallel(models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots, log, jobs)
    from tmrvc.data.corpus import load_clip
    from tmrvc.reference_engine import copy_synthesis, load_sessions

    models, speakers_dir, corpus, out_dir = Path(models), Path(speakers_dir), Path(corpus), Path(out_dir)
    _check_models(models)
    targets, files, sources, sids, by_key, train_clips = _select(corpus, speakers_dir, max_sources, max_sentences)
    if only_targets is not None:
        targets = [t for t in targets if t in only_targets]
    t0 = time.time()
    sessions = load_sessions(models)
    judge = Judge()
    audio_cache: dict[tuple[str, str], np.ndarray] = {}

    def audio(spk: str, sid: str) -> np.ndarray:
        if (spk, sid) not in audio_cache:
            audio_cache[(spk, sid)] = load_clip(corpus, by_key[(spk, sid)])
        return audio_cache[(spk, sid)]

    refs = {s: judge.reference([load_clip(corpus, e) for e in train_clips[s]])
            for s in sorted(set(sources) | set(targets))}
    log(f"evaluate: {len(targets)} targets x {len(sources)} sources x {len(sids)} sentences; "
        f"references ready ({time.time() - t0:.0f} s)")

    rows = []
    n_done, n_total = 0, len(targets) * len(sids) * (len(sources) - 1)
    for target in targets:
        profile, plain = _profiles(files[target])
        ref = refs[target]
        for sid in sids:
            if (target, sid) not in by_key:
                continue
            tgt = audio(target, sid)
            text = by_key[(target, sid)]["text"]
            rows.append({"system": "target", "target": target, "source": None, "sid": sid,
                         **judge.measure(tgt, text, ref)})
            voc = copy_synthesis(tgt, sessions)[:len(tgt)]
            rows.append({"system": "target, vocoded", "target": target, "source": None, "sid": sid,
                         **judge.measure(voc, text, ref, follow=Follow.of(tgt, ref.f0), parallel=tgt)})
            for source in sources:
                if source == target or (source, sid) not in by_key:
                    continue
                src = audio(source, sid)
                follow = Follow.of(src, refs[source].f0)
                shift = 12.0 * (ref.f0[0] - refs[source].f0[0])
                outs = _convert_all(src, shift, files[target], profile, plain, sessions, models)
                for system, y in outs.items():
                    key = ("source", source, sid) if system == "source" else None
                    rows.append({"system": system, "target": target, "source": source, "sid": sid,
                                 **judge.measure(y, text, ref, refs[source], follow, tgt, key)})
                if plots and sid == sids[0] and source == sources[0] and "tmrvc" in outs:
                    _spectrogram_png(out_dir / f"{target}_{source}_{sid}.png",
                                     [(f"source: {source} ({sid})", src),
                                      (f"tmrvc -> {target}", outs["tmrvc"]),
                                      (f"pitch-shift baseline ({shift:+.1f} st)", outs["pitch shift"]),
                                      (f"target: {target}, same sentence", tgt)])
                n_done += 1
                if n_done % 10 == 0 or n_done == n_total:
                    log(f"  {n_done}/{n_total} conversions ({time.time() - t0:.0f} s)")
    result = _result(models, out_dir, {t: str(files[t]) for t in targets}, corpus, targets, sources, sids,
                     time.time() - t0, rows)
    if only_targets is None:
        _write_results(result, out_dir)
    return result


def _result(models, out_dir, speakers: dict, corpus, targets, sources, sids, seconds: float, rows: list[dict]) -> dict:
    return {"models": str(models), "out": str(out_dir), "speakers": speakers, "corpus": str(corpus),
            "targets": targets, "sources": sources, "sentences": sids, "seconds": round(seconds, 1),
            "summary": summarize(rows), "per_target": {t: summarize([r for r in rows if r["target"] == t])
                                                       for t in targets},
            "rows": rows}


def _write_results(result: dict, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with replacing(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1, default=float))


def _worker(args: tuple) -> dict:
    kind, kwargs, target = args
    import torch

    torch.set_num_threads(1)  # one core per worker: the workers already fill the machine
    log = lambda msg: print(f"[{target}] {msg}", flush=True)  # noqa: E731
    fn = evaluate if kind == "corpus" else evaluate_unseen
    return fn(**kwargs, log=log, only_targets=[target])


def _pool_map(tasks: list[tuple], jobs: int) -> list[dict]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(_worker, tasks))


def _evaluate_parallel(models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots, log, jobs) -> dict:
    """:func:`evaluate` with the targets spread over ``jobs`` processes; rows merged in target order."""
    targets, files, sources, sids, _, _ = _select(Path(corpus), Path(speakers_dir), max_sources, max_sentences)
    t0 = time.time()
    log(f"evaluate: {len(targets)} targets in {min(jobs, len(targets))} processes")
    kwargs = dict(models=models, speakers_dir=speakers_dir, corpus=corpus, out_dir=out_dir, max_sources=max_sources,
                  max_sentences=max_sentences, plots=plots)
    parts = _pool_map([("corpus", kwargs, t) for t in targets], jobs)
    rows = [r for part in parts for r in part["rows"]]
    result = _result(models, out_dir, {t: str(files[t]) for t in targets}, corpus, targets, sources, sids,
                     time.time() - t0, rows)
    _write_results(result, out_dir)
    return result


# ----------------------------------------------------------------------------- unseen voices
def _cache_root() -> Path:
    return Path(os.environ.get("TMRVC_CACHE") or Path.home() / ".cache" / "tmrvc")


def enroll(models: Path, wavs: list[Path], name: str, log=print) -> Path:
    """The speaker file ``python -m tmrvc.fewshot`` makes from ``wavs`` with ``models``, cached
    under ``$TMRVC_CACHE`` (``~/.cache/tmrvc``) by the bytes of the models it reads, the adapt
    configuration, the F0 estimator that sets its register statistics (``tmrvc/pitch.py`` and the
    constants) and the recordings, so a rerun on the same weights does not fit it again."""
    h = hashlib.sha1()
    for f in ([Path(models) / f"{m}.onnx" for m in ("content_encoder", "speaker_encoder", "converter")]
              + [ROOT / "configs" / "train_student.yaml", ROOT / "configs" / "constants.yaml",
                 ROOT / "tools" / "tmrvc" / "pitch.py"] + list(wavs)):
        h.update(f.name.encode())
        h.update(f.read_bytes() if f.exists() else b"missing")
    out = _cache_root() / "eval-enrolled" / h.hexdigest()[:16] / f"{name}.{C.SPEAKER_FILE_EXTENSION}"
    if out.exists():
        log(f"enrolled target {name}: cached {out}")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    cmd = [sys.executable, "-m", "tmrvc.fewshot", *map(str, wavs), "-o", str(out), "--models", str(models),
           "--name", name, "--threads", str(max(1, min(4, os.cpu_count() or 1)))]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT / "tools")
    if r.returncode != 0 or not out.exists():
        raise EvaluationError(f"few-shot enrolment of {name} failed ({r.returncode}): {(r.stderr or r.stdout)[-800:]}")
    note = [line for line in r.stdout.splitlines() if "log-mel L1" in line]
    log(f"enrolled target {name} from {len(wavs)} recordings in {time.time() - t0:.0f} s"
        + (f"; {note[-1].removeprefix('fewshot: ')}" if note else ""))
    return out


def _unseen_clips(corpus: Path, sids: list[str], max_clips: int | None):
    """(the clips evaluated, every clip per voice (the voices' references))."""
    from tmrvc.data.sentences import all_sentences
    from tmrvc.evaluation import unseen as U

    texts = dict(all_sentences())
    everything = U.human_clips() + U.pico_clips([(s, texts[s]) for s in sids]) + U.corpus_unseen_clips(corpus, sids)
    by_voice: dict[str, list] = {}
    for c in everything:
        by_voice.setdefault(c.voice, []).append(c)
    return U.round_robin(everything, max_clips), by_voice


def evaluate_unseen(models: Path, speakers_dir: Path, corpus: Path, out_dir: Path, max_clips: int | None = None,
                    max_sentences: int | None = None, plots: bool = True, log=print, jobs: int = 1,
                    only_targets: list[str] | None = None, enrolled: str | None = None) -> dict:
    """The "Unseen voices" evaluation: every installed clip of :mod:`tmrvc.evaluation.unseen`
    (at most ``max_clips``, taken in turn from each voice; the Pico and held-out corpus voices
    read the first ``max_sentences`` held-out sentences) converted into each shipped held-out
    target and into the enrolled real voice (:data:`~tmrvc.evaluation.unseen.ENROLLED_VOICE`,
    fitted from all its clips by :func:`enroll`; ``enrolled`` is that file when already made).
    Returns the section's results (also stored under ``"unseen"`` in results.json by ``main``)."""
    from tmrvc.data.corpus import load_clip
    from tmrvc.evaluation import unseen as U
    from tmrvc.reference_engine import copy_synthesis, load_sessions

    models, speakers_dir, corpus, out_dir = Path(models), Path(speakers_dir), Path(corpus), Path(out_dir)
    _check_models(models)
    t0 = time.time()
    shipped, files, _, sids, _, train_clips = _select(corpus, speakers_dir, None, max_sentences)
    clips, by_voice = _unseen_clips(corpus, sids, max_clips)
    if not clips:
        raise EvaluationError("no unseen voices installed (tools/setup.sh installs pocketsphinx-testdata, "
                              "codec2-examples and ttspico)")
    own = by_voice.get(U.ENROLLED_VOICE, [])
    enrolled_name = f"{U.ENROLLED_VOICE} (enrolled)"
    if enrolled is None and len(own) >= 3 and (only_targets is None or enrolled_name in only_targets):
        enrolled = str(enroll(models, [c.path for c in own], U.ENROLLED_VOICE, log))
    targets = {t: files[t] for t in shipped}
    if enrolled is not None and own:          # its references are its recordings
        targets[enrolled_name] = Path(enrolled)
    if jobs > 1 and only_targets is None:
        log(f"unseen: {len(targets)} targets in {min(jobs, len(targets))} processes")
        kwargs = dict(models=models, speakers_dir=speakers_dir, corpus=corpus, out_dir=out_dir, max_clips=max_clips,
                      max_sentences=max_sentences, plots=plots, enrolled=enrolled)
        parts = _pool_map([("unseen", kwargs, t) for t in targets], jobs)
        rows = [r for part in parts for r in part["rows"]]
        return _unseen_result(targets, clips, enrolled, own, time.time() - t0, rows)
    if only_targets is not None:
        targets = {t: f for t, f in targets.items() if t in only_targets}

    sessions = load_sessions(models)
    judge = Judge()
    voice_refs = {v: judge.reference([c.audio for c in cs]) for v, cs in by_voice.items()}
    target_refs = {t: (voice_refs[U.ENROLLED_VOICE] if t == enrolled_name
                       else judge.reference([load_clip(corpus, e) for e in train_clips[t]])) for t in targets}
    log(f"unseen: {len(targets)} targets x {len(clips)} clips of {len({c.voice for c in clips})} voices; "
        f"references ready ({time.time() - t0:.0f} s)")
    rows: list[dict] = []
    plotted: set[str] = set()
    for target, path in targets.items():
        profile, plain = _profiles(path)
        ref = target_refs[target]
        if target == enrolled_name:              # the enrolled voice's own recordings as references
            for c in own:
                base = {"target": target, "source": None, "clip": c.name, "voice": c.voice, "kind": c.kind,
                        "reference": "transcript"}
                rows.append({"system": "target", **base, **judge.measure(c.audio, c.text, ref, key=("clip", c.name))})
                voc = copy_synthesis(c.audio, sessions)[:len(c.audio)]
                rows.append({"system": "target, vocoded", **base,
                             **judge.measure(voc, c.text, ref, follow=Follow.of(c.audio, ref.f0))})
        for c in clips:
            if target == enrolled_name and c.voice == U.ENROLLED_VOICE:
                continue
            sref = voice_refs[c.voice]
            text = c.text if c.text is not None else judge.transcribe(c.audio, ("clip", c.name))
            follow = Follow.of(c.audio, sref.f0)
            shift = 12.0 * (ref.f0[0] - sref.f0[0])
            outs = _convert_all(c.audio, shift, path, profile, plain, sessions, models)
            for system, y in outs.items():
                key = ("clip", c.name) if system == "source" else None
                rows.append({"system": system, "target": target, "source": c.voice, "clip": c.name,
                             "voice": c.voice, "kind": c.kind,
                             "reference": "transcript" if c.text is not None else "source's ASR",
                             **judge.measure(y, text, ref, sref, follow, None, key)})
            tag = f"{target}|{c.kind}"
            first_here = not any(x.startswith(target + "|") for x in plotted)
            if plots and ((target == shipped[0] and tag not in plotted) or (target == enrolled_name and first_here)):
                plotted.add(tag)
                slug = "".join(ch if ch.isalnum() else "_" for ch in f"unseen_{target.split()[0]}_{c.name}")
                _spectrogram_png(out_dir / f"{slug}.png",
                                 [(f"source: {c.name} ({c.kind}, {c.origin})", c.audio),
                                  (f"tmrvc -> {target}", outs["tmrvc"]),
                                  (f"pitch-shift baseline ({shift:+.1f} st)", outs["pitch shift"])])
        log(f"  unseen target {target} done ({time.time() - t0:.0f} s)")
    return _unseen_result(targets, clips, enrolled, own, time.time() - t0, rows)


def _unseen_result(targets: dict, clips: list, enrolled, own: list, seconds: float, rows: list[dict]) -> dict:
    from tmrvc.evaluation.unseen import KINDS

    kinds = [k for k in KINDS if any(c.kind == k for c in clips)]
    return {"targets": list(targets), "speakers": {t: str(p) for t, p in targets.items()},
            "enrolled": None if enrolled is None else {"file": str(enrolled), "clips": [c.name for c in own]},
            "clips": [{"name": c.name, "voice": c.voice, "kind": c.kind, "origin": c.origin, "text": c.text,
                       "seconds": round(len(c.audio) / C.AUDIO_SAMPLE_RATE, 2)} for c in clips],
            "seconds": round(seconds, 1), "summary": summarize(rows),
            "per_kind": {k: summarize([r for r in rows if r.get("kind") == k and r["system"] in SYSTEMS]) for k in kinds},
            "per_target": {t: summarize([r for r in rows if r["target"] == t]) for t in targets},
            "rows": rows}


# ----------------------------------------------------------------------------- tables
def summarize(rows: list[dict]) -> dict:
    out = {}
    for system in (*SYSTEMS, *REFERENCES):
        rs = [r for r in rows if r["system"] == system]
        if not rs:
            continue
        agg = {"n": len(rs)}
        for key in MEAN_KEYS:
            v = [r[key] for r in rs if key in r and r[key] == r[key]]
            if v:
                agg[key] = float(np.mean(v))
        words = sum(r["words"] for r in rs)
        chars = sum(r["chars"] for r in rs)
        agg["wer"] = 100.0 * sum(r["word_errors"] for r in rs) / max(1, words)
        agg["cer"] = 100.0 * sum(r["char_errors"] for r in rs) / max(1, chars)
        out[system] = agg
    return out


def wer_by_f0_band(rows: list[dict]) -> str:
    """Markdown table: WER of each system by the source clip's median F0 (:data:`F0_BANDS`,
    measuring tracker), so a loss of words on high or low voices shows."""
    def band_name(lo, hi):
        return f"< {hi:.0f} Hz" if lo == 0 else f"≥ {lo:.0f} Hz" if hi == float("inf") else f"{lo:.0f}–{hi:.0f} Hz"

    lines = ["| source's median F0 | clips | " + " | ".join(f"WER % {s}" for s in SYSTEMS) + " |",
             "|" + "---|" * (len(SYSTEMS) + 2)]
    for lo, hi in F0_BANDS:
        here = [r for r in rows if r["system"] in SYSTEMS and lo <= r.get("src_f0_hz", float("nan")) < hi]
        if not here:
            continue
        cells = []
        for system in SYSTEMS:
            rs = [r for r in here if r["system"] == system]
            cells.append(f"{100.0 * sum(r['word_errors'] for r in rs) / max(1, sum(r['words'] for r in rs)):.1f}"
                         if rs else "–")
        n = sum(r["system"] == "source" for r in here)
        lines.append(f"| {band_name(lo, hi)} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(key: str, v) -> str:
    if v is None or v != v:
        return "–"
    if key in ("wer", "cer"):
        return f"{v:.1f}"
    if key in PERCENT_KEYS:
        return f"{100 * v:.1f}"
    if key == "f0_offset_st":
        return f"{v:+.1f}"
    if key == "f0_rmse_cents":
        return f"{v:.0f}"
    if key.startswith(("sim", "f0_corr")):
        return f"{v:.3f}"
    return f"{v:.2f}"


def table(summary: dict, columns=COLUMNS) -> str:
    head = "| system | n | " + " | ".join(title for _, title in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 2)]
    for system, agg in summary.items():
        lines.append(f"| {system} | {agg['n']} | " + " | ".join(_cell(k, agg.get(k)) for k, _ in columns) + " |")
    return "\n".join(lines)


def tables(summary: dict) -> list[str]:
    """The two markdown tables of a summary: identity and intelligibility; pitch and naturalness."""
    return ["Identity and intelligibility:", "", table(summary, COLUMNS_ID), "",
            "Pitch and naturalness:", "", table(summary, COLUMNS_PITCH), ""]


def target_checks(summary: dict) -> list[tuple[str, str, float | None, bool | None, str]]:
    """The issue's targets measured on one summary: [(measure, bar, value, met (None: not
    measured), how the value reads)]."""
    s = summary.get("source", {})
    t = summary.get("tmrvc", {})
    n = summary.get("tmrvc, no LoRA", {})
    nan = float("nan")

    def ok(v, cond):
        return None if v is None or v != v else bool(cond(v))

    corr = t.get("f0_corr", nan)
    vr = t.get("voiced", nan) / s["voiced"] - 1.0 if s.get("voiced") else nan
    vuv = t.get("vuv_agree", nan)
    dwer = t["wer"] - s["wer"] if "wer" in t and "wer" in s else nan
    sim, sim0 = t.get("sim_target", nan), n.get("sim_target", nan)
    dmos = t.get("dnsmos_ovrl", nan) - s.get("dnsmos_ovrl", nan)
    return [
        ("log-F0 correlation with the source", "≥ 0.85", corr, ok(corr, lambda v: v >= 0.85), f"{corr:.3f}"),
        ("voiced fraction, converted vs source", "within ±15 %", vr, ok(vr, lambda v: abs(v) <= 0.15),
         f"{100 * vr:+.1f} % ({100 * t.get('voiced', nan):.1f} % vs {100 * s.get('voiced', nan):.1f} %)"),
        ("V/UV agreement with the source", "≥ 90 %", vuv, ok(vuv, lambda v: v >= 0.90), f"{100 * vuv:.1f} %"),
        ("WER, converted − source", "≤ +3 points", dwer, ok(dwer, lambda v: v <= 3.0),
         f"{dwer:+.1f} ({t.get('wer', nan):.1f} % vs {s.get('wer', nan):.1f} %)"),
        ("similarity to target", "≥ 0.80 and > no LoRA", sim,
         None if sim != sim else bool(sim >= 0.80 and (sim0 != sim0 or sim > sim0)), f"{sim:.3f} (no LoRA {sim0:.3f})"),
        ("DNSMOS OVRL, converted − source", "≥ −0.3", dmos, ok(dmos, lambda v: v >= -0.3),
         f"{dmos:+.2f} ({t.get('dnsmos_ovrl', nan):.2f} vs {s.get('dnsmos_ovrl', nan):.2f})"),
    ]


def targets_table(summary: dict, unseen_summary: dict | None = None) -> str:
    """The compact table of the issue's targets: measured value and met / missed, on the
    held-out TTS speakers and (when measured) on the unseen voices."""
    word = {True: "**met**", False: "missed", None: "–"}
    a = target_checks(summary)
    b = target_checks(unseen_summary) if unseen_summary else None
    head = "| target | bar | held-out TTS speakers | met? |" + (" unseen voices | met? |" if b else "")
    lines = [head, "|---|---|---|---|" + ("---|---|" if b else "")]
    for i, (name, bar, _, met, text) in enumerate(a):
        cells = f"| {name} | {bar} | {text} | {word[met]} |"
        if b:
            cells += f" {b[i][4]} | {word[b[i][3]]} |"
        lines.append(cells)
    return "\n".join(lines)


def rerun_command(args: list[str]) -> str:
    """The shell command that reruns this evaluation as it was started: the working directory
    (relative to the repository) and the interpreter (the repository's venv when it is one) included,
    so the relative paths among ``args`` resolve the same way; absolute paths inside the repository
    become relative ones, so the command works in any clone."""
    import os

    cwd = Path.cwd().resolve()
    python = Path(sys.executable)
    py = (os.path.relpath(python, cwd) if python.is_relative_to(ROOT) else "python")
    in_repo = cwd.is_relative_to(ROOT)
    cd = f"cd {cwd.relative_to(ROOT)} && " if in_repo and cwd != ROOT else ""
    args = [os.path.relpath(x, cwd) if in_repo and Path(x).is_absolute() and Path(x).is_relative_to(ROOT) else x
            for x in args]
    return f"{cd}{py} -m tmrvc.evaluation {' '.join(args)}".rstrip()



def _unseen_doc(u: dict, rel, out_dir: Path) -> list[str]:
    from tmrvc.evaluation import unseen as U

    voices: dict[str, list[dict]] = {}
    for c in u["clips"]:
        voices.setdefault(c["voice"], []).append(c)
    lines = [
        "## Unseen voices",
        "",
        f"Computed by the same command with `--unseen` ({u['seconds']:.0f} s); what the voices are: "
        "`tools/tmrvc/evaluation/unseen.py`. No parallel recordings exist here, so there is no MCD; a clip "
        "whose package ships no transcript is scored against the Whisper transcript of the source clip itself "
        "(its `source` row then has WER 0 by construction).",
        "",
        "| voice | kind | from | clips | seconds | transcript |",
        "|---|---|---|---|---|---|",
    ]
    for v, cs in voices.items():
        lines.append(f"| {v} | {cs[0]['kind']} | {cs[0]['origin']} | {len(cs)} | {sum(c['seconds'] for c in cs):.1f} | "
                     + ("known" if all(c["text"] for c in cs) else "none (source's ASR)" if not any(c["text"] for c in cs)
                        else "partly") + " |")
    lines.append("")
    targets = ", ".join(u["targets"])
    enr = u.get("enrolled")
    lines += [f"* targets: {targets}"]
    if enr:
        lines += [f"* enrolled target: `python -m tmrvc.fewshot` on the {len(enr['clips'])} recordings of "
                  f"{U.ENROLLED_VOICE} ({', '.join(enr['clips'])}; the last one held out of the fit), with these "
                  "models; its `target` rows are those recordings, `target, vocoded` their copy synthesis; "
                  "its reference (similarity, register) is the mean over the same recordings, and it is "
                  "not converted into itself"]
    lines += ["", "### All unseen voices, all targets", "", *tables(u["summary"]),
              "WER by the source clip's median F0:", "", wer_by_f0_band(u["rows"]), ""]
    for k, summ in u["per_kind"].items():
        lines += [f"### Sources: {k}", "", *tables(summ)]
    for t, summ in u["per_target"].items():
        lines += [f"### Target {t}", "", *tables(summ)]
    pngs = sorted(out_dir.glob("unseen_*.png"))
    if pngs:
        lines += ["### Spectrograms (log-mel): unseen source, conversion, pitch-shift baseline", ""]
        for png in pngs:
            lines += [f"![{png.stem}]({_doc_link(png, rel)})", ""]
    return lines


def _doc_link(png: Path, rel) -> str:
    r = rel(png)
    return str(Path(r).relative_to("docs")) if str(r).startswith("docs") else str(r)


def write_doc(result: dict, doc: Path, command: str) -> None:
    """The measured tables as markdown (docs/quality.md is this file, regenerated), led by the
    issue's targets, met or missed."""
    doc = Path(doc)
    rel = lambda p: Path(p).resolve().relative_to(ROOT) if Path(p).resolve().is_relative_to(ROOT) else Path(p)  # noqa: E731
    out_dir = Path(result["out"])
    u = result.get("unseen")
    lines = [
        "# Conversion quality (measured)",
        "",
        f"Generated by `{command}` ({result['seconds'] + (u['seconds'] if u else 0):.0f} s on this machine); do not "
        "edit by hand: rerun the command. What the systems and measures are: `tools/tmrvc/evaluation/run.py`; how "
        "the models were trained and what limits them: docs/training.md.",
        "",
        "## Targets",
        "",
        "The conversion (`tmrvc`) against the issue's bars, on the means over all targets"
        + (" (the unseen voices: every source there into every target, the enrolled real voice included)" if u else "")
        + ". Voiced fraction, V/UV agreement and log-F0 correlation compare each output with its source clip frame "
        "by frame; WER and DNSMOS compare with the unconverted `source` rows of the same clips.",
        "",
        targets_table(result["summary"], u["summary"] if u else None),
        "",
        f"* models: `{rel(result['models'])}`; target speaker files: "
        + ", ".join(f"`{rel(v)}`" for v in result["speakers"].values()),
        f"* targets (held-out speakers, few-shot adapted): {', '.join(result['targets'])}",
        f"* sources: {', '.join(result['sources'])} (the other held-out speaker is a source too)",
        f"* sentences: the {len(result['sentences'])} held-out sentences {result['sentences'][0]}..{result['sentences'][-1]}",
        "* conversion: the exported ONNX models streamed frame by frame with state feedback, as the engine "
        "runs them at q = 0 (`tmrvc.reference_engine.convert`); `tmrvc, q = 1`: the Swift engine at its largest "
        "quality setting (`tmrvc convert --q 1`: 6 hops of lookahead, 80 ms latency at 24 kHz, a longer F0 window, more frequent room "
        "updates; noise gate off); `target, vocoded`: the target recording through the vocoder alone (`copy_synthesis`)",
        "* similarity: Resemblyzer cosine to the speaker's reference (mean embedding of its clips of the 50 "
        "written training sentences); WER/CER: Whisper-base transcripts (beam 5; a repetition loop, gzip ratio > 2.4, "
        "is decoded again at rising temperature with a seeded sampler), numbers spelled out; MCD: c1..c24 of the "
        "80-band log-mel, DTW-aligned to the parallel target recording",
        "* pitch (librosa's pYIN on the audio at 16 kHz, 10 ms frames, aligned 1:1 with the source; the `same, "
        "runtime YIN` column repeats the correlation with the engine's own estimator, the measure of earlier "
        "versions of this page, which a contour-keeping pitch shift already scores low on): voiced % of the output's frames "
        "(the `source` row: the source's); V/UV agreement: frames whose voiced/unvoiced decision matches the "
        "source's; log-F0 correlation on frames voiced in both; F0 RMSE in cents against the expected contour, "
        "the source's log-F0 moved into the target's register (target mean + (source − source mean) × target std / "
        "source std, the speakers' voiced-frame statistics over their reference clips), on frames voiced in both; "
        "for `target, vocoded` the comparison is with the target recording itself",
        "* naturalness: DNSMOS P.835 (PyPI `speechmos`, offline ONNX models, audio resampled to 16 kHz): OVRL, "
        "SIG, BAK predicted on 1..5",
        "",
        "## All targets",
        "",
        *tables(result["summary"]),
        "WER by the source clip's median F0 (all targets):",
        "",
        wer_by_f0_band(result["rows"]),
        "",
    ]
    for t, summ in result["per_target"].items():
        lines += [f"## Target {t}", "", *tables(summ)]
    pngs = sorted(p for p in out_dir.glob("*.png") if not p.name.startswith("unseen_"))
    if pngs:
        lines += ["## Spectrograms (log-mel): source, conversion, pitch-shift baseline, target", ""]
        for png in pngs:
            lines += [f"![{png.stem}]({_doc_link(png, rel)})", ""]
    if u:
        lines += _unseen_doc(u, rel, out_dir)
    with replacing(doc) as tmp:
        tmp.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tmrvc.evaluation", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=ROOT / "weights", help="folder with the exported ONNX models")
    p.add_argument("--speakers", type=Path, default=ROOT / "weights" / "speakers",
                   help="folder with <held-out speaker>.tmrvc_speaker files")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "quality", help="results.json and PNG plots")
    p.add_argument("--max-sources", type=int, help="use only the first N training voices as sources")
    p.add_argument("--max-sentences", type=int, help="use only the first N held-out sentences (also for the "
                                                     "unseen TTS voices)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--doc", type=Path, help="also write the tables as markdown here (docs/quality.md)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes, one target each (default 1)")
    p.add_argument("--unseen", action="store_true",
                   help="also evaluate voices unlike the training data: real recordings and a TTS engine the corpus "
                        "does not use, into the targets and into an enrolled real voice (tmrvc.evaluation.unseen)")
    p.add_argument("--max-unseen", type=int, help="with --unseen: at most N unseen clips, taken in turn from each voice")
    p.add_argument("--precisions", default="", help="also rows 'tmrvc, Swift P' for these weight storages (comma "
                                                    "separated fp32, fp16, int8): the Swift engine at q = 0")
    p.add_argument("--precisions-only", action="store_true",
                   help="with --precisions: only those rows and the source (an A/B of weight storages)")
    a = p.parse_args(argv)
    bad = [x for x in a.precisions.split(",") if x and x not in ("fp32", "fp16", "int8")]
    if bad:
        p.error(f"--precisions: unknown {', '.join(bad)} (fp32, fp16, int8)")
    global SYSTEMS
    if a.precisions_only and not a.precisions:
        p.error("--precisions-only needs --precisions")
    if a.precisions_only and a.doc:
        p.error("--precisions-only leaves out the rows docs/quality.md needs; use it without --doc")
    os.environ[PRECISIONS_ENV] = a.precisions
    os.environ[PRECISIONS_ONLY_ENV] = "1" if a.precisions_only else ""
    SYSTEMS = SYSTEMS[:5] + precision_systems()
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    if a.max_unseen is not None and not a.unseen:
        p.error("--max-unseen needs --unseen")
    try:
        r = evaluate(a.models, a.speakers, a.corpus, a.out, a.max_sources, a.max_sentences, not a.no_plots,
                     jobs=a.jobs)
        print("\n".join(tables(r["summary"])))
        if a.unseen:
            r["unseen"] = evaluate_unseen(a.models, a.speakers, a.corpus, a.out, a.max_unseen, a.max_sentences,
                                          not a.no_plots, jobs=a.jobs)
            _write_results(r, a.out)
            print("unseen voices:\n" + "\n".join(tables(r["unseen"]["summary"])))
    except (EvaluationError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(targets_table(r["summary"], r.get("unseen", {}).get("summary")))
    print(f"wrote {a.out / 'results.json'} ({r['seconds'] + r.get('unseen', {}).get('seconds', 0):.0f} s)")
    if a.doc:
        write_doc(r, a.doc, rerun_command(argv if argv is not None else sys.argv[1:]))
        print(f"wrote {a.doc}")
    return 0
