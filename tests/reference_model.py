"""A pinned stand-in for a trained model, for the audio path's regression tests.

Its gain is a fixed, nonlinear function of the input log-magnitude (soft spectral gating with a
little smoothing across frequency), so it exercises framing, STFTs, gain mapping and overlap-add
like a real model does, yet stays the same whatever the model's architecture becomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vqdsp.model.config import ModelConfig


@dataclass
class GainOnly:
    """The one field of the model's output the audio path reads."""

    log_gain: torch.Tensor


class GatingModel(torch.nn.Module):
    """``model(noisy_log_mag [B, F, T]) -> GainOnly(log_gain [B, F, T])``, natural-log gains <= 0."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig()
        self.threshold = torch.nn.Parameter(torch.tensor(-4.0), requires_grad=False)

    def forward(self, noisy_log_mag: torch.Tensor) -> GainOnly:
        smooth = F.avg_pool1d(noisy_log_mag.transpose(1, 2), 5, stride=1, padding=2, count_include_pad=False)
        level = smooth.transpose(1, 2) - self.threshold
        return GainOnly(log_gain=-3.0 * torch.sigmoid(-level))
