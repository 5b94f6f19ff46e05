"""The seed's transform: log-magnitude STFT spectrograms and back to audio.

``scipy.signal.stft`` with its default zero boundary and padding, so at 8 kHz one second
(8000 samples) becomes a 260 x 260 spectrogram. Cutting long audio into model-sized segments
is :mod:`vqdsp.audio.framing`'s job.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from vqdsp.model.config import StftConfig


def check_audio(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Return ``audio`` as float32, or raise a ValueError that names what is wrong with it."""
    audio = np.asarray(audio)
    if audio.dtype.kind not in "f":
        raise TypeError(
            f"{name} must be a float array, got dtype {audio.dtype}; "
            "convert integer PCM first, e.g. audio.astype(np.float32) / 32768"
        )
    if audio.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(audio)):
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise ValueError(f"{name} contains {bad} NaN or Inf samples; clean or replace them first")
    return audio.astype(np.float32, copy=False)


def stft(audio: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Complex spectrogram ``[..., F, T]`` of ``audio [..., samples]`` (the seed's transform).

    Audio shorter than one window is zero-padded to a window, so ``F`` never changes.
    """
    if audio.shape[-1] < cfg.nperseg:
        audio = np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, cfg.nperseg - audio.shape[-1])])
    _, _, spec = scipy.signal.stft(
        audio, fs=cfg.sample_rate, window=cfg.window, nperseg=cfg.nperseg, noverlap=cfg.noverlap, axis=-1
    )
    return spec.astype(np.complex64, copy=False)


def istft(spec: np.ndarray, length: int, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Audio ``[..., length]`` from a complex spectrogram ``[..., F, T]`` made by :func:`stft`."""
    _, audio = scipy.signal.istft(
        spec, fs=cfg.sample_rate, window=cfg.window, nperseg=cfg.nperseg, noverlap=cfg.noverlap
    )
    audio = audio[..., :length]
    if audio.shape[-1] < length:
        audio = np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])
    return audio.astype(np.float32, copy=False)


def log_magnitude(spec: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Natural log of ``|spec| + log_floor``: magnitudes span orders of magnitude."""
    return np.log(np.abs(spec) + cfg.log_floor).astype(np.float32, copy=False)


def from_log_magnitude(log_mag: np.ndarray, phase_from: np.ndarray, cfg: StftConfig = StftConfig()) -> np.ndarray:
    """Complex spectrogram with magnitude ``exp(log_mag) - log_floor`` and the phase of ``phase_from``."""
    magnitude = np.maximum(np.exp(log_mag) - cfg.log_floor, 0.0)
    return (magnitude * np.exp(1j * np.angle(phase_from))).astype(np.complex64, copy=False)
