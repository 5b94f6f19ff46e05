"""vqdsp: speech denoising with a VQ-VAE SE-U-Net."""

from __future__ import annotations

from vqdsp.audio.chain import Pedalboard
from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise
from vqdsp.model.checkpoint import load_model, save_model
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet

__version__ = "0.1.0"

__all__ = ["Denoiser", "ModelConfig", "Pedalboard", "SEUNet", "StftConfig", "VQDenoise", "load_model", "save_model"]
