"""Simple energy VAD used to trim leading/trailing silence of TTS clips (numpy only).

TTS output is clean, so an energy gate is enough: frames of 20 ms (hop 10 ms) whose
RMS is within ``range_db`` of the loudest frame (and above ``floor_db`` dBFS) are
active; the clip is cut to [first active - pad, last active + pad].  Internal pauses
are kept (they are part of the sentence's prosody).
"""

from __future__ import annotations

import numpy as np


def frame_rms_db(audio: np.ndarray, sr: int, win_s: float = 0.02, hop_s: float = 0.01) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    win, hop = max(1, int(sr * win_s)), max(1, int(sr * hop_s))
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    rms = np.sqrt(np.mean(x[idx] ** 2, axis=1) + 1e-20)
    return 20.0 * np.log10(rms)


def trim_silence(audio: np.ndarray, sr: int, range_db: float = 40.0, floor_db: float = -60.0,
                 pad_s: float = 0.1) -> np.ndarray:
    """Cut leading/trailing silence; returns the input unchanged when nothing is active."""
    db = frame_rms_db(audio, sr)
    active = np.nonzero(db > max(db.max() - range_db, floor_db))[0]
    if len(active) == 0:
        return np.asarray(audio)
    hop = int(sr * 0.01)
    pad = int(sr * pad_s)
    start = max(0, active[0] * hop - pad)
    end = min(len(audio), (active[-1] + 2) * hop + pad)
    return np.asarray(audio)[start:end]
