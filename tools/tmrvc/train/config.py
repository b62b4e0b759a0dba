"""Training configuration: ``configs/train_student.yaml``, ``train_teacher.yaml``, ``export.yaml``.

Each file has top-level defaults plus ``sizes: {<size>: {...overrides...}}``; the
resolved config of a size is the deep merge of all three files' defaults with their
``sizes.<size>`` overrides.  ``--set a.b.c=value`` (YAML-parsed value) overrides
any key from the command line.  Paths are relative to the repository root and may
contain ``{size}``.
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


def stage_config(cfg: dict, stage: str) -> dict:
    common = cfg.get("common", {})
    return deep_merge(common, cfg.get("stages", {}).get(stage, {}))
