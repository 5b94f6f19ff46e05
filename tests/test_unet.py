from __future__ import annotations

import numpy as np
import pytest
import torch

from vqdsp.audio.stft import log_magnitude, stft
from vqdsp.model.checkpoint import load_model
from vqdsp.model.config import ModelConfig
from vqdsp.model.se import SqueezeExcitation
from vqdsp.model.unet import SEUNet
from vqdsp.training.losses import LossWeights, denoising_loss
from vqdsp.training.noise import mix_at_snr, white_noise

from utils import TINY, speech_like


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
    assert torch.all(out.log_gain <= 0)
    assert torch.all(out.log_gain >= -limit - 1e-5)


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


# ---- the default architecture: cost, batch-norm folding, fused bottleneck, older configs ----------------

FIRST_MODEL_MMAC_PER_SEGMENT = 373.6  # vqdsp 0.1's default model, counted the same way


def macs_per_segment(config: ModelConfig) -> float:
    """Multiply-accumulates (millions) of one forward pass over a one-second segment (260 x 260)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = SEUNet(config).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 260, 260))
    return counter.get_total_flops() / 2 / 1e6


def test_default_model_costs_at_most_a_quarter_of_the_first():
    from vqdsp.model.config import FIRST_MODEL_ARCHITECTURE

    first = macs_per_segment(ModelConfig(channels=(8, 16, 32, 64), **FIRST_MODEL_ARCHITECTURE))
    assert first == pytest.approx(FIRST_MODEL_MMAC_PER_SEGMENT, rel=0.01)
    assert macs_per_segment(ModelConfig()) <= first / 4
    assert macs_per_segment(load_model().config) <= first / 4  # the shipped default model, as loaded


def _randomize_batchnorm(model: SEUNet) -> SEUNet:
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    return model.eval()


@pytest.mark.parametrize("separable", [True, False])
def test_folded_batchnorm_gives_the_unfolded_output(separable):
    config = ModelConfig(channels=(8, 16, 24), separable=separable, codebook_size=32)
    model = _randomize_batchnorm(SEUNet(config))
    x = torch.randn(3, 260, 100) - 4
    with torch.inference_mode():
        before = model(x).log_gain
        model.fold_batchnorm()
        after = model(x).log_gain
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5)


def test_fold_batchnorm_refuses_training_mode():
    with pytest.raises(RuntimeError, match="eval"):
        SEUNet(ModelConfig(channels=(4, 8), codebook_size=8)).fold_batchnorm()


def test_fused_search_at_inference_picks_the_codes_of_the_training_path():
    model = _randomize_batchnorm(SEUNet(ModelConfig(channels=(8, 16), codebook_size=32)))
    x = torch.randn(2, 64, 64) - 4
    with torch.inference_mode():
        fused = model(x)
    with torch.no_grad():
        with torch.enable_grad():
            unfused = model(x)
    assert torch.allclose(fused.log_gain, unfused.log_gain.detach(), atol=1e-5)
    assert fused.vq_loss.item() == pytest.approx(unfused.vq_loss.item(), rel=1e-4)


def test_configs_saved_before_the_architecture_keys_load_as_the_first_model():
    old = {"channels": [8, 16, 32, 64], "codebook_size": 256, "se_reduction": 4}
    config = ModelConfig.from_dict(old)
    assert (config.stem_stride, config.separable, config.upsampling) == (1, False, "transposed")
    assert set(SEUNet(config).state_dict()) >= {"encoders.0.conv.weight", "downs.0.0.weight", "ups.0.weight"}


@pytest.mark.parametrize(("key", "value"), [("stem_stride", 3), ("stem_stride", True), ("separable", "yes"), ("upsampling", "cubic")])
def test_architecture_keys_are_validated(key, value):
    with pytest.raises(ValueError, match=key):
        ModelConfig(**{key: value})
