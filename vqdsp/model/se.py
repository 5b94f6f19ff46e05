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
        excited = ops.se_excite(full_precision(x), self.squeeze.weight, self.squeeze.bias, self.excite.weight, self.excite.bias)
        return excited.to(x.dtype)


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """``x`` in fp32 when it is bf16/fp16 (autocast: half features, fp32 weights; the kernels run in fp32), else as it is."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x
