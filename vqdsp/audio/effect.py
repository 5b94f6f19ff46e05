"""``VQDenoise``: the denoiser as an effect that follows pedalboard's plugin conventions."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from vqdsp.model.checkpoint import load_model
from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.framing import SegmentStream

BUFFER_SIZE = 8192


class VQDenoise:
    """Remove noise from speech with the VQ-VAE SE-U-Net (the shipped model by default).

    Works like a pedalboard plugin: ``effect(audio, sample_rate)`` with ``audio`` shaped
    ``(channels, samples)``, ``(samples, channels)`` or ``(samples,)`` (the smaller dimension is
    taken as channels), float32 or float64, at any sample rate; the output has the input's
    shape, dtype and length. Each channel is denoised; channels go through the model together.

    The model runs at its own rate (8 kHz for the default); at other rates its time-frequency
    gain is applied to the audio at its own rate, so the band above the model's Nyquist is kept
    (and attenuated only where the model found noise).

    With ``reset=False`` the effect streams: chunks of any size give the one-shot output delayed
    by :attr:`latency_samples`, in memory bounded by the chunk size. With ``reset=True`` (the
    default) each call is a whole signal: the output is aligned with the input.

    Input outside [-1, 1] is processed as it is (nothing is clipped); silence stays silence; NaN
    or Inf samples, integer arrays and arrays that are not 1-D or 2-D raise errors.

    Args:
        attenuation_limit_db: deepest suppression allowed, in dB (``math.inf``: no limit).
            A limit (e.g. 20-30 dB) keeps a natural noise floor and avoids "underwater" speech.
        mix: wet fraction, 0 (dry input only) to 1 (fully denoised).
        model: path to a ``.safetensors`` model (its ``.json`` config beside it); None: the shipped model.
        device: torch device to run the model on, e.g. ``"cpu"`` or ``"cuda"``.
    """

    is_effect = True
    is_instrument = False

    def __init__(
        self,
        attenuation_limit_db: float = math.inf,
        mix: float = 1.0,
        model: str | os.PathLike | None = None,
        device: str = "cpu",
    ) -> None:
        self._model_path: Path | None = None
        self._device = "cpu"
        self._denoiser: Denoiser | None = None
        self.attenuation_limit_db = attenuation_limit_db
        self.mix = mix
        self.device = device
        self.model = model
        self._stream: SegmentStream | None = None
        self._stream_key: tuple[int, int] | None = None
        self._last_rate: int | None = None

    # -- parameters -------------------------------------------------------------------------
    @property
    def attenuation_limit_db(self) -> float:
        """Deepest suppression allowed, in dB (``inf``: the model's own floor)."""
        return self._attenuation_limit_db

    @attenuation_limit_db.setter
    def attenuation_limit_db(self, value: float) -> None:
        value = float(value)
        if not value > 0:
            raise ValueError(f"attenuation_limit_db must be > 0 dB, got {value}")
        self._attenuation_limit_db = value
        if self._denoiser is not None:
            self._denoiser.attenuation_limit_db = None if math.isinf(value) else value

    @property
    def mix(self) -> float:
        """Wet fraction: 0 passes the input through, 1 is fully denoised."""
        return self._mix

    @mix.setter
    def mix(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"mix must be between 0 and 1, got {value}")
        self._mix = value

    @property
    def model(self) -> str | None:
        """Path of the model file, or None for the shipped model."""
        return None if self._model_path is None else str(self._model_path)

    @model.setter
    def model(self, value: str | os.PathLike | None) -> None:
        path = None if value is None else Path(value)
        self._denoiser = Denoiser(
            load_model(path, self._device),
            attenuation_limit_db=None if math.isinf(self.attenuation_limit_db) else self.attenuation_limit_db,
        )
        self._model_path = path
        self.reset()

    @property
    def device(self) -> str:
        """Torch device the model runs on."""
        return self._device

    @device.setter
    def device(self, value: str) -> None:
        device = torch.device(value)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {value!r} asked for, but CUDA is not available here; use 'cpu'")
        self._device = str(device)
        if self._denoiser is not None:
            self._denoiser.model.to(device)

    @property
    def parameters(self) -> MappingProxyType:
        """Read-only view of the parameters; set them as attributes (``effect.mix = 0.8``)."""
        return MappingProxyType(
            {"attenuation_limit_db": self.attenuation_limit_db, "mix": self.mix, "model": self.model, "device": self.device}
        )

    @property
    def sample_rate(self) -> int:
        """The rate the model works at, in Hz."""
        return self._denoiser.model_stft.sample_rate

    @property
    def latency_samples(self) -> int:
        """Delay of the ``reset=False`` output (one model segment, 1 s by default), in samples at the
        rate last processed (the model's rate before any audio)."""
        return self.latency_at(self._last_rate or self.sample_rate)

    def latency_at(self, sample_rate: int) -> int:
        """Delay of the ``reset=False`` output, in samples at ``sample_rate``."""
        return self._denoiser.segment_length(int(round(sample_rate)))[0]

    def __repr__(self) -> str:
        params = " ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        return f"<vqdsp.VQDenoise {params} at {id(self):#x}>"

    # -- processing ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear the stream (buffered audio); parameters stay as they are."""
        self._stream = None
        self._stream_key = None

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = BUFFER_SIZE, reset: bool = True) -> np.ndarray:
        """Denoise ``input_array`` at ``sample_rate``; see the class docstring for shapes and streaming."""
        audio = np.asarray(input_array)
        if audio.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"expected a float32 or float64 array, got {audio.dtype}; "
                "convert integer PCM first, e.g. audio.astype(np.float32) / 32768"
            )
        if audio.ndim not in (1, 2):
            raise ValueError(f"expected audio shaped (samples,) or (channels, samples), got {audio.ndim} dimensions")
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        if audio.size == 0:
            return audio.copy()
        if not np.all(np.isfinite(audio)):
            raise ValueError("input contains NaN or Inf samples; clean or replace them first")
        channels_last = audio.ndim == 2 and audio.shape[1] < audio.shape[0]
        if audio.ndim == 2 and audio.shape[0] == audio.shape[1] and audio.shape[0] > 1:
            raise ValueError(
                f"cannot tell channels from samples in a square array {audio.shape}; pass (channels, samples)"
            )
        planar = audio.T if channels_last else audio if audio.ndim == 2 else audio[None]
        rate = self._last_rate = int(round(sample_rate))
        stream = self._stream_for(rate, planar.shape[0], fresh=reset)
        planar32 = planar.astype(np.float32)
        if reset:
            out = stream.process_all(planar32)
        else:
            out = np.concatenate(
                [stream.push(planar32[:, i : i + buffer_size]) for i in range(0, planar32.shape[1], buffer_size)], axis=1
            )
        out = out.T if channels_last else out.reshape(audio.shape)
        return np.ascontiguousarray(out, dtype=audio.dtype)

    __call__ = process

    def _stream_for(self, rate: int, channels: int, fresh: bool) -> SegmentStream:
        key = (rate, channels)
        if not fresh and self._stream is not None and self._stream_key != key:
            raise ValueError(
                f"sample rate or channel count changed mid-stream ({self._stream_key} -> {key}); "
                "call reset() or process with reset=True"
            )
        if fresh or self._stream is None:
            self._stream, self._stream_key = self._make_stream(rate, channels), key
        return self._stream

    def _make_stream(self, rate: int, channels: int) -> SegmentStream:
        denoiser = self._denoiser
        seg, overlap = denoiser.segment_length(rate)

        def wet_dry(segments: np.ndarray) -> np.ndarray:
            wet = denoiser.process_segments(segments, rate)
            return wet if self.mix >= 1.0 else self.mix * wet + (1.0 - self.mix) * segments

        batch = max(1, denoiser.batch_size // channels)
        return SegmentStream(wet_dry, seg, overlap, channels, batch)
