"""Speaker file round trip and rejection of corrupt or mismatched files."""

import numpy as np
import pytest

from tmrvc import constants as C
from tmrvc.speaker_file import SpeakerFileError, SpeakerProfile


def _profile(preset=True):
    rng = np.random.default_rng(0)
    return SpeakerProfile(rng.standard_normal(C.DIMS_SPEAKER).astype(np.float32),
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
