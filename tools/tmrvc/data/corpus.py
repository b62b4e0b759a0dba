"""Build the parallel TTS corpus: every available voice reads the shared sentence list.

Usage (from ``tools/``)::

    python -m tmrvc.data.corpus --out ../data/corpus                 # all voices, 60 sentences
    python -m tmrvc.data.corpus --out /tmp/c --voices flite_slt,espeak_us --sentences 4

Per clip: synthesise (:mod:`tmrvc.data.voices`) -> resample to 24 kHz
(:func:`tmrvc.frontend.resample_to_24k`) -> trim silence (:mod:`tmrvc.data.vad`) ->
peak-normalise to -6 dBFS -> ``wav/<voice>/<sentence id>.wav`` (24 kHz, 16-bit).
``manifest.jsonl`` has one JSON object per clip::

    {"speaker": "flite_slt", "person": "slt", "role": "main", "sid": "s000",
     "text": "...", "path": "wav/flite_slt/s000.wav", "duration": 2.41, "split": "train"}

Splits: ``train`` (training speaker, training sentence), ``eval_sent`` (training
speaker, held-out sentence: the last ``sentences.N_EVAL``), ``eval_spk`` (held-out
speaker, any sentence; see ``EVAL_SPEAKERS``), ``eval_unseen`` (``UNSEEN_SPEAKERS``: voices
that no stage reads at all, not even the few-shot adaptation or the evaluation's ``eval_spk``
targets; kept for testing on truly unseen voices: select them with ``split == "eval_unseen"``).
Existing clips are kept (the builder is incremental and can be interrupted); ``--force``
re-synthesises.

A voice with ``max_written`` or ``max_generated`` set (the slow Kokoro voices) reads only the
first ``max_written`` of the selected written sentences and the first ``max_generated`` of the
generated ones (extra and lexicon sentences in proportion): :func:`voice_sentences`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc.atomic import replacing
from tmrvc.data import sentences as S
from tmrvc.data.vad import trim_silence
from tmrvc.data.voices import KOKORO_HELD_OUT, VOICE_BY_ID, VOICES, Voice, available_voices
from tmrvc.frontend import resample_to_24k

# speakers never seen by any training stage (few-shot adaptation / evaluation targets)
EVAL_SPEAKERS = ("flite_rms", "fest_ked")
# speakers no stage reads (split eval_unseen): ClipStore, the evaluation and adapt never select them
UNSEEN_SPEAKERS = KOKORO_HELD_OUT
MANIFEST = "manifest.jsonl"
PEAK = 10 ** (-6 / 20)


def split_of(speaker: str, sid: str, eval_speakers=EVAL_SPEAKERS, unseen_speakers=UNSEEN_SPEAKERS) -> str:
    if speaker in unseen_speakers:
        return "eval_unseen"
    if speaker in eval_speakers:
        return "eval_spk"
    return "eval_sent" if S.is_eval_sentence(sid) else "train"


def voice_sentences(voice: Voice, written: list[tuple[str, str]], extra: list[tuple[str, str]],
                    lexicon: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sentences ``voice`` reads: the ``written`` ones (the first ``voice.max_written`` when
    set), and the generated ones (``extra`` + ``lexicon``) unless ``voice.max_generated`` caps
    them: then the first ones of each list, in proportion to the lists' lengths (so a larger cap
    only adds sentences)."""
    written = written[:voice.max_written] if voice.max_written is not None else written
    cap = voice.max_generated
    if cap is None or cap >= len(extra) + len(lexicon):
        return written + extra + lexicon
    n_extra = min(len(extra), -(-cap * len(extra) // max(1, len(extra) + len(lexicon))))
    return written + extra[:n_extra] + lexicon[:cap - n_extra]


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import soundfile as sf

    with replacing(path) as tmp:                   # an interrupted build leaves no truncated clip
        sf.write(str(tmp), np.clip(audio, -1.0, 1.0), C.AUDIO_SAMPLE_RATE, subtype="PCM_16", format="WAV")


def read_manifest(root: Path) -> list[dict]:
    path = Path(root) / MANIFEST
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_clip(root: Path, entry: dict) -> np.ndarray:
    import soundfile as sf

    audio, sr = sf.read(str(Path(root) / entry["path"]), dtype="float32")
    assert sr == C.AUDIO_SAMPLE_RATE
    return audio


def prepare_audio(audio: np.ndarray, sr: int) -> np.ndarray:
    """What every corpus clip goes through: mono float32 at 24 kHz, leading and trailing
    silence trimmed (:func:`tmrvc.data.vad.trim_silence`), peak-normalised to ``PEAK``."""
    audio = resample_to_24k(audio, sr)
    audio = trim_silence(audio, C.AUDIO_SAMPLE_RATE)
    return audio * np.float32(PEAK / max(1e-6, float(np.abs(audio).max())))


def _synthesize_clip(task: tuple[str, str, str, str]) -> tuple[str, str, int, str | None]:
    """One clip of :func:`build`: (voice id, sentence id, text, wav path) -> (voice id, sentence
    id, frames written, error or None)."""
    vid, sid, text, path = task
    try:
        audio, sr = VOICE_BY_ID[vid].synthesize(text)
    except Exception as exc:  # noqa: BLE001 - a broken voice is skipped, not fatal
        return vid, sid, 0, str(exc)
    audio = prepare_audio(audio, sr)
    _write_wav(Path(path), audio)
    return vid, sid, len(audio), None


def build(out: Path, voice_ids: list[str] | None = None, n_sentences: int | None = None,
          sentence_ids: list[str] | None = None, force: bool = False, eval_speakers=EVAL_SPEAKERS,
          log=print, extra_sentences: int = 0, lexicon_sentences: int = 0, jobs: int = 1,
          asr_max_cer: float | None = None) -> list[dict]:
    """Synthesises every voice x sentence clip missing from ``out`` and writes the manifest.
    ``extra_sentences`` and ``lexicon_sentences`` append that many generated training-only sentences
    (:func:`tmrvc.data.sentences.extra_sentences`, :func:`~tmrvc.data.sentences.lexicon_sentences`)
    to the selected ones. ``jobs`` processes synthesise in parallel (the clips are identical).
    With ``asr_max_cer``, clips whose Whisper-base character error rate exceeds it are left out of
    the manifest (:mod:`tmrvc.data.asr_screen`)."""
    import soundfile as sf

    from tmrvc.data.parallel import pool_map

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sents = S.all_sentences()
    if sentence_ids:
        sents = [s for s in sents if s[0] in set(sentence_ids)]
    elif n_sentences:
        # keep both training and held-out sentences in small corpora
        n_eval = min(S.N_EVAL, max(1, n_sentences // 4))
        sents = sents[:n_sentences - n_eval] + sents[len(sents) - n_eval:]
    extra, lexicon = S.extra_sentences(int(extra_sentences)), S.lexicon_sentences(int(lexicon_sentences))
    voices = available_voices(voice_ids)
    sents_of = {v.id: voice_sentences(v, sents, extra, lexicon) for v in voices}
    missing = sorted(set(voice_ids or [v.id for v in VOICES]) - {v.id for v in voices})
    if missing:
        log(f"voices not available here (engine missing): {', '.join(missing)}")
    t0 = time.time()
    frames: dict[tuple[str, str], int] = {}
    todo = []
    for voice in voices:
        for sid, text in sents_of[voice.id]:
            path = out / "wav" / voice.id / f"{sid}.wav"
            if force or not path.exists():
                todo.append((voice.id, sid, text, str(path)))
            else:
                frames[(voice.id, sid)] = sf.info(str(path)).frames
    if todo:
        log(f"synthesising {len(todo)} clips ({len(frames)} already there) with {jobs} process(es)")
    failed: dict[str, str] = {}
    for i, (vid, sid, n, err) in enumerate(pool_map(_synthesize_clip, todo, jobs), 1):
        if err is not None:
            failed.setdefault(vid, err)
        else:
            frames[(vid, sid)] = n
        if i % 200 == 0 or i == len(todo):
            log(f"  synthesised {i}/{len(todo)} ({time.time() - t0:.0f} s)")
    entries: list[dict] = []
    for voice in voices:
        if voice.id in failed:
            continue
        for sid, text in sents_of[voice.id]:
            entries.append({"speaker": voice.id, "person": voice.person, "role": voice.role,
                            "gender": voice.gender, "engine": voice.engine, "sid": sid, "text": text,
                            "path": str(Path("wav") / voice.id / f"{sid}.wav"),
                            "duration": round(frames[(voice.id, sid)] / C.AUDIO_SAMPLE_RATE, 3),
                            "split": split_of(voice.id, sid, eval_speakers)})
        log(f"  {voice.id:28s} {sum(e['speaker'] == voice.id for e in entries):3d} clips")
    for vid, err in failed.items():
        log(f"voice {vid} failed and was skipped: {err}")
    if asr_max_cer is not None:
        from tmrvc.data import asr_screen

        entries = asr_screen.screen(out, entries, float(asr_max_cer), jobs=jobs, log=log)
    (out / MANIFEST).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    hours = sum(e["duration"] for e in entries) / 3600
    log(f"wrote {out / MANIFEST}: {len(entries)} clips, {len({e['speaker'] for e in entries})} speakers, "
        f"{hours * 60:.1f} min of audio ({time.time() - t0:.0f} s)")
    return entries


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Synthesise the parallel TTS corpus.")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "data" / "corpus")
    p.add_argument("--voices", default="", help="comma-separated voice ids (default: all available)")
    p.add_argument("--sentences", type=int, default=0, help="use only N sentences (0 = all)")
    p.add_argument("--extra-sentences", type=int, default=0, help="add N generated training sentences (ids s100..)")
    p.add_argument("--lexicon-sentences", type=int, default=0,
                   help="add N generated wide-vocabulary training sentences (ids s1000..)")
    p.add_argument("--jobs", type=int, default=1, help="synthesis processes (default 1)")
    p.add_argument("--asr-max-cer", type=float, help="leave out clips whose Whisper-base CER exceeds this")
    p.add_argument("--force", action="store_true")
    p.add_argument("--list", action="store_true", help="list the voices and whether they are available")
    a = p.parse_args(argv)
    if a.list:
        for v in VOICES:
            split = "eval_unseen" if v.id in UNSEEN_SPEAKERS else "eval_spk" if v.id in EVAL_SPEAKERS else ""
            print(f"{v.id:28s} {v.engine:9s} {v.role:7s} {'available' if v.available() else 'MISSING':9s} {split}")
        return 0
    ids = [v for v in a.voices.split(",") if v] or None
    if ids:
        unknown = [v for v in ids if v not in VOICE_BY_ID]
        if unknown:
            print(f"unknown voices: {unknown}", file=sys.stderr)
            return 2
    build(a.out, ids, a.sentences or None, force=a.force, extra_sentences=a.extra_sentences,
          lexicon_sentences=a.lexicon_sentences, jobs=max(1, a.jobs), asr_max_cer=a.asr_max_cer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
