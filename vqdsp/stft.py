"""STFT framing: log-magnitude spectrograms of model-sized segments, and back to audio.

The transform is the seed's (``scipy.signal.stft`` with its default zero boundary and
padding), so at 8 kHz one second becomes a 260 x 260 spectrogram. Audio of any length is
cut into overlapping segments; after processing, segments are joined with a raised-cosine
cross-fade placed in the middle of each overlap, so every output sample comes from a part
of a segment that had context on both sides, and the weights sum to one everywhere: an
identity model gives back the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal

from vqdsp.config import StftConfig


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


@dataclass(frozen=True)
class SegmentPlan:
    """Where the segments of a signal of ``length`` samples start, and how they are weighted."""

    length: int
    segment: int
    overlap: int

    @property
    def hop(self) -> int:
        return self.segment - self.overlap

    @property
    def count(self) -> int:
        return max(1, -(-(self.length - self.overlap) // self.hop))

    @property
    def padded_length(self) -> int:
        return (self.count - 1) * self.hop + self.segment

    def fade(self) -> np.ndarray:
        """Fade-in weights over one overlap: 0 for its first quarter, raised cosine, 1 for its last."""
        return crossfade_ramp(self.overlap)


def crossfade_ramp(overlap: int) -> np.ndarray:
    """Fade-in weights over an overlap of ``overlap`` samples; ``1 - ramp`` is the matching fade-out.

    The transition takes the middle half of the overlap, so both neighbouring segments are
    used only away from their edges.
    """
    ramp = np.zeros(overlap, dtype=np.float64)
    if overlap == 0:
        return ramp
    start, width = overlap // 4, max(1, overlap - 2 * (overlap // 4))
    t = (np.arange(width) + 0.5) / width
    ramp[start : start + width] = np.sin(0.5 * np.pi * t) ** 2
    ramp[start + width :] = 1.0
    return ramp


def split_segments(audio: np.ndarray, segment: int, overlap: int) -> tuple[np.ndarray, SegmentPlan]:
    """Cut ``audio [..., samples]`` into overlapping segments ``[..., n_segments, segment]``."""
    plan = SegmentPlan(audio.shape[-1], segment, overlap)
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, plan.padded_length - plan.length)]
    padded = np.pad(audio, pad)
    windows = np.lib.stride_tricks.sliding_window_view(padded, segment, axis=-1)[..., :: plan.hop, :]
    return np.ascontiguousarray(windows[..., : plan.count, :]), plan


def join_segments(segments: np.ndarray, plan: SegmentPlan) -> np.ndarray:
    """Inverse of :func:`split_segments`: cross-fade ``[..., n_segments, segment]`` into ``[..., length]``."""
    out = np.zeros(segments.shape[:-2] + (plan.padded_length,), dtype=np.float64)
    fade_in = plan.fade()
    for k in range(plan.count):
        weight = np.ones(plan.segment)
        if k > 0 and plan.overlap:
            weight[: plan.overlap] = fade_in
        if k < plan.count - 1 and plan.overlap:
            weight[-plan.overlap :] = 1.0 - fade_in
        start = k * plan.hop
        out[..., start : start + plan.segment] += segments[..., k, :] * weight
    return out[..., : plan.length].astype(np.float32)
