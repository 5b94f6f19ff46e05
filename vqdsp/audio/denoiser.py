"""Denoise audio of any length and sample rate with a trained :class:`~vqdsp.model.unet.SEUNet`.

The model always runs at its own rate on model-sized segments. At another sample rate its
time-frequency gain is mapped onto the STFT of the audio at the audio's own rate (same frame
times, same frequency resolution), so the band above the model's Nyquist is kept; there it
gets the gain the model gave the top of its band (2-4 kHz at 8 kHz), i.e. it is attenuated
where the model found noise and kept where it found speech.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from vqdsp.audio.audio_io import resample
from vqdsp.model.config import StftConfig
from vqdsp.audio.framing import SegmentStream
from vqdsp.audio.stft import check_audio, istft, log_magnitude, stft
from vqdsp.model.unet import SEUNet

HIGH_BAND_REFERENCE = 0.5  # the model's top band, from this fraction of its Nyquist up, sets the gain above it


class Denoiser:
    """Turn a model into an audio-in, audio-out denoiser.

    Args:
        model: a trained model (see :func:`vqdsp.model.checkpoint.load_model`).
        attenuation_limit_db: the deepest suppression allowed, in dB (None: the model's own).
        batch_size: segments per forward pass (bounds memory).
    """

    def __init__(self, model: SEUNet, attenuation_limit_db: float | None = None, batch_size: int = 16) -> None:
        self.model = model.eval()
        self.model_stft: StftConfig = model.config.stft
        self.attenuation_limit_db = attenuation_limit_db
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def segment_length(self, sample_rate: int) -> tuple[int, int]:
        """Segment and overlap lengths, in samples at ``sample_rate``."""
        scale = sample_rate / self.model_stft.sample_rate
        return round(self.model_stft.segment_samples * scale), round(self.model_stft.segment_overlap * scale)

    def stft_at(self, sample_rate: int) -> StftConfig:
        """The model's transform scaled to ``sample_rate``: same window duration and hop in seconds."""
        scale = sample_rate / self.model_stft.sample_rate
        nperseg = round(self.model_stft.nperseg * scale)
        hop = max(1, round(self.model_stft.hop * scale))
        seg, overlap = self.segment_length(sample_rate)
        return replace(
            self.model_stft, sample_rate=sample_rate, nperseg=nperseg, noverlap=nperseg - hop,
            segment_samples=seg, segment_overlap=overlap,
        )

    @torch.inference_mode()
    def log_gains(self, segments: np.ndarray) -> np.ndarray:
        """The model's log-gain ``[N, F, T]`` for segments ``[N, samples]`` at the model's rate."""
        log_mag = log_magnitude(stft(segments, self.model_stft), self.model_stft)
        floor = -math.inf
        if self.attenuation_limit_db is not None:
            floor = -self.attenuation_limit_db * math.log(10) / 20
        gains = []
        for start in range(0, len(log_mag), self.batch_size):
            batch = torch.from_numpy(log_mag[start : start + self.batch_size]).to(self.device)
            gains.append(self.model(batch).log_gain.clamp_min(floor).float().cpu().numpy())
        return np.concatenate(gains)

    def process_segments(self, segments: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoise segments ``[N, samples]`` at ``sample_rate`` (each as long as :meth:`segment_length`)."""
        rate = self.model_stft.sample_rate
        if len(segments) == 0:
            return segments
        if sample_rate == rate:
            model_in = segments
        else:
            model_in = _fit_length(resample(segments, sample_rate, rate), self.model_stft.segment_samples)
        log_gain = self.log_gains(model_in)
        cfg = self.stft_at(sample_rate)
        spec = stft(segments, cfg)
        gain = log_gain if sample_rate == rate else self._map_gain(log_gain, cfg, spec.shape[-2:])
        return istft(spec * np.exp(gain), segments.shape[-1], cfg)

    def __call__(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Denoise ``audio [samples]`` or ``[channels, samples]`` at ``sample_rate`` (default: the model's)."""
        sample_rate = sample_rate or self.model_stft.sample_rate
        audio = check_audio(audio)
        if audio.ndim not in (1, 2):
            raise ValueError(f"audio must be [samples] or [channels, samples], got shape {audio.shape}")
        stream = self.stream(sample_rate, channels=1 if audio.ndim == 1 else audio.shape[0])
        return stream.process_all(audio.reshape(-1, audio.shape[-1])).reshape(audio.shape)

    def stream(self, sample_rate: int, channels: int = 1) -> SegmentStream:
        """A :class:`~vqdsp.audio.framing.SegmentStream` that denoises ``channels`` channels at ``sample_rate``."""
        seg, overlap = self.segment_length(sample_rate)
        return SegmentStream(
            lambda segments: self.process_segments(segments, sample_rate), seg, overlap, channels,
            batch=max(1, self.batch_size // channels),
        )

    def _map_gain(self, log_gain: np.ndarray, cfg: StftConfig, shape: tuple[int, int]) -> np.ndarray:
        """Resample a model log-gain ``[N, F, T]`` onto the ``[F', T']`` grid of ``cfg``."""
        model = self.model_stft
        model_times = np.arange(log_gain.shape[-1]) * model.hop / model.sample_rate
        times = np.arange(shape[1]) * cfg.hop / cfg.sample_rate
        t_idx = np.interp(times, model_times, np.arange(len(model_times)))
        lo = np.floor(t_idx).astype(int)
        hi = np.minimum(lo + 1, len(model_times) - 1)
        frac = (t_idx - lo).astype(np.float32)
        g_t = log_gain[..., lo] * (1 - frac) + log_gain[..., hi] * frac  # [N, F, T']

        model_freqs = np.fft.rfftfreq(model.nperseg, 1 / model.sample_rate)
        freqs = np.fft.rfftfreq(cfg.nperseg, 1 / cfg.sample_rate)[: shape[0]]
        top = model_freqs >= HIGH_BAND_REFERENCE * model.sample_rate / 2
        high_band = g_t[:, top, :].mean(axis=1, keepdims=True)
        g = np.empty(g_t.shape[:1] + (len(freqs), g_t.shape[-1]), dtype=np.float32)
        inside = freqs <= model_freqs[-1]
        f_idx = np.interp(freqs[inside], model_freqs, np.arange(len(model_freqs)))
        flo = np.floor(f_idx).astype(int)
        fhi = np.minimum(flo + 1, len(model_freqs) - 1)
        ffrac = (f_idx - flo).astype(np.float32)[None, :, None]
        g[:, inside] = g_t[:, flo] * (1 - ffrac) + g_t[:, fhi] * ffrac
        g[:, ~inside] = high_band
        return g


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])])
