"""The rate chooses the shipped model: ``default`` (8 kHz) below 16 kHz, ``wideband`` (16 kHz) from 16 kHz; a named model wins."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.signal

from vqdsp import VQDenoise
from vqdsp.model.checkpoint import load_config, resolve_model, shipped_model_for
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band import HighBandConfig, HighBandError, HighBandNet, save_high_band

from utils import speech_like


@pytest.mark.parametrize(("rate", "name"), [(8000, "default"), (11025, "default"), (15999, "default"), (16000, "wideband"),
                                            (32000, "wideband"), (44100, "wideband"), (48000, "wideband")])  # fmt: skip
def test_the_rate_chooses_the_shipped_model(rate: int, name: str) -> None:
    assert shipped_model_for(rate) == name
    assert VQDenoise().model_at(rate) == name


def test_a_named_model_wins_at_every_rate() -> None:
    effect = VQDenoise(model="default")
    assert {effect.model_at(r) for r in (8000, 16000, 48000)} == {"default"}
    assert VQDenoise(model="wideband").model_at(8000) == "wideband"


def test_the_choice_is_visible_in_repr() -> None:
    assert "by rate: 'default' below 16 kHz, 'wideband' from it" in repr(VQDenoise())
    assert "by rate" not in repr(VQDenoise(model="default"))


@pytest.mark.parametrize(("rate", "name"), [(8000, "default"), (16000, "wideband"), (48000, "wideband")])
def test_the_chosen_model_is_the_one_that_runs(rate: int, name: str) -> None:
    noisy = speech_like(1.5, rate) + 0.02 * np.random.default_rng(1).standard_normal(int(1.5 * rate)).astype(np.float32)
    np.testing.assert_array_equal(VQDenoise()(noisy, rate), VQDenoise(model=name)(noisy, rate))


def test_the_wideband_transform_is_the_seeds_grid_at_16_khz() -> None:
    """nperseg 519, noverlap 457: one second at 16 kHz is a 260 x 260 spectrogram, as one second at 8 kHz is."""
    stft = load_config(resolve_model("wideband")).stft
    assert stft == StftConfig.seed_grid(16000)
    assert (stft.nperseg, stft.noverlap, stft.hop) == (519, 457, 62)
    for cfg in (stft, load_config(resolve_model("default")).stft):
        _, _, spec = scipy.signal.stft(np.zeros(cfg.sample_rate), cfg.sample_rate, nperseg=cfg.nperseg, noverlap=cfg.noverlap)
        assert spec.shape == (260, 260)


def test_seed_grid_refuses_rates_off_the_grid() -> None:
    with pytest.raises(ValueError, match="multiple of 8000"):
        StftConfig.seed_grid(22050)
    with pytest.raises(ValueError, match="above the hop"):
        StftConfig.seed_grid(16000, nperseg=62)


def test_the_latency_and_window_follow_the_chosen_model() -> None:
    effect = VQDenoise()
    assert effect.latency_at(8000) == 8000  # one 1 s segment either way
    assert effect.latency_at(48000) == 48000
    assert effect.shortest_input_at(8000) == 519  # 65 ms at 8 kHz
    assert effect.shortest_input_at(12000) == 778  # default's 65 ms at 12 kHz
    assert effect.shortest_input_at(16000) == 1038  # the partner's 65 ms at 16 kHz (wideband's own window: 32 ms)
    assert VQDenoise(partner=None).shortest_input_at(16000) == 519
    assert effect.shortest_input_at(48000) == 3114  # the partner's 65 ms at 48 kHz


def test_a_given_stage_serves_the_shipped_model_of_its_transform(tmp_path) -> None:
    stage = save_high_band(HighBandNet(), tmp_path / "stage8k.safetensors", trained_with="default")  # for the 8 kHz transform
    effect = VQDenoise(high_band=stage)
    assert effect.denoiser_at(48000).high_band is None  # wideband: another transform
    assert effect.denoiser_at(16000).high_band is None  # the rate chooses wideband from 16 kHz too
    assert VQDenoise(high_band=stage, model="default").denoiser_at(16000).high_band is not None  # default: its transform
    other = HighBandNet(HighBandConfig(model_stft=replace(StftConfig(), nperseg=511)))
    with pytest.raises(HighBandError, match="no shipped model has"):
        VQDenoise(high_band=other)
