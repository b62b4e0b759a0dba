"""The constants generator: freshness of the committed outputs and refusal of bad input."""

from pathlib import Path

import pytest

from tmrvc import constants_gen as gen


def test_generated_files_are_fresh():
    assert gen.main(["--check"]) == 0, "run: cd tools && python -m tmrvc.constants_gen"


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda t: t.replace("  hop_length: 240             # samples", "  hop_lenght: 240  # typo"), "audio.hop_length"),
        (lambda t: t.replace("n_mels: 80", "n_mels: eighty"), "frontend.n_mels"),
        (lambda t: t.replace("  delta_size: 4096", "  delta_size: 4000"), "lora.delta_size"),
        (lambda t: t.replace("  speaker: 192 ", "  extra_dim: 3\n  speaker: 192 "), "dims.extra_dim"),
    ],
)
def test_bad_config_is_refused_naming_file_and_field(tmp_path: Path, edit, field):
    bad = tmp_path / "constants.yaml"
    bad.write_text(edit(gen.CONFIG_PATH.read_text()))
    with pytest.raises(gen.ConstantsError) as info:
        gen.load_constants(bad)
    assert str(bad) in str(info.value)
    assert field in str(info.value)
