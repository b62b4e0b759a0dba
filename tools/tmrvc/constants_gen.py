"""Generate the Swift and Python constants from ``configs/constants.yaml``.

Usage (from the repository root)::

    python -m tmrvc.constants_gen            # rewrite both generated files
    python -m tmrvc.constants_gen --check    # exit 1 if either file is stale

The YAML file is the single source of truth.  This module validates it against a
schema (every key present, no unknown keys, right types, derived values
consistent) and refuses bad input with a message naming the file and the field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = REPO_ROOT / "configs" / "constants.yaml"
SWIFT_PATH = REPO_ROOT / "Sources" / "TMRVCConstants" / "Constants.swift"
PYTHON_PATH = REPO_ROOT / "tools" / "tmrvc" / "constants.py"

# section -> key -> expected type (int, float, str, or list-of-type as (list, type))
SCHEMA: dict[str, dict[str, object]] = {
    "audio": {"sample_rate": int, "hop_length": int, "host_sample_rates": (list, int)},
    "frontend": {
        "n_fft": int, "win_length": int, "window": str, "n_mels": int, "fmin": float,
        "fmax": float, "mel_scale": str, "mel_norm": str, "magnitude_power": float,
        "log_floor": float,
    },
    "vocoder": {"n_fft": int, "hop_length": int, "window": str, "log_mag_clip": float},
    "dims": {
        "mel": int, "content": int, "speaker": int, "ir_params": int, "voice_source": int,
        "acoustic_params": int, "pitch": int, "speaker_tokens": int, "attention_dim": int,
        "attention_heads": int,
    },
    "excitation": {"harmonic_cutoff_hz": float, "noise_seed": int, "voicing_ramp_samples": int},
    "output": {"dc_cutoff_hz": float, "limiter_threshold": float, "limiter_release_ms": float},
    "pitch": {"f0_ref_hz": float, "f0_min_hz": float, "f0_max_hz": float, "lowpass_hz": float,
              "voicing_dmin_weight": float, "voicing_lowband_weight": float,
              "voicing_previous_dmin_weight": float, "voicing_bias": float, "track_confident_dmin": float,
              "track_hold_frames": int, "track_octave_margin": float, "track_max_jump_octaves": float,
              "track_search_tolerance": float,
              "register_prior_hz": float,
              "register_prior_std": float, "register_prior_frames": int, "register_mean_prior_frames": int,
              "register_settle_frames": int, "register_mean_frames": int, "register_max_frames": int,
              "register_std_ratio_min": float, "register_std_ratio_max": float,
              "content_warp_strength": float, "content_warp_min": float, "content_warp_max": float},
    "lora": {"rank": int, "targets": (list, str), "delta_size": int},
    "streaming": {
        "ir_update_interval": int, "ir_window_frames": int, "ir_run_parts": int, "acoustic_update_parts": int,
        "max_lookahead_hops": int,
        "base_latency_ms": float, "crossfade_ms": float,
    },
    "speaker_file": {"extension": str, "magic": str, "version": int},
}


class ConstantsError(ValueError):
    """A constants file that is missing, malformed or inconsistent."""


def _fail(path: Path, field: str, problem: str) -> None:
    raise ConstantsError(f"{path}: field '{field}': {problem}")


def _check_type(path: Path, field: str, value: object, expected: object) -> object:
    if isinstance(expected, tuple):
        _, item_type = expected
        if not isinstance(value, list) or not value:
            _fail(path, field, f"expected a non-empty list, got {value!r}")
        return [_check_type(path, f"{field}[{i}]", v, item_type) for i, v in enumerate(value)]
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, field, f"expected a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, field, f"expected an integer, got {value!r}")
        return value
    if not isinstance(value, expected):  # type: ignore[arg-type]
        _fail(path, field, f"expected {expected.__name__}, got {value!r}")  # type: ignore[union-attr]
    return value


def load_constants(path: Path = CONFIG_PATH) -> dict[str, dict[str, object]]:
    """Read, validate and return the constants as ``{section: {key: value}}``."""
    if not path.is_file():
        raise ConstantsError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConstantsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConstantsError(f"{path}: top level must be a mapping of sections")
    out: dict[str, dict[str, object]] = {}
    for section, keys in SCHEMA.items():
        body = raw.get(section)
        if not isinstance(body, dict):
            _fail(path, section, "missing section")
        for key, expected in keys.items():
            if key not in body:
                _fail(path, f"{section}.{key}", "missing")
            out.setdefault(section, {})[key] = _check_type(path, f"{section}.{key}", body[key], expected)
        for key in body:
            if key not in keys:
                _fail(path, f"{section}.{key}", "unknown key (add it to the schema in tmrvc/constants_gen.py)")
    for section in raw:
        if section not in SCHEMA:
            _fail(path, str(section), "unknown section")
    _check_consistency(path, out)
    return out


def _check_consistency(path: Path, c: dict[str, dict[str, object]]) -> None:
    a, f, v, d, lo, s = c["audio"], c["frontend"], c["vocoder"], c["dims"], c["lora"], c["streaming"]
    for field, value in [("audio.sample_rate", a["sample_rate"]), ("audio.hop_length", a["hop_length"]),
                         ("frontend.n_fft", f["n_fft"]), ("vocoder.n_fft", v["n_fft"])]:
        if value <= 0:  # type: ignore[operator]
            _fail(path, field, f"must be positive, got {value}")
    if f["win_length"] > f["n_fft"] or f["win_length"] < a["hop_length"]:  # type: ignore[operator]
        _fail(path, "frontend.win_length", "must satisfy hop_length <= win_length <= n_fft")
    if d["mel"] != f["n_mels"]:
        _fail(path, "dims.mel", f"must equal frontend.n_mels ({f['n_mels']})")
    if d["acoustic_params"] != d["ir_params"] + d["voice_source"]:  # type: ignore[operator]
        _fail(path, "dims.acoustic_params", "must equal dims.ir_params + dims.voice_source")
    if v["hop_length"] != a["hop_length"]:
        _fail(path, "vocoder.hop_length", "must equal audio.hop_length")
    if v["n_fft"] != 2 * v["hop_length"]:  # type: ignore[operator]
        _fail(path, "vocoder.n_fft", "must be 2 * hop_length (50% overlap sqrt-Hann OLA)")
    ramp = c["excitation"]["voicing_ramp_samples"]  # type: ignore[index]
    if not 1 <= ramp <= v["hop_length"]:  # type: ignore[operator]
        _fail(path, "excitation.voicing_ramp_samples", "must be in 1 ... vocoder.hop_length")
    if f["fmax"] > a["sample_rate"] / 2:  # type: ignore[operator]
        _fail(path, "frontend.fmax", "must not exceed the Nyquist frequency")
    if d["attention_dim"] % d["attention_heads"] != 0:  # type: ignore[operator]
        _fail(path, "dims.attention_heads", "must divide dims.attention_dim")
    expected_delta = len(lo["targets"]) * 2 * lo["rank"] * d["attention_dim"]  # type: ignore[arg-type,operator]
    if lo["delta_size"] != expected_delta:
        _fail(path, "lora.delta_size", f"must be len(targets)*2*rank*attention_dim = {expected_delta}")
    base = 1000.0 * (a["hop_length"] + v["n_fft"] - v["hop_length"]) / a["sample_rate"]  # type: ignore[operator]
    if abs(s["base_latency_ms"] - base) > 1e-9:  # type: ignore[operator]
        _fail(path, "streaming.base_latency_ms", f"must be hop + synthesis overlap = {base} ms")
    if f["window"] != "hann_periodic" or v["window"] != "sqrt_hann_periodic":
        _fail(path, "frontend.window/vocoder.window", "only hann_periodic / sqrt_hann_periodic are implemented")
    if f["mel_scale"] != "slaney" or f["mel_norm"] != "slaney":
        _fail(path, "frontend.mel_scale/mel_norm", "only 'slaney' is implemented")
    if len(str(c["speaker_file"]["magic"]).encode()) != 8:
        _fail(path, "speaker_file.magic", "must be exactly 8 ASCII bytes")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _swift_literal(value: object) -> tuple[str, str]:
    if isinstance(value, bool):
        raise TypeError("booleans are not used in constants")
    if isinstance(value, int):
        return "Int", str(value)
    if isinstance(value, float):
        return "Double", repr(value)
    if isinstance(value, str):
        return "String", '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        types_and_items = [_swift_literal(v) for v in value]
        return f"[{types_and_items[0][0]}]", "[" + ", ".join(t[1] for t in types_and_items) + "]"
    raise TypeError(f"unsupported constant type {type(value)}")


SWIFT_KEYWORDS = {"extension", "default", "case", "class", "struct", "enum", "protocol", "import",
                  "func", "var", "let", "in", "is", "as", "self", "Self", "init", "return", "where"}

HEADER = "generated from configs/constants.yaml by `python -m tmrvc.constants_gen`; do not edit"


def render_swift(c: dict[str, dict[str, object]]) -> str:
    lines = [f"// {HEADER}.", "", "/// Constants shared by the TMRVC Python tools and the Swift runtime.",
             "public enum TMRVCConstants {"]
    for section, keys in c.items():
        lines.append(f"    /// `{section}` section of configs/constants.yaml.")
        lines.append(f"    public enum {_pascal(section)} {{")
        for key, value in keys.items():
            swift_type, literal = _swift_literal(value)
            lines.append(f"        /// `{section}.{key}`.")
            ident = _camel(key)
            if ident in SWIFT_KEYWORDS:
                ident = f"`{ident}`"
            lines.append(f"        public static let {ident}: {swift_type} = {literal}")
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_python(c: dict[str, dict[str, object]]) -> str:
    lines = [f'"""TMRVC constants ({HEADER})."""', ""]
    for section, keys in c.items():
        for key, value in keys.items():
            lines.append(f"{section.upper()}_{key.upper()} = {value!r}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that generated files are fresh")
    parser.add_argument("--config", type=Path, default=CONFIG_PATH)
    args = parser.parse_args(argv)
    try:
        constants = load_constants(args.config)
    except ConstantsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outputs = {SWIFT_PATH: render_swift(constants), PYTHON_PATH: render_python(constants)}
    stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(REPO_ROOT)} (run: python -m tmrvc.constants_gen)", file=sys.stderr)
        return 1 if stale else 0
    for p, text in outputs.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        print(f"wrote {p.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
