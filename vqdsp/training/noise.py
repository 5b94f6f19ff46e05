"""Noise for training and evaluation, mixed with speech at a chosen SNR.

Every generator takes a ``numpy.random.Generator`` and returns float32 noise of unit RMS, so
:func:`mix_at_snr` alone sets its level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NOISE_TYPES = ("white", "pink", "brown", "hum", "babble", "recorded")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / max(rms(x), 1e-12)).astype(np.float32)


def white_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.standard_normal(length))


def colored_noise(length: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectral density ~ 1 / f**exponent (1: pink, 2: brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    freqs[0] = freqs[1] if length > 1 else 1.0
    return _unit(np.fft.irfft(spectrum / freqs ** (exponent / 2), n=length))


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    return colored_noise(length, rng, 1.0)


def brown_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    return colored_noise(length, rng, 2.0)


def hum_noise(length: int, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """Mains hum: 50 or 60 Hz with decaying random harmonics up to the Nyquist, a slow drift, a little hiss."""
    base = rng.choice([50.0, 60.0]) * (1 + rng.uniform(-0.005, 0.005))
    t = np.arange(length) / sample_rate
    hum = np.zeros(length)
    for k in range(1, int(sample_rate / 2 / base)):
        amplitude = rng.uniform(0.2, 1.0) / k ** rng.uniform(0.5, 1.5)
        hum += amplitude * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
    return _unit(hum + 0.01 * rng.standard_normal(length))


def babble_noise(length: int, rng: np.random.Generator, talkers: Sequence[np.ndarray], count: int = 4) -> np.ndarray:
    """The sum of ``count`` random excerpts of other talkers."""
    if not talkers:
        raise ValueError("babble noise needs speech from other talkers")
    out = np.zeros(length)
    for _ in range(count):
        out += _unit(random_excerpt(talkers[rng.integers(len(talkers))], length, rng) + 1e-6)
    return _unit(out)


def random_excerpt(audio: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample excerpt of ``audio``, looped when it is too short."""
    if len(audio) < length:
        audio = np.tile(audio, -(-length // len(audio)) + 1)
    start = rng.integers(0, len(audio) - length + 1)
    return audio[start : start + length]


def make_noise(
    kind: str,
    length: int,
    rng: np.random.Generator,
    sample_rate: int = 8000,
    talkers: Sequence[np.ndarray] = (),
    recordings: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """Unit-RMS noise of one of :data:`NOISE_TYPES`."""
    makers: dict[str, Callable[[], np.ndarray]] = {
        "white": lambda: white_noise(length, rng),
        "pink": lambda: pink_noise(length, rng),
        "brown": lambda: brown_noise(length, rng),
        "hum": lambda: hum_noise(length, rng, sample_rate),
        "babble": lambda: babble_noise(length, rng, talkers),
        "recorded": lambda: _unit(random_excerpt(recordings[rng.integers(len(recordings))], length, rng) + 1e-9),
    }
    if kind not in makers:
        raise ValueError(f"unknown noise type {kind!r}; choose from {', '.join(NOISE_TYPES)}")
    if kind == "recorded" and not recordings:
        raise ValueError("recorded noise needs a folder of noise recordings")
    return makers[kind]()


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean + noise`` scaled so that the power ratio clean : noise is ``snr_db`` dB."""
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} must have the same shape")
    clean_rms = rms(clean)
    if clean_rms == 0:
        raise ValueError("cannot set an SNR against silent speech")
    scale = clean_rms / (max(rms(noise), 1e-12) * 10 ** (snr_db / 20))
    return (clean + scale * noise).astype(np.float32)
