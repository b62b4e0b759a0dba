"""Speaker probe on the content features (issue 19: content must stay speaker-independent).

A linear classifier (multinomial logistic regression on the per-utterance mean and standard
deviation of the features over frames) learns each corpus voice from its clips of one set of
written sentences and is scored on the clips of *other* sentences, so it must recognise the voice,
not the words. Reported for the content encoder's output and, as the reference, for its input (the
80-band log-mel) and chance. A second, harder-to-saturate probe classifies single speech frames
(``FRAMES_PER_CLIP`` drawn from each clip's louder half), the unit the converter reads. Lower accuracy on the content features means less speaker
information left in them.

    cd tools && ../.venv/bin/python -m tmrvc.evaluation.probe [--models ../weights] [--corpus ../data/corpus]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
TRAIN_SENTENCES = [f"s{i:03d}" for i in range(0, 30)]
TEST_SENTENCES = [f"s{i:03d}" for i in range(30, 50)]


def utterance_stats(features: np.ndarray) -> np.ndarray:
    """[D, T] frame features -> [2D]: mean and standard deviation over frames."""
    f = np.asarray(features, np.float64)
    return np.concatenate([f.mean(axis=1), f.std(axis=1)])


FRAMES_PER_CLIP = 20


def speech_frames(mel: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` frames (fewer when the clip is short) drawn without replacement from the
    clip's louder half (mean log-mel at or above its median), so that the per-frame probe scores
    speech rather than the silence every voice shares."""
    energy = mel.mean(axis=0)
    loud = np.flatnonzero(energy >= np.median(energy))
    return np.sort(rng.choice(loud, size=min(n, len(loud)), replace=False))


def probe_accuracy(train_x: np.ndarray, train_y: list[str], test_x: np.ndarray, test_y: list[str]) -> float:
    """Held-out accuracy of a standardised multinomial logistic regression (fixed seed)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=0))
    clf.fit(train_x, train_y)
    return float(np.mean(clf.predict(test_x) == np.asarray(test_y)))


def run(models: Path, corpus: Path) -> dict:
    import torch

    from tmrvc.data.corpus import load_clip, read_manifest
    from tmrvc.frontend import log_mel
    from tmrvc.models.from_onnx import load_from_onnx

    encoder = load_from_onnx("content_encoder", models / "content_encoder.onnx")
    wanted = set(TRAIN_SENTENCES) | set(TEST_SENTENCES)
    entries = [e for e in read_manifest(corpus) if e["sid"] in wanted]
    by_speaker: dict[str, set[str]] = {}
    for e in entries:
        by_speaker.setdefault(e["speaker"], set()).add(e["sid"])
    speakers = sorted(s for s, sids in by_speaker.items() if wanted <= sids)
    if len(speakers) < 2:
        raise SystemExit(f"probe: {corpus} has fewer than two voices with all of s000..s049")
    names = ("content", "log-mel", "content, per frame", "log-mel, per frame")
    rows = {name: ([], [], [], []) for name in names}
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for e in (e for e in entries if e["speaker"] in speakers):
            mel = log_mel(load_clip(corpus, e)).astype(np.float32)
            out = encoder(torch.from_numpy(mel)[None], *encoder.zero_states())[0][0].numpy()   # causal: whole clip = stream
            train = e["sid"] in TRAIN_SENTENCES
            frames = speech_frames(mel, FRAMES_PER_CLIP, rng)
            for name, xs in (("content", [utterance_stats(out)]), ("log-mel", [utterance_stats(mel)]),
                             ("content, per frame", list(out[:, frames].T)), ("log-mel, per frame", list(mel[:, frames].T))):
                xs_tr, ys_tr, xs_te, ys_te = rows[name]
                (xs_tr if train else xs_te).extend(xs)
                (ys_tr if train else ys_te).extend([e["speaker"]] * len(xs))
    result = {"speakers": speakers, "train_clips": len(rows["content"][1]), "test_clips": len(rows["content"][3]),
              "frames_per_clip": FRAMES_PER_CLIP, "chance": 1.0 / len(speakers)}
    for name, (xs_tr, ys_tr, xs_te, ys_te) in rows.items():
        result[name] = probe_accuracy(np.stack(xs_tr), ys_tr, np.stack(xs_te), ys_te)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=Path, default=ROOT / "weights")
    ap.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.jsonl").exists():
        print(f"probe: no corpus at {args.corpus} (python -m tmrvc.train data --size full)", file=sys.stderr)
        return 2
    r = run(args.models, args.corpus)
    print(f"speaker probe over {len(r['speakers'])} voices ({r['train_clips']} training clips of s000-s029, "
          f"{r['test_clips']} test clips of s030-s049), accuracy from each clip's feature means and deviations: "
          f"content features {r['content']:.3f}, log-mel {r['log-mel']:.3f}; from single speech frames "
          f"({r['frames_per_clip']} per clip): content {r['content, per frame']:.3f}, log-mel "
          f"{r['log-mel, per frame']:.3f}; chance {r['chance']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
