"""Helpers shared by the training stages: model construction and loading, streaming runs,
the batched converter, evaluation generators, speaker embeddings and which stage provides
each exported model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tmrvc.models import build_model
from tmrvc.train.dataset import ClipStore
from tmrvc.train.trainer import load_final


Tensor = torch.Tensor


# ----------------------------------------------------------------------------- helpers
def trainable(name: str, seed: int = 0) -> nn.Module:
    m = build_model(name, seed)
    for p in m.parameters():
        p.requires_grad_(True)
    return m


def frozen(ckpt_root: Path, stage: str, name: str, seed: int = 0) -> nn.Module:
    """Model ``name`` with the weights of ``stage``'s final.pt, in eval mode and frozen (as
    :func:`tmrvc.models.build_model` returns it; loading weights keeps that)."""
    m = build_model(name, seed)
    m.load_state_dict(load_final(ckpt_root, stage)["models"][name])
    return m


def run_streaming(model: nn.Module, *inputs: Tensor) -> tuple[Tensor, ...]:
    """Offline call of a streaming model on a batch from zero states (= start of stream)."""
    b = inputs[0].shape[0]
    states = [torch.zeros((b,) + tuple(s[1:])) for s in model.state_shapes()]
    n_out = len(model.output_names)
    return model(*inputs, *states)[:n_out]


def converter_batch(conv: nn.Module, content: Tensor, spk: Tensor, acoustic: Tensor, pitch: Tensor,
                    lora: Tensor) -> Tensor:
    """The converter's graph is written for batch 1 (exact ONNX interface); loop over the batch."""
    states = [torch.zeros(s) for s in conv.state_shapes()]
    outs = [conv(content[i:i + 1], spk[i:i + 1], acoustic[i:i + 1], pitch[i:i + 1], lora[i:i + 1], *states)[0]
            for i in range(content.shape[0])]
    return torch.cat(outs, 0)


def _eval_rng(seed: int = 12345) -> np.random.Generator:
    return np.random.default_rng(seed)


def _eval_store(corpus: Path, candidates=(("eval_sent", "eval_spk"), ("eval_sent",), ("train",)), **kw) -> ClipStore | None:
    """The first of ``candidates`` (tuples of splits) that has clips, or None."""
    for splits in candidates:
        try:
            return ClipStore(corpus, splits=splits, **kw)
        except ValueError:
            continue
    return None



def speaker_embeddings(ckpt_root: Path) -> dict[str, np.ndarray]:
    path = Path(ckpt_root) / "speaker_encoder" / "embeddings.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run the 'speaker_encoder' stage first")
    with np.load(path) as z:
        return {k[len("speaker:"):]: z[k] for k in z.files if k.startswith("speaker:")}


def _steps(cfg: dict, stage: str) -> int:
    return int(cfg.get("stages", {}).get(stage, {}).get("steps", 0))


def student_stage(cfg: dict) -> str:
    """The stage whose converter is the distilled student: ``dmd`` when it is configured with
    steps > 0, else ``distill`` (the dmd stage is skipped then)."""
    return "dmd" if _steps(cfg, "dmd") > 0 else "distill"


def converter_stage(cfg: dict) -> str:
    """The stage whose converter is exported (and adapted): ``joint`` when it is configured
    with steps > 0, else :func:`student_stage`."""
    return "joint" if _steps(cfg, "joint") > 0 else student_stage(cfg)


def content_encoder_stage(cfg: dict) -> str:
    """The stage whose content encoder is exported: ``joint`` when it has steps > 0 (it
    fine-tunes the encoder with the converter), else ``content_encoder``.  The teacher and the
    distillation always use the ``content_encoder`` stage's encoder."""
    return "joint" if _steps(cfg, "joint") > 0 else "content_encoder"


def vocoder_stage(cfg: dict) -> str:
    """The stage whose vocoder is exported: ``vocoder_gta`` when it is configured with
    steps > 0 (the fine-tune on the converter's output), else ``vocoder``."""
    return "vocoder_gta" if _steps(cfg, "vocoder_gta") > 0 else "vocoder"
