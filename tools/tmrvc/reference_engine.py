"""Python reference of the Swift streaming engine's conversion path (ONNX Runtime + reference DSP).

It implements the same algorithm as ``StreamingEngine`` in its simplest configuration — 24 kHz
input (no resampling), q = 0 (no lookahead, 40 ms F0 window, ir_estimator every 20 frames), noise
gate off, wet = 1, gain 0 dB, voice-source alpha 0 — so that ``tmrvc convert`` can be checked end to
end against an independent implementation (``Tests/EngineTests/ReferenceEngineTests.swift``)::

    python -m tmrvc.reference_engine            # writes Tests/Fixtures/engine/
    python -m tmrvc.reference_engine --check    # recomputes and compares with the committed files

Per hop t (frame t = the 240 samples ending at (t+1)*240):
  log-mel (frontend.log_mel) -> content_encoder (T=1, states fed back)
  every 20th hop (t % 20 == 0): ir_estimator on mel frames t-49..t (ln(1e-5) before the start);
  the engine spreads that run over P = min(streaming.ir_run_parts, 20) = 7 hops and the
  converter's update of its acoustic_params nodes over K = min(streaming.acoustic_update_parts,
  20 - P + 1) = 4 hops (the first shared), so its result applies from hop t + P + K - 2 = t + 9 on
  acoustic_params = [ir_params (latest applied update), 8 zeros]
  pitch = tmrvc.pitch.pitch_features (causal YIN on the same 960-sample frame), its log-F0 moved
  into the target's register (tmrvc.excitation.RegisterMap with the speaker file's pitch
  statistics; a shift only for a version-1 file) plus the pitch shift
  converter (T=1, slow inputs from the speaker file; the mapped pitch) -> vocoder (T=1; features and
  the mapped pitch) -> H, N -> Y = H E_h + N E_n with the excitation at the mapped F0
  (tmrvc.excitation.Excitation) -> istft_ola.
The engine emits block t (input-aligned samples [(t-1)*240, t*240)) and reports a latency of 480
samples; ``tmrvc convert`` drops them, so its output sample n equals istft_ola's sample n + 240.
The input is padded with 480 zeros, as ``tmrvc convert`` does.

Only numpy + onnxruntime (+ soundfile) are used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tmrvc import constants as C
from tmrvc import excitation, frontend, pitch
from tmrvc.onnx_utils import make_session
from tmrvc.speaker_file import SpeakerProfile

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "engine"
INPUT_WAV = ROOT / "Tests" / "Fixtures" / "audio" / "utt0_en-us.wav"
SPEAKER = ROOT / "weights" / "speakers" / "flite_rms.tmrvc_speaker"
IR_INTERVAL_Q0 = 20
IR_PARTS_Q0 = min(C.STREAMING_IR_RUN_PARTS, IR_INTERVAL_Q0)     # hops one ir_estimator run is spread over
ACOUSTIC_PARTS_Q0 = min(C.STREAMING_ACOUSTIC_UPDATE_PARTS, IR_INTERVAL_Q0 - IR_PARTS_Q0 + 1)  # then the converter's update
IR_APPLY_HOP_Q0 = IR_PARTS_Q0 + ACOUSTIC_PARTS_Q0 - 2             # hop of the cycle from which the estimate applies
HOP = C.AUDIO_HOP_LENGTH
FIXTURE_CONTENT_WARP = 0.25                                       # the second fixture's content warp strength
LATENCY_Q0 = 2 * HOP


def _stream(session, feeds_per_frame, static_feeds):
    """Runs a streaming model frame by frame with state feedback; yields output dicts."""
    states = {i.name: np.zeros([d for d in i.shape], np.float32)
              for i in session.get_inputs() if i.name.startswith("state_in_")}
    out_names = [o.name for o in session.get_outputs()]
    for feeds in feeds_per_frame:
        result = session.run(None, {**static_feeds, **feeds, **states})
        named = dict(zip(out_names, result))
        for k in list(states):
            states[k] = named["state_out_" + k[len("state_in_"):]]
        yield named


def load_sessions(weights: Path = ROOT / "weights") -> dict:
    """ONNX Runtime sessions of the four per-frame models in ``weights``."""
    return {name: make_session(Path(weights) / f"{name}.onnx")
            for name in ("content_encoder", "ir_estimator", "converter", "vocoder")}


def vocode(features: np.ndarray, pitch_features: np.ndarray, sessions: dict) -> np.ndarray:
    """Vocoder (T=1, states fed back) on log-mel features [80, T] and the output pitch [2, T],
    source-filter synthesis with the streaming excitation, istft_ola; the output sample n is
    istft_ola's sample n + 240, as in :func:`convert` (the synthesis delay)."""
    ex = excitation.Excitation()
    spectra = []
    frames = ({"features": features[None, :, t:t + 1].astype(np.float32),
               "pitch": pitch_features[None, :, t:t + 1].astype(np.float32)} for t in range(features.shape[1]))
    for t, o in enumerate(_stream(sessions["vocoder"], frames, {})):
        e_h, e_n = ex.step(output_f0_hz(pitch_features[:, t]))
        spectra.append(o["harmonic"][0, :, 0].astype(np.float64) * e_h + o["noise"][0, :, 0].astype(np.float64) * e_n)
    y = np.stack(spectra, axis=1)
    return output_stage(frontend.istft_ola(np.abs(y), np.angle(y))[HOP:])


def output_stage(x: np.ndarray, sr: int = C.AUDIO_SAMPLE_RATE) -> np.ndarray:
    """The engine's output protection on the converted signal (wet 1, gain 0 dB): the one-pole DC
    blocker ``y = x - x1 + R y1``, ``R = exp(-2 pi output.dc_cutoff_hz / sr)`` (float64 state),
    rounded to float32, then the safety limiter (gain = threshold / |x| at once when
    ``|x| * gain`` exceeds ``output.limiter_threshold``, linear release over
    ``output.limiter_release_ms``; float32 arithmetic as the engine's ``SafetyLimiter``)."""
    from scipy.signal import lfilter

    r = np.exp(-2.0 * np.pi * C.OUTPUT_DC_CUTOFF_HZ / sr)
    y = lfilter([1.0, -1.0], [1.0, -r], np.asarray(x, np.float64)).astype(np.float32)
    thr = np.float32(C.OUTPUT_LIMITER_THRESHOLD)
    step = np.float32(1.0 / max(1.0, C.OUTPUT_LIMITER_RELEASE_MS * sr / 1000.0))
    if np.abs(y).max(initial=0.0) <= thr:          # the limiter never engages: bit-exact pass-through
        return y
    g = np.float32(1.0)
    out = y.copy()
    for i, v in enumerate(y):
        a = np.float32(abs(v))
        released = np.float32(min(np.float32(1.0), g + step)) if g < 1 else np.float32(1.0)
        g = np.float32(thr / a) if a * released > thr else released
        if g < 1:
            out[i] = v * g
    return out


def output_f0_hz(pitch_frame: np.ndarray) -> float:
    """The excitation's F0 for one frame of (mapped) pitch features: 0 when unvoiced."""
    logf0, voicing = float(pitch_frame[0]), float(pitch_frame[1])
    return C.PITCH_F0_REF_HZ * 2.0 ** logf0 if voicing > 0 else 0.0


def map_pitch(pit: np.ndarray, profile: SpeakerProfile, shift_semitones: float = 0.0,
              content_warp: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Source pitch features [2, T] -> (output pitch features, content warp factors [T]): log-F0
    moved into the profile's register (running source statistics,
    :class:`tmrvc.excitation.RegisterMap`), plus the shift; frame t's warp factor comes from the
    statistics of the frames before it (what the engine knows when frame t enters the content
    encoder, at q = 0)."""
    stats = profile.pitch_stats
    rm = excitation.RegisterMap(*stats) if stats is not None else excitation.RegisterMap()
    out = pit.copy()
    alphas = np.ones(pit.shape[1])
    for t in range(pit.shape[1]):
        alphas[t] = rm.content_warp(content_warp)
        out[0, t] = rm(float(pit[0, t]), bool(pit[1, t] > 0), shift_semitones)
    return out.astype(np.float32), alphas


def copy_synthesis(audio: np.ndarray, sessions: dict) -> np.ndarray:
    """``audio`` (24 kHz) through the vocoder alone (its own log-mel and pitch), same length: the
    vocoder's ceiling in the evaluation."""
    x = np.concatenate([audio.astype(np.float32), np.zeros(LATENCY_Q0, np.float32)])
    return vocode(frontend.log_mel(x), pitch.pitch_features(x), sessions)[:len(audio)]


def convert(audio: np.ndarray, profile: SpeakerProfile, weights: Path = ROOT / "weights",
            sessions: dict | None = None, shift_semitones: float = 0.0,
            content_warp: float = C.PITCH_CONTENT_WARP_STRENGTH) -> np.ndarray:
    """``audio`` (24 kHz) converted to ``profile``'s voice as the engine does at q = 0."""
    sessions = sessions or load_sessions(weights)
    features, pit = convert_features(audio, profile, sessions, shift_semitones, content_warp)
    return vocode(features, pit, sessions)[:len(audio)]


def convert_features(audio: np.ndarray, profile: SpeakerProfile, sessions: dict,
                     shift_semitones: float = 0.0,
                     content_warp: float = C.PITCH_CONTENT_WARP_STRENGTH) -> tuple[np.ndarray, np.ndarray]:
    """The converter's output features [80, T] for ``audio`` (before the vocoder), streamed
    frame by frame with the content encoder, IR estimator and converter of ``sessions``, and
    the output (register-mapped) pitch features [2, T] fed to converter and vocoder.
    ``content_warp`` > 0: each mel frame reaches the content encoder warped by its factor
    (:func:`map_pitch`, :func:`tmrvc.frontend.warp_mel`); the IR estimator reads it unwarped."""
    x = np.concatenate([audio.astype(np.float32), np.zeros(LATENCY_Q0, np.float32)])
    mel = frontend.log_mel(x)                       # [80, T]
    n = mel.shape[1]
    pit, alphas = map_pitch(pitch.pitch_features(x), profile, shift_semitones, content_warp)   # [2, T], [T]
    content_s, ir_s = sessions["content_encoder"], sessions["ir_estimator"]
    conv_s = sessions["converter"]
    content_in = (frontend.warp_mel(mel[:, t], float(alphas[t]))[None, :, None] for t in range(n))
    content = np.stack([o["content"][0, :, 0] for o in
                        _stream(content_s, ({"mel": m} for m in content_in), {})])
    floor = np.float32(np.log(C.FRONTEND_LOG_FLOOR))
    window = C.STREAMING_IR_WINDOW_FRAMES
    padded_mel = np.concatenate([np.full((80, window - 1), floor, np.float32), mel], axis=1)
    acoustic = np.zeros((n, C.DIMS_ACOUSTIC_PARAMS), np.float32)
    ir = np.zeros(C.DIMS_IR_PARAMS, np.float32)
    pending = ir
    for t in range(n):
        if t % IR_INTERVAL_Q0 == 0:
            pending = ir_s.run(None, {"mel_window": padded_mel[None, :, t:t + window]})[0][0]
        if t % IR_INTERVAL_Q0 == IR_APPLY_HOP_Q0:
            ir = pending
        acoustic[t, :C.DIMS_IR_PARAMS] = ir
    static = {"spk_embed": profile.embedding[None, :].astype(np.float32),
              "lora_delta": profile.lora_delta[None, :].astype(np.float32)}
    conv_frames = ({"content": content[t][None, :, None], "pitch": pit[None, :, t:t + 1],
                    "acoustic_params": acoustic[t][None, :]} for t in range(n))
    return np.stack([o["features"][0, :, 0] for o in _stream(conv_s, conv_frames, static)], axis=1), pit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixture")
    args = parser.parse_args(argv)
    import soundfile as sf

    audio, sr = sf.read(INPUT_WAV, dtype="float32")
    if sr != C.AUDIO_SAMPLE_RATE:
        print(f"error: {INPUT_WAV}: expected {C.AUDIO_SAMPLE_RATE} Hz, got {sr}", file=sys.stderr)
        return 2
    profile, sessions = SpeakerProfile.read(SPEAKER), load_sessions()
    worst = 0.0
    for warp, suffix in ((0.0, ""), (FIXTURE_CONTENT_WARP, "_warp")):
        y = convert(audio, profile, sessions=sessions, content_warp=warp)
        target = OUT / f"utt0_{SPEAKER.stem}_q0{suffix}.npy"
        if args.check:
            err = float(np.max(np.abs(np.load(target) - y)))
            print(f"reference engine (content warp {warp}) vs committed {target.relative_to(ROOT)}: max abs error {err:.3g}")
            worst = max(worst, err)
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        np.save(target, y)
        print(f"wrote {target.relative_to(ROOT)}: {len(y)} samples, peak {np.max(np.abs(y)):.4f} (content warp {warp})")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
