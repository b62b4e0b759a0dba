"""Objective evaluation of exported models on held-out speakers and sentences.

``python -m tmrvc.evaluation --models DIR --speakers DIR [--corpus DIR] [--doc docs/quality.md]``
(or ``python -m tmrvc.train evaluate --size full``, which takes the paths from the configs).

Targets are the corpus's held-out speakers (split ``eval_spk``) that have a few-shot
``.tmrvc_speaker`` file in ``--speakers``; sources are the other ``main`` voices reading the
held-out sentences (``eval_sent`` sentences, which no training stage saw).  Every conversion
runs the exported ONNX models frame by frame with their states fed back, exactly as the
engine does at q = 0 (:func:`tmrvc.reference_engine.convert`).

Systems in the table, per (source clip, target speaker):

* ``source``         -- the unconverted source recording;
* ``pitch shift``    -- the source shifted by the mean log-F0 difference between the two
                        speakers (librosa phase vocoder + resampling), the cheap baseline;
* ``tmrvc``          -- the conversion with the target's speaker file;
* ``tmrvc, no LoRA`` -- the same with the file's lora_delta zeroed (the embedding alone);

and two reference rows per target clip: the parallel ``target`` recording itself and
``target, vocoded`` (its log-mel through the exported vocoder: the vocoder's ceiling).

Measures: speaker similarity (Resemblyzer cosine to the target's reference embedding = mean
over its clips of the 50 written training sentences; also to the source's), WER/CER of Whisper-base (beam 5, seeded fallback on repetition loops)
transcripts against the sentence text, F0 correlation with the source (log F0 on frames
voiced in both; invariant to the mean shift), the output's mean log-F0 minus the target
speaker's (semitones), and mel-cepstral distortion (c1..c24 of the 80-band log-mel, DTW)
against the parallel target recording.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import frontend
from tmrvc.atomic import replacing
from tmrvc.evaluation import metrics as M

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS = ("source", "pitch shift", "tmrvc", "tmrvc, no LoRA")
REFERENCES = ("target", "target, vocoded")
COLUMNS = (("sim_target", "similarity to target ↑"), ("sim_source", "similarity to source ↓"),
           ("wer", "WER % ↓"), ("cer", "CER % ↓"), ("f0_corr", "F0 corr. with source ↑"),
           ("f0_offset_st", "mean F0 − target's (st)"), ("mcd", "MCD vs target (dB) ↓"))


class EvaluationError(RuntimeError):
    pass


def _select(corpus: Path, speakers_dir: Path, max_sources: int | None, max_sentences: int | None):
    from tmrvc.data.corpus import read_manifest
    from tmrvc.data.sentences import is_eval_sentence, is_extra_sentence

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
    from tmrvc.evaluation.asr import WhisperASR, error_rates
    from tmrvc.reference_engine import convert, load_sessions, vocode
    from tmrvc.speaker_file import SpeakerProfile

    models, speakers_dir, corpus, out_dir = Path(models), Path(speakers_dir), Path(corpus), Path(out_dir)
    for name in ("content_encoder", "ir_estimator", "converter", "vocoder"):
        if not (models / f"{name}.onnx").exists():
            raise EvaluationError(f"{models / (name + '.onnx')}: missing (export the trained models first)")
    targets, files, sources, sids, by_key, train_clips = _select(corpus, speakers_dir, max_sources, max_sentences)
    if only_targets is not None:
        targets = [t for t in targets if t in only_targets]
    t0 = time.time()
    sessions = load_sessions(models)
    sim, asr = M.SpeakerSimilarity(), WhisperASR()
    audio_cache: dict[tuple[str, str], np.ndarray] = {}

    def audio(spk: str, sid: str) -> np.ndarray:
        if (spk, sid) not in audio_cache:
            audio_cache[(spk, sid)] = load_clip(corpus, by_key[(spk, sid)])
        return audio_cache[(spk, sid)]

    speakers = sorted(set(sources) | set(targets))
    ref_embed, ref_f0 = {}, {}
    for s in speakers:
        clips = [load_clip(corpus, e) for e in train_clips[s]]
        ref_embed[s], ref_f0[s] = sim.reference(clips), M.mean_log_f0(clips)
    log(f"evaluate: {len(targets)} targets x {len(sources)} sources x {len(sids)} sentences; "
        f"references ready ({time.time() - t0:.0f} s)")
    transcripts: dict[int, tuple[str, tuple]] = {}

    def measure(y: np.ndarray, src_f0: np.ndarray | None, tgt: np.ndarray | None, text: str,
                target: str, source: str | None, key=None) -> dict:
        if key is not None and key in transcripts:
            hyp, errs = transcripts[key]
        else:
            hyp = asr.transcribe(y)
            errs = error_rates(text, hyp)
            if key is not None:
                transcripts[key] = (hyp, errs)
        e = sim.embed(y)
        lf0 = M.log_f0(y)                      # YIN once per output
        row = {"sim_target": M.cosine(e, ref_embed[target]), "transcript": hyp,
               "word_errors": errs[0], "words": errs[1], "char_errors": errs[2], "chars": errs[3],
               "f0_offset_st": 12.0 * (M.mean_voiced([lf0]) - ref_f0[target])}
        if source is not None:
            row["sim_source"] = M.cosine(e, ref_embed[source])
        if src_f0 is not None:
            row["f0_corr"], row["f0_frames"] = M.f0_agreement(src_f0, lf0)
        if tgt is not None:
            row["mcd"] = M.mcd(y, tgt)
        return row

    rows = []
    n_done, n_total = 0, len(targets) * len(sids) * (len(sources) - 1)
    for target in targets:
        profile = SpeakerProfile.read(files[target])
        plain = SpeakerProfile(profile.embedding, np.zeros_like(profile.lora_delta), profile.voice_source_preset,
                               dict(profile.metadata))
        for sid in sids:
            if (target, sid) not in by_key:
                continue
            tgt = audio(target, sid)
            text = by_key[(target, sid)]["text"]
            rows.append({"system": "target", "target": target, "source": None, "sid": sid,
                         **measure(tgt, None, None, text, target, None)})
            voc = vocode(frontend.log_mel(tgt), sessions)[:len(tgt)]
            rows.append({"system": "target, vocoded", "target": target, "source": None, "sid": sid,
                         **measure(voc, None, tgt, text, target, None)})
            for source in sources:
                if source == target or (source, sid) not in by_key:
                    continue
                src = audio(source, sid)
                src_f0 = M.log_f0(src)
                shift = 12.0 * (ref_f0[target] - ref_f0[source])
                outs = {"source": src, "pitch shift": M.pitch_shift(src, shift),
                        "tmrvc": convert(src, profile, sessions=sessions),
                        "tmrvc, no LoRA": convert(src, plain, sessions=sessions)}
                for system, y in outs.items():
                    key = ("source", source, sid) if system == "source" else None
                    rows.append({"system": system, "target": target, "source": source, "sid": sid,
                                 **measure(y, src_f0, tgt, text, target, source, key)})
                if plots and sid == sids[0] and source == sources[0]:
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
    models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots, target = args
    import torch

    torch.set_num_threads(1)  # one core per worker: the workers already fill the machine
    return evaluate(models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots,
                    log=lambda msg: print(f"[{target}] {msg}", flush=True), only_targets=[target])


def _evaluate_parallel(models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots, log, jobs) -> dict:
    """:func:`evaluate` with the targets spread over ``jobs`` processes; rows merged in target order."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    targets, files, sources, sids, _, _ = _select(Path(corpus), Path(speakers_dir), max_sources, max_sentences)
    t0 = time.time()
    log(f"evaluate: {len(targets)} targets in {min(jobs, len(targets))} processes")
    with ProcessPoolExecutor(min(jobs, len(targets)), mp_context=mp.get_context("spawn")) as pool:
        parts = list(pool.map(_worker, [(models, speakers_dir, corpus, out_dir, max_sources, max_sentences, plots, t)
                                        for t in targets]))
    rows = [r for part in parts for r in part["rows"]]
    result = _result(models, out_dir, {t: str(files[t]) for t in targets}, corpus, targets, sources, sids,
                     time.time() - t0, rows)
    _write_results(result, out_dir)
    return result


def summarize(rows: list[dict]) -> dict:
    out = {}
    for system in (*SYSTEMS, *REFERENCES):
        rs = [r for r in rows if r["system"] == system]
        if not rs:
            continue
        agg = {"n": len(rs)}
        for key in ("sim_target", "sim_source", "f0_corr", "f0_offset_st", "mcd"):
            v = [r[key] for r in rs if key in r and r[key] == r[key]]
            if v:
                agg[key] = float(np.mean(v))
        words = sum(r["words"] for r in rs)
        chars = sum(r["chars"] for r in rs)
        agg["wer"] = 100.0 * sum(r["word_errors"] for r in rs) / max(1, words)
        agg["cer"] = 100.0 * sum(r["char_errors"] for r in rs) / max(1, chars)
        out[system] = agg
    return out


def table(summary: dict) -> str:
    head = "| system | n | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for system, agg in summary.items():
        cells = []
        for key, _ in COLUMNS:
            v = agg.get(key)
            cells.append("–" if v is None else (f"{v:.1f}" if key in ("wer", "cer") else
                                                f"{v:+.1f}" if key == "f0_offset_st" else f"{v:.3f}"
                                                if key.startswith(("sim", "f0")) else f"{v:.2f}"))
        lines.append(f"| {system} | {agg['n']} | " + " | ".join(cells) + " |")
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


def write_doc(result: dict, doc: Path, command: str) -> None:
    """The measured tables as markdown (docs/quality.md is this file, regenerated)."""
    doc = Path(doc)
    rel = lambda p: Path(p).resolve().relative_to(ROOT) if Path(p).resolve().is_relative_to(ROOT) else Path(p)
    out_dir = Path(result["out"])
    lines = [
        "# Conversion quality (measured)",
        "",
        f"Generated by `{command}` ({result['seconds']:.0f} s on this machine); do not edit by hand: "
        "rerun the command. What the systems and measures are: `tools/tmrvc/evaluation/run.py`; how the "
        "models were trained and what limits them: docs/training.md.",
        "",
        f"* models: `{rel(result['models'])}`; target speaker files: "
        + ", ".join(f"`{rel(v)}`" for v in result["speakers"].values()),
        f"* targets (held-out speakers, few-shot adapted): {', '.join(result['targets'])}",
        f"* sources: {', '.join(result['sources'])} (the other held-out speaker is a source too)",
        f"* sentences: the {len(result['sentences'])} held-out sentences {result['sentences'][0]}..{result['sentences'][-1]}",
        "* conversion: the exported ONNX models streamed frame by frame with state feedback, as the engine "
        "runs them at q = 0 (`tmrvc.reference_engine.convert`)",
        "* similarity: Resemblyzer cosine to the speaker's reference (mean embedding of its clips of the 50 "
        "written training sentences); WER/CER: Whisper-base transcripts (beam 5; a repetition loop, gzip ratio > 2.4, is decoded again at rising temperature with a seeded sampler), numbers spelled out; F0: the runtime's YIN, log-F0 "
        "correlation on frames voiced in both; MCD: c1..c24 of the 80-band log-mel, DTW-aligned to the "
        "parallel target recording",
        "",
        "## All targets",
        "",
        table(result["summary"]),
        "",
    ]
    for t, summ in result["per_target"].items():
        lines += [f"## Target {t}", "", table(summ), ""]
    pngs = sorted(out_dir.glob("*.png"))
    if pngs:
        lines += ["## Spectrograms (log-mel): source, conversion, pitch-shift baseline, target", ""]
        for png in pngs:
            lines += [f"![{png.stem}]({Path(rel(png)).relative_to('docs') if str(rel(png)).startswith('docs') else rel(png)})", ""]
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
    p.add_argument("--max-sentences", type=int, help="use only the first N held-out sentences")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--doc", type=Path, help="also write the tables as markdown here (docs/quality.md)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes, one target each (default 1)")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    try:
        r = evaluate(a.models, a.speakers, a.corpus, a.out, a.max_sources, a.max_sentences, not a.no_plots,
                     jobs=a.jobs)
    except (EvaluationError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(r["summary"]))
    print(f"wrote {a.out / 'results.json'} ({r['seconds']:.0f} s)")
    if a.doc:
        write_doc(r, a.doc, rerun_command(argv if argv is not None else sys.argv[1:]))
        print(f"wrote {a.doc}")
    return 0
