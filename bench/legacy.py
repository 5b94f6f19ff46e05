"""The audio path before issue 23, kept as the benchmarks' and the quality check's reference.

At rates other than the model's it applied the gain on the model's transform scaled to the audio's
rate (the model's 3.9 ms hop: 16x overlap at 48 kHz, on an FFT size with a large prime factor),
one segment at a time, with a per-frame overlap-add. :class:`LegacyDenoise` is ``VQDenoise`` running
that path (its code as it was, the model's forward too: out of place, and the model's FFT at its
window's length), for ratios against the shipped path in the same run. :class:`UnpaddedDenoise` is
the shipped path with only the model's FFT unpadded, the reference for that change's quality.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import scipy.fft
import torch

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect import VQDenoise
from vqdsp.audio.stft import _istft_norm, _window, fit_length, log_magnitude, resample, stft
from vqdsp.audio.transforms import RateTransforms
from vqdsp.model.config import StftConfig
from vqdsp.model.unet import SEUNet, Stage


class LegacyStage(Stage):
    """A U-Net stage with its features computed out of place, as before issue 23."""

    in_place_inference = False


class LegacySEUNet(SEUNet):
    """The U-Net's forward as before issue 23 (out-of-place skip additions)."""

    in_place_inference = False


def legacy_model(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` (in place) with the forward before issue 23, where it is an :class:`SEUNet`."""
    if isinstance(model, SEUNet):
        model.__class__ = LegacySEUNet
        for module in model.modules():
            if isinstance(module, Stage):
                module.__class__ = LegacyStage
    return model


def legacy_istft(spec: np.ndarray, length: int, cfg: StftConfig, workers: int = 1) -> np.ndarray:
    """The inverse STFT as it was: one overlap-add per frame."""
    frames_n = spec.shape[-1]
    window = _window(cfg)
    frames = scipy.fft.irfft(spec.swapaxes(-1, -2), n=cfg.nperseg, axis=-1, workers=workers).astype(np.float32, copy=False)
    frames *= window * window.sum()
    total = cfg.nperseg + (frames_n - 1) * cfg.hop
    out = np.zeros(spec.shape[:-2] + (total,), np.float32)
    for i in range(frames_n):
        out[..., i * cfg.hop : i * cfg.hop + cfg.nperseg] += frames[..., i, :]
    half = cfg.nperseg // 2
    out = out[..., half : total - half] * _istft_norm(cfg, frames_n)
    if out.shape[-1] >= length:
        return out[..., :length]
    return np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])


class LegacyDenoiser(Denoiser):
    """:class:`~vqdsp.audio.denoiser.Denoiser` with the audio-rate path and the model forward before issue 23."""

    def __init__(self, model: torch.nn.Module, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.model = legacy_model(self.model)

    def process_segments(self, segments: np.ndarray, sample_rate: int, linked: bool = False) -> np.ndarray:
        channels, count, length = segments.shape
        if count == 0:
            return segments
        link = linked and channels > 1
        flat = segments.reshape(channels * count, length)
        if sample_rate == self.model_stft.sample_rate:
            spec = stft(flat, self.model_stft, self.workers)
            model_spec = spec.reshape((channels, count) + spec.shape[-2:]).mean(axis=0) if link else spec
            log_gain = self.log_gains(self.log_magnitude(model_spec))
            spec *= np.exp(np.tile(log_gain, (channels, 1, 1)) if link else log_gain)
            return legacy_istft(spec, length, self.model_stft, self.workers).reshape(segments.shape)
        log_gain = self.resampled_log_gains(segments.mean(axis=0) if link else flat, sample_rate)
        cfg = self.stft_at(sample_rate)
        stage = self.high_band if self.high_band is not None and sample_rate >= self.high_band.config.min_sample_rate else None
        out = np.empty_like(segments)
        for n in range(count):
            specs = [stft(segments[c, n], cfg, self.workers) for c in range(channels)]
            gains = []
            for c in [0] if link else range(channels):
                gain = self.map_gain(log_gain[n if link else c * count + n], cfg, specs[c].shape)
                if stage is not None:
                    spec = np.sqrt(np.mean([np.abs(s) ** 2 for s in specs], axis=0)) if link else specs[c]
                    stage.set_log_gain(spec, gain, cfg, self.log_gain_floor)
                gains.append(np.exp(gain))
            for c, spec in enumerate(specs):
                spec *= gains[0 if link else c]
                out[c, n] = legacy_istft(spec, length, cfg, self.workers)
        return out

    def resampled_log_gains(self, segments: np.ndarray, sample_rate: int) -> np.ndarray:
        model_in = fit_length(resample(segments, sample_rate, self.model_stft.sample_rate), self.model_stft.segment_samples)
        return self.log_gains(self.log_magnitude(stft(model_in, self.model_stft, self.workers)))  # the window's own FFT length

    def log_magnitude(self, spec: np.ndarray) -> np.ndarray:
        return log_magnitude(spec, self.model_stft)


class UnpaddedTransforms(RateTransforms):
    """The shipped transforms with the model's FFT at its window's own length (519), as before its padding to 520."""

    @cached_property
    def model_fft(self) -> int:
        return self.model.nperseg


class UnpaddedDenoiser(Denoiser):
    """The shipped path with the model's transform unpadded: the quality check's reference for the padding."""

    def transforms_at(self, sample_rate: int) -> RateTransforms:
        shipped = super().transforms_at(sample_rate)
        return _unpadded(shipped.model, shipped.audio)


@lru_cache(maxsize=8)
def _unpadded(model: StftConfig, audio: StftConfig) -> UnpaddedTransforms:
    return UnpaddedTransforms(model, audio)


class UnpaddedDenoise(VQDenoise):
    """``VQDenoise`` with :class:`UnpaddedDenoiser`."""

    denoiser_class = UnpaddedDenoiser


class LegacyDenoise(VQDenoise):
    """``VQDenoise`` on the audio path before issue 23 (same models, parameters and streaming)."""

    denoiser_class = LegacyDenoiser
