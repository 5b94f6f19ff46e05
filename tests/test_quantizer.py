from __future__ import annotations

import pytest
import torch

from vqdsp.model.ops import reference_nearest_code
from vqdsp.model.quantizer import VectorQuantizer, straight_through


def test_picks_the_true_nearest_code() -> None:
    vq = VectorQuantizer(32, 6).eval()
    z = torch.randn(3, 6, 4, 5)
    codes = vq.encode(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 6)
    brute = torch.cdist(flat, vq.embed).argmin(dim=1)
    assert torch.equal(codes.flatten(), brute)


def test_ties_go_to_the_lowest_index() -> None:
    codebook = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    result = reference_nearest_code(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), codebook)
    assert result.indices.tolist() == [0, 0]


def test_encode_then_decode_is_quantization() -> None:
    vq = VectorQuantizer(16, 4).eval()
    z = torch.randn(2, 4, 3, 3)
    assert torch.allclose(vq.decode(vq.encode(z)), vq(z).quantized)


def test_gradient_flows_straight_through() -> None:
    vq = VectorQuantizer(16, 4, ema_decay=0.0)
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    out = vq(z)
    (out.quantized.sum() + out.loss).backward()
    assert z.grad is not None
    assert torch.all(z.grad != 0)
    assert vq.embed.grad is not None


def test_straight_through_is_identity_in_backward() -> None:
    z = torch.randn(5, requires_grad=True)
    straight_through(z, torch.zeros(5)).sum().backward()
    assert torch.equal(z.grad, torch.ones(5))


def test_ema_moves_codes_to_the_data() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, ema_decay=0.9, dead_code_threshold=0.0).train()
    data = torch.randn(8, 2, 8, 8) * 0.1 + 3.0
    for _ in range(50):
        vq(data)
    assert torch.all((vq.embed - 3.0).abs() < 1.0)


def test_a_dead_code_far_from_the_data_comes_into_use() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2, ema_decay=0.9, dead_code_threshold=1.0).train()
    data = torch.randn(4, 2, 8, 8)
    vq(data)
    vq.embed[3] = torch.tensor([100.0, 100.0])
    vq.embed_avg[3] = vq.embed[3] * vq.cluster_size[3]
    used = set()
    for _ in range(30):
        used |= set(vq(torch.randn(4, 2, 8, 8)).codes.unique().tolist())
    assert 3 in used
    assert vq.embed[3].abs().max() < 10


def test_perplexity_counts_used_codes() -> None:
    vq = VectorQuantizer(4, 2).eval()
    vq.embed.copy_(torch.tensor([[0.0, 0], [10, 0], [0, 10], [10, 10]]))
    z = vq.embed[torch.tensor([0, 1, 2, 3])].t().reshape(1, 2, 2, 2)
    assert vq(z).perplexity.item() == pytest.approx(4.0, rel=1e-4)


def test_wrong_latent_shape_is_named() -> None:
    with pytest.raises(ValueError, match="latents"):
        VectorQuantizer(4, 3)(torch.randn(1, 2, 3, 3))
