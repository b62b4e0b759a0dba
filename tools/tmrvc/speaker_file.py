"""Read and write ``.tmrvc_speaker`` files (docs/design/speaker-file.md), format version 1.

Mirrors ``Sources/TMRVCEngine/SpeakerFile.swift`` byte for byte: a 64-byte little-endian
header, float32 ``spk_embed``, ``lora_delta``, optional ``voice_source_preset``, then UTF-8 JSON
metadata; CRC-32 (zlib) over the whole file with the CRC field zeroed.
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
CRC_OFFSET = 36
MAGIC = C.SPEAKER_FILE_MAGIC.encode("ascii")


class SpeakerFileError(ValueError):
    """A speaker file that is malformed or made for other models."""


@dataclass
class SpeakerProfile:
    embedding: np.ndarray                      # float32 [DIMS_SPEAKER]
    lora_delta: np.ndarray                     # float32 [LORA_DELTA_SIZE]
    voice_source_preset: np.ndarray | None = None  # float32 [DIMS_VOICE_SOURCE]
    metadata: dict = field(default_factory=dict)

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
        values = np.concatenate([emb, lora] + ([vs] if vs is not None else []))
        if not np.all(np.isfinite(values)):
            raise SpeakerFileError("profile contains a non-finite value")
        meta = json.dumps(self.metadata, sort_keys=True, separators=(",", ":")).encode("utf-8")
        header = MAGIC + struct.pack("<8I", C.SPEAKER_FILE_VERSION, HEADER_SIZE, emb.size, lora.size,
                                     0 if vs is None else vs.size, 0 if vs is None else 1, len(meta), 0)
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
        if version != C.SPEAKER_FILE_VERSION:
            raise fail(f"format version {version} is not supported")
        if header_size != HEADER_SIZE:
            raise fail(f"header size {header_size} is invalid")
        if dim != C.DIMS_SPEAKER or lora != C.LORA_DELTA_SIZE:
            raise fail(f"sizes spk_embed={dim}, lora_delta={lora} do not match these models "
                       f"({C.DIMS_SPEAKER}, {C.LORA_DELTA_SIZE}): file made for another model version")
        has_preset = bool(flags & 1)
        if flags & ~1 or vs != (C.DIMS_VOICE_SOURCE if has_preset else 0):
            raise fail("invalid voice-source preset fields")
        expected = HEADER_SIZE + 4 * (dim + lora + vs) + meta_len
        if len(data) != expected:
            raise fail(f"file is {len(data)} bytes but its header describes {expected} (truncated or corrupt)")
        zeroed = bytearray(data)
        zeroed[CRC_OFFSET:CRC_OFFSET + 4] = b"\0\0\0\0"
        if zlib.crc32(bytes(zeroed)) & 0xFFFFFFFF != crc:
            raise fail("checksum mismatch: the file is corrupt")
        values = np.frombuffer(data, dtype="<f4", count=dim + lora + vs, offset=HEADER_SIZE).astype(np.float32)
        meta = json.loads(data[HEADER_SIZE + 4 * (dim + lora + vs):].decode("utf-8") or "{}")
        return SpeakerProfile(values[:dim].copy(), values[dim:dim + lora].copy(),
                              values[dim + lora:].copy() if has_preset else None, meta)

    @staticmethod
    def read(path: str | os.PathLike) -> "SpeakerProfile":
        return SpeakerProfile.decode(Path(path).read_bytes(), str(path))
