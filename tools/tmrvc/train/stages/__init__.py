"""The training stages (see docs/training.md for the losses and the order).

==================  ===============  =====================================================
stage               trains           needs (final.pt of)
==================  ===============  =====================================================
speaker_encoder     speaker_encoder  --
content_encoder     content_encoder  --
ir_estimator        ir_estimator     --
vocoder             vocoder          --
teacher             teacher U-Net    content_encoder, speaker_encoder (embeddings)
distill             converter        content_encoder, speaker_encoder, teacher
dmd                 converter        content_encoder, speaker_encoder, teacher, distill
joint               content_encoder  content_encoder, speaker_encoder, distill (or dmd)
                    + converter
adapt               a lora_delta     speaker_encoder, joint (or content_encoder + distill/dmd)
vocoder_gta         vocoder          speaker_encoder, joint (or content_encoder + distill/dmd), vocoder
==================  ===============  =====================================================
"""

from __future__ import annotations

import json
from pathlib import Path

from tmrvc.train.stages.adaptation import AdaptStage, LoRADelta
from tmrvc.train.stages.common import (content_encoder_stage, converter_batch, converter_stage, frozen, run_streaming,
                                       speaker_embeddings, student_stage, trainable, vocoder_stage)
from tmrvc.train.stages.diffusion import DistillStage, DMDStage, JointStage, TeacherStage
from tmrvc.train.stages.encoders import ContentStage, IRStage, SpeakerStage
from tmrvc.train.stages.vocoder import VocoderGTAStage, VocoderStage, warm_start_vocoder
from tmrvc.train.trainer import Stage

__all__ = ["STAGES", "STAGE_ORDER", "EXPORT_SOURCES", "export_sources", "summaries", "AdaptStage", "LoRADelta",
           "DistillStage", "DMDStage", "JointStage", "TeacherStage", "ContentStage", "IRStage", "SpeakerStage",
           "VocoderGTAStage", "VocoderStage", "warm_start_vocoder", "content_encoder_stage", "converter_batch",
           "converter_stage", "frozen", "run_streaming", "speaker_embeddings", "student_stage", "trainable",
           "vocoder_stage"]

STAGES: dict[str, type[Stage]] = {
    "speaker_encoder": SpeakerStage,
    "content_encoder": ContentStage,
    "ir_estimator": IRStage,
    "vocoder": VocoderStage,
    "teacher": TeacherStage,
    "distill": DistillStage,
    "dmd": DMDStage,
    "joint": JointStage,
    "adapt": AdaptStage,
    "vocoder_gta": VocoderGTAStage,
}
STAGE_ORDER = tuple(STAGES)
# which stage's final.pt provides each exported model (the converter's: converter_stage(cfg))
EXPORT_SOURCES = {"content_encoder": "content_encoder", "converter": "distill", "vocoder": "vocoder",
                  "ir_estimator": "ir_estimator", "speaker_encoder": "speaker_encoder"}


def export_sources(cfg: dict) -> dict[str, str]:
    """EXPORT_SOURCES with the content encoder from :func:`content_encoder_stage`, the
    converter from :func:`converter_stage` and the vocoder from :func:`vocoder_stage`."""
    return {**EXPORT_SOURCES, "content_encoder": content_encoder_stage(cfg), "converter": converter_stage(cfg),
            "vocoder": vocoder_stage(cfg)}


def summaries(ckpt_root: Path) -> dict:
    out = {}
    for s in STAGE_ORDER:
        p = Path(ckpt_root) / s / "summary.json"
        if p.exists():
            out[s] = json.loads(p.read_text())
        elif s == "adapt":              # one run per speaker (adapt.speakers)
            for q in sorted((Path(ckpt_root) / s).glob("*/summary.json")):
                out[f"{s}/{q.parent.name}"] = json.loads(q.read_text())
    return out
