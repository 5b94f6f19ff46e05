"""Squeeze-and-Excitation: channel-wise attention at almost no extra cost."""

from __future__ import annotations

import torch
from torch import nn

from vqdsp.model import ops


class SqueezeExcitation(nn.Module):
    """Rescale each channel by a gate computed from the mean of all channels.

    squeeze = per-channel mean; excitation = Linear-ReLU-Linear-sigmoid with ``channels / reduction``
    hidden units; then ``x`` is multiplied channel by channel (Hu et al., 2018).

    Args:
        channels: C, the number of channels of the input ``[B, C, H, W]``.
        reduction: r, the reduction ratio of the hidden layer.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in HALF_DTYPES:  # autocast: bf16/fp16 features, fp32 weights; the kernel runs in fp32
            return self(x.float()).to(x.dtype)
        return ops.se_excite(x, self.squeeze.weight, self.squeeze.bias, self.excite.weight, self.excite.bias)


HALF_DTYPES = (torch.bfloat16, torch.float16)
