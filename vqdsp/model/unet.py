"""The seed's model: a U-Net with an SE block in every stage and a vector quantizer in its bottleneck.

It reads a noisy log-magnitude spectrogram and rebuilds the clean one. The decoder's last layer
gives a log-gain (<= 0, down to ``-max_attenuation_db``) that is added to the noisy log-magnitude:
the rebuilt spectrogram is the noisy one with noise taken out, which trains faster than drawing
it from nothing and lets callers cap the attenuation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqdsp.model.config import ModelConfig
from vqdsp.model.quantizer import VectorQuantizer
from vqdsp.model.se import SqueezeExcitation


@dataclass
class Denoised:
    """Output of :class:`SEUNet`.

    Args:
        log_magnitude: ``[B, F, T]`` the rebuilt (clean) log-magnitude.
        log_gain: ``[B, F, T]`` natural-log gain applied to the noisy input (<= 0).
        vq_loss: scalar quantization loss of the bottleneck.
        perplexity: scalar code usage of the bottleneck (see :class:`~vqdsp.model.quantizer.Quantized`).
    """

    log_magnitude: torch.Tensor
    log_gain: torch.Tensor
    vq_loss: torch.Tensor
    perplexity: torch.Tensor


class Stage(nn.Module):
    """One U-Net stage: 3x3 convolution, batch norm, ReLU, then Squeeze-and-Excitation."""

    def __init__(self, in_channels: int, out_channels: int, se_reduction: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.se = SqueezeExcitation(out_channels, se_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(F.relu(self.norm(self.conv(x))))


class Down(nn.Sequential):
    """Halve both axes with a strided 3x3 convolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class SEUNet(nn.Module):
    """Denoise log-magnitude spectrograms ``[B, F, T]`` of any size (padded internally, cropped back).

    Args:
        config: sizes of the network; saved beside the weights.
    """

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        ch, r = config.channels, config.se_reduction
        self.encoders = nn.ModuleList([Stage(1, ch[0], r)] + [Stage(c, c, r) for c in ch[1:]])
        self.downs = nn.ModuleList([Down(a, b) for a, b in zip(ch[:-1], ch[1:])])
        self.quantizer = VectorQuantizer(
            config.codebook_size,
            config.codebook_dim,
            commitment=config.commitment,
            ema_decay=config.ema_decay,
            dead_code_threshold=config.dead_code_threshold,
        )
        self.bottleneck = Stage(ch[-1], ch[-1], r)
        self.ups = nn.ModuleList([nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(ch[:-1], ch[1:])])
        self.decoders = nn.ModuleList([Stage(c, c, r) for c in ch[:-1]])
        self.head = nn.Conv2d(ch[0], 1, 1)
        self.max_attenuation = config.max_attenuation_db * math.log(10) / 20

    def normalize(self, log_mag: torch.Tensor) -> torch.Tensor:
        """Remove each spectrogram's mean level, so that the network sees the same input at any gain."""
        return (log_mag - log_mag.mean(dim=(-2, -1), keepdim=True)) / 4.0

    def forward(self, noisy_log_mag: torch.Tensor) -> Denoised:
        if noisy_log_mag.dim() != 3:
            raise ValueError(f"expected log-magnitudes [B, F, T], got shape {tuple(noisy_log_mag.shape)}")
        if noisy_log_mag.shape[0] == 0 or min(noisy_log_mag.shape[1:]) < 1:
            raise ValueError(f"empty spectrogram batch {tuple(noisy_log_mag.shape)}")
        f, t = noisy_log_mag.shape[-2:]
        m = self.config.downsampling
        x = self.normalize(noisy_log_mag)[:, None]
        x = F.pad(x, (0, -t % m, 0, -f % m), mode="replicate")

        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.downs):
                skips.append(x)
                x = self.downs[level](x)
        vq = self.quantizer(x)
        x = self.bottleneck(vq.quantized)
        for level in reversed(range(len(self.decoders))):
            x = self.decoders[level](self.ups[level](x) + skips[level])

        logits = self.head(x)[:, 0, :f, :t]
        log_gain = self.max_attenuation * (torch.sigmoid(logits) - 1.0)
        return Denoised(noisy_log_mag + log_gain, log_gain, vq.loss, vq.perplexity)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the seed's loss: MSE + L1 on the log-magnitude, plus the quantization loss."""

    mse: float = 1.0
    l1: float = 1.0
    vq: float = 1.0
    dynamic_range_db: float = 80.0


def denoising_loss(
    out: Denoised, clean_log_mag: torch.Tensor, weights: LossWeights = LossWeights()
) -> tuple[torch.Tensor, dict[str, float]]:
    """The seed's loss, returned with its parts (floats) for logging.

    Log-magnitudes more than ``dynamic_range_db`` below the clean spectrogram's peak are
    floored on both sides, so the loss does not chase noise in bins that are silent anyway.
    """
    floor = clean_log_mag.amax(dim=(-2, -1), keepdim=True) - weights.dynamic_range_db * math.log(10) / 20
    est, ref = torch.maximum(out.log_magnitude, floor), torch.maximum(clean_log_mag, floor)
    mse, l1 = F.mse_loss(est, ref), F.l1_loss(est, ref)
    total = weights.mse * mse + weights.l1 * l1 + weights.vq * out.vq_loss
    parts = {name: float(v.detach()) for name, v in (("mse", mse), ("l1", l1), ("vq", out.vq_loss), ("perplexity", out.perplexity))}
    return total, parts
