"""Kernels of the quantizer bottleneck, as torch functions, each beside its pure-PyTorch reference.

The compiled extension (``vqdsp._core``) is optional: without it, or for tensors on a device
it was not built for, every op runs its ``reference_*`` twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "NearestCode",
    "nearest_code",
    "reference_nearest_code",
    "reference_se_excite",
    "se_excite",
]


@dataclass
class NearestCode:
    """Result of a nearest-codebook search.

    Args:
        indices: ``[N]`` int64, index of the nearest code (ties go to the lowest index).
        quantized: ``[N, D]`` the nearest code vectors.
        distances: ``[N]`` squared L2 distance to the nearest code.
    """

    indices: torch.Tensor
    quantized: torch.Tensor
    distances: torch.Tensor


def reference_nearest_code(z: torch.Tensor, codebook: torch.Tensor) -> NearestCode:
    """Nearest code of each row of ``z [N, D]`` among ``codebook [K, D]``, in plain PyTorch (fp32)."""
    z32, cb32 = z.float(), codebook.float()
    distances = (
        z32.pow(2).sum(1, keepdim=True) - 2 * z32 @ cb32.t() + cb32.pow(2).sum(1)[None, :]
    )
    best, indices = distances.min(dim=1)
    return NearestCode(indices, codebook[indices], best.clamp_min(0))


def reference_se_excite(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> torch.Tensor:
    """Squeeze-and-Excitation of ``x [B, C, H, W]``: ``x * sigmoid(W2 relu(W1 mean(x) + b1) + b2)``."""
    squeezed = x.mean(dim=(2, 3))
    scale = torch.sigmoid(F.linear(F.relu(F.linear(squeezed, w1, b1)), w2, b2))
    return x * scale[:, :, None, None]


def nearest_code(z: torch.Tensor, codebook: torch.Tensor) -> NearestCode:
    """Nearest code of each row of ``z [N, D]`` among ``codebook [K, D]``; no gradient flows."""
    _check_nearest_code_inputs(z, codebook)
    with torch.no_grad():
        return reference_nearest_code(z, codebook)


def se_excite(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> torch.Tensor:
    """Squeeze-and-Excitation of ``x [B, C, H, W]`` with weights ``W1 [C/r, C]``, ``W2 [C, C/r]``."""
    if x.dim() != 4:
        raise ValueError(f"se_excite expects x of shape [B, C, H, W], got {tuple(x.shape)}")
    hidden, channels = w1.shape
    if channels != x.shape[1] or w2.shape != (channels, hidden) or b1.shape != (hidden,) or b2.shape != (channels,):
        raise ValueError(
            f"SE weights do not match x with {x.shape[1]} channels: W1 {tuple(w1.shape)}, "
            f"b1 {tuple(b1.shape)}, W2 {tuple(w2.shape)}, b2 {tuple(b2.shape)}"
        )
    return reference_se_excite(x, w1, b1, w2, b2)


def _check_nearest_code_inputs(z: torch.Tensor, codebook: torch.Tensor) -> None:
    if z.dim() != 2 or codebook.dim() != 2:
        raise ValueError(f"nearest_code expects z [N, D] and codebook [K, D], got {tuple(z.shape)} and {tuple(codebook.shape)}")
    if z.shape[1] != codebook.shape[1]:
        raise ValueError(f"z has D={z.shape[1]} but the codebook has D={codebook.shape[1]}")
    if codebook.shape[0] == 0:
        raise ValueError("the codebook is empty (K = 0)")
    if z.device != codebook.device:
        raise ValueError(f"z is on {z.device} but the codebook is on {codebook.device}")
