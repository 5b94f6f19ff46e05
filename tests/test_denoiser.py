from __future__ import annotations

import numpy as np
import pytest

from utils import identity_model, speech_like
from vqdsp.audio.denoiser import Denoiser
from vqdsp.training.noise import mix_at_snr, rms, white_noise


@pytest.mark.parametrize("length", [1, 100, 7999, 8000, 8001, 23456, 60 * 8000])
def test_identity_model_gives_back_the_input(length: int) -> None:
    audio = np.random.default_rng(length).uniform(-0.9, 0.9, length).astype(np.float32)
    out = Denoiser(identity_model())(audio)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.max(np.abs(out - audio)) < 1e-4


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_identity_model_at_other_rates(sample_rate: int) -> None:
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (2, sample_rate * 2 + 3)).astype(np.float32)
    out = Denoiser(identity_model())(audio, sample_rate)
    assert out.shape == audio.shape
    assert np.max(np.abs(out - audio)) < 1e-4


def test_attenuation_limit_bounds_the_suppression() -> None:
    model = identity_model()
    model.head.bias.data.fill_(-50.0)  # the model wants to remove everything
    noise = white_noise(16000, np.random.default_rng(0)) * 0.1
    out = Denoiser(model, attenuation_limit_db=12.0)(noise)
    assert 20 * np.log10(rms(noise) / rms(out)) == pytest.approx(12.0, abs=0.5)


def test_shipped_model_reduces_noise() -> None:
    from vqdsp.model.checkpoint import load_model

    clean = speech_like(3.0)
    noisy = mix_at_snr(clean, white_noise(len(clean), np.random.default_rng(1)), 0.0)
    out = Denoiser(load_model())(noisy)
    assert np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="channels, samples"):
        Denoiser(identity_model())(np.zeros((1, 2, 3), np.float32))
