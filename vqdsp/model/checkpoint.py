"""Model weights as safetensors (no pickle), with the model's config as JSON beside them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vqdsp.atomic import atomic_write
from vqdsp.model.config import ModelConfig
from vqdsp.model.unet import SEUNet

DEFAULT_MODEL = Path(__file__).parents[1] / "models" / "default.safetensors"
FORMAT = "vqdsp-model/1"


class CheckpointError(ValueError):
    """A file that is not a vqdsp model, or one that does not fit its config."""


def config_path(weights: Path) -> Path:
    """The JSON config that lives beside ``weights``."""
    return weights.with_suffix(".json")


def save_model(model: SEUNet, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` (.safetensors) and its config to the .json beside it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"model files end in .safetensors, got {path}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "config": model.config.to_json()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    atomic_write(config_path(path), lambda tmp: tmp.write_text(model.config.to_json() + "\n"))
    return path


def load_config(path: str | os.PathLike) -> ModelConfig:
    """The config of the model at ``path``: the JSON beside it."""
    cfg_file = config_path(Path(path))
    if not cfg_file.is_file():
        raise CheckpointError(f"no config {cfg_file.name} beside {path}: vqdsp models come as a .safetensors + .json pair")
    try:
        return ModelConfig.from_dict(json.loads(cfg_file.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{cfg_file} is not a valid vqdsp model config: {err}") from err


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> SEUNet:
    """Load a model saved by :func:`save_model` (the shipped default model when ``path`` is None), in eval mode."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    config = load_config(path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    model = SEUNet(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match its config {config_path(path).name}: {err}") from err
    return model.to(device).eval()
