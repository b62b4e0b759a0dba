"""Speaker file round trip and rejection of corrupt or mismatched files."""

import dataclasses

import numpy as np
import pytest

from tmrvc import constants as C
from tmrvc.speaker_file import SpeakerFileError, SpeakerProfile


def _profile(preset=True):
    rng = np.random.default_rng(0)
    emb = rng.standard_normal(C.DIMS_SPEAKER)
    return SpeakerProfile((emb / np.linalg.norm(emb)).astype(np.float32),
                          rng.standard_normal(C.LORA_DELTA_SIZE).astype(np.float32) * 0.01,
                          np.linspace(0, 1, C.DIMS_VOICE_SOURCE).astype(np.float32) if preset else None,
                          {"name": "test"})


@pytest.mark.parametrize("preset", [True, False])
def test_round_trip(tmp_path, preset):
    p = _profile(preset)
    p.write(tmp_path / "a.tmrvc_speaker")
    q = SpeakerProfile.read(tmp_path / "a.tmrvc_speaker")
    np.testing.assert_array_equal(q.embedding, p.embedding)
    np.testing.assert_array_equal(q.lora_delta, p.lora_delta)
    assert q.metadata == {"name": "test"}
    assert (q.voice_source_preset is None) == (not preset)


def test_corrupt_and_truncated_rejected():
    data = bytearray(_profile().encode())
    data[200] ^= 1
    with pytest.raises(SpeakerFileError, match="checksum"):
        SpeakerProfile.decode(bytes(data), "x")
    with pytest.raises(SpeakerFileError, match="truncated"):
        SpeakerProfile.decode(_profile().encode()[:-3], "x")


def test_wrong_size_refused():
    p = _profile()
    p.embedding = np.zeros(256, np.float32)
    with pytest.raises(SpeakerFileError, match="spk_embed"):
        p.encode()


@pytest.mark.parametrize("preset", [True, False])
def test_pitch_statistics_round_trip(tmp_path, preset):
    p = _profile(preset)
    p.pitch_stats = (0.25, 0.12)
    data = p.encode()
    assert int.from_bytes(data[8:12], "little") == 2 and int.from_bytes(data[28:32], "little") & 2
    q = SpeakerProfile.decode(data, "x")
    assert q.pitch_stats == pytest.approx((0.25, 0.12), abs=1e-7)
    assert (q.voice_source_preset is None) == (not preset)
    np.testing.assert_array_equal(q.lora_delta, p.lora_delta)


def _as_version_1(data: bytes, flags_or: int = 0) -> bytes:
    import struct
    import zlib
    b = bytearray(data)
    b[8:12] = struct.pack("<I", 1)
    b[28:32] = struct.pack("<I", struct.unpack("<I", b[28:32])[0] | flags_or)
    b[36:40] = b"\0\0\0\0"
    b[36:40] = struct.pack("<I", zlib.crc32(bytes(b)) & 0xFFFFFFFF)
    return bytes(b)


def test_version_1_files_still_load_and_cannot_carry_pitch():
    q = SpeakerProfile.decode(_as_version_1(_profile().encode()), "v1")
    assert q.pitch_stats is None and q.voice_source_preset is not None
    p = _profile()
    p.pitch_stats = (0.1, 0.1)
    with pytest.raises(SpeakerFileError, match="unknown flag bits"):
        SpeakerProfile.decode(_as_version_1(p.encode()), "v1")


def test_bad_pitch_statistics_refused():
    p = _profile()
    p.pitch_stats = (0.1, 0.0)
    with pytest.raises(SpeakerFileError, match="std"):
        p.encode()


@pytest.mark.parametrize("field,value,message", [
    ("embedding", 10.0, "L2 norm"), ("lora_delta", 1e20, "lora_delta"),
    ("voice_source_preset", -50.0, "voice_source_preset"), ("pitch_stats", (5.0, 0.1), "pitch statistics"),
    ("pitch_stats", (0.0, 3.0), "pitch statistics")])
def test_values_outside_the_bounds_are_refused(tmp_path, field, value, message):
    """Values the converter cannot take (issue 21, defect 1) are refused by the writer and, when a
    file carries them with a valid CRC, by the reader (same bounds as the Swift reader)."""
    import zlib

    p = _profile(True)
    good = dataclasses.replace(p, pitch_stats=(0.0, 0.1)).encode()
    if field == "pitch_stats":
        bad = dataclasses.replace(p, pitch_stats=value)
    else:
        arr = np.array(getattr(p, field), np.float32)
        arr[:] = value if field == "embedding" else arr
        arr[1] = value
        bad = dataclasses.replace(p, **{field: arr})
    with pytest.raises(SpeakerFileError, match=message):
        bad.encode()
    # the same values written past the writer's check (CRC recomputed) are refused on read
    data = bytearray(good)
    offset = {"embedding": 64, "lora_delta": 64 + 4 * C.DIMS_SPEAKER,
              "voice_source_preset": 64 + 4 * (C.DIMS_SPEAKER + C.LORA_DELTA_SIZE),
              "pitch_stats": 64 + 4 * (C.DIMS_SPEAKER + C.LORA_DELTA_SIZE + C.DIMS_VOICE_SOURCE)}[field]
    vals = np.asarray(value if field == "pitch_stats" else [value] * (C.DIMS_SPEAKER if field == "embedding" else 1),
                      "<f4")
    start = offset + (4 if field in ("lora_delta", "voice_source_preset") else 0)
    data[start:start + 4 * vals.size] = vals.tobytes()
    data[36:40] = b"\0\0\0\0"
    data[36:40] = (zlib.crc32(bytes(data)) & 0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(SpeakerFileError, match=message):
        SpeakerProfile.decode(bytes(data), "bad.tmrvc_speaker")
    SpeakerProfile.decode(good, "good.tmrvc_speaker")
