from __future__ import annotations

import numpy as np
import pytest
import torch

from utils import TINY, speech_like
from vqdsp.model.config import ModelConfig
from vqdsp.training.noise import mix_at_snr, white_noise
from vqdsp.model.se import SqueezeExcitation
from vqdsp.audio.stft import log_magnitude, stft
from vqdsp.model.unet import LossWeights, SEUNet, denoising_loss


@pytest.mark.parametrize(("f", "t"), [(260, 260), (260, 1), (33, 47), (1, 1), (260, 517)])
def test_output_has_the_input_shape(f: int, t: int) -> None:
    model = SEUNet(ModelConfig(channels=(4, 8, 16), codebook_size=8)).eval()
    out = model(torch.randn(2, f, t))
    assert out.log_magnitude.shape == (2, f, t)
    assert out.log_gain.shape == (2, f, t)


def test_gain_is_an_attenuation_within_the_limit() -> None:
    model = SEUNet(TINY).eval()
    out = model(torch.randn(3, 40, 40) * 5)
    limit = TINY.max_attenuation_db * np.log(10) / 20
    assert torch.all(out.log_gain <= 0) and torch.all(out.log_gain >= -limit - 1e-5)


def test_every_stage_has_squeeze_excitation() -> None:
    model = SEUNet(ModelConfig(channels=(4, 8, 16), codebook_size=8))
    stages = [*model.encoders, model.bottleneck, *model.decoders]
    assert len(stages) == 6
    assert all(isinstance(stage.se, SqueezeExcitation) for stage in stages)


def test_squeeze_excitation_rescales_channels() -> None:
    se = SqueezeExcitation(8, reduction=2)
    x = torch.randn(2, 8, 5, 7)
    y = se(x)
    scale = y / x
    assert torch.allclose(scale, scale[:, :, :1, :1].expand_as(scale), atol=1e-5)
    assert torch.all((scale > 0) & (scale < 1))


def test_bad_input_shape_is_named() -> None:
    with pytest.raises(ValueError, match=r"\[B, F, T\]"):
        SEUNet(TINY)(torch.randn(260, 260))
    with pytest.raises(ValueError, match="empty"):
        SEUNet(TINY)(torch.randn(0, 260, 260))


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="channels"):
        ModelConfig(channels=(8,))
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"chanels": [4, 8]})


def test_overfits_one_pair() -> None:
    """A few hundred steps on one noisy/clean pair cut the loss by a large factor."""
    clean = speech_like(0.25, seed=3)
    noisy = mix_at_snr(clean, white_noise(len(clean), np.random.default_rng(0)), 0.0)
    noisy_lm = torch.from_numpy(log_magnitude(stft(noisy)))[None]
    clean_lm = torch.from_numpy(log_magnitude(stft(clean)))[None]
    model = SEUNet(ModelConfig(channels=(4, 8), codebook_size=16))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(200):
        loss, _ = denoising_loss(model(noisy_lm), clean_lm, LossWeights())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < np.mean(losses[:3]) / 4
