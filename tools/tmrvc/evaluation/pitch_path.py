"""Where the output's intonation comes from: the source's contour, the engine's excitation, the output.

``python -m tmrvc.evaluation.pitch_path [--speaker FILE] [--voices A,B,...] [--sentences s050,s053,s056]``

For held-out sentences of each source voice, converted as the engine does at q = 0
(:func:`tmrvc.reference_engine.convert_features` + ``vocode``), prints per voice the mean per-clip
log-F0 correlation (frames voiced in both) between

* the source (measured with pYIN, :func:`tmrvc.evaluation.metrics.log_f0`) and the excitation F0
  the engine derived from it (its own YIN, register-mapped: what drives the harmonic excitation),
  best of lags 0..3 frames;
* that excitation and the output (pYIN), best of lags 0..3;
* the source and the output (both pYIN), the evaluation's measure.

A low first column with a high last one means the output follows the source through the content
features rather than through the excitation; a low first column points at the engine's F0 estimator.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tmrvc.evaluation import metrics as M

ROOT = Path(__file__).resolve().parents[3]


def _best_lag(a: np.ndarray, b: np.ndarray, lags=range(4)) -> float:
    """Largest correlation of b delayed by 0..3 frames against a (NaN if no lag has enough frames)."""
    vals = [M.f0_agreement(a[:len(a) - d] if d else a, b[d:])[0] for d in lags]
    vals = [v for v in vals if v == v]
    return max(vals) if vals else float("nan")


def measure(audio: np.ndarray, profile, sessions) -> tuple[float, float, float, float]:
    """(source vs excitation, excitation vs output, source vs output, source median F0 Hz) of one clip."""
    from tmrvc import reference_engine as R

    features, pit = R.convert_features(audio, profile, sessions)
    y = R.vocode(features, pit, sessions)[:len(audio)]
    exc = np.array([R.output_f0_hz(pit[:, t]) for t in range(pit.shape[1])])
    log_exc = M.log2_hz(exc)
    src, out = M.log_f0(audio), M.log_f0(y)
    return _best_lag(src, log_exc), _best_lag(log_exc, out), M.f0_agreement(src, out)[0], M.median_f0_hz(src)


def main(argv: list[str] | None = None) -> int:
    from tmrvc import reference_engine as R
    from tmrvc.data.corpus import load_clip
    from tmrvc.speaker_file import SpeakerProfile

    p = argparse.ArgumentParser(prog="python -m tmrvc.evaluation.pitch_path", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, default=ROOT / "weights")
    p.add_argument("--speaker", type=Path, default=ROOT / "weights" / "speakers" / "fest_ked.tmrvc_speaker")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--voices", default="fest_kal,fest_slt_hts,flite_awb,flite_kal16,flite_slt,piper_joe,flite_rms")
    p.add_argument("--sentences", default="s050,s053,s056")
    a = p.parse_args(argv)
    sessions = R.load_sessions(a.models)
    profile = SpeakerProfile.read(a.speaker)
    print(f"target {a.speaker.name}; per voice, mean over clips {a.sentences} of the per-clip log-F0 correlation")
    print("| voice | median F0 (Hz) | source vs engine excitation | excitation vs output | source vs output |")
    print("|---|---|---|---|---|")
    for voice in a.voices.split(","):
        rows = []
        for sid in a.sentences.split(","):
            wav = a.corpus / "wav" / voice / f"{sid}.wav"
            if not wav.exists():
                raise SystemExit(f"{wav}: no such clip (build the corpus: python -m tmrvc.data.corpus)")
            rows.append(measure(load_clip(a.corpus, {"path": f"wav/{voice}/{sid}.wav"}), profile, sessions))
        m = np.nanmean(np.array(rows), axis=0)
        print(f"| {voice} | {m[3]:.0f} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
