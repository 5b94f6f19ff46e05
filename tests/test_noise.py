from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from utils import speech_like
from vqdsp.training.noise import NOISE_TYPES, make_noise, mix_at_snr, rms


def measured_snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))


@pytest.mark.parametrize("kind", NOISE_TYPES)
@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_every_noise_type_at_the_asked_snr(kind: str, snr_db: float) -> None:
    rng = np.random.default_rng(0)
    clean = speech_like(1.0)
    talkers = [speech_like(2.0, seed=s) for s in range(1, 4)]
    noise = make_noise(kind, len(clean), rng, 8000, talkers=talkers, recordings=[speech_like(0.3, seed=9)])
    assert rms(noise) == pytest.approx(1.0, rel=1e-3)
    assert measured_snr(clean, mix_at_snr(clean, noise, snr_db)) == pytest.approx(snr_db, abs=0.01)


def spectral_slope(noise: np.ndarray) -> float:
    freqs, power = scipy.signal.welch(noise, 8000, nperseg=1024)
    band = (freqs > 50) & (freqs < 3000)
    return float(np.polyfit(np.log10(freqs[band]), 10 * np.log10(power[band]), 1)[0])


@pytest.mark.parametrize(("kind", "slope"), [("white", 0.0), ("pink", -10.0), ("brown", -20.0)])
def test_colored_noise_has_its_spectral_slope(kind: str, slope: float) -> None:
    noise = make_noise(kind, 80000, np.random.default_rng(1))
    assert spectral_slope(noise) == pytest.approx(slope, abs=1.5)  # dB per decade


def test_hum_sits_on_mains_harmonics() -> None:
    hum = make_noise("hum", 80000, np.random.default_rng(2))
    freqs, power = scipy.signal.welch(hum, 8000, nperseg=8000)
    peak = freqs[np.argmax(power)]
    assert any(abs(peak / base - round(peak / base)) < 0.02 for base in (50, 60))


def test_missing_sources_are_named() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="other talkers"):
        make_noise("babble", 100, rng)
    with pytest.raises(ValueError, match="folder of noise"):
        make_noise("recorded", 100, rng)
    with pytest.raises(ValueError, match="unknown noise type"):
        make_noise("rain", 100, rng)
    with pytest.raises(ValueError, match="silent speech"):
        mix_at_snr(np.zeros(10, np.float32), np.ones(10, np.float32), 0.0)
