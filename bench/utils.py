"""Shared helpers for the benchmarks: quick mode, row labels and the audio every system gets.

Quick mode (``--benchmark-disable``, or ``VQDSP_BENCH_QUICK=1``) shrinks every input so that CI
runs each benchmark once in seconds and only checks that it still works; no timing is asserted.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "vqdsp" / "example_audio" / "noisy_speech.wav"


def is_quick(config: pytest.Config | None = None) -> bool:
    """True when benchmarks run once with tiny sizes (CI).

    bench/conftest.py sets ``VQDSP_BENCH_QUICK=1`` for ``--quick`` and ``--benchmark-disable``;
    ``--benchmark-disable`` is also read here directly, should this module be used without it.
    """
    disabled = config is not None and bool(config.getoption("benchmark_disable", default=False))
    return disabled or os.environ.get("VQDSP_BENCH_QUICK", "") not in ("", "0")


def audio_seconds(default: float, quick: float, config: pytest.Config | None = None) -> float:
    """Seconds of audio a benchmark runs on: ``quick`` in quick mode, else ``VQDSP_BENCH_SECONDS`` or ``default``."""
    if is_quick(config):
        return quick
    return float(os.environ.get("VQDSP_BENCH_SECONDS", default))


def record(benchmark, label: str, device: str = "cpu", **info: object) -> None:  # pytest-benchmark fixture
    """Name the row (``label``) and put ``device``, shapes, audio seconds, ... into ``benchmark.extra_info``.

    The machine facts (CPU, threads, versions, load) are added by bench/conftest.py.
    """
    benchmark.extra_info.update(label=label, device=device, **info)


@lru_cache(maxsize=4)
def _example_8k() -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(EXAMPLE, dtype="float32")
    if rate != 8000:
        raise RuntimeError(f"{EXAMPLE} should be 8 kHz, is {rate} Hz")
    return audio


def speech_plus_noise(seconds: float, sample_rate: int = 8000, channels: int = 1, seed: int = 0) -> np.ndarray:
    """``[channels, samples]`` (``[samples]`` for mono) float32: the bundled noisy speech looped, plus fresh noise.

    The bundled example (speech in pink noise, 8 kHz) is repeated to ``seconds``, resampled to
    ``sample_rate`` and, per channel, mixed with white noise at about 20 dB below it, so every
    channel and every second differs.
    """
    from vqdsp.audio.stft import resample

    n8 = int(round(seconds * 8000))
    base = np.resize(_example_8k(), n8)
    base = resample(base, 8000, sample_rate)
    n = int(round(seconds * sample_rate))
    base = np.pad(base, (0, max(0, n - len(base))))[:n]
    rng = np.random.default_rng(seed)
    level = 0.1 * float(np.sqrt(np.mean(base**2)))
    out = base[None] + level * rng.standard_normal((channels, n), dtype=np.float32)
    return (out[0] if channels == 1 else out).astype(np.float32)
