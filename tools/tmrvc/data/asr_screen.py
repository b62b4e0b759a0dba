"""Reject corpus clips that the ASR misreads (``data.asr_max_cer``).

A TTS engine sometimes renders a sentence badly: a diphone voice mangles a word, a text
normaliser skips a number, a synthesis is cut short. Each clip is transcribed with the
evaluation's Whisper-base recogniser (:class:`tmrvc.speech_models.WhisperASR`, offline), and a
clip whose character error rate against its sentence exceeds ``max_cer`` is left out of the
manifest. Transcripts are cached per clip (``asr/<speaker>/<sid>.json``: text, hypothesis, CER),
so a rebuild only transcribes new clips; the rejected clips are listed in ``rejected.jsonl``.

Usage (from ``tools/``)::

    python -m tmrvc.train data --size full --set data.asr_max_cer=0.5 --jobs 2
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from tmrvc.atomic import replacing
from tmrvc.data.parallel import pool_map

ASR_DIR = "asr"
REJECTED = "rejected.jsonl"

_JOB: dict = {}


def _init_asr() -> None:
    from tmrvc.speech_models import WhisperASR

    _JOB["asr"] = WhisperASR(threads=1)


def _transcribe_task(i: int) -> dict:
    """Transcript record of entry ``i``, written to its cache file."""
    from tmrvc.data.corpus import load_clip
    from tmrvc.speech_models import error_rates

    e = _JOB["entries"][i]
    hyp = _JOB["asr"].transcribe(load_clip(_JOB["root"], e))
    _, _, ce, n = error_rates(e["text"], hyp)
    rec = {"text": e["text"], "hypothesis": hyp, "cer": round(ce / max(1, n), 4)}
    with replacing(cache_path(_JOB["root"], e)) as tmp:
        tmp.write_text(json.dumps(rec))
    return rec


def cache_path(root: Path, entry: dict) -> Path:
    """Where the transcript of ``entry`` is cached."""
    return Path(root) / ASR_DIR / entry["speaker"] / f"{entry['sid']}.json"


def screen(root: Path, entries: list[dict], max_cer: float, jobs: int = 1, log=print) -> list[dict]:
    """``entries`` without the clips whose CER exceeds ``max_cer``; writes ``rejected.jsonl``.
    A cached transcript is reused when it was made for the same text."""
    root = Path(root)
    t0 = time.time()
    records: dict[int, dict] = {}
    todo = []
    for i, e in enumerate(entries):
        path = cache_path(root, e)
        rec = json.loads(path.read_text()) if path.exists() else None
        if rec is not None and rec.get("text") == e["text"]:
            records[i] = rec
        else:
            todo.append(i)
    if todo:
        log(f"ASR screen: transcribing {len(todo)} clips ({len(records)} cached) with {jobs} process(es)")
    _JOB.clear()
    _JOB.update(root=root, entries=entries)
    for n, (i, rec) in enumerate(zip(todo, pool_map(_transcribe_task, todo, jobs, initializer=_init_asr)), 1):
        records[i] = rec
        if n % 200 == 0 or n == len(todo):
            log(f"  transcribed {n}/{len(todo)} ({time.time() - t0:.0f} s)")
    _JOB.clear()
    kept, rejected = [], []
    for i, e in enumerate(entries):
        if records[i]["cer"] > max_cer:
            rejected.append({**e, "hypothesis": records[i]["hypothesis"], "cer": records[i]["cer"]})
        else:
            kept.append(e)
    with replacing(root / REJECTED) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rejected))
    by_voice = Counter(r["speaker"] for r in rejected)
    log(f"ASR screen: {len(rejected)} of {len(entries)} clips rejected (CER > {max_cer:g})"
        + (": " + ", ".join(f"{k} {v}" for k, v in sorted(by_voice.items())) if by_voice else "")
        + f"; list in {root / REJECTED} ({time.time() - t0:.0f} s)")
    return kept
