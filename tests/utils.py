"""Shared generators for the tests: speech-like audio and tiny models, no downloads."""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from vqdsp.model.config import ModelConfig
from vqdsp.model.unet import SEUNet

TINY = ModelConfig(channels=(4, 8), se_reduction=2, codebook_size=16)


@lru_cache(maxsize=32)
def _speech_like(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Voiced syllables: a gliding harmonic tone with formant-like weights, switched on and off."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) * np.exp(-((k * 140 - 700) ** 2) / 8e5) / k**0.5 for k in range(1, 30))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    audio = voiced * envelope
    return (0.3 * audio / max(np.abs(audio).max(), 1e-9)).astype(np.float32)


def speech_like(seconds: float, sample_rate: int = 8000, seed: int = 0) -> np.ndarray:
    return _speech_like(seconds, sample_rate, seed).copy()


def identity_model(config: ModelConfig = TINY) -> SEUNet:
    """A model whose gain is exactly 0 dB everywhere (its head saturates the sigmoid)."""
    model = SEUNet(config).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(50.0)
    return model


def wideband_speech_like(seconds: float, sample_rate: int = 48000, seed: int = 0) -> np.ndarray:
    """Voiced syllables with harmonics up to 20 kHz alternating with fricatives (noise above 4 kHz)."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, int(min(20000, sample_rate / 2) / 150)))
    voiced *= np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    highpass = scipy.signal.butter(4, 4000, "hp", fs=sample_rate, output="sos")
    fricative = scipy.signal.sosfilt(highpass, rng.standard_normal(len(t))) * np.clip(np.sin(2 * np.pi * 3 * t + np.pi), 0, None)
    return (0.2 * voiced / np.abs(voiced).max() + 0.05 * fricative).astype(np.float32)


def band_energies_db(audio: np.ndarray, rate: int, edges: np.ndarray) -> np.ndarray:
    """Energy of ``audio`` in each band between consecutive ``edges`` (Hz), in dB."""
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    power = np.abs(np.fft.rfft(audio)) ** 2
    return np.array([10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() + 1e-20) for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


def with_changes(cfg: dict, changes: dict) -> dict:
    """``cfg`` (a config's JSON) with ``changes`` by dotted key (``"stft.window"``) written in; a key under a non-table is skipped."""
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        target = cfg
        for parent in parents:
            target = target[parent] if isinstance(target.get(parent), dict) else target.setdefault(parent, {})
            if not isinstance(target, dict):
                break
        else:
            target[leaf] = value
    return cfg


def copy_with_config(saved: Path) -> Path:
    """A copy of weights ``saved`` and the config JSON beside them, in a new folder under theirs (to tamper with)."""
    folder = Path(tempfile.mkdtemp(prefix="vqdsp-fuzz-", dir=saved.parent))
    for path in (saved, saved.with_suffix(".json")):
        shutil.copy(path, folder / path.name)
    return folder / saved.name
