"""The low-band partner: a second model's log-gain averaged with the model's below 3.8 kHz, from 16 kHz audio up."""

from __future__ import annotations

import numpy as np
import pytest

from vqdsp import VQDenoise
from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.ensemble import CROSSOVER_HZ, LowBandPartner, PartnerError, _share
from vqdsp.audio.model_choice import AUTO_PARTNER
from vqdsp.model.checkpoint import load_config, load_model, resolve_model, shipped_partner_for
from vqdsp.model.config import ModelConfig, StftConfig
from vqdsp.model.unet import SEUNet

from utils import speech_like


def _noisy(seconds: float, rate: int) -> np.ndarray:
    return speech_like(seconds, rate) + 0.03 * np.random.default_rng(2).standard_normal(int(seconds * rate)).astype(np.float32)


def test_the_share_is_the_weight_below_the_crossover_and_falls_to_zero_across_it() -> None:
    share = _share(1560, 48000, CROSSOVER_HZ, 0.5)[:, 0]
    freqs = np.fft.rfftfreq(1560, 1 / 48000)[: len(share)]
    assert np.all(share[freqs <= CROSSOVER_HZ[0]] == 0.5)
    assert freqs[-1] < CROSSOVER_HZ[1]
    assert share[-1] < 0.05
    assert np.all(np.diff(share) <= 0)


def test_the_model_as_its_own_partner_changes_nothing() -> None:
    """Averaging a gain with itself is that gain: the blend maps and weighs, it adds nothing."""
    noisy = _noisy(2.0, 48000)
    alone = VQDenoise(model="wideband", partner=None)(noisy, 48000)
    twice = VQDenoise(model="wideband", partner="wideband")(noisy, 48000)
    np.testing.assert_allclose(twice, alone, atol=1e-5)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_the_partner_moves_the_low_band_only(rate: int) -> None:
    noisy = _noisy(2.0, rate)
    alone = VQDenoise(model="wideband", partner=None)(noisy, rate)
    ensemble = VQDenoise(model="wideband")(noisy, rate)
    assert not np.allclose(ensemble, alone, atol=1e-4)
    freqs = np.fft.rfftfreq(len(noisy), 1 / rate)
    difference = np.abs(np.fft.rfft(ensemble - alone))
    above = freqs > CROSSOVER_HZ[1] + 300  # the STFT's window leaks a little past the crossover
    assert difference[above].max() < 0.05 * difference[freqs < CROSSOVER_HZ[0]].max()


def test_the_partner_joins_from_16_khz() -> None:
    noisy = _noisy(2.0, 8000)
    np.testing.assert_array_equal(VQDenoise(model="wideband")(noisy, 8000), VQDenoise(model="wideband", partner=None)(noisy, 8000))


def test_auto_gives_wideband_its_shipped_partner_and_the_others_none() -> None:
    assert shipped_partner_for(load_config(resolve_model("wideband")).stft) == "default"
    assert shipped_partner_for(load_config(resolve_model("default")).stft) is None
    effect = VQDenoise()
    assert effect.partner == AUTO_PARTNER
    assert effect.denoiser_at(48000).partner is not None
    assert effect.denoiser_at(16000).partner is not None  # the rate chooses wideband from 16 kHz
    assert VQDenoise(model="default").denoiser_at(16000).partner is None  # default: none ships
    assert "averaged with 'default' (8 kHz) below 3.8 kHz" in effect.describe_at(48000)
    assert "averaged" not in effect.describe_at(8000)
    assert "averaged" not in VQDenoise(model="default").describe_at(16000)
    assert "averaged" not in VQDenoise(partner=None).describe_at(48000)


def test_the_partner_follows_the_limit_the_device_and_the_backend() -> None:
    effect = VQDenoise(model="wideband", attenuation_limit_db=20)
    partner = effect.denoiser_at(48000).partner
    assert partner is not None
    assert partner.denoiser.attenuation_limit_db == 20
    effect.attenuation_limit_db = 30
    assert partner.denoiser.attenuation_limit_db == 30
    pytest.importorskip("onnxruntime")
    effect.backend = "onnxruntime"
    rebuilt = effect.denoiser_at(48000).partner
    assert rebuilt is not None
    assert rebuilt.denoiser.backend == "onnxruntime"


def test_a_partner_on_another_segment_grid_is_refused_and_nothing_changes() -> None:
    other = SEUNet(ModelConfig(channels=(8, 16, 16, 16), stft=StftConfig(segment_samples=4000, segment_overlap=1000)))
    effect = VQDenoise(model="wideband")
    with pytest.raises(PartnerError, match="same one-second grid"):
        effect.partner = other
    assert effect.partner == AUTO_PARTNER
    assert effect.denoiser_at(48000).partner is not None
    with pytest.raises(PartnerError):
        LowBandPartner(Denoiser(other)).check_fits(Denoiser(load_model("wideband")))


@pytest.mark.parametrize(("value", "error"), [(3, TypeError), ("", ValueError)])
def test_bad_partner_values_name_the_problem(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="partner"):
        VQDenoise(partner=value)


def test_bad_weights_and_crossovers_are_refused() -> None:
    denoiser = Denoiser(load_model("default"))
    for kwargs in ({"weight": 0.0}, {"weight": 1.5}, {"crossover_hz": (3800.0, 3400.0)}):
        with pytest.raises(ValueError, match="weight"):
            LowBandPartner(denoiser, **kwargs)  # type: ignore[arg-type]


def test_linked_stereo_gets_one_gain_with_the_partner() -> None:
    mono = _noisy(2.0, 48000)
    stereo = np.stack([mono, 0.5 * mono])
    out = VQDenoise(channel_mode="linked")(stereo, 48000)
    np.testing.assert_allclose(out[1], 0.5 * out[0], atol=1e-5)
