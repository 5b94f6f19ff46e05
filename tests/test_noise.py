from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from vqdsp.training.noise import NOISE_TYPES, babble_noise, make_noise, mix_at_snr, rms

from utils import speech_like

SOURCES = {"talkers": [speech_like(2.0, seed=s) for s in range(1, 4)], "recordings": [speech_like(0.3, seed=9)],
           "music": [speech_like(3.0, seed=7)]}  # fmt: skip
NON_STATIONARY = ("clicks", "keyboard", "modulated")


def measured_snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))


@pytest.mark.parametrize("kind", NOISE_TYPES)
@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_every_noise_type_at_the_asked_snr(kind: str, snr_db: float) -> None:
    rng = np.random.default_rng(0)
    clean = speech_like(1.0)
    noise = make_noise(kind, len(clean), rng, 8000, **SOURCES)
    assert noise.shape == clean.shape
    assert noise.dtype == np.float32
    assert rms(noise) == pytest.approx(1.0, rel=1e-3)
    assert measured_snr(clean, mix_at_snr(clean, noise, snr_db)) == pytest.approx(snr_db, abs=0.01)


@pytest.mark.parametrize("kind", NOISE_TYPES)
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_every_noise_type_is_seeded_and_any_length(kind: str, sample_rate: int) -> None:
    first = make_noise(kind, 2 * sample_rate, np.random.default_rng(5), sample_rate, **SOURCES)
    assert np.array_equal(first, make_noise(kind, 2 * sample_rate, np.random.default_rng(5), sample_rate, **SOURCES))
    assert not np.array_equal(first, make_noise(kind, 2 * sample_rate, np.random.default_rng(6), sample_rate, **SOURCES))
    for length in (1, 37, 3 * sample_rate + 1):
        noise = make_noise(kind, length, np.random.default_rng(0), sample_rate, **SOURCES)
        assert noise.shape == (length,)
        assert np.all(np.isfinite(noise))
        assert rms(noise) == pytest.approx(1.0, rel=1e-3)


def frame_energy_spread_db(noise: np.ndarray, frame: int = 256) -> float:
    """Standard deviation of the energy of 32 ms frames, in dB: about 0.4 dB for white noise."""
    frames = noise[: len(noise) // frame * frame].reshape(-1, frame)
    return float(np.std(10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)))


@pytest.mark.parametrize("kind", NON_STATIONARY)
def test_non_stationary_types_are_non_stationary(kind: str) -> None:
    white = frame_energy_spread_db(make_noise("white", 32000, np.random.default_rng(0)))
    assert white < 1.0
    for seed in range(5):
        assert frame_energy_spread_db(make_noise(kind, 32000, np.random.default_rng(seed))) > 5 * white + 3


def test_fan_noise_is_tonal() -> None:
    for seed in range(5):
        freqs, power = scipy.signal.welch(make_noise("fan", 80000, np.random.default_rng(seed)), 8000, nperseg=4096)
        power_db = 10 * np.log10(power)
        above_floor = (power_db - scipy.signal.medfilt(power_db, 61))[freqs > 30]
        assert above_floor.max() > 10  # a tone stands out of the broadband part


def test_babble_draws_one_to_eight_talkers() -> None:
    t = np.arange(16000) / 8000
    talkers = [np.sin(2 * np.pi * 100 * (k + 1) * t) for k in range(8)]  # talker k is a tone at 100 (k + 1) Hz
    heard = []
    for seed in range(40):
        spectrum = np.abs(np.fft.rfft(babble_noise(8000, np.random.default_rng(seed), talkers)))
        heard.append(int(np.sum(spectrum[100:900:100] > 0.05 * spectrum.max())))  # 1 Hz bins
    assert 1 <= min(heard) <= 2
    assert 6 <= max(heard) <= 8
    fixed = babble_noise(8000, np.random.default_rng(0), talkers, 1)
    assert np.sum(np.abs(np.fft.rfft(fixed))[100:900:100] > 1) == 1


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
    with pytest.raises(ValueError, match="music noise needs music recordings"):
        make_noise("music", 100, rng)
    with pytest.raises(ValueError, match="unknown noise type"):
        make_noise("rain", 100, rng)
    with pytest.raises(ValueError, match="silent speech"):
        mix_at_snr(np.zeros(10, np.float32), np.ones(10, np.float32), 0.0)
