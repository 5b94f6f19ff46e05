"""``VQDenoise``: the denoiser as an effect that follows pedalboard's plugin conventions.

It holds the audio path's parameters (mix, latency, threads, channel layout, the models through
:class:`~vqdsp.audio.model_choice.ModelChoice`) and checks its input; its
:class:`~vqdsp.audio.effect_stream.EffectStream` holds the stream between calls, and
:class:`~vqdsp.audio.denoiser.Denoiser` only turns segments into denoised segments.
"""

from __future__ import annotations

import math
import os
import threading
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from vqdsp.audio.denoiser import Denoiser
from vqdsp.audio.effect_stream import EffectStream
from vqdsp.audio.model_choice import AUTO_PARTNER, ModelChoice, partner_source, stage_source
from vqdsp.audio.parameters import CHANNEL_MODES, check_device, check_sample_rate, is_whole_number, real_number
from vqdsp.audio.stft import check_audio
from vqdsp.audio.threads import mark_torch_started
from vqdsp.model.checkpoint import RATE_CHOSEN_MODELS, WIDEBAND_FROM_HZ
from vqdsp.model.config import MAX_ATTENUATION_DB
from vqdsp.model.high_band import HighBandNet

BUFFER_SIZE = 8192


class VQDenoise:
    """Remove noise from speech with the VQ-VAE SE-U-Net (the shipped model by default).

    Works like a pedalboard plugin: ``effect(audio, sample_rate)`` with ``audio`` shaped
    ``(channels, samples)``, ``(samples, channels)`` or ``(samples,)``, float32 or float64, at
    any sample rate from 1 kHz to 384 kHz; the output has the input's shape, dtype and length.
    The layout is read as pedalboard reads it: the channel count of the stream in progress (or
    ``channels``) is used as the hint; without one the smaller dimension is taken as channels.

    With no ``model`` named, the rate chooses the shipped model: ``default`` (8 kHz) for audio below
    16 kHz (telephony), ``wideband`` (16 kHz, with ``default`` as its low-band partner, and from 40 kHz its
    stage to 20 kHz) for 16 kHz and up (:meth:`model_at` says which; ``repr`` shows it). The model runs at its own rate; at other rates its time-frequency gain is applied to
    the audio at its own rate, so the band above the model's Nyquist is kept. There, from just under
    that Nyquist, the high-band stage gives it learned gains where one fits the model and the rate
    (see ``high_band``); elsewhere it gets the gain of the model's top band.

    With ``reset=False`` the effect streams: chunks of any size give the one-shot output delayed
    by :meth:`latency_at` samples, in memory bounded by the chunk size. With ``reset=True`` (the
    default) each call is a whole signal: the output is aligned with the input. Input shorter
    than one analysis window of the model (:meth:`shortest_input_at`, 65 ms for the default) is
    processed as if it went on mirrored, with a warning: the model has too little of it to tell
    speech from noise, so it may come back strongly attenuated.

    Input outside [-1, 1] is processed as it is (nothing is clipped); silence stays silence; NaN
    or Inf samples (also after the cast to float32), integer arrays and arrays that are not 1-D
    or 2-D raise errors.

    The effect can be pickled in any state. In a process pool, use the ``spawn`` or
    ``forkserver`` start method: a process forked after a ``VQDenoise`` was made cannot use
    torch's threads, and raises a RuntimeError saying so instead of hanging.

    Args:
        attenuation_limit_db: deepest suppression allowed, in dB (``math.inf``: no limit).
            A limit (e.g. 20-30 dB) keeps a natural noise floor and avoids "underwater" speech.
        mix: wet fraction, 0 (dry input only) to 1 (fully denoised).
        model: path to a ``.safetensors`` model (its ``.json`` config beside it), the name of a
            shipped model (``"default"``; ``"fast"``: 0.84x its compute; ``"v1"``: the first model; see the README), or a
            loaded model (a ``torch.nn.Module`` with ``config.stft``, run on its own device); None: the shipped
            model for the audio's rate (``default`` below 16 kHz, ``wideband`` from 16 kHz).
        device: torch device to run the model on, ``"cpu"`` or ``"cuda[:N]"``.
        threads: CPU threads to use (segments are processed this many at a time, each with one
            torch thread).
        channel_mode: ``"independent"``: each channel is denoised on its own; ``"linked"``: one
            model pass on the channels' mean and the same gain on every channel (the stereo
            image stays put, and C channels cost what one does).
        channels: channel count of the input; None: read from each stream's first array.
            Set it to stream tiny chunks (e.g. one frame at a time): without it a stream's first
            chunk must be longer than 64 samples, and with it not square (``channels`` x ``channels``), for
            its layout to be told; later chunks follow the stream's layout (see :mod:`vqdsp.audio.layout`).
        high_band: the stage that denoises from just under the model's Nyquist up (3.8 kHz for an 8 kHz
            model): ``"default"`` (the shipped stage of the model's transform, where one ships; others run
            without it), a ``.safetensors`` file (its ``.json`` beside it), a loaded
            :class:`~vqdsp.model.high_band.HighBandNet`, or None (the model's top-band gain is held
            up to Nyquist, as in vqdsp 0.1). With no ``model`` named, a given stage serves the shipped
            model of its transform.
        backend: what runs the model's forward: ``"torch"`` (the fused C++ / CUDA kernels), or
            ``"onnxruntime"`` (CPU only; needs ``pip install 'vqdsp[onnx]'``): the same gain to 1e-4 in
            about half the forward's time (the README's *Performance*).
        partner: a second model whose gain is averaged with the model's below 3.8 kHz, for audio at 16 kHz
            and more (an ensemble: :mod:`vqdsp.audio.ensemble`): ``"auto"`` (the shipped partner of the
            model's transform: ``wideband`` runs with ``default``, the others alone), a shipped model's name,
            a ``.safetensors`` file, a loaded model, or None (the model alone; half the compute).
    """

    is_effect = True
    is_instrument = False
    denoiser_class: type[Denoiser] = Denoiser
    """What turns segments into denoised segments (the benchmarks' reference path swaps it)."""
    _threads: int

    def __init__(
        self,
        attenuation_limit_db: float = math.inf,
        mix: float = 1.0,
        model: str | os.PathLike | torch.nn.Module | None = None,
        device: str = "cpu",
        threads: int = 1,
        channel_mode: str = "independent",
        channels: int | None = None,
        high_band: str | os.PathLike | HighBandNet | None = "default",
        backend: str = "torch",
        partner: str | os.PathLike | torch.nn.Module | None = AUTO_PARTNER,
    ) -> None:
        self._stream = EffectStream(self)
        self._busy = threading.Lock()  # held while a call processes: an instance is one stream
        self.attenuation_limit_db = attenuation_limit_db
        self.mix = mix
        self.threads = threads
        self.channel_mode = channel_mode
        self.channels = channels
        self._choice = ModelChoice(check_device(device), backend, self.attenuation_limit_db, self.denoiser_class)
        self._choice.stage_source = stage_source(high_band)
        self._choice.partner_source = partner_source(partner)
        self.model = model  # also loads the high-band stage and the partner

    # -- parameters -------------------------------------------------------------------------
    @property
    def attenuation_limit_db(self) -> float:
        """Deepest suppression allowed, in dB (``inf``: the model's own floor)."""
        return self._attenuation_limit_db

    @attenuation_limit_db.setter
    def attenuation_limit_db(self, value: float) -> None:
        value = real_number("attenuation_limit_db", value)
        if value != math.inf and not 0 < value <= MAX_ATTENUATION_DB:
            raise ValueError(f"attenuation_limit_db must be in (0, {MAX_ATTENUATION_DB:g}] dB, or math.inf for no limit, got {value:g}")
        self._attenuation_limit_db = value
        if hasattr(self, "_choice"):
            self._choice.set_limit(value)

    @property
    def mix(self) -> float:
        """Wet fraction: 0 passes the input through, 1 is fully denoised."""
        return self._mix

    @mix.setter
    def mix(self, value: float) -> None:
        value = real_number("mix", value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"mix must be between 0 and 1, got {value}")
        self._mix = value

    @property
    def model(self) -> str | torch.nn.Module | None:
        """Path or name of the model file, the model itself if one was given loaded, or None: the rate chooses."""
        return self._choice.model

    @model.setter
    def model(self, value: str | os.PathLike | torch.nn.Module | None) -> None:
        self._choice.set_model(value)  # also chooses the high-band stage again
        mark_torch_started()
        self.reset()

    def model_at(self, sample_rate: float) -> str | torch.nn.Module:
        """The model that denoises audio at ``sample_rate``: the one named, else the shipped one the rate chooses."""
        return self._choice.model_at(check_sample_rate(sample_rate))

    def describe_at(self, sample_rate: float) -> str:
        """What denoises audio at ``sample_rate``, in words: the model, its rate, the backend if not torch, and the
        high-band stage if one runs."""
        return self._choice.describe_at(check_sample_rate(sample_rate))

    def denoiser_at(self, sample_rate: int) -> Denoiser:
        """The segment denoiser for audio at ``sample_rate`` (a shipped model chosen by rate is loaded on first use)."""
        denoiser = self._choice.denoiser_at(sample_rate)
        mark_torch_started()
        return denoiser

    @property
    def high_band(self) -> str | HighBandNet | None:
        """The high-band stage's source: ``"default"``, a file path, the stage itself if given loaded, or None."""
        return self._choice.high_band

    @high_band.setter
    def high_band(self, value: str | os.PathLike | HighBandNet | None) -> None:
        self._choice.set_high_band(value)
        self.reset()

    @property
    def partner(self) -> str | torch.nn.Module | None:
        """The low-band partner's source: ``"auto"``, a shipped model's name or a file path, the model if given loaded, or None."""
        return self._choice.partner

    @partner.setter
    def partner(self, value: str | os.PathLike | torch.nn.Module | None) -> None:
        self._choice.set_partner(value)
        self.reset()

    @property
    def device(self) -> str:
        """Torch device the model runs on."""
        return self._choice.device

    @device.setter
    def device(self, value: str) -> None:
        self._choice.set_device(check_device(value))

    @property
    def backend(self) -> str:
        """What runs the model's forward: ``"torch"``, or ``"onnxruntime"`` (CPU; needs ``vqdsp[onnx]``)."""
        return self._choice.backend

    @backend.setter
    def backend(self, value: str) -> None:
        self._choice.set_backend(value)
        self.reset()

    @property
    def threads(self) -> int:
        """CPU threads: segments processed at a time, each with one torch thread."""
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        if not is_whole_number(value):
            raise TypeError(f"threads must be a whole number >= 1, got {value!r}")
        if value < 1:
            raise ValueError(f"threads must be >= 1 (1 for one core), got {value}")
        self._threads = int(value)
        self._stream.shutdown_executor()

    @property
    def channel_mode(self) -> str:
        """``"independent"`` (each channel on its own) or ``"linked"`` (one gain for all, from their mean)."""
        return self._channel_mode

    @channel_mode.setter
    def channel_mode(self, value: str) -> None:
        if value not in CHANNEL_MODES:
            raise ValueError(f"channel_mode must be one of {', '.join(map(repr, CHANNEL_MODES))}, got {value!r}")
        self._channel_mode = value

    @property
    def channels(self) -> int | None:
        """Channel count of the input (the layout hint), or None to read it from each stream's first array."""
        return self._channels

    @channels.setter
    def channels(self, value: int | None) -> None:
        if value is not None and (not is_whole_number(value) or value < 1):
            raise ValueError(f"channels must be None or a whole number >= 1, got {value!r}")
        self._channels = None if value is None else int(value)

    @property
    def parameters(self) -> MappingProxyType:
        """Read-only view of the parameters; set them as attributes (``effect.mix = 0.8``)."""
        return MappingProxyType({
            "attenuation_limit_db": self.attenuation_limit_db, "mix": self.mix, "model": self.model,
            "device": self.device, "threads": self.threads, "channel_mode": self.channel_mode, "channels": self.channels,
            "high_band": self.high_band, "backend": self.backend, "partner": self.partner,
        })

    @property
    def sample_rate(self) -> int:
        """The rate the named model works at, in Hz (with the rate choosing: the 8 kHz ``default``'s)."""
        return self._choice.model_rate

    @property
    def latency_samples(self) -> int:
        """Delay of the ``reset=False`` output at :attr:`sample_rate` (one model segment); see :meth:`latency_at`."""
        return self.latency_at(self.sample_rate)

    def latency_at(self, sample_rate: float) -> int:
        """Delay of the ``reset=False`` output, in samples at ``sample_rate`` (one model segment, 1 s by default)."""
        rate = check_sample_rate(sample_rate)
        return self.denoiser_at(rate).segment_length(rate)[0]

    def shortest_input_at(self, sample_rate: float) -> int:
        """Fewest samples at ``sample_rate`` the model can judge (one analysis window; with a low-band partner
        joining at this rate, the longer of the two windows); shorter input gets a warning."""
        rate = check_sample_rate(sample_rate)
        return self.denoiser_at(rate).shortest_input(rate)

    def __repr__(self) -> str:
        params = " ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        chosen = "" if self._choice.source is not None else (
            f" (by rate: {RATE_CHOSEN_MODELS[0]!r} below {WIDEBAND_FROM_HZ / 1000:g} kHz, {RATE_CHOSEN_MODELS[1]!r} from it)"
        )  # fmt: skip
        return f"<vqdsp.VQDenoise {params}{chosen} at {id(self):#x}>"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_busy"]  # the stream drops its thread pool itself
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._busy = threading.Lock()

    # -- processing ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear the stream (buffered audio); parameters stay as they are."""
        self._stream.reset()

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = BUFFER_SIZE, reset: bool = True) -> np.ndarray:
        """Denoise ``input_array`` at ``sample_rate``; see the class docstring for shapes and streaming.

        ``buffer_size`` is accepted for pedalboard's call contract; the output does not depend on it.
        An instance is one stream: a call while another thread's call on it runs raises RuntimeError.
        """
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "this VQDenoise is processing in another thread; an instance is one stream (its state is the stream's): "
                "give each thread its own instance, e.g. copy.deepcopy(effect)"
            )
        try:
            return self._process(input_array, sample_rate, buffer_size, reset)
        finally:
            self._busy.release()

    __call__ = process

    def _process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int, reset: bool) -> np.ndarray:
        rate = check_sample_rate(sample_rate)
        if not is_whole_number(buffer_size) or buffer_size < 1:
            raise ValueError(f"buffer_size must be a whole number of samples >= 1, got {buffer_size!r}")
        dtype = np.asarray(input_array).dtype
        if dtype not in (np.float32, np.float64):
            raise TypeError(
                f"expected a float32 or float64 array, got {dtype}; "
                "convert integer PCM first, e.g. audio.astype(np.float32) / 32768"
            )
        audio = check_audio(input_array, "input", allow_empty=True)
        if audio.ndim not in (1, 2):
            raise ValueError(f"expected audio shaped (samples,) or (channels, samples), got {audio.ndim} dimensions")
        if audio.size == 0:
            return np.zeros(audio.shape, dtype)
        out = self._stream.process(audio, rate, reset)
        return np.ascontiguousarray(out, dtype=dtype)
