"""The committed engine reference output regenerates from the committed wav, speaker and models."""

from tmrvc import reference_engine


def test_engine_reference_fixture_regenerates():
    assert reference_engine.main(["--check"]) == 0
