"""vqdsp: speech denoising with a VQ-VAE SE-U-Net."""

from __future__ import annotations

from vqdsp.chain import Pedalboard
from vqdsp.checkpoint import load_model, save_model
from vqdsp.config import ModelConfig, StftConfig
from vqdsp.denoiser import Denoiser
from vqdsp.effect import VQDenoise
from vqdsp.unet import SEUNet

__version__ = "0.1.0"

__all__ = ["Denoiser", "ModelConfig", "Pedalboard", "SEUNet", "StftConfig", "VQDenoise", "load_model", "save_model"]
