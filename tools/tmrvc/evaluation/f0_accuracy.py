"""Accuracy of the engine's F0 estimator (:func:`tmrvc.pitch.estimate_f0`) against reference trackers.

``python -m tmrvc.evaluation.f0_accuracy [--corpus ../data/corpus]`` prints, per clip set and
per reference, the estimator's voiced share, its V/UV error (share of frames whose voicing
decision differs) and its gross pitch error (share of frames voiced in both whose F0 differs by
more than 20 %).  References (each used when its package imports):

* ``harvest`` and ``dio`` (+ StoneMask) of ``pyworld`` (``pip install pyworld "setuptools<81"``:
  pyworld still imports ``pkg_resources``);
* ``crepe``: torchcrepe's ``full`` model, voiced where its periodicity exceeds 0.21
  (``pip install --no-deps torchcrepe resampy``; torchcrepe imports torchaudio only to read
  files, so a stand-in module is registered when torchaudio is absent).

Clip sets: ``dev`` = the first 3 training clips of every training voice of the corpus (the
voicing weights in ``configs/constants.yaml`` were fitted on these against ``crepe``); ``test`` =
the first 5 clips of every held-out voice (splits ``eval_spk``, ``eval_unseen``) plus the real
human recordings of pocketsphinx-testdata (LibriVox, cards).  Frame ``t`` of a reference (centred
at ``t * 10 ms``) is compared with estimator frame ``t + 1`` (its window ends 10 ms later).
Reference tracks are cached in ``~/.cache/tmrvc/f0-labels-<set>.npz``.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import types
from pathlib import Path

import numpy as np

from tmrvc.atomic import replacing
from tmrvc.fewshot import load_utterance
from tmrvc.pitch import estimate_f0

HOP_MS = 10.0
CACHE = Path.home() / ".cache" / "tmrvc"
POCKETSPHINX = "/usr/share/pocketsphinx/test/data"


def clip_sets(corpus: Path) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines() if line]
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        groups.setdefault((r["speaker"], r["split"]), []).append(str(corpus / r["path"]))
    dev, test = [], []
    for (_, split), paths in sorted(groups.items()):
        if split == "train":
            dev += paths[:3]
        elif split in ("eval_spk", "eval_unseen"):
            test += paths[:5]
    test += sorted(glob.glob(f"{POCKETSPHINX}/librivox/*.wav")) + sorted(glob.glob(f"{POCKETSPHINX}/cards/*.wav"))
    return {"dev": dev, "test": test}


def _crepe():
    try:
        import torchaudio  # noqa: F401
    except Exception:                       # absent or a build for another torch: file loading only
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe
    return torchcrepe


def reference_tracks(audio: np.ndarray, sr: int = 24000) -> dict[str, np.ndarray]:
    """F0 in Hz per 10 ms frame (0 = unvoiced) of every reference whose package imports."""
    out: dict[str, np.ndarray] = {}
    x = np.asarray(audio, np.float64)
    try:
        import pyworld
        out["harvest"], _ = pyworld.harvest(x, sr, f0_floor=50.0, f0_ceil=1000.0, frame_period=HOP_MS)
        f0, t = pyworld.dio(x, sr, f0_floor=50.0, f0_ceil=1000.0, frame_period=HOP_MS)
        out["dio"] = pyworld.stonemask(x, f0, t, sr)
    except ImportError:
        pass
    try:
        tc = _crepe()
        import torch
        f0, per = tc.predict(torch.tensor(x[None], dtype=torch.float32), sr, hop_length=sr // 100, fmin=50.0,
                             fmax=1000.0, model="full", return_periodicity=True, batch_size=512, device="cpu", pad=True)
        out["crepe"] = np.where(per[0].numpy() > 0.21, f0[0].numpy(), 0.0).astype(np.float64)
    except ImportError:
        pass
    return out


def score(estimates: list[np.ndarray], references: list[np.ndarray]) -> dict[str, float]:
    """Voiced share of the estimator, V/UV error and GPE (percent) over all clips."""
    n = vuv = both = gross = voiced = 0
    for est, ref in zip(estimates, references):
        k = min(len(est) - 1, len(ref))
        e, r = est[1:k + 1], ref[:k]
        b = (e > 0) & (r > 0)
        n += k
        vuv += int(((e > 0) != (r > 0)).sum())
        both += int(b.sum())
        gross += int((np.abs(e[b] / r[b] - 1.0) > 0.2).sum())
        voiced += int((e > 0).sum())
    return {"frames": n, "voiced_pct": 100.0 * voiced / max(1, n), "vuv_error_pct": 100.0 * vuv / max(1, n),
            "gpe_pct": 100.0 * gross / max(1, both)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tmrvc.evaluation.f0_accuracy", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[3] / "data" / "corpus")
    p.add_argument("--sets", nargs="+", choices=("dev", "test"), default=["dev", "test"],
                   help="clip sets to score (default both; torchcrepe takes ~1 CPU-minute per 300 s of audio)")
    a = p.parse_args(argv)
    if not (a.corpus / "manifest.jsonl").exists():
        p.error(f"{a.corpus}: no manifest.jsonl (build the corpus: python -m tmrvc.data.corpus)")
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, paths in clip_sets(a.corpus).items():
        if name not in a.sets:
            continue
        audio = [load_utterance(Path(f)) for f in paths]
        cache_path = CACHE / f"f0-labels-{name}.npz"
        cache = dict(np.load(cache_path)) if cache_path.exists() else {}
        refs: dict[str, list[np.ndarray]] = {}
        added = False
        for f, x in zip(paths, audio):
            keys = [k for k in cache if k.startswith(f"{f}|")]
            if not keys:
                for ref, track in reference_tracks(x).items():
                    cache[f"{f}|{ref}"] = track
                    added = True
                keys = [k for k in cache if k.startswith(f"{f}|")]
            for k in keys:
                refs.setdefault(k.split("|")[1], []).append(cache[k])
        if added:                                   # atomically, as the training's pitch cache
            with replacing(cache_path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **cache)
        if not refs:
            print(f"{name}: no reference tracker imports (see the module docstring)")
            continue
        est = [estimate_f0(x)[0] for x in audio]
        for ref, tracks in sorted(refs.items()):
            if len(tracks) != len(est):
                print(f"{name} vs {ref}: only {len(tracks)} of {len(est)} clips have labels (remove {cache_path})")
                continue
            s = score(est, tracks)
            print(f"{name} ({len(paths)} clips, {s['frames']} frames) vs {ref}: estimator voiced {s['voiced_pct']:.1f} %, "
                  f"reference voiced {100 * np.mean(np.concatenate(tracks) > 0):.1f} %, "
                  f"V/UV error {s['vuv_error_pct']:.1f} %, GPE {s['gpe_pct']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
