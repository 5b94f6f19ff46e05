from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from utils import TINY
from vqdsp.model.checkpoint import DEFAULT_MODEL, CheckpointError, load_model, save_model
from vqdsp.model.config import ModelConfig
from vqdsp.model.unet import SEUNet


def test_round_trip(tmp_path: Path) -> None:
    model = SEUNet(TINY).eval()
    path = save_model(model, tmp_path / "m.safetensors")
    assert (tmp_path / "m.json").is_file()
    loaded = load_model(path)
    assert loaded.config == TINY
    x = torch.randn(1, 30, 30)
    assert torch.equal(model(x).log_gain, loaded(x).log_gain)


def test_no_pickle_in_the_weights(tmp_path: Path) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "vqdsp-model/1"


def test_the_default_model_ships_and_loads() -> None:
    assert DEFAULT_MODEL.is_file()
    model = load_model()
    assert not model.training
    assert model(torch.randn(1, 260, 260)).log_gain.shape == (1, 260, 260)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "nope.safetensors")


def test_missing_config(tmp_path: Path) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="no config"):
        load_model(path)


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    path.with_suffix(".json").write_text(ModelConfig(channels=(4, 8, 16)).to_json())
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(path)


def test_a_file_that_is_not_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"not a model at all")
    path.with_suffix(".json").write_text(TINY.to_json())
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_model(path)


def test_only_safetensors_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="safetensors"):
        save_model(SEUNet(TINY), tmp_path / "m.pt")
