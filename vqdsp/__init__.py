"""vqdsp: speech denoising with a VQ-VAE SE-U-Net.

The public names are imported on first use (PEP 562), so that ``import vqdsp.cli`` and
``vqdsp --help`` do not pay for importing torch (about 2.5 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Denoiser", "ModelConfig", "Pedalboard", "SEUNet", "StftConfig", "VQDenoise", "load_model", "save_model"]

_HOMES = {
    "Denoiser": "vqdsp.audio.denoiser",
    "ModelConfig": "vqdsp.model.config",
    "Pedalboard": "vqdsp.audio.chain",
    "SEUNet": "vqdsp.model.unet",
    "StftConfig": "vqdsp.model.config",
    "VQDenoise": "vqdsp.audio.effect",
    "load_model": "vqdsp.model.checkpoint",
    "save_model": "vqdsp.model.checkpoint",
}

if TYPE_CHECKING:
    from vqdsp.audio.chain import Pedalboard
    from vqdsp.audio.denoiser import Denoiser
    from vqdsp.audio.effect import VQDenoise
    from vqdsp.model.checkpoint import load_model, save_model
    from vqdsp.model.config import ModelConfig, StftConfig
    from vqdsp.model.unet import SEUNet


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'vqdsp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
