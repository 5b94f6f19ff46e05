"""Transforms of the audio path: the log-magnitude STFT, its inverse, and rate conversion.

The STFT is ``scipy.signal.stft``'s (zero boundary, padded, ``spectrum`` scaling), so at 8 kHz one
second (8000 samples) becomes a 260 x 260 spectrogram; it is computed here for a whole batch of
segments at once, in float32, with ``scipy.fft`` and a choice of worker threads. Cutting long
audio into model-sized segments is :mod:`vqdsp.audio.framing`'s job.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

from vqdsp.model.config import StftConfig


def check_audio(audio: np.ndarray, name: str = "audio", allow_empty: bool = False) -> np.ndarray:
    """``audio`` as float32, or a TypeError/ValueError that names what is wrong with it.

    The one place the audio path checks its input. Finiteness is checked after the cast, so a
    float64 sample too large for float32 is refused rather than turned into Inf.
    """
    audio = np.asarray(audio)
    if audio.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a float array, got dtype {audio.dtype}; "
            "convert integer PCM first, e.g. audio.astype(np.float32) / 32768"
        )
    if audio.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty")
    with np.errstate(over="ignore"):
        audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise ValueError(
            f"{name} contains {bad} NaN or Inf samples (or samples beyond float32's range, 3.4e38); "
            "clean or rescale them first"
        )
    return audio


@lru_cache(maxsize=16)
def _window(cfg: StftConfig) -> np.ndarray:
    return scipy.signal.get_window(cfg.window, cfg.nperseg).astype(np.float32)


@lru_cache(maxsize=16)
def _istft_norm(cfg: StftConfig, frames: int) -> np.ndarray:
    """``1 / sum of squared windows`` over the overlap-added output (1 where it is ~0), as scipy computes it."""
    win = _window(cfg)
    norm = overlap_add(np.broadcast_to(win**2, (frames, cfg.nperseg)), cfg.hop)
    norm = norm[cfg.nperseg // 2 : len(norm) - cfg.nperseg // 2]
    return 1.0 / np.where(norm > 1e-10, norm, 1.0)


def overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Frames ``[..., T, N]`` added ``hop`` samples apart into ``[..., N + (T - 1) * hop]``, in their dtype.

    One vectorised add per ``hop``-sized block of a frame (``ceil(N / hop)`` of them), not one per frame.
    """
    *lead, count, n = frames.shape
    blocks = -(-n // hop)
    out = np.zeros((*lead, count + blocks, hop), frames.dtype)
    for j in range(blocks):
        width = min(hop, n - j * hop)
        out[..., j : j + count, :width] += frames[..., j * hop : j * hop + width]
    return out.reshape(*lead, (count + blocks) * hop)[..., : n + (count - 1) * hop]


def stft(audio: np.ndarray, cfg: StftConfig = StftConfig(), workers: int = 1, nfft: int | None = None) -> np.ndarray:
    """Complex64 spectrogram ``[..., F, T]`` of float audio ``[..., samples]`` (``scipy.signal.stft``'s).

    Audio shorter than one window is zero-padded to a window, so ``F`` never changes. The result
    is a ``[..., T, F]`` array seen through a transposed view. ``workers``: FFT threads. ``nfft``:
    FFT length, the window zero-padded to it (``nfft // 2 + 1`` bins; None: ``cfg.nperseg``).
    """
    audio = np.asarray(audio, dtype=np.float32)
    n, half = max(audio.shape[-1], cfg.nperseg), cfg.nperseg // 2
    frames = 1 + -(-(n + 2 * half - cfg.nperseg) // cfg.hop)
    padded = np.zeros(audio.shape[:-1] + ((frames - 1) * cfg.hop + cfg.nperseg,), np.float32)
    padded[..., half : half + audio.shape[-1]] = audio
    framed = np.lib.stride_tricks.sliding_window_view(padded, cfg.nperseg, axis=-1)[..., :: cfg.hop, :]
    window = _window(cfg)
    if nfft is None or nfft == cfg.nperseg:
        windowed = framed * (window / window.sum())
    else:  # written into the zero-padded frames: rfft's own padding would copy them once more
        if nfft < cfg.nperseg:
            raise ValueError(f"nfft {nfft} is shorter than the window ({cfg.nperseg} samples)")
        windowed = np.zeros(framed.shape[:-1] + (nfft,), np.float32)
        np.multiply(framed, window / window.sum(), out=windowed[..., : cfg.nperseg])
    spec = scipy.fft.rfft(windowed, axis=-1, workers=workers)
    return spec.swapaxes(-1, -2)


def istft(spec: np.ndarray, length: int, cfg: StftConfig = StftConfig(), workers: int = 1, nfft: int | None = None) -> np.ndarray:
    """Float32 audio ``[..., length]`` from a complex spectrogram ``[..., F, T]`` made by :func:`stft` (with the same ``nfft``)."""
    frames_n = spec.shape[-1]
    window = _window(cfg)
    frames = scipy.fft.irfft(spec.swapaxes(-1, -2), n=nfft or cfg.nperseg, axis=-1, workers=workers)
    frames = frames[..., : cfg.nperseg].astype(np.float32, copy=False)
    frames *= window * window.sum()
    total = cfg.nperseg + (frames_n - 1) * cfg.hop
    out = overlap_add(frames, cfg.hop)
    half = cfg.nperseg // 2
    out = out[..., half : total - half] * _istft_norm(cfg, frames_n)
    if out.shape[-1] >= length:
        return out[..., :length]
    return np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])


def log_magnitude(spec: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Natural log of ``|spec| + log_floor`` (float32): magnitudes span orders of magnitude."""
    magnitude = np.abs(spec)
    magnitude += np.float32(cfg.log_floor)
    return np.log(magnitude, out=magnitude)


def from_log_magnitude(log_mag: np.ndarray, phase_from: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Complex spectrogram with magnitude ``exp(log_mag) - log_floor`` and the phase of ``phase_from``."""
    magnitude = np.maximum(np.exp(log_mag) - cfg.log_floor, 0.0)
    return (magnitude * np.exp(1j * np.angle(phase_from))).astype(np.complex64, copy=False)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``), float32 out."""
    if rate_in == rate_out:
        return audio
    ratio = Fraction(rate_out, rate_in).limit_denominator(1000)
    return scipy.signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """``audio`` cropped or zero-padded on its last axis to ``length`` samples (resampling may miss by a few)."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])
