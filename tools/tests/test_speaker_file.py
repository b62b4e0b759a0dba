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
