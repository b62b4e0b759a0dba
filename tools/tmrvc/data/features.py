"""Per-clip feature cache for training (``<corpus>/features/<speaker>/<sid>.npz``).

Usage (from ``tools/``)::

    python -m tmrvc.data.features --corpus ../data/corpus [--n-aug 2] [--no-resemblyzer]

Each ``.npz`` holds (float32; T = number of 10 ms frames = len(audio) // 240):

==================  ============  ==========================================================
key                 shape         content
==================  ============  ==========================================================
mel                 [80, T]       :func:`tmrvc.frontend.log_mel` of the clean clip
pitch               [2, T]        :func:`tmrvc.pitch.pitch_features` of the clean clip
mel_aug             [K, 80, T]    log-mel of K random channel versions (room + EQ + noise,
                                  :func:`tmrvc.data.rir.random_channel`), same alignment
ir_aug              [K, 24]       their ``ir_params`` (definition in :mod:`tmrvc.data.rir`)
voice_source        [8]           :func:`voice_source` of the clean clip
content_target      [80, T]       speaker-independent content target (second pass, below)
resemblyzer         [256]         Resemblyzer d-vector (teacher for the speaker encoder;
                                  only when the package is installed)
==================  ============  ==========================================================

Content target (the content encoder's training target; the corpus is parallel):
for clip (speaker v, sentence s) and every *reference* speaker r != v that read s
(``content_refs``, default: all training speakers of role ``main``), align the two
clips with DTW on 20 cepstral coefficients (DCT of the log-mel, c1..c20, per-utterance
mean removed) and warp r's per-utterance normalised log-mel onto v's time axis; the
target is the mean over the references.  Averaging several other voices removes most
speaker information while keeping what was said and when.  The cache is incremental:
existing files are reused unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc.atomic import replacing
from tmrvc.data.corpus import load_clip, read_manifest
from tmrvc.data.rir import ChannelConfig, random_channel
from tmrvc.frontend import log_mel
from tmrvc.jit_cache import first_call_locked
from tmrvc.pitch import estimator_version, pitch_features
from tmrvc.speech_models import Resemblyzer, resemblyzer_available

FEATURES = "features"
INDEX = "index.json"
MEL_FLOOR_NORM = -10.0


# ----------------------------------------------------------------------------- descriptors
def active_frames(mel: np.ndarray, range_nats: float = 5.0) -> np.ndarray:
    level = mel.mean(axis=0)
    return level > level.max() - range_nats


def voice_source(mel: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """8 utterance-level voice descriptors (``acoustic_params[24:32]``), roughly O(1).

    0 mean log2(f0/200) of voiced frames, 1 2x std of it, 2 2x voiced fraction - 1,
    3 2x mean voicing strength of voiced frames - 1, 4 spectral tilt (slope of the mean
    active log-mel over the 80 bands x 8), 5 mel-band centroid of the mean active mel
    spectrum ((c/80 - 0.3) x 4), 6 high-vs-low band level (bands 50-79 minus 0-29, / 5),
    7 mean active log-mel level ((x + 4) / 2).  The engine feeds zeros when no preset is
    blended in; training feeds zeros half of the time so zeros mean "neutral".
    """
    voiced = pitch[1] > 0
    lf = pitch[0][voiced]
    act = active_frames(mel)
    spec = mel[:, act].mean(axis=1) if act.any() else mel.mean(axis=1)
    bands = np.arange(len(spec))
    slope = np.polyfit(bands, spec, 1)[0]
    lin = np.exp(spec - spec.max())
    centroid = float((lin * bands).sum() / lin.sum())
    out = [lf.mean() if len(lf) else 0.0, 2 * lf.std() if len(lf) else 0.0, 2 * voiced.mean() - 1,
           2 * pitch[1][voiced].mean() - 1 if voiced.any() else -1.0, slope * 80 / 10,
           (centroid / len(spec) - 0.3) * 4, (spec[50:].mean() - spec[:30].mean()) / 5,
           (spec.mean() + 4) / 2]
    return np.asarray(out, dtype=np.float32)


def cepstrum(mel: np.ndarray, n: int = 20) -> np.ndarray:
    from scipy.fft import dct

    c = dct(np.maximum(mel, MEL_FLOOR_NORM), type=2, axis=0, norm="ortho")[1:n + 1]
    return c - c.mean(axis=1, keepdims=True)


def norm_mel(mel: np.ndarray) -> np.ndarray:
    m = np.maximum(mel, MEL_FLOOR_NORM)
    return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-3)


def dtw_warp(src_cep: np.ndarray, ref_cep: np.ndarray, ref_feat: np.ndarray) -> np.ndarray:
    """Warp ``ref_feat`` [D, T_ref] onto the source time axis [D, T_src] along the DTW path."""
    from librosa.sequence import dtw

    _, wp = first_call_locked(dtw, X=src_cep, Y=ref_cep, metric="euclidean", backtrack=True)
    t_src = src_cep.shape[1]
    acc = np.zeros((ref_feat.shape[0], t_src))
    cnt = np.zeros(t_src)
    np.add.at(acc.T, wp[:, 0], ref_feat[:, wp[:, 1]].T)
    np.add.at(cnt, wp[:, 0], 1.0)
    return (acc / np.maximum(cnt, 1.0)).astype(np.float32)


# ----------------------------------------------------------------------------- resemblyzer
# ----------------------------------------------------------------------------- build
def feature_path(corpus: Path, entry: dict) -> Path:
    return Path(corpus) / FEATURES / entry["speaker"] / f"{entry['sid']}.npz"


def _clip_seed(entry: dict, seed: int) -> int:
    return zlib.crc32(f"{entry['speaker']}/{entry['sid']}/{seed}".encode())


def clean_features(audio: np.ndarray) -> dict:
    """``mel``, ``pitch`` and ``voice_source`` of a clean 24 kHz clip (float32), and the F0
    estimator's fingerprint (``pitch_version``: a cached file whose pitch is stale is redone)."""
    mel = log_mel(audio)
    pitch = pitch_features(audio)
    return {"mel": mel, "pitch": pitch, "voice_source": voice_source(mel, pitch),
            "pitch_version": np.array(estimator_version())}


def extract_clip(audio: np.ndarray, entry: dict, n_aug: int, seed: int, channel: ChannelConfig,
                 teacher=None) -> dict:
    clean = clean_features(audio)
    mel = clean["mel"]
    rng = np.random.default_rng(_clip_seed(entry, seed))
    mel_aug, ir_aug = [], []
    for _ in range(n_aug):
        y, params, _ = random_channel(audio, rng, channel)
        mel_aug.append(log_mel(y))
        ir_aug.append(params)
    out = {"mel": mel, "pitch": clean["pitch"],
           "mel_aug": np.stack(mel_aug) if n_aug else np.zeros((0,) + mel.shape, np.float32),
           "ir_aug": np.stack(ir_aug) if n_aug else np.zeros((0, C.DIMS_IR_PARAMS), np.float32),
           "voice_source": clean["voice_source"], "pitch_version": clean["pitch_version"]}
    if teacher is not None:
        out["resemblyzer"] = teacher(audio)
    return out


# State of one :func:`build` call that its forked workers read (pool_map: copy-on-write, not pickled).
_JOB: dict = {}


def _init_teacher() -> None:
    _JOB["teacher"] = Resemblyzer() if _JOB["use_teacher"] else None


def _extract_task(i: int) -> dict:
    """First pass for entry ``i``: the clip's features, written to its cache file."""
    e = _JOB["entries"][i]
    f = extract_clip(load_clip(_JOB["corpus"], e), e, _JOB["n_aug"], _JOB["seed"], _JOB["channel"],
                     _JOB["teacher"])
    _save(feature_path(_JOB["corpus"], e), f)
    return f


def _repitch_task(i: int) -> dict:
    """Entry ``i``'s cached features with ``pitch`` and ``voice_source`` redone by the current F0
    estimator, written back to its cache file."""
    e = _JOB["entries"][i]
    f = dict(_JOB["feats"][(e["speaker"], e["sid"])])
    f["pitch"] = pitch_features(load_clip(_JOB["corpus"], e))
    f["voice_source"] = voice_source(f["mel"], f["pitch"])
    f["pitch_version"] = np.array(estimator_version())
    _save(feature_path(_JOB["corpus"], e), f)
    return f


def _content_task(i: int) -> tuple[np.ndarray, int]:
    """Second pass for entry ``i``: (content target, number of references), written to its cache file."""
    e = _JOB["entries"][i]
    key = (e["speaker"], e["sid"])
    ceps, normed = _JOB["ceps"], _JOB["normed"]
    refs = [r for r in _JOB["content_refs"] if r != e["speaker"] and r in _JOB["by_sid"][e["sid"]]]
    if refs:
        warped = [dtw_warp(ceps[key], ceps[(r, e["sid"])], normed[(r, e["sid"])]) for r in refs]
        target = np.mean(warped, axis=0).astype(np.float32)
    else:                       # no other reader of this sentence: fall back to itself
        target = normed[key].astype(np.float32)
    _save(feature_path(_JOB["corpus"], e), {**_JOB["feats"][key], "content_target": target})
    return target, len(refs)


def _save(path: Path, f: dict) -> None:
    """Writes one cache file whole or not at all (an interrupted build leaves no truncated .npz)."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **f)


def build(corpus: Path, n_aug: int = 2, seed: int = 0, force: bool = False, use_resemblyzer: bool = True,
          content_refs: list[str] | None = None, rir_method: str = "synthetic", whisper: bool = False,
          threads: int = 1, jobs: int = 1, log=print) -> dict:
    """Caches the features of every clip of the corpus manifest (incremental unless ``force``) and
    writes ``features/index.json``. ``jobs`` processes extract and align in parallel; the files are
    the same for any ``jobs`` (per-clip seeds)."""
    from tmrvc.data.parallel import pool_map

    corpus = Path(corpus)
    entries = read_manifest(corpus)
    use_teacher = use_resemblyzer and resemblyzer_available()
    if use_resemblyzer and not use_teacher:
        log("resemblyzer not installed: no teacher embeddings (speaker encoder trains on labels only)")
    t0 = time.time()
    feats: dict[tuple[str, str], dict] = {}
    todo = []
    for i, e in enumerate(entries):
        path = feature_path(corpus, e)
        if not force and path.exists():
            with np.load(path) as z:
                feats[(e["speaker"], e["sid"])] = {k: z[k] for k in z.files}
        else:
            todo.append(i)
    _JOB.clear()
    _JOB.update(corpus=corpus, entries=entries, n_aug=n_aug, seed=seed, use_teacher=use_teacher,
                channel=ChannelConfig(rir_method=rir_method))
    if todo:
        log(f"features: extracting {len(todo)} clips ({len(entries) - len(todo)} cached) with {jobs} process(es)")
    for n, (i, f) in enumerate(zip(todo, pool_map(_extract_task, todo, jobs, initializer=_init_teacher)), 1):
        feats[(entries[i]["speaker"], entries[i]["sid"])] = f
        if n % 200 == 0 or n == len(todo):
            log(f"  features {n}/{len(todo)} ({time.time() - t0:.0f} s)")
    # cached files whose pitch came from another F0 estimator: pitch and voice_source redone
    version = estimator_version()
    stale = [i for i, e in enumerate(entries)
             if str(feats[(e["speaker"], e["sid"])].get("pitch_version", "")) != version]
    if stale:
        log(f"features: pitch of {len(stale)} cached clips is from another F0 estimator: redoing it")
        _JOB.update(feats=feats)
        for n, (i, f) in enumerate(zip(stale, pool_map(_repitch_task, stale, jobs)), 1):
            feats[(entries[i]["speaker"], entries[i]["sid"])] = f
            if n % 500 == 0 or n == len(stale):
                log(f"  pitch {n}/{len(stale)} ({time.time() - t0:.0f} s)")
    # second pass: content targets from the parallel references
    if content_refs is None:
        content_refs = sorted({e["speaker"] for e in entries if e["split"] != "eval_spk" and e["role"] == "main"})
    by_sid: dict[str, list[str]] = {}
    for e in entries:
        by_sid.setdefault(e["sid"], []).append(e["speaker"])
    todo = [i for i, e in enumerate(entries)
            if force or "content_target" not in feats[(e["speaker"], e["sid"])]]
    _JOB.update(feats=feats, by_sid=by_sid, content_refs=content_refs,
                ceps={k: cepstrum(f["mel"]) for k, f in feats.items()},
                normed={k: norm_mel(f["mel"]) for k, f in feats.items()})
    if todo:
        log(f"features: content targets (DTW) for {len(todo)} clips with {jobs} process(es)")
    n_refs = []
    for n, (i, (target, k)) in enumerate(zip(todo, pool_map(_content_task, todo, jobs)), 1):
        feats[(entries[i]["speaker"], entries[i]["sid"])]["content_target"] = target
        n_refs.append(k)
        if n % 500 == 0 or n == len(todo):
            log(f"  content targets {n}/{len(todo)} ({time.time() - t0:.0f} s)")
    _JOB.clear()
    n_whisper = 0
    if whisper:                 # third pass: Whisper-base encoder features (tmrvc.data.whisper_content)
        from tmrvc.data import whisper_content

        n_whisper = whisper_content.add_to_cache(corpus, entries, feats,
                                                 lambda e, f: _save(feature_path(corpus, e), f),
                                                 force=force, threads=threads, log=log)
    speakers: dict[str, dict] = {}
    for e in entries:
        s = speakers.setdefault(e["speaker"], {"n": 0, "voice_source": np.zeros(C.DIMS_VOICE_SOURCE),
                                               "role": e["role"], "split": e["split"]})
        s["n"] += 1
        s["voice_source"] += feats[(e["speaker"], e["sid"])]["voice_source"]
    index = {"n_aug": n_aug, "seed": seed, "rir_method": rir_method, "content_refs": content_refs,
             "resemblyzer": use_teacher, "whisper": bool(whisper), "n_clips": len(entries),
             "speakers": {k: {"n": v["n"], "role": v["role"], "split": v["split"],
                              "voice_source": (v["voice_source"] / v["n"]).round(5).tolist()}
                          for k, v in sorted(speakers.items())}}
    (corpus / FEATURES / INDEX).write_text(json.dumps(index, indent=1))
    log(f"features: {len(entries)} clips, {n_aug} augmented copies each, content targets from "
        f"{np.mean(n_refs) if n_refs else 0:.1f} references on average"
        + (f", Whisper features for {n_whisper} clips" if whisper else "") + f" ({time.time() - t0:.1f} s)")
    return index


def load_features(corpus: Path, entry: dict) -> dict:
    with np.load(feature_path(corpus, entry)) as z:
        return {k: z[k] for k in z.files}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Extract and cache training features for a corpus.")
    p.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[3] / "data" / "corpus")
    p.add_argument("--n-aug", type=int, default=2, help="augmented channel copies per clip")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rir", choices=("synthetic", "pra"), default="synthetic",
                   help="RIR source: exponential-decay noise generator or pyroomacoustics shoebox")
    p.add_argument("--no-resemblyzer", action="store_true")
    p.add_argument("--whisper", action="store_true", help="also cache Whisper-base encoder features (content target)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    build(a.corpus, a.n_aug, a.seed, a.force, not a.no_resemblyzer, rir_method=a.rir, whisper=a.whisper,
          jobs=max(1, a.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
