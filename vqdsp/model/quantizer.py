"""Vector quantizer of the bottleneck (VQ-VAE), with EMA codebook updates and dead-code restarts.

Laid out like EnCodec's ``EuclideanCodebook`` (preprocess, quantize, dequantize; training-only
work behind ``if self.training``), with the dead-code fix of vector-quantize-pytorch: a
restarted code also gets its EMA statistics reset, so the next update keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqdsp.model import ops


@dataclass
class Quantized:
    """Output of :class:`VectorQuantizer`.

    Args:
        quantized: ``[B, D, H, W]`` quantized latents, with the straight-through gradient.
        codes: ``[B, H, W]`` int64 code indices.
        loss: scalar VQ-VAE loss (codebook term, when learnt by gradient, + beta x commitment).
        perplexity: scalar, exp of the entropy of code usage in this batch (K when all codes are used evenly).
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    perplexity: torch.Tensor


def straight_through(z: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``q`` in the forward pass, identity gradient to ``z`` in the backward pass."""
    return z + (q - z).detach()


class VectorQuantizer(nn.Module):
    """Replace each latent vector by its nearest codebook vector.

    Args:
        codebook_size: K, the number of codes.
        dim: D, the dimension of a code (the channels of the bottleneck).
        commitment: beta, weight of the commitment term ``|z - sg(q)|^2``.
        ema_decay: decay of the EMA updates of the codebook; 0 learns it by gradient
            with the codebook term ``|sg(z) - q|^2`` instead.
        dead_code_threshold: codes whose EMA usage (vectors per batch) falls below this are
            restarted from random latents of the batch; 0 turns restarts off.
        epsilon: Laplace smoothing of the EMA cluster sizes.
    """

    # Registered in __init__ (embed is a parameter instead when the codebook learns by gradient).
    embed: torch.Tensor
    initted: torch.Tensor
    cluster_size: torch.Tensor
    embed_avg: torch.Tensor

    def __init__(
        self,
        codebook_size: int,
        dim: int,
        commitment: float = 0.25,
        ema_decay: float = 0.99,
        dead_code_threshold: float = 1.0,
        epsilon: float = 1e-5,
    ) -> None:
        super().__init__()
        self.codebook_size, self.dim = codebook_size, dim
        self.commitment, self.ema_decay = commitment, ema_decay
        self.dead_code_threshold, self.epsilon = dead_code_threshold, epsilon
        embed = torch.randn(codebook_size, dim) * 0.1
        if ema_decay > 0:
            self.register_buffer("embed", embed)
        else:
            self.embed = nn.Parameter(embed)
        self.register_buffer("initted", torch.tensor(False))
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_avg", embed.clone())

    @staticmethod
    def preprocess(z: torch.Tensor) -> torch.Tensor:
        """``[B, D, H, W] -> [B*H*W, D]`` in fp32."""
        return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float()

    def quantize(self, flat: torch.Tensor) -> torch.Tensor:
        """Code indices ``[N]`` of latents ``[N, D]``."""
        return ops.nearest_code(flat, self.embed.detach().float()).indices

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors ``[..., D]`` of indices ``[...]``."""
        return F.embedding(codes, self.embed)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Indices ``[B, H, W]`` of latents ``[B, D, H, W]``."""
        b, _, h, w = z.shape
        return self.quantize(self.preprocess(z)).view(b, h, w)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, D, H, W]`` from indices ``[B, H, W]``."""
        return self.dequantize(codes).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> Quantized:
        if z.dim() != 4 or z.shape[1] != self.dim:
            raise ValueError(f"expected latents [B, {self.dim}, H, W], got {tuple(z.shape)}")
        flat = self.preprocess(z)
        if self.training and not bool(self.initted):
            self._init_from(flat)
        codes = self.quantize(flat)
        q_flat = self.dequantize(codes)
        if self.training and self.ema_decay > 0:
            self._ema_update(flat.detach(), codes)
            q_flat = self.dequantize(codes)
        loss = self.commitment * F.mse_loss(flat, q_flat.detach())
        if self.ema_decay == 0:
            loss = loss + F.mse_loss(q_flat, flat.detach())
        if self.training and self.dead_code_threshold > 0:
            self._restart_dead_codes(flat.detach())
        b, _, h, w = z.shape
        q = q_flat.view(b, h, w, self.dim).permute(0, 3, 1, 2).to(z.dtype)
        return Quantized(straight_through(z, q), codes.view(b, h, w), loss, self.perplexity(codes))

    def perplexity(self, codes: torch.Tensor) -> torch.Tensor:
        """exp of the entropy of code usage among ``codes`` (K when all codes are used evenly)."""
        usage = torch.bincount(codes.reshape(-1), minlength=self.codebook_size).float() / max(1, codes.numel())
        return torch.exp(-(usage * torch.log(usage + 1e-10)).sum())

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        """Start the codebook from latents of the first batch (better than noise)."""
        picks = torch.randint(0, flat.shape[0], (self.codebook_size,), device=flat.device)
        self.embed.data.copy_(flat[picks])
        self.embed_avg.copy_(flat[picks])
        self.cluster_size.fill_(1.0)
        self.initted.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        onehot_sum = torch.bincount(codes, minlength=self.codebook_size).float()
        embed_sum = torch.zeros_like(self.embed_avg).index_add_(0, codes, flat)
        self.cluster_size.mul_(self.ema_decay).add_(onehot_sum, alpha=1 - self.ema_decay)
        self.embed_avg.mul_(self.ema_decay).add_(embed_sum, alpha=1 - self.ema_decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (n + self.codebook_size * self.epsilon) * n
        self.embed.data.copy_(self.embed_avg / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor) -> None:
        dead = self.cluster_size < self.dead_code_threshold
        count = int(dead.sum())
        if count == 0:
            return
        picks = torch.randint(0, flat.shape[0], (count,), device=flat.device)
        samples = flat[picks]
        self.embed.data[dead] = samples
        self.cluster_size[dead] = self.dead_code_threshold
        self.embed_avg[dead] = samples * self.dead_code_threshold
