"""Denoise model-sized segments at any sample rate with a trained model: segments in, segments out.

The model always runs at its own rate. At another sample rate its time-frequency gain is mapped
onto an STFT of the audio at the audio's own rate, chosen for speed (:mod:`vqdsp.audio.transforms`:
the model's window duration, a quarter-window hop), so the band above the model's Nyquist is
kept. There (from 3.8 kHz, at 16 kHz and more) a high-band stage (:mod:`vqdsp.model.high_band`)
gives it learned gains; without one (or below 16 kHz) it gets the gain the model gave the top of
its band (2-4 kHz at 8 kHz), i.e. it is attenuated where the model found noise and kept where it
found speech. Each rate's STFT is computed once per segment (at the model's rate the model's own
STFT is the one the gain is applied to).

Streaming, channel layout, mix and latency belong to :class:`~vqdsp.audio.effect.VQDenoise`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import cast

import numpy as np
import torch

from vqdsp.audio.ensemble import LowBandPartner
from vqdsp.audio.stft import fit_length, resample
from vqdsp.audio.transforms import HIGH_BAND_REFERENCE, RateTransforms, rate_transforms, scaled_stft
from vqdsp.model.backends import check_backend
from vqdsp.model.config import StftConfig
from vqdsp.model.high_band import HighBandError, HighBandNet
from vqdsp.model.onnx_runtime import OnnxRuntimeGains


class Denoiser:
    """A model as a segment-in, segment-out denoiser.

    Args:
        model: ``model(noisy_log_mag [B, F, T]) -> result`` with ``result.log_gain [B, F, T]``
            (natural-log gain) and ``model.config.stft`` its transform
            (see :func:`vqdsp.model.checkpoint.load_model`). A model with ``for_inference()``
            (:class:`~vqdsp.model.unet.SEUNet`) runs as that copy, batch norm folded; ``model`` itself is not changed.
        attenuation_limit_db: the deepest suppression allowed, in dB (None: the model's own).
        batch_size: segments per forward pass; small batches keep the activations in cache (4 measured fastest).
        workers: FFT threads.
        high_band: the stage that sets the gains from just under the model's Nyquist up (3.8 kHz) for
            audio at ``high_band.config.min_sample_rate`` (16 kHz) or more; None: the model's top-band gain above its Nyquist.
        backend: what runs the forward (:data:`~vqdsp.model.backends.BACKENDS`): ``"torch"``, or
            ``"onnxruntime"`` (CPU only, an :class:`SEUNet`, needs ``vqdsp[onnx]``; about half torch's time
            for the forward, the gain within 1e-4).
        partner: a second model whose log-gain is averaged with this one's below 3.8 kHz, for audio at 16 kHz
            or more (:mod:`vqdsp.audio.ensemble`); None: this model alone.
    """

    def __init__(
        self, model: torch.nn.Module, attenuation_limit_db: float | None = None, batch_size: int = 4, workers: int = 1,
        high_band: HighBandNet | None = None, backend: str = "torch", partner: LowBandPartner | None = None,
    ) -> None:
        self.backend = check_backend(backend)
        prepare = getattr(model, "for_inference", None)
        self.model = prepare() if callable(prepare) else model.eval()
        self._onnx: OnnxRuntimeGains | None = None
        if backend == "onnxruntime":
            if self.device.type != "cpu":
                raise ValueError(f"the onnxruntime backend runs on the CPU, but the model is on {self.device}; use backend='torch' there")
            self._onnx = OnnxRuntimeGains(self.model)
        # any module with a ``config`` (a ModelConfig, or one like it): nn.Module's __getattr__ types it as Tensor | Module
        self.model_stft: StftConfig = cast(StftConfig, model.config.stft)
        self.high_band = high_band
        self.partner = partner
        self.attenuation_limit_db = attenuation_limit_db
        self.batch_size = batch_size
        self.workers = workers
        self._compiled = False

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def segment_length(self, sample_rate: int) -> tuple[int, int]:
        """Segment and overlap lengths, in samples at ``sample_rate``."""
        scale = sample_rate / self.model_stft.sample_rate
        return round(self.model_stft.segment_samples * scale), round(self.model_stft.segment_overlap * scale)

    def stft_at(self, sample_rate: int) -> StftConfig:
        """The model's transform scaled to ``sample_rate``: same window duration and hop in seconds (the
        grid the model sees, on which the high-band stage is trained)."""
        return scaled_stft(self.model_stft, sample_rate)

    def shortest_input(self, sample_rate: int) -> int:
        """Fewest samples at ``sample_rate`` the model can judge: its analysis window, or the partner's where that
        joins at this rate and is longer."""
        window = self.stft_at(sample_rate).nperseg
        if self.partner is not None and self.partner.joins_at(sample_rate):
            return max(window, self.partner.denoiser.stft_at(sample_rate).nperseg)
        return window

    def transforms_at(self, sample_rate: int) -> RateTransforms:
        """The transforms of ``sample_rate``: the one the gain is applied to, and the gain's map onto it."""
        return rate_transforms(self.model_stft, sample_rate)

    @property
    def high_band(self) -> HighBandNet | None:
        """The high-band stage (None: the model's top-band gain above its Nyquist)."""
        return self._high_band

    @high_band.setter
    def high_band(self, stage: HighBandNet | None) -> None:
        if stage is not None and stage.config.model_stft != self.model_stft:
            raise HighBandError(
                f"the high-band stage was trained for a model with transform {stage.config.model_stft}, this model has {self.model_stft}"
            )
        self._high_band = None if stage is None else stage.eval()

    @property
    def partner(self) -> LowBandPartner | None:
        """The low-band partner (None: this model alone)."""
        return self._partner

    @partner.setter
    def partner(self, partner: LowBandPartner | None) -> None:
        if partner is not None:
            partner.check_fits(self)
        self._partner = partner

    @property
    def log_gain_floor(self) -> float:
        """The deepest natural-log gain allowed (``-inf``: no attenuation limit)."""
        return -math.inf if self.attenuation_limit_db is None else -self.attenuation_limit_db * math.log(10) / 20

    def log_gains(self, log_mag: np.ndarray) -> np.ndarray:
        """The model's log-gain ``[N, F, T]`` for log-magnitudes ``[N, F, T]`` at the model's rate, in batches,
        floored at :attr:`log_gain_floor`."""
        floor = np.float32(self.log_gain_floor)
        starts = range(0, len(log_mag), self.batch_size)
        return np.concatenate([np.maximum(self.forward(log_mag[s : s + self.batch_size]), floor) for s in starts])

    @torch.inference_mode()
    def forward(self, log_mag: np.ndarray) -> np.ndarray:
        """The model's log-gain for one batch ``[B, F, T]`` (float32), on the chosen backend."""
        if self._onnx is not None:
            return self._onnx(log_mag)
        batch = torch.from_numpy(np.ascontiguousarray(log_mag, dtype=np.float32)).to(self.device)
        count = len(batch)
        if self._compiled and count < self.batch_size:  # one shape, one compilation
            batch = torch.cat([batch, batch[-1:].expand(self.batch_size - count, *batch.shape[1:])])
        return self.model(batch).log_gain[:count].float().cpu().numpy()

    def compile(self) -> Denoiser:
        """Run the model through ``torch.compile`` from now on; returns ``self``.

        On a busy CPU the forward's median time halved (bench/test_model.py: element-wise steps fused,
        buffers reused; the fused SE + nearest-code kernel stays), though its best rounds did not move;
        end to end it took 0.78-0.93 of the eager time at 8 kHz and 0.90-1.07 at 48 kHz (README,
        *Issue 23*), at the cost of a compilation of tens of seconds on the first call in each
        process (less once inductor's cache on disk holds it). Batches are padded to ``batch_size``, so it compiles once; the gain is the eager model's
        to 1e-5. Worth it for long files, not for short calls; a compiled denoiser cannot be pickled.
        """
        if self._onnx is not None:
            raise ValueError("compile() is for the torch backend; this denoiser runs onnxruntime")
        if not self._compiled:
            self.model = cast(torch.nn.Module, torch.compile(self.model, dynamic=False))
            self._compiled = True
        return self

    def resampled_log_gains(self, segments: np.ndarray, sample_rate: int) -> np.ndarray:
        """The model's log-gain ``[N, F, T]`` for segments ``[N, samples]`` at another rate: taken to the
        model's rate and one model segment long, as the model sees them."""
        model_in = fit_length(resample(segments, sample_rate, self.model_stft.sample_rate), self.model_stft.segment_samples)
        return self.log_gains(self.transforms_at(sample_rate).model_input(model_in, self.workers))

    def process_segments(self, segments: np.ndarray, sample_rate: int, linked: bool = False) -> np.ndarray:
        """Denoise segments ``[channels, N, samples]`` at ``sample_rate`` (each :meth:`segment_length` long).

        ``linked``: one model pass on the channels' mean, the same gain on every channel
        (the stereo image stays put; C channels cost one model pass); else each channel alone.
        At another rate than the model's, the gain is applied on :meth:`transforms_at`'s audio-rate STFT.
        """
        channels, count, length = segments.shape
        if count == 0:
            return segments
        link = linked and channels > 1
        flat = segments.reshape(channels * count, length)
        transforms = self.transforms_at(sample_rate)
        heard = segments.mean(axis=0) if link else flat  # what the model hears: [C or 1 * N, samples]
        partner = self.partner if self.partner is not None and self.partner.joins_at(sample_rate) else None
        if transforms.at_model_rate:
            spec = transforms.stft(flat, self.workers)  # [C * N, F, T], also the model's input
            model_spec = spec.reshape((channels, count) + spec.shape[-2:]).mean(axis=0) if link else spec
            log_gain = transforms.map_gain(self.log_gains(transforms.model_log_magnitude(model_spec)))
            if partner is not None:
                partner.blend(log_gain, heard, sample_rate, transforms)
            spec *= np.exp(np.tile(log_gain, (channels, 1, 1)) if link else log_gain)
            return transforms.istft(spec, length, self.workers).reshape(segments.shape)
        log_gain = self.resampled_log_gains(heard, sample_rate)  # [C or 1 * N, F, T]
        spec = transforms.stft(flat, self.workers)  # [C * N, F', T']
        gain = transforms.map_gain(log_gain)
        stage = self.high_band if self.high_band is not None and sample_rate >= self.high_band.config.min_sample_rate else None
        if stage is not None:  # linked: the stage reads the channels' mean power, through a spectrum of its magnitude
            power = spec.real**2 + spec.imag**2
            heard_spec = np.sqrt(power.reshape((channels, count) + spec.shape[-2:]).mean(axis=0)) if link else spec
            stage.set_log_gain(heard_spec, gain, transforms.audio, self.log_gain_floor, frames=transforms.stage_frames)
        if partner is not None:  # after the stage, which reads the model's own gain (it was trained so)
            partner.blend(gain, heard, sample_rate, transforms)
        gain = np.exp(gain, out=gain)
        spec = spec.reshape((channels, count) + spec.shape[-2:])
        spec *= gain if link else gain.reshape(spec.shape)
        return transforms.istft(spec, length, self.workers)

    def map_gain(self, log_gain: np.ndarray, cfg: StftConfig, shape: tuple[int, int]) -> np.ndarray:
        """Resample a model log-gain ``[..., F, T]`` onto the ``[F', T']`` grid of ``cfg`` (interpolated; the
        high-band stage's training maps it onto :meth:`stft_at`'s grid so)."""
        lo, hi, frac, flo, fhi, ffrac, inside, top = _gain_grid(self.model_stft, cfg, log_gain.shape[-1], shape)
        g_t = log_gain[..., lo] * (1 - frac) + log_gain[..., hi] * frac  # [..., F, T']
        g = np.empty(g_t.shape[:-2] + (len(inside), g_t.shape[-1]), dtype=np.float32)
        g[..., inside, :] = g_t[..., flo, :] * (1 - ffrac) + g_t[..., fhi, :] * ffrac
        g[..., ~inside, :] = g_t[..., top, :].mean(axis=-2, keepdims=True)
        return g


@lru_cache(maxsize=16)
def _gain_grid(model: StftConfig, cfg: StftConfig, frames: int, shape: tuple[int, int]) -> tuple:
    """Interpolation indices and weights from the model's ``[F, frames]`` grid to ``cfg``'s ``shape``."""
    model_times = np.arange(frames) * model.hop / model.sample_rate
    times = np.arange(shape[1]) * cfg.hop / cfg.sample_rate
    t_idx = np.interp(times, model_times, np.arange(len(model_times)))
    lo = np.floor(t_idx).astype(int)
    hi = np.minimum(lo + 1, len(model_times) - 1)
    frac = (t_idx - lo).astype(np.float32)

    model_freqs = np.fft.rfftfreq(model.nperseg, 1 / model.sample_rate)
    freqs = np.fft.rfftfreq(cfg.nperseg, 1 / cfg.sample_rate)[: shape[0]]
    top = model_freqs >= HIGH_BAND_REFERENCE * model.sample_rate / 2
    inside = freqs <= model_freqs[-1]
    f_idx = np.interp(freqs[inside], model_freqs, np.arange(len(model_freqs)))
    flo = np.floor(f_idx).astype(int)
    fhi = np.minimum(flo + 1, len(model_freqs) - 1)
    ffrac = (f_idx - flo).astype(np.float32)[:, None]
    return lo, hi, frac, flo, fhi, ffrac, inside, top
