"""The seed's model: a U-Net with an SE block in every stage and a vector quantizer in its bottleneck.

It reads a noisy log-magnitude spectrogram and rebuilds the clean one. The decoder's last layer
gives a log-gain (<= 0, down to ``-max_attenuation_db``) that is added to the noisy log-magnitude:
the rebuilt spectrogram is the noisy one with noise taken out, which trains faster than drawing
it from nothing and lets callers cap the attenuation.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vqdsp.model import ops
from vqdsp.model.config import ModelConfig
from vqdsp.model.quantizer import Quantized, VectorQuantizer
from vqdsp.model.se import SqueezeExcitation, full_precision


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


class SeparableConv2d(nn.Module):
    """A depthwise 3x3 convolution followed by a pointwise 1x1 one: ~C/9 + 1 MACs per output instead of 9 C."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def conv3x3(in_channels: int, out_channels: int, stride: int, separable: bool) -> nn.Module:
    """A 3x3 convolution without bias (batch norm follows), full or depthwise-separable."""
    if separable:
        return SeparableConv2d(in_channels, out_channels, stride)
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def fold_into(conv: nn.Module, norm: nn.BatchNorm2d) -> nn.Module:
    """``conv`` with the eval-mode ``norm`` after it folded into its (last) weights and bias."""
    if isinstance(conv, SeparableConv2d):
        conv.pointwise = fuse_conv_bn_eval(conv.pointwise, norm)
        return conv
    assert isinstance(conv, nn.Conv2d)  # conv3x3 makes one or the other
    return fuse_conv_bn_eval(conv, norm)


class Stage(nn.Module):
    """One U-Net stage: 3x3 convolution (full or separable), batch norm, ReLU, then Squeeze-and-Excitation.

    A separable stage that keeps its shape adds its input back before the SE block (residual).
    """

    in_place_inference: ClassVar[bool] = True
    """Compute in place where no gradient is recorded (the benchmarks' reference path turns it off)."""

    def __init__(self, in_channels: int, out_channels: int, se_reduction: int, stride: int = 1, separable: bool = False) -> None:
        super().__init__()
        self.conv = conv3x3(in_channels, out_channels, stride, separable)
        self.norm: nn.Module = nn.BatchNorm2d(out_channels)
        self.se = SqueezeExcitation(out_channels, se_reduction)
        self.residual = separable and in_channels == out_channels and stride == 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The stage's output before its SE block (computed in place where no gradient is recorded:
        fewer fresh buffers, 7% of the inference forward measured)."""
        h = self.norm(self.conv(x))
        if torch.is_grad_enabled() or not self.in_place_inference:
            h = F.relu(h)
            return h + x if self.residual else h
        h = F.relu_(h)
        return h.add_(x) if self.residual else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.features(x))

    def fold_batchnorm(self) -> None:
        if isinstance(self.norm, nn.BatchNorm2d):
            self.conv, self.norm = fold_into(self.conv, self.norm), nn.Identity()


class Down(nn.Sequential):
    """Halve both axes with a strided 3x3 convolution (full or separable), batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, separable: bool = False) -> None:
        super().__init__(conv3x3(in_channels, out_channels, 2, separable), nn.BatchNorm2d(out_channels), nn.ReLU())

    def fold_batchnorm(self) -> None:
        if isinstance(self[1], nn.BatchNorm2d):
            self[0], self[1] = fold_into(self[0], self[1]), nn.Identity()


def up(in_channels: int, out_channels: int, mode: str) -> nn.Module:
    """Double both axes: a 2x2 transposed convolution, or a 1x1 convolution then nearest-neighbour copies."""
    if mode == "transposed":
        return nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.Upsample(scale_factor=2, mode="nearest"))


class SEUNet(nn.Module):
    """Denoise log-magnitude spectrograms ``[B, F, T]`` of any size (padded internally, cropped back).

    Args:
        config: sizes of the network; saved beside the weights.
    """

    in_place_inference: ClassVar[bool] = True
    """Add the skips in place where no gradient is recorded (the benchmarks' reference path turns it off)."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        ch, r, sep = config.channels, config.se_reduction, config.separable
        self.encoders = nn.ModuleList(
            [Stage(1, ch[0], r, stride=config.stem_stride)] + [Stage(c, c, r, separable=sep) for c in ch[1:]]
        )
        self.downs = nn.ModuleList([Down(a, b, sep) for a, b in zip(ch[:-1], ch[1:], strict=True)])
        self.quantizer = VectorQuantizer(
            config.codebook_size,
            config.codebook_dim,
            commitment=config.commitment,
            ema_decay=config.ema_decay,
            dead_code_threshold=config.dead_code_threshold,
        )
        self.bottleneck = Stage(ch[-1], ch[-1], r)
        self.ups = nn.ModuleList([up(b, a, config.upsampling) for a, b in zip(ch[:-1], ch[1:], strict=True)])
        self.decoders = nn.ModuleList([Stage(c, c, r, separable=sep) for c in ch[:-1]])
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
        for level, encoder in enumerate(self.encoders[:-1]):
            x = encoder(x)
            skips.append(x)
            x = self.downs[level](x)
        vq = self._quantize(x)
        x = self.bottleneck(vq.quantized)
        for level in reversed(range(len(self.decoders))):
            upsampled = self.ups[level](x)
            in_place = self.in_place_inference and not torch.is_grad_enabled()
            x = self.decoders[level](upsampled.add_(skips[level]) if in_place else upsampled + skips[level])

        logits = self.head(x)
        if self.config.stem_stride > 1:
            logits = F.interpolate(logits, scale_factor=self.config.stem_stride, mode="bilinear", align_corners=False)
        log_gain = self.max_attenuation * (torch.sigmoid(logits[:, 0, :f, :t]) - 1.0)
        return Denoised(noisy_log_mag + log_gain, log_gain, vq.loss, vq.perplexity)

    def _quantize(self, x: torch.Tensor) -> Quantized:
        """The last encoder stage and the bottleneck's quantizer.

        At inference the SE block and the nearest-code search run fused (``se_nearest_code``): the
        excited features are never written out, only their codes.
        """
        last = self.encoders[-1]
        if self.training or torch.is_grad_enabled():
            return self.quantizer(last(x))
        assert isinstance(last, Stage)
        se = last.se
        features = full_precision(last.features(x))
        found = ops.se_nearest_code(
            features, se.squeeze.weight, se.squeeze.bias, se.excite.weight, se.excite.bias, self.quantizer.embed
        )
        loss = self.quantizer.commitment * found.distances.mean() / self.quantizer.dim
        return Quantized(found.quantized.to(x.dtype), found.indices, loss, self.quantizer.perplexity(found.indices))

    def for_inference(self) -> SEUNet:
        """An eval-mode copy with batch norm folded into the convolutions; ``self`` is left as it is."""
        return copy.deepcopy(self).eval().fold_batchnorm()

    def fold_batchnorm(self) -> SEUNet:
        """Fold every batch norm into the convolution before it (inference only: same output, fewer passes)."""
        if self.training:
            raise RuntimeError("fold_batchnorm() needs eval mode: call model.eval() first")
        for block in self.modules():
            if isinstance(block, (Stage, Down)):
                block.fold_batchnorm()
        return self
