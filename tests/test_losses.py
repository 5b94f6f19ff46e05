import numpy as np
import pytest
import torch

from vqdsp.audio.stft import istft, stft
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet
from vqdsp.training.losses import (
    LossWeights,
    denoising_loss,
    log_magnitude,
    multi_resolution_stft_loss,
    negative_si_sdr,
    torch_istft,
    torch_stft,
)

CFG = StftConfig()


@pytest.mark.parametrize("length", [8000, 6000, 519, 12345])
def test_torch_stft_is_the_seeds_scipy_stft(length):
    audio = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    ours = torch_stft(torch.from_numpy(audio), CFG).numpy()
    theirs = stft(audio, CFG)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-5 * np.abs(theirs).max()


def test_torch_istft_inverts_like_scipy():
    audio = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
    spec = stft(audio, CFG) * np.linspace(0.2, 1, 260, dtype=np.float32)[:, None]
    ours = torch_istft(torch.from_numpy(spec), 8000, CFG).numpy()
    assert np.abs(ours - istft(spec, 8000, CFG)).max() < 1e-5


def test_si_sdr_term_is_minus_the_metric():
    from vqdsp.evaluation.metrics import si_sdr

    rng = np.random.default_rng(1)
    clean = rng.standard_normal(8000).astype(np.float32)
    est = clean + 0.3 * rng.standard_normal(8000).astype(np.float32)
    ours = -negative_si_sdr(torch.from_numpy(est)[None], torch.from_numpy(clean)[None]).item()
    assert ours == pytest.approx(si_sdr(clean, est), abs=0.05)


def test_multi_resolution_loss_is_zero_for_a_perfect_estimate_and_grows_with_error():
    x = torch.randn(2, 8000)
    assert multi_resolution_stft_loss(x, x).item() < 1e-5
    assert multi_resolution_stft_loss(x + 0.1 * torch.randn_like(x), x) < multi_resolution_stft_loss(x + torch.randn_like(x), x)


def _batch():
    rng = np.random.default_rng(2)
    clean = torch.from_numpy(rng.standard_normal((2, 8000)).astype(np.float32)) * 0.1
    noisy = clean + 0.05 * torch.randn(2, 8000)
    return clean, noisy


def test_every_term_is_logged_and_gets_gradients():
    clean, noisy = _batch()
    model = SEUNet(ModelConfig(channels=(4, 8), codebook_size=8))
    noisy_spec = torch_stft(noisy, CFG)
    weights = LossWeights(si_sdr=0.05, multi_resolution=0.5, speech_suppression=1.0)
    total, parts = denoising_loss(
        model(log_magnitude(noisy_spec, CFG)), log_magnitude(torch_stft(clean, CFG), CFG), weights,
        noisy_spec=noisy_spec, clean_audio=clean, stft=CFG,
    )
    assert set(parts) == {"mse", "l1", "vq", "si_sdr", "multi_resolution", "speech_suppression", "perplexity"}
    total.backward()
    assert model.head.weight.grad.abs().sum() > 0


def test_speech_suppression_prices_removed_speech_only():
    from vqdsp.model.unet import Denoised

    clean = torch.zeros(1, 4, 4)
    zero = torch.zeros(())
    weights = LossWeights(mse=0, l1=0, vq=0, speech_suppression=1)
    above = denoising_loss(Denoised(clean + 1, clean, zero, zero), clean, weights)[0]
    below = denoising_loss(Denoised(clean - 1, clean, zero, zero), clean, weights)[0]
    assert above.item() == 0
    assert below.item() == pytest.approx(1.0)


def test_waveform_terms_need_the_waveforms():
    model = SEUNet(ModelConfig(channels=(4, 8), codebook_size=8))
    lm = torch.zeros(1, 260, 260)
    with pytest.raises(ValueError, match="noisy_spec"):
        denoising_loss(model(lm), lm, LossWeights(si_sdr=1.0))
