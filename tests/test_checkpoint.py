from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vqdsp.model.checkpoint import DEFAULT_MODEL, CheckpointError, load_model, save_model
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet

from utils import TINY


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


def _tamper_config(path: Path, **changes: object) -> None:
    cfg = json.loads(path.with_suffix(".json").read_text())
    for key, value in changes.items():
        target = cfg
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    path.with_suffix(".json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_attenuation_db": float("nan")}, "max_attenuation_db must be a finite number"),
        ({"max_attenuation_db": -60}, r"max_attenuation_db must be a finite number in \(0"),
        ({"max_attenuation_db": "60"}, "max_attenuation_db must be a finite number"),
        ({"codebook_size": 10**7}, r"codebook_size must be a whole number in \[1, 65536\]"),
        ({"codebook_size": 256.5}, "codebook_size must be a whole number"),
        ({"codebook_size": True}, "codebook_size must be a whole number"),
        ({"channels": [4, 100000]}, r"channels\[1\] must be a whole number in"),
        ({"channels": "48"}, "channels must be a list"),
        ({"channels": list(range(1, 20))}, "channels needs 2 to 8"),
        ({"stft.sample_rate": 0}, r"stft.sample_rate must be a whole number in \[1"),
        ({"stft.log_floor": float("inf")}, "stft.log_floor must be a finite number"),
        ({"stft": [8000]}, "stft must be an object"),
        ({"stft.rate": 8000}, "unknown stft config keys"),
        ({"stft.segment_samples": 10, "stft.segment_overlap": 2}, r"stft.segment_samples must be at least stft.nperseg \(519\)"),  # C1
        ({"stft.window": "bogus"}, "stft.window must be a window name of scipy.signal.get_window"),  # C2
    ],
)
def test_a_tampered_config_is_refused_with_its_field_named(tmp_path: Path, changes: dict, message: str) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    _tamper_config(path, **changes)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_a_deeply_nested_config_is_refused(tmp_path: Path) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    path.with_suffix(".json").write_text('{"channels": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CheckpointError, match="too large|nested too deeply"):
        load_model(path)
    path.with_suffix(".json").write_text("[" * 20_000 + "]" * 20_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_model(path)


def test_a_config_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    path.with_suffix(".json").write_text("[4, 8]")
    with pytest.raises(CheckpointError, match="JSON object"):
        load_model(path)


def test_sizes_are_checked_against_the_weights_before_the_model_is_built(tmp_path: Path, monkeypatch) -> None:
    path = save_model(SEUNet(TINY), tmp_path / "m.safetensors")
    _tamper_config(path, codebook_size=65536, channels=[4, 4096])
    devices = []

    def recording_seunet(cfg: ModelConfig) -> SEUNet:
        devices.append(torch.empty(0).device.type)  # the default device the model would be built on
        return SEUNet(cfg)

    monkeypatch.setattr("vqdsp.model.checkpoint.SEUNet", recording_seunet)
    with pytest.raises(CheckpointError, match=r"encoders.1.conv.depthwise.weight is \[8, 1, 3, 3\] in the file, the config needs \[4096, 1, 3, 3\]"):
        load_model(path)
    assert devices == ["meta"]


@pytest.mark.parametrize("where", ["head.weight", "quantizer.embed", "encoders.0.norm.running_var"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path: Path, where: str, value: float) -> None:
    state = {k: v.clone() for k, v in SEUNet(TINY).state_dict().items()}
    state[where].view(-1)[0] = value
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    path.with_suffix(".json").write_text(TINY.to_json())
    with pytest.raises(CheckpointError, match=rf"{re.escape(where)} has 1 NaN or Inf"):
        load_model(path)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.uint8])
def test_integer_weights_are_refused(tmp_path: Path, dtype: torch.dtype) -> None:
    state = {k: v.clone() for k, v in SEUNet(TINY).state_dict().items()}
    state["head.weight"] = state["head.weight"].to(dtype)
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    path.with_suffix(".json").write_text(TINY.to_json())
    with pytest.raises(CheckpointError, match="head.weight is stored as .*expected a float dtype"):
        load_model(path)


def test_half_precision_weights_load_as_float32(tmp_path: Path) -> None:
    model = SEUNet(TINY).eval()
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    path.with_suffix(".json").write_text(TINY.to_json())
    loaded = load_model(path)
    assert loaded.head.weight.dtype == torch.float32
    torch.testing.assert_close(loaded.head.weight, model.head.weight.half().float())


def test_missing_and_extra_tensors_are_named(tmp_path: Path) -> None:
    state = dict(SEUNet(TINY).state_dict())
    state["extra.weight"] = state.pop("head.bias")
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    path.with_suffix(".json").write_text(TINY.to_json())
    with pytest.raises(CheckpointError, match=r"missing \['head.bias'\], unexpected \['extra.weight'\]"):
        load_model(path)


def test_shipped_models_load_by_name() -> None:
    from vqdsp.model.checkpoint import SHIPPED_MODELS, load_config, resolve_model

    assert set(SHIPPED_MODELS) == {"default", "wideband", "fast", "v1"}
    assert resolve_model(None) == resolve_model("default") == DEFAULT_MODEL
    assert load_config(DEFAULT_MODEL) == ModelConfig()  # the quarter-cost architecture, as tested in test_unet
    assert load_config(resolve_model("fast")) == replace(ModelConfig(), channels=(16, 32, 64, 96))
    assert load_model("fast").config.separable is True
    assert load_config(resolve_model("wideband")) == replace(ModelConfig(), stft=StftConfig.seed_grid(16000))  # v3's network at 16 kHz
    assert load_model("v1").config.separable is False  # the first model: full 3x3 convolutions


def test_a_file_named_like_a_shipped_model_wins(tmp_path: Path, monkeypatch) -> None:
    from vqdsp.model.checkpoint import resolve_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").write_bytes(b"")
    assert resolve_model("fast") == Path("fast")
