"""constants_gen: generated files are fresh; malformed YAML is refused with file + field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tmrvc import constants as C
from tmrvc import constants_gen as G


def test_generated_files_are_fresh():
    assert G.main(["--check"]) == 0


def test_python_constants_match_yaml():
    c = G.load_constants()
    assert C.AUDIO_SAMPLE_RATE == c["audio"]["sample_rate"]
    assert C.LORA_DELTA_SIZE == len(C.LORA_TARGETS) * 2 * C.LORA_RANK * C.DIMS_ATTENTION_DIM
    assert C.DIMS_ACOUSTIC_PARAMS == C.DIMS_IR_PARAMS + C.DIMS_VOICE_SOURCE


def _write_variant(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(G.CONFIG_PATH.read_text())
    edit(raw)
    path = tmp_path / "constants.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _drop(raw):
    del raw["frontend"]["n_fft"]


def _wrong_type(raw):
    raw["frontend"]["n_mels"] = "eighty"


def _unknown_key(raw):
    raw["audio"]["bogus_key"] = 1


def _unknown_section(raw):
    raw["extra_section"] = {"a": 1}


def _inconsistent(raw):
    raw["lora"]["delta_size"] = 4000


@pytest.mark.parametrize("edit, field", [
    (_drop, "frontend.n_fft"),
    (_wrong_type, "frontend.n_mels"),
    (_unknown_key, "audio.bogus_key"),
    (_unknown_section, "extra_section"),
    (_inconsistent, "lora.delta_size"),
])
def test_bad_yaml_is_refused(tmp_path, capsys, edit, field):
    path = _write_variant(tmp_path, edit)
    with pytest.raises(G.ConstantsError) as exc:
        G.load_constants(path)
    msg = str(exc.value)
    assert str(path) in msg and field in msg
    assert G.main(["--check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and field in err


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(G.ConstantsError, match="not found"):
        G.load_constants(tmp_path / "nope.yaml")
