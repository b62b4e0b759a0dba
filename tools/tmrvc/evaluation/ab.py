"""A quick A/B of the conversion's intelligibility and identity (minutes, not the hour of the full
evaluation): every other corpus voice's held-out sentences into each held-out target, converted by
the Python reference engine at q = 0 (:func:`tmrvc.reference_engine.convert`), scored with the
evaluation's instruments (Whisper-base WER, Resemblyzer cosine to the target's written-sentence
clips). One process per target.

    cd tools && ../.venv/bin/python -m tmrvc.evaluation.ab [--models ../weights] [--speakers DIR]
        [--corpus DIR] [--content-warp S] [--out results.json]

The corpus needs the held-out targets (split ``eval_spk``) and some other voices, e.g.
``python -m tmrvc.data.corpus --out DIR --voices fest_ked,flite_rms,flite_awb,fest_kal,flite_slt,fest_slt_hts,flite_kal16 --sentences 60``
(420 clips, ≈ 3 min). Differences of a point or two of WER on its ≈ 1,100 words are the scale of
one word more or less per clip; docs/quality.md (``python -m tmrvc.evaluation``) is the measure of record.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from tmrvc import constants as C

ROOT = Path(__file__).resolve().parents[3]


def _target_rows(args: tuple) -> list[dict]:
    models, speakers, corpus, target, content_warp = args
    import torch

    torch.set_num_threads(1)
    from tmrvc import reference_engine as R
    from tmrvc.data.corpus import load_clip
    from tmrvc.evaluation import metrics as M
    from tmrvc.evaluation.run import _select
    from tmrvc.speaker_file import SpeakerProfile
    from tmrvc.speech_models import WhisperASR, error_rates

    _, files, sources, sids, by_key, train_clips = _select(Path(corpus), Path(speakers), None, None)
    sessions = R.load_sessions(Path(models))
    profile = SpeakerProfile.read(files[target])
    sim, asr = M.SpeakerSimilarity(), WhisperASR()
    reference = sim.reference([load_clip(corpus, e) for e in train_clips[target]])
    rows = []
    for source in sources:
        if source == target:
            continue
        for sid in sids:
            entry = by_key[(source, sid)]
            y = R.convert(load_clip(corpus, entry), profile, sessions=sessions, content_warp=content_warp)
            errors, words, _, _ = error_rates(entry["text"], asr.transcribe(y))
            rows.append({"target": target, "source": source, "sid": sid, "word_errors": errors, "words": words,
                         "sim_target": float(M.cosine(sim.embed(y), reference))})
    return rows


def summary(rows: list[dict]) -> dict:
    """WER % and mean similarity over ``rows``."""
    return {"wer": 100.0 * sum(r["word_errors"] for r in rows) / max(1, sum(r["words"] for r in rows)),
            "sim_target": float(np.mean([r["sim_target"] for r in rows])), "words": sum(r["words"] for r in rows),
            "clips": len(rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=ROOT / "weights")
    p.add_argument("--speakers", type=Path, help="speaker files (default: MODELS/speakers)")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--content-warp", type=float, default=C.PITCH_CONTENT_WARP_STRENGTH,
                   help="the engine's content warp strength (default: the engine's)")
    p.add_argument("--out", type=Path, help="write the per-clip rows and the summaries here (JSON)")
    a = p.parse_args(argv)
    from tmrvc.evaluation.run import EvaluationError, _select

    speakers = a.speakers or a.models / "speakers"
    try:
        targets = _select(a.corpus, speakers, None, None)[0]
    except EvaluationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    with mp.get_context("spawn").Pool(min(2, len(targets))) as pool:
        parts = pool.map(_target_rows, [(a.models, speakers, a.corpus, t, a.content_warp) for t in targets])
    rows = [r for part in parts for r in part]
    result = {"models": str(a.models), "speakers": str(speakers), "content_warp": a.content_warp,
              "per_target": {t: summary([r for r in rows if r["target"] == t]) for t in targets},
              "all": summary(rows), "seconds": round(time.time() - t0, 1), "rows": rows}
    for t, s in result["per_target"].items():
        print(f"{t}: WER {s['wer']:.1f} %, similarity {s['sim_target']:.3f} ({s['clips']} clips, {s['words']} words)")
    s = result["all"]
    print(f"all: WER {s['wer']:.1f} %, similarity {s['sim_target']:.3f} ({s['words']} words, {result['seconds']:.0f} s)")
    if a.out:
        a.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
