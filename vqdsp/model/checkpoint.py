"""Model weights as safetensors (no pickle), with the model's config as JSON beside them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from vqdsp.atomic import atomic_write
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet

MODELS_DIR = Path(__file__).parents[1] / "models"
DEFAULT_MODEL = MODELS_DIR / "default.safetensors"
SHIPPED_MODELS = ("default", "wideband", "fast", "v1")
"""Models that ship with vqdsp, loadable by name: ``default`` (model v3 at 8 kHz, the best on recordings
unlike the training set), ``wideband`` (the 16 kHz model, with a stage to 20 kHz for 44.1/48 kHz audio), ``fast`` (model v2:
0.84x of default's compute) and ``v1`` (the first model, the default before v3: 4.2x its compute, kept so
that earlier results can be reproduced); see the README's model card."""
WIDEBAND_FROM_HZ = 16000
"""Audio at this rate or more (wide band: 16 kHz and up) is denoised by ``wideband`` with its low-band partner
``default`` when no model is named; below it (telephony), by ``default``. On the held-out full-band voices
that pair scored higher than ``default`` with its stage at 16, 24 and 32 kHz (PESQ-wb +0.06-0.07, STOI +0.011-0.012),
level on the held-out telephony voice at 16 kHz; from 40 kHz ``wideband``'s full-band stage runs too (the README's
model card)."""
RATE_CHOSEN_MODELS = ("default", "wideband")
"""The shipped models the rate chooses between (see :func:`shipped_model_for`)."""


SHIPPED_PARTNERS = {"wideband": "default"}
"""Each shipped model's low-band partner (:mod:`vqdsp.audio.ensemble`), chosen by ``partner="auto"`` for any model of its transform."""


def shipped_partner_for(model_stft: StftConfig) -> str | None:
    """The shipped partner of models of ``model_stft`` (a shipped model's name), or None where none is set."""
    for model, partner in SHIPPED_PARTNERS.items():
        if load_config(resolve_model(model)).stft == model_stft:
            return partner
    return None


def shipped_model_for(sample_rate: int) -> str:
    """The shipped model that denoises audio at ``sample_rate`` when none is named: ``wideband`` from 16 kHz, else ``default``."""
    narrow, wide = RATE_CHOSEN_MODELS
    return wide if sample_rate >= WIDEBAND_FROM_HZ else narrow


def resolve_model(path: str | os.PathLike | None) -> Path:
    """The weights file of ``path``: a shipped model's name, a run folder, a file, or None (the default model)."""
    if path is None:
        return DEFAULT_MODEL
    if isinstance(path, str) and path in SHIPPED_MODELS and not Path(path).exists():
        return MODELS_DIR / f"{path}.safetensors"
    path = Path(path)
    return path / "model.safetensors" if path.is_dir() else path
FORMAT = "vqdsp-model/1"
MAX_CONFIG_BYTES = 1 << 16  # a config is a few hundred bytes; anything far larger is not one
C = TypeVar("C")


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
    return read_config(cfg_file, ModelConfig.from_dict, "vqdsp model config", CheckpointError)


def read_config(cfg_file: Path, parse: Callable[[Any], C], what: str, error: type[ValueError]) -> C:
    """``parse`` of the JSON in ``cfg_file``; a file that is too large, not JSON or refused by ``parse``
    raises ``error`` saying it is not a valid ``what``."""
    if cfg_file.stat().st_size > MAX_CONFIG_BYTES:
        raise error(f"{cfg_file} is {cfg_file.stat().st_size} bytes, too large for a {what}")
    try:
        return parse(json.loads(cfg_file.read_text(encoding="utf-8")))
    except RecursionError as err:
        raise error(f"{cfg_file} is not a valid {what}: nested too deeply") from err
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as err:
        raise error(f"{cfg_file} is not a valid {what}: {err}") from err


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> SEUNet:
    """Load a model saved by :func:`save_model`, in eval mode.

    Args:
        path: a ``.safetensors`` file (its ``.json`` config beside it), a run folder, the name of a
            shipped model (:data:`SHIPPED_MODELS`), or None: the shipped default model.
        device: where to put it.
    """
    path = resolve_model(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    config = load_config(path)
    check_weights(path, config)  # names, shapes and dtypes from the header, before anything is allocated
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"{path}: {name} has {bad} NaN or Inf values; the model is broken (retrain or re-export it)")
    model = SEUNet(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match its config {config_path(path).name}: {err}") from err
    return model.to(device).eval()


def check_weights(path: str | os.PathLike, config: ModelConfig) -> None:
    """Raise :class:`CheckpointError` unless the safetensors header of ``path`` holds exactly the tensors
    that a model of ``config`` has, with the same shapes and kinds of dtype (float for float).

    Reads only the header: a config whose sizes disagree with the file is refused before a model is
    built. The expected names and shapes come from a model built on the meta device (no memory).
    """
    with torch.device("meta"):
        expected = {k: (tuple(v.shape), v.dtype) for k, v in SEUNet(config).state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    where = f"{path} does not match its config {config_path(Path(path)).name}"
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{where}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, (shape, dtype) in expected.items():
        file_shape, file_dtype = found[name]
        if file_shape != shape:
            raise CheckpointError(f"{where}: {name} is {list(file_shape)} in the file, the config needs {list(shape)}")
        wanted = FLOAT_DTYPES if dtype.is_floating_point else {_SAFETENSORS_DTYPES.get(dtype)}
        if file_dtype not in wanted:
            kind = "a float dtype (F32, F16, BF16, F64)" if dtype.is_floating_point else str(dtype)
            raise CheckpointError(f"{path}: {name} is stored as {file_dtype}, expected {kind}")


FLOAT_DTYPES = {"F32", "F16", "BF16", "F64"}
_SAFETENSORS_DTYPES = {torch.bool: "BOOL", torch.int64: "I64", torch.int32: "I32", torch.float32: "F32"}
