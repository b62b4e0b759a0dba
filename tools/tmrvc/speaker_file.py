"""Read and write ``.tmrvc_speaker`` files (docs/design/speaker-file.md), format version 2.

Mirrors ``Sources/TMRVCEngine/SpeakerFile.swift`` byte for byte: a 64-byte little-endian
header, float32 ``spk_embed``, ``lora_delta``, optional ``voice_source_preset``, optional pitch
statistics (log2(f0 / f0_ref) mean and standard deviation of the target's voiced frames, flag
bit 1), then UTF-8 JSON metadata; CRC-32 (zlib) over the whole file with the CRC field zeroed.
Version-1 files (no pitch statistics) still load.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tmrvc import constants as C

HEADER_SIZE = 64
FLAG_PRESET = 1
FLAG_PITCH = 2          # version 2: pitch statistics present
PITCH_STATS_SIZE = 2
CRC_OFFSET = 36
MAGIC = C.SPEAKER_FILE_MAGIC.encode("ascii")
# Value bounds (as the Swift reader, docs/design/speaker-file.md): what training and enrollment
# write, with a wide margin; anything outside overflows the converter.
EMBEDDING_NORM_RANGE = (0.5, 2.0)
LORA_MAX_ABS = 4.0
VOICE_SOURCE_MAX_ABS = 8.0
PITCH_MEAN_RANGE = (float(np.log2(C.PITCH_F0_MIN_HZ / C.PITCH_F0_REF_HZ)), float(np.log2(C.PITCH_F0_MAX_HZ / C.PITCH_F0_REF_HZ)))
PITCH_MAX_STD = 2.0


def value_problem(emb: np.ndarray, lora: np.ndarray, vs: np.ndarray | None, ps: np.ndarray | None) -> str | None:
    """Why the values are out of the format's bounds, or None."""
    norm = float(np.linalg.norm(emb.astype(np.float64)))
    if not EMBEDDING_NORM_RANGE[0] <= norm <= EMBEDDING_NORM_RANGE[1]:
        return f"spk_embed has L2 norm {norm:.4g}, outside {EMBEDDING_NORM_RANGE} (speaker embeddings are unit vectors)"
    if np.abs(lora).max() > LORA_MAX_ABS:
        return f"lora_delta has a value of magnitude {np.abs(lora).max():.4g}, outside +-{LORA_MAX_ABS}"
    if vs is not None and np.abs(vs).max() > VOICE_SOURCE_MAX_ABS:
        return f"voice_source_preset has a value of magnitude {np.abs(vs).max():.4g}, outside +-{VOICE_SOURCE_MAX_ABS}"
    if ps is not None and not (0 < ps[1] <= PITCH_MAX_STD and PITCH_MEAN_RANGE[0] <= ps[0] <= PITCH_MEAN_RANGE[1]):
        return f"pitch statistics (mean {ps[0]:.4g}, std {ps[1]:.4g}) outside mean {PITCH_MEAN_RANGE}, std (0, {PITCH_MAX_STD}]"
    return None


class SpeakerFileError(ValueError):
    """A speaker file that is malformed or made for other models."""


@dataclass
class SpeakerProfile:
    embedding: np.ndarray                      # float32 [DIMS_SPEAKER]
    lora_delta: np.ndarray                     # float32 [LORA_DELTA_SIZE]
    voice_source_preset: np.ndarray | None = None  # float32 [DIMS_VOICE_SOURCE]
    metadata: dict = field(default_factory=dict)
    pitch_stats: tuple[float, float] | None = None  # target log2(f0 / f0_ref): (mean, std)

    def encode(self) -> bytes:
        emb = np.asarray(self.embedding, dtype="<f4").reshape(-1)
        lora = np.asarray(self.lora_delta, dtype="<f4").reshape(-1)
        vs = None if self.voice_source_preset is None else np.asarray(self.voice_source_preset, dtype="<f4").reshape(-1)
        if emb.size != C.DIMS_SPEAKER:
            raise SpeakerFileError(f"spk_embed has {emb.size} values, the models need {C.DIMS_SPEAKER}")
        if lora.size != C.LORA_DELTA_SIZE:
            raise SpeakerFileError(f"lora_delta has {lora.size} values, the models need {C.LORA_DELTA_SIZE}")
        if vs is not None and vs.size != C.DIMS_VOICE_SOURCE:
            raise SpeakerFileError(f"voice_source_preset has {vs.size} values, the models need {C.DIMS_VOICE_SOURCE}")
        ps = None if self.pitch_stats is None else np.asarray(self.pitch_stats, dtype="<f4").reshape(-1)
        if ps is not None and (ps.size != PITCH_STATS_SIZE or not ps[1] > 0):
            raise SpeakerFileError("pitch statistics must be (mean, std > 0)")
        values = np.concatenate([emb, lora] + ([vs] if vs is not None else []) + ([ps] if ps is not None else []))
        if not np.all(np.isfinite(values)):
            raise SpeakerFileError("profile contains a non-finite value")
        problem = value_problem(emb, lora, vs, ps)
        if problem:
            raise SpeakerFileError(problem)
        meta = json.dumps(self.metadata, sort_keys=True, separators=(",", ":")).encode("utf-8")
        flags = (0 if vs is None else FLAG_PRESET) | (0 if ps is None else FLAG_PITCH)
        header = MAGIC + struct.pack("<8I", C.SPEAKER_FILE_VERSION, HEADER_SIZE, emb.size, lora.size,
                                     0 if vs is None else vs.size, flags, len(meta), 0)
        header += b"\0" * (HEADER_SIZE - len(header))
        blob = bytearray(header + values.astype("<f4").tobytes() + meta)
        blob[CRC_OFFSET:CRC_OFFSET + 4] = struct.pack("<I", zlib.crc32(bytes(blob)) & 0xFFFFFFFF)
        return bytes(blob)

    def write(self, path: str | os.PathLike) -> None:
        """Atomic write: temporary file in the same directory, then rename."""
        path = Path(path)
        data = self.encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def decode(data: bytes, path: str = "<bytes>") -> "SpeakerProfile":
        def fail(reason: str) -> SpeakerFileError:
            return SpeakerFileError(f"{path}: {reason}")

        if len(data) < HEADER_SIZE:
            raise fail(f"file is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
        if data[:8] != MAGIC:
            raise fail("not a .tmrvc_speaker file (bad magic)")
        version, header_size, dim, lora, vs, flags, meta_len, crc = struct.unpack("<8I", data[8:40])
        if version not in (1, C.SPEAKER_FILE_VERSION):
            raise fail(f"format version {version} is not supported (1..{C.SPEAKER_FILE_VERSION})")
        if header_size != HEADER_SIZE:
            raise fail(f"header size {header_size} is invalid")
        if dim != C.DIMS_SPEAKER or lora != C.LORA_DELTA_SIZE:
            raise fail(f"sizes spk_embed={dim}, lora_delta={lora} do not match these models "
                       f"({C.DIMS_SPEAKER}, {C.LORA_DELTA_SIZE}): file made for another model version")
        has_preset = bool(flags & FLAG_PRESET)
        has_pitch = bool(flags & FLAG_PITCH)
        known = FLAG_PRESET | (FLAG_PITCH if version >= 2 else 0)
        if flags & ~known:
            raise fail(f"unknown flag bits {flags & ~known:#x} for format version {version}")
        if vs != (C.DIMS_VOICE_SOURCE if has_preset else 0):
            raise fail("invalid voice-source preset fields")
        ps = PITCH_STATS_SIZE if has_pitch else 0
        expected = HEADER_SIZE + 4 * (dim + lora + vs + ps) + meta_len
        if len(data) != expected:
            raise fail(f"file is {len(data)} bytes but its header describes {expected} (truncated or corrupt)")
        zeroed = bytearray(data)
        zeroed[CRC_OFFSET:CRC_OFFSET + 4] = b"\0\0\0\0"
        if zlib.crc32(bytes(zeroed)) & 0xFFFFFFFF != crc:
            raise fail("checksum mismatch: the file is corrupt")
        n = dim + lora + vs + ps
        values = np.frombuffer(data, dtype="<f4", count=n, offset=HEADER_SIZE).astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise fail("contains a non-finite value")
        if has_pitch and not values[n - 1] > 0:
            raise fail("pitch statistics: the standard deviation must be positive")
        problem = value_problem(values[:dim], values[dim:dim + lora], values[dim + lora:dim + lora + vs] if has_preset else None,
                                values[n - 2:] if has_pitch else None)
        if problem:
            raise fail(problem)
        meta = json.loads(data[HEADER_SIZE + 4 * n:].decode("utf-8") or "{}")
        return SpeakerProfile(values[:dim].copy(), values[dim:dim + lora].copy(),
                              values[dim + lora:dim + lora + vs].copy() if has_preset else None, meta,
                              (float(values[n - 2]), float(values[n - 1])) if has_pitch else None)

    @staticmethod
    def read(path: str | os.PathLike) -> "SpeakerProfile":
        return SpeakerProfile.decode(Path(path).read_bytes(), str(path))
