"""Training configuration: ``configs/train_student.yaml``, ``train_teacher.yaml``, ``export.yaml``.

Each file has top-level defaults plus ``sizes: {<size>: {...overrides...}}``; the
resolved config of a size is the deep merge of all three files' defaults with their
``sizes.<size>`` overrides.  ``--set a.b.c=value`` (YAML-parsed value) overrides
any key from the command line.  Paths are relative to the repository root and may
contain ``{size}``.

Stage configurations are typed (:data:`STAGE_FIELDS`): the merged ``common`` + ``stages.<stage>``
mapping must hold every required key of the stage (their values live in the YAML files, the one
place of defaults), may hold the optional keys (their defaults are in :data:`OPTIONAL`, nowhere
else), and nothing else: an unknown or misspelled key is an error naming the stage and the key.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO_ROOT / "configs"
CONFIG_FILES = ("train_student.yaml", "train_teacher.yaml", "export.yaml")


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(size: str = "smoke", config_dir: Path = CONFIG_DIR, overrides: list[str] | None = None) -> dict:
    cfg: dict = {}
    sizes = set()
    for name in CONFIG_FILES:
        data = yaml.safe_load((Path(config_dir) / name).read_text()) or {}
        per_size = data.pop("sizes", {}) or {}
        sizes |= set(per_size)
        cfg = deep_merge(cfg, data)
        cfg = deep_merge(cfg, per_size.get(size, {}) or {})
    if size not in sizes:
        raise ValueError(f"unknown size {size!r} (configs define: {', '.join(sorted(sizes))})")
    for item in overrides or []:
        key, _, value = item.partition("=")
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(value)
    cfg["size"] = size
    for k, v in list(cfg.get("paths", {}).items()):
        p = Path(str(v).format(size=size))
        cfg["paths"][k] = str(p if p.is_absolute() else REPO_ROOT / p)
    return cfg


# Keys every stage has (``common`` in train_student.yaml, and per stage: steps, lr ...).
_COMMON = {"seed": int, "lr": float, "grad_clip": float, "save_every": int, "keep_checkpoints": int,
           "log_every": int, "steps": int}
_CROP = {"batch": int, "warm": int, "frames": int}
_COND = {**_CROP, "p_aug": float, "p_voice_source": float, "p_cross": float, "roles": list}
_VOCODER = {**_CROP, "w_logmag": float, "mel_noise": float, "p_shift": float, "shift_octaves": float, "roles": list}

# Required keys and their types, per stage.
STAGE_FIELDS: dict[str, dict[str, type]] = {
    "speaker_encoder": {**_COMMON, "batch": int, "frames": int, "p_aug": float, "margin": float, "scale": float,
                        "distill_weight": float},
    "content_encoder": {**_COMMON, **_CROP, "p_aug": float, "whisper_weight": float},
    "ir_estimator": {**_COMMON, "batch": int, "p_aug": float},
    "vocoder": {**_COMMON, **_VOCODER, "jobs": int},
    "teacher": {**_COMMON, **_COND, "channels": int, "mults": list, "eval_ode_steps": int},
    "distill": {**_COMMON, **_COND, "ode_steps": int, "rec_weight": float},
    "dmd": {**_COMMON, **_COND, "ode_steps": int, "rec_weight": float, "reg_weight": float, "dmd_weight": float,
            "t_min": float, "t_max": float},
    "joint": {**_COMMON, **_COND, "anchor_weight": float, "p_warp": float, "warp": float, "adv_weight": float},
    "vocoder_gta": {**_COMMON, **_VOCODER, "p_real": float},
    "adapt": {**_COMMON, **_CROP, "speaker": str, "speakers": list, "utterances": int, "p_warp": float, "warp": float},
}

# Optional keys (any stage) and their defaults: the only place these defaults live.
OPTIONAL: dict[str, object] = {
    "warmup": None,             # linear warm-up steps (None: steps // 20)
    "weight_decay": 0.0,        # AdamW weight decay
    "init_from": None,          # vocoder: warm start from an exported (earlier-contract) vocoder ONNX
    "jobs": 1,                  # vocoder_gta: processes for the clips' YIN pitch at setup
    "created_by": "tmrvc.train adapt",  # adapt: the speaker file's "created_by" metadata
}


def stage_config(cfg: dict, stage: str) -> dict:
    """The typed configuration of ``stage``: ``common`` deep-merged with ``stages.<stage>``,
    checked against :data:`STAGE_FIELDS` (missing or unknown keys and wrong types are a
    ``ValueError`` naming the stage and key), optional keys filled from :data:`OPTIONAL`."""
    merged = deep_merge(cfg.get("common", {}), cfg.get("stages", {}).get(stage, {}))
    fields = STAGE_FIELDS.get(stage)
    if fields is None:
        raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGE_FIELDS)})")
    unknown = sorted(set(merged) - set(fields) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"stages.{stage}: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(set(fields) | set(OPTIONAL)))})")
    missing = sorted(set(fields) - set(merged))
    if missing:
        raise ValueError(f"stages.{stage}: missing key(s) {', '.join(missing)} (set them in configs/train_student.yaml)")
    out = {k: v for k, v in OPTIONAL.items()}
    for key, value in merged.items():
        kind = fields.get(key)
        if kind is None:                       # an optional key: its type is its default's (None: any)
            default = OPTIONAL[key]
            kind = type(default) if default is not None else None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not None and value is not None and not isinstance(value, kind):
            raise ValueError(f"stages.{stage}.{key}: {value!r} is not a {kind.__name__}")
        out[key] = value
    return out
