"""The transforms of one audio rate for one model: designed once per (model transform, rate), kept together.

At the model's rate the gain is applied on the model's own STFT, which is also the model's input.
At any other rate the gain is applied on a transform of the audio at its own rate chosen for speed
(:func:`audio_stft`): about the model's window duration, a 5-smooth FFT size
(``scipy.fft.next_fast_len``) and a hop of a quarter window, where a periodic Hann window's squares
add up to a constant, so an identity gain gives the input back. The model's frame times matter only
to the gain's mapping: its log-gain, on the model's grid, is averaged over each audio frame's hop
in time (so a coarser hop does not alias the gain's fast changes), interpolated in frequency, and
the top of the model's band is held above its Nyquist (:meth:`RateTransforms.map_gain`).

The model's own transform runs its FFT on the window zero-padded to an even length
(:func:`model_fft_length`): the seed's 519 = 3 x 173 costs 5x a 520-point FFT (an even real FFT is a
half-length complex one). The model then reads its bins at k / 520 of the rate instead of k / 519,
0.2% lower; measured on the model-card evaluation in the same run, PESQ and STOI moved by less than
their 95% intervals at 8 and 48 kHz (README, *Performance*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np
import scipy.fft
import torch

from vqdsp.audio.stft import istft, log_magnitude, stft
from vqdsp.model.config import StftConfig

HIGH_BAND_REFERENCE = 0.5  # the model's top band, from this fraction of its Nyquist up, sets the gain above it
OVERLAP = 4  # audio-rate frames per window: the hop is a quarter window
SUBSTEPS = 16  # points per audio hop at which the model's gain is averaged


def scaled_stft(model: StftConfig, sample_rate: int) -> StftConfig:
    """The model's transform scaled to ``sample_rate``: same window duration and hop in seconds (the grid the model sees)."""
    scale = sample_rate / model.sample_rate
    nperseg = round(model.nperseg * scale)
    hop = max(1, round(model.hop * scale))
    return replace(
        model, sample_rate=sample_rate, nperseg=nperseg, noverlap=nperseg - hop,
        segment_samples=round(model.segment_samples * scale), segment_overlap=round(model.segment_overlap * scale),
    )


def audio_stft(model: StftConfig, sample_rate: int) -> StftConfig:
    """The transform the gain is applied to at ``sample_rate``: the model's own at its rate; elsewhere
    at least the model's window duration, rounded up to a 5-smooth multiple of :data:`OVERLAP`, hop a quarter of it."""
    scaled = scaled_stft(model, sample_rate)
    if sample_rate == model.sample_rate:
        return model
    nperseg = OVERLAP * scipy.fft.next_fast_len(math.ceil(scaled.nperseg / OVERLAP), real=True)
    return replace(scaled, nperseg=nperseg, noverlap=nperseg - nperseg // OVERLAP)


def model_fft_length(cfg: StftConfig) -> int:
    """FFT length the audio path uses for the model's transform: its window, made even by one zero if odd."""
    return cfg.nperseg + cfg.nperseg % 2


def frames_of(cfg: StftConfig, samples: int) -> int:
    """STFT frames :func:`~vqdsp.audio.stft.stft` makes of ``samples`` samples with ``cfg``."""
    n = max(samples, cfg.nperseg)
    return 1 + -(-(n + 2 * (cfg.nperseg // 2) - cfg.nperseg) // cfg.hop)


@dataclass(frozen=True)
class RateTransforms:
    """The model's transform, the audio-rate one its gain is applied to, and the maps between their grids.

    Args:
        model: the model's transform.
        audio: the transform of the audio at its own rate (``model`` at the model's rate).
        fft: the audio grid's FFT length when it is not its window's (0): another model's padded FFT,
            when this maps a second model's gain onto that model's grid (:func:`gain_map_onto`).
    """

    model: StftConfig
    audio: StftConfig
    fft: int = 0

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def at_model_rate(self) -> bool:
        """The gain is applied on the model's own transform (the audio is at the model's rate)."""
        return self.audio == self.model

    @cached_property
    def segment(self) -> tuple[int, int]:
        """Segment and overlap lengths, in samples at the audio's rate (one model segment)."""
        scaled = scaled_stft(self.model, self.sample_rate)
        return scaled.segment_samples, scaled.segment_overlap

    @cached_property
    def frames(self) -> tuple[int, int]:
        """STFT frames of one segment: on the model's grid and on the audio's."""
        return frames_of(self.model, self.model.segment_samples), frames_of(self.audio, self.segment[0])

    @cached_property
    def model_fft(self) -> int:
        """FFT length of the model's transform (:func:`model_fft_length`)."""
        return model_fft_length(self.model)

    @cached_property
    def audio_fft(self) -> int:
        """FFT length of the audio-rate transform (the model's at the model's rate)."""
        if self.at_model_rate:
            return self.model_fft
        return self.fft or self.audio.nperseg

    @cached_property
    def model_bins(self) -> int:
        """Frequency bins the model reads (those of its window's own length)."""
        return self.model.nperseg // 2 + 1

    def stft(self, audio: np.ndarray, workers: int = 1) -> np.ndarray:
        """Complex64 ``[..., F', T']`` of audio ``[..., samples]`` at the audio's rate."""
        return stft(audio, self.audio, workers, self.audio_fft)

    def istft(self, spec: np.ndarray, length: int, workers: int = 1) -> np.ndarray:
        """Float32 audio ``[..., length]`` from a spectrogram made by :meth:`stft`."""
        return istft(spec, length, self.audio, workers, self.audio_fft)

    def model_log_magnitude(self, spec: np.ndarray) -> np.ndarray:
        """What the model reads, ``[..., F, T]``, from a spectrogram of the model's transform (``[..., F'', T]``)."""
        return log_magnitude(spec[..., : self.model_bins, :], self.model)

    def model_input(self, audio: np.ndarray, workers: int = 1) -> np.ndarray:
        """The model's input ``[..., F, T]`` for audio ``[..., samples]`` at the model's rate."""
        return self.model_log_magnitude(stft(audio, self.model, workers, self.model_fft))

    @cached_property
    def _time_map(self) -> torch.Tensor:
        """``[T, T']``: the model's frames averaged over each audio frame's hop (linear between model frames)."""
        model_frames, audio_frames = self.frames
        step = self.audio.hop / self.audio.sample_rate
        offsets = (np.arange(SUBSTEPS) + 0.5) / SUBSTEPS - 0.5
        times = (np.arange(audio_frames)[:, None] + offsets) * step  # [T', SUBSTEPS] seconds
        position = np.clip(times * self.model.sample_rate / self.model.hop, 0, model_frames - 1)
        lo = np.minimum(np.floor(position).astype(int), model_frames - 1)
        hi = np.minimum(lo + 1, model_frames - 1)
        frac = position - lo
        weights = np.zeros((model_frames, audio_frames))
        columns = np.broadcast_to(np.arange(audio_frames)[:, None], lo.shape)
        np.add.at(weights, (lo, columns), (1 - frac) / SUBSTEPS)
        np.add.at(weights, (hi, columns), frac / SUBSTEPS)
        return torch.from_numpy(weights.astype(np.float32))

    @cached_property
    def _frequency_map(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bins of the audio grid inside the model's band, and for them the model bins (``lo``, ``hi``) and weight;
        the model's top band (averaged above its band)."""
        model_freqs = np.fft.rfftfreq(self.model_fft, 1 / self.model.sample_rate)[: self.model_bins]  # where its bins are read
        freqs = np.fft.rfftfreq(self.audio_fft, 1 / self.audio.sample_rate)
        top = model_freqs >= HIGH_BAND_REFERENCE * self.model.sample_rate / 2
        inside = freqs <= model_freqs[-1]
        position = np.interp(freqs[inside], model_freqs, np.arange(len(model_freqs)))
        lo = np.floor(position).astype(int)
        hi = np.minimum(lo + 1, len(model_freqs) - 1)
        return inside, lo, hi, (position - lo).astype(np.float32)[:, None], top

    def map_gain(self, log_gain: np.ndarray) -> np.ndarray:
        """A model log-gain ``[..., F, T]`` (one segment's frames) on the audio grid, ``[..., F', T']`` float32
        (at the model's rate: its own grid, the top bin's gain repeated on the padded FFT's extra bins)."""
        if self.at_model_rate:
            extra = self.audio_fft // 2 + 1 - self.model_bins
            return log_gain if extra == 0 else np.concatenate([log_gain, np.repeat(log_gain[..., -1:, :], extra, axis=-2)], axis=-2)
        with torch.inference_mode():
            in_time = (torch.from_numpy(np.ascontiguousarray(log_gain, np.float32)) @ self._time_map).numpy()
        inside, lo, hi, frac, top = self._frequency_map
        out = np.empty(in_time.shape[:-2] + (len(inside), in_time.shape[-1]), np.float32)
        out[..., inside, :] = in_time[..., lo, :] * (1 - frac) + in_time[..., hi, :] * frac
        out[..., ~inside, :] = in_time[..., top, :].mean(axis=-2, keepdims=True)
        return out

    @cached_property
    def stage_frames(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """For the high-band stage, which was trained on the model's frame times: ``(to_model [T', T],
        to_audio [T, T'])`` time maps (linear interpolation there, :meth:`map_gain`'s averaging back); None at
        the model's frame times."""
        if self.audio.hop * self.model.sample_rate == self.model.hop * self.audio.sample_rate:
            return None
        model_frames, audio_frames = self.frames
        model_times = np.arange(model_frames) * self.model.hop / self.model.sample_rate
        audio_times = np.arange(audio_frames) * self.audio.hop / self.audio.sample_rate
        to_model = np.stack([np.interp(model_times, audio_times, row) for row in np.eye(audio_frames)])
        return torch.from_numpy(to_model.astype(np.float32)), self._time_map


@lru_cache(maxsize=32)
def rate_transforms(model: StftConfig, sample_rate: int) -> RateTransforms:
    """The transforms of ``sample_rate`` for a model of transform ``model`` (made once per pair)."""
    return RateTransforms(model, audio_stft(model, sample_rate))


@lru_cache(maxsize=32)
def gain_map_onto(model: StftConfig, grid: RateTransforms) -> RateTransforms:
    """The map of a model of transform ``model``'s gain onto ``grid``'s audio grid (another model's), as
    :meth:`RateTransforms.map_gain` does it: for a second model whose gain joins the first's (an ensemble)."""
    return RateTransforms(model, grid.audio, fft=grid.audio_fft)
