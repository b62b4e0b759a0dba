"""Shared pytest setup: keep torch on one thread (the test machine is small and shared)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a dependency, but keep conftest light
    pass
