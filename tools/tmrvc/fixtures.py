"""Golden fixtures for the Swift runtime: real speech through the exported ONNX models.

Usage (from ``tools/``)::

    python -m tmrvc.fixtures [--weights weights/] [--out Tests/Fixtures/]   # (re)generate
    python -m tmrvc.fixtures --verify [--weights weights/] [--out Tests/Fixtures/]
    python -m tmrvc.fixtures --resynthesize-audio     # also re-create the source wavs

Source audio: three short English sentences synthesised once with ``espeak-ng`` and
committed as 24 kHz 16-bit mono wavs under ``Tests/Fixtures/audio/``; fixtures are
regenerated from those wavs (never from espeak again unless asked), so they do not
depend on the installed espeak version.

Everything runs through ONNX Runtime (CPU EP, 1 thread, ORT_ENABLE_BASIC) with fixed
seeds, so regenerating gives byte-identical files.  Generation refuses to run when
a weights file's sha256 differs from ``weights/models.json``.

``--verify`` re-runs ORT on the committed ONNX files with the committed fixture
inputs and compares with the committed outputs; it needs only numpy and
onnxruntime (torch is never imported), prints per-case max abs errors and exits
non-zero on a tolerance breach or a hash mismatch.

The file format is described in the ``conventions`` field of ``manifest.json``
(written by :func:`generate`) and in docs/design/onnx-contract.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import excitation
from tmrvc import onnx_utils as U

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = REPO_ROOT / "weights"
DEFAULT_OUT = REPO_ROOT / "Tests" / "Fixtures"
MANIFEST = "manifest.json"
FORMAT = "tmrvc-fixtures-v1"

N_STREAM = 300          # frames streamed per streaming model
N_CHUNK = 100           # frames of the chunked (T>1) case
TOL_MAX_ABS = 1e-4      # fp32 parity bar for model outputs
TOL_PER_OUTPUT: dict[str, dict[str, float]] = {}   # per-model, per-output exceptions (none today)
# float32 front end vs this float64 reference: quiet bands near the floor amplify
# FFT rounding in the log domain, so the bar is looser (see docs)
TOL_FRONTEND = 5e-4
LORA_SEED = 20240601
LORA_SCALE = 0.1
VOICE_SOURCE_SEED = 20240602

UTTERANCES = [
    {"id": "utt0", "voice": "en-us", "file": "audio/utt0_en-us.wav",
     "text": "The quick brown fox jumps over the lazy dog, while the rain in Spain stays mainly in the plain."},
    {"id": "utt1", "voice": "en-us+f3", "file": "audio/utt1_en-us-f3.wav",
     "text": "She sells sea shells by the sea shore on a sunny afternoon."},
    {"id": "utt2", "voice": "en-gb+m3", "file": "audio/utt2_en-gb-m3.wav",
     "text": "Hello there, how are you doing today?"},
]
SOURCE_UTT = "utt0"     # streamed through content_encoder -> converter -> vocoder
TARGET_UTT = "utt1"     # its speaker embedding is the converter's target


def _output_f0(pitch_features: np.ndarray) -> np.ndarray:
    """Excitation F0 (Hz, 0 unvoiced) of pitch features [2, T], as the engine derives it."""
    return np.where(pitch_features[1] > 0, C.PITCH_F0_REF_HZ * 2.0 ** pitch_features[0].astype(np.float64), 0.0)


def cv_saved_pitch(cases: list[dict]) -> dict:
    """The converter stream case's pitch input entry (the vocoder's pitch input refers to it)."""
    case = next(c for c in cases if c["name"] == "converter/stream")
    return next(e for e in case["inputs"] if e["name"] == "pitch")


class FixtureError(RuntimeError):
    """Bad weights, missing files or a failed verification."""


# ----------------------------------------------------------------------------- helpers
def state_frames(n: int) -> list[int]:
    """Frames after which the state outputs are stored.

    Every frame while the longest state (32 frames) fills (t < 32), then every 20th
    frame (t = 39, 59, ...) and the last frame.  Storing all 300 frames would cost
    ~26 MB for redundant data (a state is a window of the layer's past inputs).
    """
    return sorted(set(range(min(32, n))) | set(range(39, n, 20)) | {n - 1})


def read_wav_int16(path: Path) -> np.ndarray:
    """16-bit PCM mono wav -> float32 in [-1, 1) (sample / 32768)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise FixtureError(f"{path}: expected 16-bit mono PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        sr = w.getframerate()
    if sr != C.AUDIO_SAMPLE_RATE:
        raise FixtureError(f"{path}: expected {C.AUDIO_SAMPLE_RATE} Hz, got {sr}")
    return (data.astype(np.float32) / 32768.0)


def _read_wav_any(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise FixtureError(f"{path}: expected 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return data.reshape(-1, w.getnchannels()).mean(axis=1), w.getframerate()


def _write_wav_int16(path: Path, audio: np.ndarray) -> None:
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(C.AUDIO_SAMPLE_RATE)
        w.writeframes(pcm.tobytes())


def synthesize_audio(out_dir: Path, force: bool = False) -> None:
    """Create the source wavs with espeak-ng (only if missing, or when ``force``)."""
    from tmrvc.frontend import resample_to_24k

    espeak = shutil.which("espeak-ng")
    for utt in UTTERANCES:
        dst = out_dir / utt["file"]
        if dst.is_file() and not force:
            continue
        if espeak is None:
            raise FixtureError(f"{dst}: missing and espeak-ng is not installed to create it")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run([espeak, "-v", utt["voice"], "-w", str(raw), utt["text"]], check=True)
            audio, sr = _read_wav_any(raw)
        audio = resample_to_24k(audio, sr).astype(np.float64)
        audio *= 0.5 / max(1e-9, float(np.abs(audio).max()))     # peak -6 dBFS
        _write_wav_int16(dst, audio)
        print(f"wrote {dst}")


def _espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return "unknown"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return " ".join(out.split()[:4])


def check_weights(weights_dir: Path) -> dict:
    """sha256 of every ONNX file must match models.json; returns models.json."""
    mj = weights_dir / "models.json"
    if not mj.is_file():
        raise FixtureError(f"{mj}: not found (run python -m tmrvc.export first)")
    info = json.loads(mj.read_text())
    for name, entry in info["models"].items():
        path = weights_dir / entry["file"]
        if not path.is_file():
            raise FixtureError(f"{path}: missing (listed in {mj})")
        digest = U.sha256_file(path)
        if digest != entry["sha256"]:
            raise FixtureError(f"{path}: sha256 {digest} differs from {mj} ({entry['sha256']}); "
                               "re-run python -m tmrvc.export")
    return info


def _tolerance(model: str) -> dict:
    """A model case's bar: ``max_abs`` for every output, ``per_output`` where TOL_PER_OUTPUT names one."""
    per = TOL_PER_OUTPUT.get(model)
    return {"max_abs": TOL_MAX_ABS, **({"per_output": dict(per)} if per else {})}


def _rel(path: Path, root: Path = REPO_ROOT) -> str:
    """``path`` relative to ``root`` (the repository by default), or as given when outside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- generation
class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.total = 0

    def save(self, rel: str, array: np.ndarray) -> dict:
        array = np.ascontiguousarray(array)
        if array.dtype != np.float32:
            raise TypeError(f"{rel}: fixtures are float32")
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array, allow_pickle=False)
        self.total += path.stat().st_size
        return {"file": rel, "shape": list(array.shape), "dtype": "float32"}


def _entry(writer: _Writer, rel: str, array: np.ndarray, name: str, **extra) -> dict:
    e = {"name": name, **writer.save(rel, array)}
    e.update(extra)
    return e


def _ref(entry: dict, name: str, **extra) -> dict:
    e = {"name": name, "file": entry["file"], "shape": entry["shape"], "dtype": entry["dtype"]}
    e.update(extra)
    return e


def generate(weights_dir: Path = DEFAULT_WEIGHTS, out_dir: Path = DEFAULT_OUT,
             resynthesize_audio: bool = False, verbose: bool = True) -> dict:
    import onnxruntime as ort

    from tmrvc import frontend, pitch

    log = print if verbose else (lambda *a, **k: None)
    weights_dir, out_dir = Path(weights_dir), Path(out_dir)
    info = check_weights(weights_dir)
    synthesize_audio(out_dir, force=resynthesize_audio)
    for sub in ("frontend", "content_encoder", "converter", "vocoder", "ir_estimator", "speaker_encoder"):
        if (out_dir / sub).is_dir():
            shutil.rmtree(out_dir / sub)
    w = _Writer(out_dir)
    sessions = {n: U.make_session(weights_dir / e["file"]) for n, e in info["models"].items()}

    def model_fields(name: str) -> dict:
        e = info["models"][name]
        return {"model": name, "model_file": _rel(weights_dir / e["file"]), "model_sha256": e["sha256"]}

    audio = {u["id"]: read_wav_int16(out_dir / u["file"]) for u in UTTERANCES}
    mels = {k: frontend.log_mel(a) for k, a in audio.items()}
    cases: list[dict] = []

    # -- front end and reference pitch on the source utterance
    src = SOURCE_UTT
    utt_file = next(u["file"] for u in UTTERANCES if u["id"] == src)
    lm = w.save(f"frontend/{src}_log_mel.npy", mels[src])
    cases.append({"name": "frontend/log_mel", "kind": "frontend_log_mel",
                  "description": "tmrvc.frontend.log_mel of the wav (int16 / 32768 as float32)",
                  "inputs": [{"name": "audio", "file": utt_file, "format": "wav 24 kHz int16 mono"}],
                  "outputs": [{"name": "log_mel", **lm}],
                  "tolerance": {"max_abs": TOL_FRONTEND}})
    pf = pitch.pitch_features(audio[src])
    pe = w.save(f"frontend/{src}_pitch.npy", pf)
    cases.append({"name": "frontend/pitch", "kind": "reference_pitch", "informational": True,
                  "description": "tmrvc.pitch.pitch_features (causal YIN) of the wav; the engine may use "
                                 "another estimator, so this case documents the convention only",
                  "inputs": [{"name": "audio", "file": utt_file, "format": "wav 24 kHz int16 mono"}],
                  "outputs": [{"name": "pitch", **pe}],
                  "tolerance": {"max_abs": TOL_MAX_ABS}})

    n = N_STREAM
    if mels[src].shape[1] < n:
        raise FixtureError(f"{out_dir / utt_file}: shorter than {n} frames")
    sf = state_frames(n)

    def per_frame(x_1ct: np.ndarray) -> np.ndarray:          # [1, C, T] -> [T, 1, C, 1]
        return np.ascontiguousarray(np.moveaxis(x_1ct, 2, 0)[..., None])

    def stream_case(name: str, inputs: dict, slow: dict, per_frame_slow: dict, input_refs: dict) -> tuple:
        sess = sessions[name]
        outs, states = U.run_stream(sess, {**inputs, **slow}, n, per_frame_slow=per_frame_slow, state_frames=sf)
        case = {"name": f"{name}/stream", "kind": "stream", **model_fields(name), "n_frames": n,
                "inputs": [], "outputs": [], "states": [], "state_frames": sf, "tolerance": _tolerance(name)}
        for k, v in inputs.items():
            if k in input_refs:
                case["inputs"].append(_ref(input_refs[k], k, per_frame=True))
            else:
                case["inputs"].append(_entry(w, f"{name}/stream/{k}.npy", per_frame(v), k, per_frame=True))
        for k, v in slow.items():
            case["inputs"].append(_ref(input_refs[k], k, per_frame=False) if k in input_refs
                                  else _entry(w, f"{name}/stream/{k}.npy", v, k, per_frame=False))
        for k, v in per_frame_slow.items():
            case["inputs"].append(_entry(w, f"{name}/stream/{k}.npy", v, k, per_frame=True))
        saved = {}
        for k, v in outs.items():
            saved[k] = _entry(w, f"{name}/stream/{k}.npy", v, k, per_frame=True)
            case["outputs"].append(saved[k])
        for k, v in states.items():
            case["states"].append(_entry(w, f"{name}/stream/{k}.npy", v, k))
        cases.append(case)
        return outs, saved

    def chunk_case(name: str, inputs: dict) -> None:
        res = U.run_chunk(sessions[name], inputs)
        case = {"name": f"{name}/chunk", "kind": "chunk", **model_fields(name), "T": N_CHUNK,
                "description": f"one call with T={N_CHUNK} from zero states (all state_in_* zero)",
                "inputs": [_entry(w, f"{name}/chunk/{k}.npy", v, k) for k, v in inputs.items()],
                "outputs": [_entry(w, f"{name}/chunk/{k}.npy", v, k) for k, v in res.items()],
                "tolerance": _tolerance(name)}
        cases.append(case)

    # -- speaker encoder on three utterances of different lengths
    spk = {}
    for u in UTTERANCES:
        mel = mels[u["id"]][None]
        spk[u["id"]] = U.run_chunk(sessions["speaker_encoder"], {"mel": mel})["spk_embed"]
        cases.append({"name": f"speaker_encoder/{u['id']}", "kind": "call", **model_fields("speaker_encoder"),
                      "description": f"full-utterance log-mel of {u['file']}",
                      "inputs": [_entry(w, f"speaker_encoder/{u['id']}_mel.npy", mel, "mel")],
                      "outputs": [_entry(w, f"speaker_encoder/{u['id']}_spk_embed.npy", spk[u["id"]], "spk_embed")],
                      "tolerance": {"max_abs": TOL_MAX_ABS}})

    # -- content encoder
    mel_src = mels[src][None, :, :n]                                   # [1, 80, n]
    ce_out, ce_saved = stream_case("content_encoder", {"mel": mel_src}, {}, {}, {})
    content = U.frames_to_time(ce_out["content"])                      # [1, 256, n]
    chunk_case("content_encoder", {"mel": mel_src[:, :, :N_CHUNK]})

    # -- ir estimator: every 10 frames on the newest 50 frames (pre-stream frames = silence)
    iv, wlen = C.STREAMING_IR_UPDATE_INTERVAL, C.STREAMING_IR_WINDOW_FRAMES
    hist = np.concatenate([np.full((C.DIMS_MEL, wlen - 1), np.log(C.FRONTEND_LOG_FLOOR), np.float32),
                           mels[src][:, :n]], axis=1)
    update_frames = list(range(0, n, iv))
    windows = np.stack([hist[None, :, t:t + wlen] for t in update_frames])    # [K, 1, 80, 50]
    irs = np.stack([U.run_chunk(sessions["ir_estimator"], {"mel_window": win})["ir_params"] for win in windows])
    cases.append({"name": "ir_estimator/windows", "kind": "calls", **model_fields("ir_estimator"),
                  "n_calls": len(update_frames), "update_frames": update_frames,
                  "description": "call k sees mel frames [t-49, t] of the source utterance with t = "
                                 "update_frames[k]; frames before 0 are ln(log_floor) (digital silence)",
                  "inputs": [_entry(w, "ir_estimator/mel_window.npy", windows, "mel_window", per_call=True)],
                  "outputs": [_entry(w, "ir_estimator/ir_params.npy", irs, "ir_params", per_call=True)],
                  "tolerance": {"max_abs": TOL_MAX_ABS}})

    # -- converter
    voice_source = (np.random.default_rng(VOICE_SOURCE_SEED).standard_normal((1, C.DIMS_VOICE_SOURCE)) * 0.5
                    ).astype(np.float32)
    acoustic = np.stack([np.concatenate([irs[t // iv], voice_source], axis=1) for t in range(n)])  # [n, 1, 32]
    lora = (np.random.default_rng(LORA_SEED).standard_normal((1, C.LORA_DELTA_SIZE)) * LORA_SCALE
            ).astype(np.float32)
    pitch_src = pf[None, :, :n]
    target = spk[TARGET_UTT]
    spk_ref = next(c for c in cases if c["name"] == f"speaker_encoder/{TARGET_UTT}")["outputs"][0]
    cv_out, cv_saved = stream_case(
        "converter", {"content": content, "pitch": pitch_src},
        {"spk_embed": target, "lora_delta": lora}, {"acoustic_params": acoustic},
        {"content": ce_saved["content"], "spk_embed": spk_ref})
    cases[-1]["description"] = (f"acoustic_params[t] = cat(ir_params of call t // {iv} of ir_estimator/windows, "
                                "voice_source); spk_embed = speaker_encoder/" + TARGET_UTT +
                                f"; lora_delta = N(0,1) * {LORA_SCALE} (seed {LORA_SEED})")
    features = U.frames_to_time(cv_out["features"])
    chunk_case("converter", {"content": content[:, :, :N_CHUNK], "spk_embed": target,
                             "acoustic_params": acoustic[0], "pitch": pitch_src[:, :, :N_CHUNK],
                             "lora_delta": lora})

    # -- vocoder (the converter's output features and the source pitch as its output pitch) +
    #    reference source-filter synthesis
    vo_out, vo_saved = stream_case("vocoder", {"features": features, "pitch": pitch_src}, {}, {},
                                   {"features": cv_saved["features"], "pitch": cv_saved_pitch(cases)})
    chunk_case("vocoder", {"features": features[:, :, :N_CHUNK], "pitch": pitch_src[:, :, :N_CHUNK]})
    h, nz = U.frames_to_time(vo_out["harmonic"])[0], U.frames_to_time(vo_out["noise"])[0]
    audio_out = excitation.synthesize(h.astype(np.float64), nz.astype(np.float64), _output_f0(pitch_src[0]))
    cases.append({"name": "vocoder/synthesis", "kind": "synthesis",
                  "description": "tmrvc.excitation.synthesize of vocoder/stream harmonic & noise with the "
                                 "excitation at the pitch input's F0 (200 * 2^pitch[0] where pitch[1] > 0): "
                                 "block t (samples [240t, 240t+240)) is emitted right after frame t",
                  "inputs": [_ref(vo_saved["harmonic"], "harmonic", per_frame=True),
                             _ref(vo_saved["noise"], "noise", per_frame=True),
                             _ref(cv_saved_pitch(cases), "pitch", per_frame=True)],
                  "outputs": [_entry(w, "vocoder/synthesis_audio.npy", audio_out, "audio")],
                  "tolerance": {"max_abs": TOL_MAX_ABS}})

    manifest = {
        "format": FORMAT,
        "description": "Golden inputs/outputs of the TMRVC ONNX models and reference DSP, generated by "
                       "`python -m tmrvc.fixtures` from the committed wavs; verify with "
                       "`python -m tmrvc.fixtures --verify`.",
        "conventions": {
            "files": "NumPy .npy (format 1.0, little-endian float32, C order); paths relative to this folder "
                     "except model_file (relative to the repository root)",
            "per_frame": "per_frame=true arrays are stacked on axis 0: element t is exactly the tensor of frame t "
                         "(T=1), e.g. mel [N,1,80,1]; per_frame=false inputs are used unchanged for every frame",
            "stream": "frames run one at a time (T=1) from zero states; state_in_i of frame t = state_out_i of "
                      "frame t-1; states[*] hold state_out_i after each frame listed in state_frames (axis 0)",
            "chunk": "a single call with T>1 from zero states; outputs include the final state_out_i",
            "calls": "independent calls, inputs/outputs stacked on axis 0 (per_call=true)",
            "tolerance": "compare every output element: max |swift - fixture| <= tolerance.max_abs (tolerance.per_output[name] where given)",
        },
        "generator": {
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "session": "CPUExecutionProvider, intra_op_num_threads=1, inter_op_num_threads=1, ORT_ENABLE_BASIC",
            "espeak": _espeak_version(),
        },
        "tolerance": {"max_abs": TOL_MAX_ABS, "frontend_max_abs": TOL_FRONTEND,
                      "note": "fp32 parity bar for ONNX outputs; the float32 front end is compared with a "
                              "float64 reference, hence the looser frontend bar"},
        "weights": {"models_json": _rel(weights_dir / "models.json"),
                    "models": {k: {"file": _rel(weights_dir / e["file"]), "sha256": e["sha256"]}
                               for k, e in info["models"].items()}},
        "audio": [{**u, "sample_rate": C.AUDIO_SAMPLE_RATE, "samples": int(len(audio[u["id"]])),
                   "frames": int(mels[u["id"]].shape[1])} for u in UTTERANCES],
        "source_utterance": src,
        "target_utterance": TARGET_UTT,
        "voice_source": voice_source[0].tolist(),
        "cases": cases,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    total = w.total + sum((out_dir / u["file"]).stat().st_size for u in UTTERANCES)
    log(f"wrote {len(cases)} cases to {out_dir} ({total / 1e6:.2f} MB incl. audio)")
    return manifest


# ----------------------------------------------------------------------------- verification
def _load(root: Path, entry: dict) -> np.ndarray:
    a = np.load(root / entry["file"], allow_pickle=False)
    if list(a.shape) != entry["shape"] or str(a.dtype) != entry["dtype"]:
        raise FixtureError(f"{root / entry['file']}: shape/dtype {a.shape}/{a.dtype} != manifest")
    return a


def _rerun(case: dict, root: Path, sess) -> tuple[dict[str, np.ndarray], list[dict]]:
    """One case re-run from its committed inputs under ``root`` (``sess``: the model's ORT session,
    None for the DSP cases); returns the outputs by name and the manifest entries they answer."""
    kind = case["kind"]
    if kind == "stream":
        ins = {e["name"]: (_load(root, e), e["per_frame"]) for e in case["inputs"]}
        t_names = set(U.time_inputs(sess))
        full = {k: (U.frames_to_time(v) if k in t_names else v) for k, (v, pf) in ins.items()
                if k in t_names or not pf}
        pfs = {k: v for k, (v, pf) in ins.items() if pf and k not in t_names}
        outs, states = U.run_stream(sess, full, case["n_frames"], per_frame_slow=pfs,
                                    state_frames=case["state_frames"])
        return {**outs, **states}, case["outputs"] + case["states"]
    if kind in ("chunk", "call"):
        return U.run_chunk(sess, {e["name"]: _load(root, e) for e in case["inputs"]}), case["outputs"]
    if kind == "calls":
        ins = {e["name"]: _load(root, e) for e in case["inputs"]}
        res = [U.run_chunk(sess, {k: v[i] for k, v in ins.items()}) for i in range(case["n_calls"])]
        return {e["name"]: np.stack([r[e["name"]] for r in res]) for e in case["outputs"]}, case["outputs"]
    if kind == "synthesis":
        ins = {e["name"]: U.frames_to_time(_load(root, e))[0].astype(np.float64) for e in case["inputs"]}
        return ({"audio": excitation.synthesize(ins["harmonic"], ins["noise"], _output_f0(ins["pitch"]))},
                case["outputs"])
    if kind in ("frontend_log_mel", "reference_pitch"):
        from tmrvc import frontend, pitch
        x = read_wav_int16(root / case["inputs"][0]["file"])
        got = {"log_mel": frontend.log_mel(x)} if kind == "frontend_log_mel" else {"pitch": pitch.pitch_features(x)}
        return got, case["outputs"]
    raise FixtureError(f"{root / MANIFEST}: case {case['name']}: unknown kind {kind!r}")


def verify(weights_dir: Path = DEFAULT_WEIGHTS, out_dir: Path = DEFAULT_OUT, verbose: bool = True) -> dict:
    """Re-run every case; returns {case: max_abs_error}; raises FixtureError on failure."""
    log = print if verbose else (lambda *a, **k: None)
    weights_dir, out_dir = Path(weights_dir), Path(out_dir)
    manifest = json.loads((out_dir / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise FixtureError(f"{out_dir / MANIFEST}: unknown format {manifest.get('format')!r}")
    info = check_weights(weights_dir)
    for name, m in manifest["weights"]["models"].items():
        if info["models"][name]["sha256"] != m["sha256"]:
            raise FixtureError(f"{weights_dir / info['models'][name]['file']}: sha256 differs from "
                               f"{out_dir / MANIFEST}; regenerate fixtures (python -m tmrvc.fixtures)")
    sessions: dict = {}
    errors: dict[str, float] = {}
    failures = []
    for case in manifest["cases"]:
        if "model" in case:
            path = weights_dir / info["models"][case["model"]]["file"]
            if U.sha256_file(path) != case["model_sha256"]:
                raise FixtureError(f"{path}: sha256 differs from case {case['name']} in {out_dir / MANIFEST}")
            sessions.setdefault(case["model"], U.make_session(path))
        got, refs = _rerun(case, out_dir, sessions.get(case.get("model")))
        err, ok = 0.0, True
        tol = case["tolerance"]["max_abs"]
        for e in refs:
            ref = _load(out_dir, e)
            if got[e["name"]].shape != ref.shape:
                raise FixtureError(f"case {case['name']}: {e['name']} shape {got[e['name']].shape} != {ref.shape}")
            e_err = float(np.abs(got[e["name"]].astype(np.float64) - ref).max())
            ok = ok and e_err <= case["tolerance"].get("per_output", {}).get(e["name"], tol)
            err = max(err, e_err)
        errors[case["name"]] = err
        log(f"{'ok  ' if ok else 'FAIL'} {case['name']:28s} max abs error {err:.3g} (tolerance {tol:g})")
        if not ok:
            failures.append(case["name"])
    if failures:
        raise FixtureError(f"{len(failures)} fixture case(s) out of tolerance: {', '.join(failures)}")
    return errors


# ----------------------------------------------------------------------------- ONNX Runtime's INT8 files
ORT_INT8_TOLERANCE = {"max_abs": 0.1}   # see ort_int8(): the same files in both runtimes


def ort_int8(weights_dir: Path, fixtures_dir: Path, out: Path, verbose: bool = True) -> dict:
    """Fixtures for ONNX Runtime's own dynamic-INT8 files (``quantize_dynamic``: per-channel int8
    weights, DynamicQuantizeLinear + MatMulInteger / ConvInteger) of the models, so the Swift runtime
    runs the very files ORT runs (FixtureParityTests reads ``out``; tools/test.sh writes it).

    Every model case of the committed fixtures is re-run by ORT on the quantised file with the
    committed inputs (copied into ``out``); ORT's outputs and states replace the references
    (under ``out/ort_int8/``) and the models go to ``out/models/``. Both runtimes quantise each
    activation tensor to uint8 at run time and sum the int8 products exactly (the files have 7-bit
    weights, ``onnx_utils.quantize_dynamic_int8``, so ORT's kernels do not saturate), so they differ
    only where a last-bit difference of the float operators (x / scale, LayerNorm, Gelu) puts a value
    on the other side of a rounding half step: one uint8 level of one activation, which later
    frames carry through the states. Measured (2026-12-07): single calls within 5e-7 with the AVX2
    kernels (0.044 with the generic build, one such flip), 300-frame streams within 0.031 (content
    features), 0.015 (converter features), 0.0018 (vocoder envelopes); ``ORT_INT8_TOLERANCE`` is
    twice the worst. A broken operator gives errors of order 1.
    """
    log = print if verbose else (lambda *a, **k: None)
    weights_dir, fixtures_dir, out = Path(weights_dir), Path(fixtures_dir), Path(out)
    manifest = json.loads((fixtures_dir / MANIFEST).read_text())
    info = check_weights(weights_dir)
    if out.exists():
        shutil.rmtree(out)
    (out / "models").mkdir(parents=True)
    names = sorted({c["model"] for c in manifest["cases"] if "model" in c})
    U.quantize_dynamic_int8(weights_dir, out / "models", names, {n: info["models"][n]["file"] for n in names})
    sessions = {n: U.make_session(out / "models" / f"{n}.onnx") for n in names}
    cases = []
    for case in manifest["cases"]:
        if "model" not in case:
            continue
        for e in case["inputs"]:
            dst = out / e["file"]
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fixtures_dir / e["file"], dst)
        got, refs = _rerun(case, fixtures_dir, sessions[case["model"]])
        renamed = {}
        for e in refs:
            rel = f"ort_int8/{e['file']}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            np.save(out / rel, np.ascontiguousarray(got[e["name"]], dtype=np.float32), allow_pickle=False)
            renamed[e["name"]] = {**e, "file": rel}
        model = out / "models" / f"{case['model']}.onnx"
        cases.append({**case, "model_file": _rel(model, out), "model_sha256": U.sha256_file(model),
                      "outputs": [renamed[e["name"]] for e in case["outputs"]],
                      "states": [renamed[e["name"]] for e in case.get("states", [])],
                      "tolerance": dict(ORT_INT8_TOLERANCE)})
        log(f"ORT int8: {case['name']}")
    result = {"format": FORMAT, "description": "ONNX Runtime dynamic INT8 (quantize_dynamic, per-channel QInt8) "
              "versions of the models, ORT's outputs on the committed fixture inputs (tmrvc.fixtures --ort-int8)",
              "tolerance": dict(ORT_INT8_TOLERANCE), "cases": cases}
    (out / MANIFEST).write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {len(cases)} ONNX Runtime INT8 cases to {out}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate or verify the TMRVC golden fixtures.")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--verify", action="store_true", help="re-run and compare instead of generating")
    parser.add_argument("--ort-int8", type=Path, metavar="DIR",
                        help="write fixtures for ONNX Runtime's dynamic-INT8 files of the models into DIR "
                             "(models + ORT's outputs on the committed inputs of --out)")
    parser.add_argument("--resynthesize-audio", action="store_true",
                        help="re-create the source wavs with espeak-ng (changes every fixture)")
    args = parser.parse_args(argv)
    try:
        if args.ort_int8:
            ort_int8(args.weights, args.out, args.ort_int8)
        elif args.verify:
            verify(args.weights, args.out)
            print("fixtures verified")
        else:
            generate(args.weights, args.out, resynthesize_audio=args.resynthesize_audio)
    except FixtureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
