"""Noise for training and evaluation, mixed with speech at a chosen SNR.

Every generator takes a ``numpy.random.Generator`` and returns float32 noise of unit RMS, so
:func:`mix_at_snr` alone sets its level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.signal

from vqdsp.training.augment import log_uniform

NOISE_TYPES = ("white", "pink", "brown", "hum", "babble", "recorded", "music", "clicks", "keyboard", "modulated", "fan")
"""Every type :func:`make_noise` makes; ``babble``, ``recorded`` and ``music`` need recordings."""


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


def babble_noise(length: int, rng: np.random.Generator, talkers: Sequence[np.ndarray], count: int | None = None) -> np.ndarray:
    """The sum of ``count`` random excerpts of other talkers (None: 1-8, drawn from ``rng``)."""
    if not talkers:
        raise ValueError("babble noise needs speech from other talkers")
    if count is None:
        count = int(rng.integers(1, 9))
    out = np.zeros(length)
    for _ in range(count):
        out += _unit(random_excerpt(talkers[int(rng.integers(len(talkers)))], length, rng) + 1e-6)
    return _unit(out)


def music_noise(length: int, rng: np.random.Generator, music: Sequence[np.ndarray]) -> np.ndarray:
    """A random excerpt of one of the ``music`` recordings (e.g. Debian's asterisk-moh-opsound-wav)."""
    if not music:
        raise ValueError("music noise needs music recordings (scripts/fetch_corpus.sh puts some under DATA/music)")
    return _unit(random_excerpt(music[int(rng.integers(len(music)))], length, rng) + 1e-6 * rng.standard_normal(length))


def click_noise(length: int, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """Crackle: sparse clicks (2-60 per second, amplitudes spread over 26 dB, random sign) over a pink floor.

    Each click is a short decaying burst (0.1-1 ms time constant); the floor sits 15-35 dB below the clicks.
    """
    count = max(1, rng.poisson(log_uniform(rng, 2, 60) * length / sample_rate))
    impulses = np.zeros(length)
    amplitudes = np.exp(rng.uniform(np.log(0.05), 0, count)) * rng.choice([-1.0, 1.0], count)
    np.add.at(impulses, rng.integers(0, length, count), amplitudes)
    tau = log_uniform(rng, 1e-4, 1e-3) * sample_rate
    n = np.arange(max(2, round(5 * tau)))
    kernel = np.exp(-n / tau) * np.where(n == 0, 1.0, rng.standard_normal(len(n)) * 0.5)
    clicks = _unit(scipy.signal.fftconvolve(impulses, kernel)[:length])
    return _unit(clicks + 10 ** (-rng.uniform(15, 35) / 20) * pink_noise(length, rng))


def keyboard_noise(length: int, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """Typing: key strokes at 2-8 per second (with pauses), each a 5-40 ms decaying burst of band-passed noise.

    A few key sounds are drawn and reused, each stroke with its own level and a quieter release
    50-150 ms later; a faint pink floor keeps the gaps from being digital silence.
    """
    keys = []
    for _ in range(rng.integers(3, 7)):
        duration = round(rng.uniform(0.005, 0.04) * sample_rate)
        centre = log_uniform(rng, 500, 3000) * sample_rate / 8000
        band = scipy.signal.butter(2, [centre / 1.6, min(centre * 1.6, 0.45 * sample_rate)], "bandpass", fs=sample_rate, output="sos")
        envelope = np.exp(-np.arange(duration) / duration * np.log(1000))  # -60 dB at the end of the burst
        keys.append(_unit(scipy.signal.sosfilt(band, rng.standard_normal(duration)) * envelope))
    rate = rng.uniform(2, 8)
    out = np.zeros(length + round(0.2 * sample_rate))
    t = rng.uniform(0, min(1 / rate, length / sample_rate))
    while t < length / sample_rate:
        start = round(t * sample_rate)
        for level, delay in ((1.0, 0.0), (rng.uniform(0.1, 0.4), rng.uniform(0.05, 0.15))):  # press, then release
            key = keys[rng.integers(len(keys))]
            at = start + round(delay * sample_rate)
            out[at : at + len(key)] += level * np.exp(rng.uniform(np.log(0.3), 0)) * key[: len(out) - at]
        t += rng.gamma(2.0, 0.5 / rate) + (rng.uniform(0.5, 2.0) if rng.random() < 0.1 else 0.0)  # now and then a pause
    return _unit(out[:length] + 10 ** (-40 / 20) * pink_noise(length, rng))


def modulated_noise(length: int, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """Noise of a random colour (1/f^0..2), amplitude-modulated at 0.5-8 Hz with 70-100% depth."""
    noise = colored_noise(length, rng, rng.uniform(0, 2))
    t = np.arange(length) / sample_rate
    depth = rng.uniform(0.7, 1.0)
    envelope = 1 + depth * np.sin(2 * np.pi * log_uniform(rng, 0.5, 8) * t + rng.uniform(0, 2 * np.pi))
    return _unit(noise * envelope)


def _drift(length: int, rng: np.random.Generator, sample_rate: int, period_s: float) -> np.ndarray:
    """A slow random curve in [-1, 1]: random values every ``period_s`` seconds, joined smoothly."""
    knots = rng.uniform(-1, 1, int(length / sample_rate / period_s) + 3)
    position = np.arange(length) / sample_rate / period_s + rng.uniform(0, 1)
    i = position.astype(int)
    w = 0.5 - 0.5 * np.cos(np.pi * (position - i))  # raised-cosine join
    return (1 - w) * knots[i] + w * knots[i + 1]


def fan_noise(length: int, rng: np.random.Generator, sample_rate: int = 8000) -> np.ndarray:
    """A fan or machine: blade-pass tone at 40-400 Hz with harmonics over coloured broadband noise.

    Speed (1-4%) and level (10-40%) drift slowly; the tones sit -10..+10 dB against the broadband part.
    """
    base = log_uniform(rng, 40, 400)
    freq = base * (1 + rng.uniform(0.01, 0.04) * _drift(length, rng, sample_rate, rng.uniform(1, 4)))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    tones = np.zeros(length)
    for k in range(1, min(int(0.45 * sample_rate / base), 30) + 1):
        tones += rng.uniform(0.2, 1.0) / k ** rng.uniform(0.3, 1.5) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    noise = colored_noise(length, rng, rng.uniform(0.5, 2.0))
    out = _unit(tones) * 10 ** (rng.uniform(-10, 10) / 20) + noise
    return _unit(out * (1 + rng.uniform(0.1, 0.4) * _drift(length, rng, sample_rate, rng.uniform(0.5, 3))))


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
    music: Sequence[np.ndarray] = (),
    babble_count: int | None = None,
) -> np.ndarray:
    """Unit-RMS noise ``[length]`` of one of :data:`NOISE_TYPES`.

    Args:
        kind: the noise type.
        length: in samples.
        rng: draws everything random about the noise.
        sample_rate: in Hz.
        talkers: speech of other talkers, for ``babble``.
        recordings: noise recordings, for ``recorded``.
        music: music recordings, for ``music``.
        babble_count: talkers in ``babble`` (None: 1-8, drawn from ``rng``).
    """
    makers: dict[str, Callable[[], np.ndarray]] = {
        "white": lambda: white_noise(length, rng),
        "pink": lambda: pink_noise(length, rng),
        "brown": lambda: brown_noise(length, rng),
        "hum": lambda: hum_noise(length, rng, sample_rate),
        "babble": lambda: babble_noise(length, rng, talkers, babble_count),
        "recorded": lambda: _unit(random_excerpt(recordings[int(rng.integers(len(recordings)))], length, rng) + 1e-9),
        "music": lambda: music_noise(length, rng, music),
        "clicks": lambda: click_noise(length, rng, sample_rate),
        "keyboard": lambda: keyboard_noise(length, rng, sample_rate),
        "modulated": lambda: modulated_noise(length, rng, sample_rate),
        "fan": lambda: fan_noise(length, rng, sample_rate),
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
