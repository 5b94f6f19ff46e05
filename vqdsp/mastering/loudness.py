"""Loudness (ITU-R BS.1770-4) and true peak, measured in a stream; gain to a loudness target.

:class:`LoudnessMeter` takes audio chunk by chunk and keeps only the filter state and one sum
per 100 ms step, so hours of audio are measured in bounded memory. Its integrated loudness is
pyloudnorm's (same K-weighting coefficients, same 400 ms blocks with 75 % overlap, same
absolute and relative gates). True peak is the 4x oversampled peak of BS.1770-4 annex 2,
computed with ``scipy.signal.resample_poly`` on overlapping chunks, so it equals the whole
signal's oversampled peak.

Normalisation is a gain: the one that brings the integrated loudness to the target, never above a
gain ceiling (a mostly-noise file, once denoised, would otherwise be raised 30 dB and its residual
noise with it). With a limiter (:mod:`vqdsp.mastering.limiter`) the peaks that gain lifts over
the true-peak ceiling are limited; without one (gain only) the gain is lowered until the true
peak fits. When a bound sets the gain the output is quieter than the target, and
:class:`Normalisation` says which.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.signal
import soundfile as sf
from pyloudnorm.iirfilter import IIRfilter

from vqdsp.atomic import atomic_write

if TYPE_CHECKING:
    from vqdsp.mastering.limiter import TruePeakLimiter

BLOCK_S = 0.4  # gating block (BS.1770-4)
STEPS_PER_BLOCK = 4  # 75 % overlap: blocks start every 100 ms
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs (pyloudnorm's; more channels weigh 1)
OVERSAMPLING = 4
_CONTEXT = 32  # input samples of context each side of a chunk for the oversampling filter (it needs 10)


def _db(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else -math.inf


@dataclass(frozen=True)
class Loudness:
    """What a meter found.

    Args:
        integrated_lufs: gated integrated loudness in LUFS (``-inf`` for silence or under 0.4 s).
        true_peak_dbtp: 4x oversampled peak in dBTP.
        sample_peak_dbfs: largest sample magnitude in dBFS.
        duration_s: length in seconds.
    """

    integrated_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    duration_s: float


class TruePeak:
    """Streaming 4x oversampled peak: ``push(block [channels, n])`` then :attr:`value` (linear)."""

    def __init__(self, channels: int) -> None:
        self._carry = np.zeros((channels, 0))
        self._started = False
        self.value = 0.0

    def push(self, block: np.ndarray) -> None:
        x = np.concatenate([self._carry, np.asarray(block, np.float64)], axis=1)
        if x.shape[1] <= 2 * _CONTEXT:
            self._carry = x
            return
        # Oversample with context on both sides; keep the part whose filter taps all saw real samples.
        first = _CONTEXT if self._started else 0
        self._peak(x, first, x.shape[1] - _CONTEXT)
        self._carry = x[:, -2 * _CONTEXT :]
        self._started = True

    def finish(self) -> float:
        """Flush the last samples (the signal's true end) and return the peak."""
        x = self._carry
        if x.shape[1]:
            self._peak(x, _CONTEXT if self._started else 0, x.shape[1])
        self._carry = x[:, :0]
        return self.value

    def _peak(self, x: np.ndarray, start: int, stop: int) -> None:
        if stop <= start:
            return
        up = scipy.signal.resample_poly(x, OVERSAMPLING, 1, axis=1)
        self.value = max(self.value, float(np.abs(up[:, start * OVERSAMPLING : stop * OVERSAMPLING]).max()))


class LoudnessMeter:
    """BS.1770-4 loudness and peaks of a stream: ``push(block [channels, n])`` for each chunk, then :meth:`result`.

    Args:
        sample_rate: rate of the audio in Hz.
        channels: channel count (weights follow BS.1770: L, R, C at 1, surrounds at 1.41).
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._filters = [
            IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, self.sample_rate, "high_shelf"),
            IIRfilter(0.0, 0.5, 38.0, self.sample_rate, "high_pass"),
        ]
        self._state = [np.zeros((self.channels, 2)) for _ in self._filters]
        self._coefficients = [(f.b, f.a, f.passband_gain) for f in self._filters]
        self._steps: list[np.ndarray] = []  # sum of squares per channel, per 100 ms step
        self._partial = np.zeros(self.channels)
        self._frames = 0
        self._sample_peak = 0.0
        self._true_peak = TruePeak(self.channels)
        weights = np.ones(self.channels)
        weights[: len(CHANNEL_WEIGHTS)] = CHANNEL_WEIGHTS[: self.channels]
        self._weights = weights

    def _step_end(self, k: int) -> int:
        """First sample after 100 ms step ``k``."""
        return (k + 1) * self.sample_rate // 10

    def push(self, block: np.ndarray) -> None:
        """Add ``block [channels, n]`` (float, any scale) to the measurement."""
        x = np.asarray(block, np.float64)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected a block shaped ({self.channels}, samples), got {x.shape}")
        n = x.shape[1]
        if n == 0:
            return
        self._sample_peak = max(self._sample_peak, float(np.abs(x).max()))
        self._true_peak.push(x)
        for i, (b, a, gain) in enumerate(self._coefficients):
            x, self._state[i] = scipy.signal.lfilter(b, a, x, axis=1, zi=self._state[i])
            x = gain * x
        cumulative = np.concatenate([np.zeros((self.channels, 1)), np.cumsum(x * x, axis=1)], axis=1)
        start, taken = self._frames, 0
        while (end := self._step_end(len(self._steps))) <= start + n:
            upto = end - start
            self._steps.append(self._partial + cumulative[:, upto] - cumulative[:, taken])
            self._partial = np.zeros(self.channels)
            taken = upto
        self._partial = self._partial + cumulative[:, n] - cumulative[:, taken]
        self._frames += n

    def integrated_lufs(self) -> float:
        """Gated integrated loudness so far, in LUFS (``-inf`` when no block passes the gates)."""
        duration = self._frames / self.sample_rate
        blocks = int(np.round((duration - BLOCK_S) / (BLOCK_S / STEPS_PER_BLOCK))) + 1
        if blocks <= 0:
            return -math.inf
        steps = np.array(self._steps + [self._partial]).reshape(-1, self.channels)
        steps = np.concatenate([steps, np.zeros((blocks + STEPS_PER_BLOCK, self.channels))])
        window = np.cumsum(np.concatenate([np.zeros((1, self.channels)), steps]), axis=0)
        z = (window[STEPS_PER_BLOCK : blocks + STEPS_PER_BLOCK] - window[:blocks]) / (BLOCK_S * self.sample_rate)
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10 * np.log10(np.maximum(z @ self._weights, 0.0))
        gated = z[block_lufs >= ABSOLUTE_GATE_LUFS]
        if len(gated) == 0:
            return -math.inf
        relative = -0.691 + 10 * math.log10(gated.mean(axis=0) @ self._weights) + RELATIVE_GATE_LU
        gated = z[(block_lufs > relative) & (block_lufs > ABSOLUTE_GATE_LUFS)]
        if len(gated) == 0:
            return -math.inf
        return -0.691 + 10 * math.log10(gated.mean(axis=0) @ self._weights)

    def result(self) -> Loudness:
        """The measurement of everything pushed (the true peak is final: call once, at the end)."""
        return Loudness(
            integrated_lufs=self.integrated_lufs(),
            true_peak_dbtp=_db(self._true_peak.finish()),
            sample_peak_dbfs=_db(self._sample_peak),
            duration_s=self._frames / self.sample_rate,
        )


def measure_file(path: str | os.PathLike, chunk_seconds: float = 10.0) -> Loudness:
    """Loudness and peaks of an audio file, read in chunks of ``chunk_seconds``."""
    from vqdsp.audio.files import open_audio

    with open_audio(path) as (info, read):
        meter = LoudnessMeter(info.sample_rate, info.channels)
        chunk = max(1, int(chunk_seconds * info.sample_rate))
        while (block := read(chunk)).shape[1]:
            meter.push(block)
    return meter.result()


@dataclass(frozen=True)
class Normalisation:
    """The gain chosen for a file.

    Args:
        gain_db: gain to apply, in dB.
        peak_limited: True when the true-peak ceiling, not the loudness target, set the gain
            (the output is then quieter than the target).
        gain_limited: True when the gain ceiling (``max_gain_db``) set the gain (quieter than the
            target, and the true peak under its ceiling).
    """

    gain_db: float
    peak_limited: bool
    gain_limited: bool = False


def normalisation_gain(
    measured: Loudness,
    target_lufs: float | None,
    ceiling_dbtp: float | None,
    max_gain_db: float | None = None,
    limiter: bool = False,
) -> Normalisation:
    """Gain that brings ``measured`` to ``target_lufs`` with its true peak at most ``ceiling_dbtp``
    and the gain at most ``max_gain_db`` (dB).

    Any of the three may be None (not asked for). Silence, or audio too short to gate, gets no
    loudness gain; it is still lowered if its peak is over the ceiling. When both ceilings bind,
    the lower one wins and is the one reported. With ``limiter`` the true peak does not lower the
    gain: a limiter after the gain keeps the peaks under the ceiling.
    """
    gain = 0.0
    if target_lufs is not None and math.isfinite(measured.integrated_lufs):
        gain = target_lufs - measured.integrated_lufs
    headroom = math.inf
    if ceiling_dbtp is not None and math.isfinite(measured.true_peak_dbtp) and not limiter:
        headroom = ceiling_dbtp - measured.true_peak_dbtp
    limit = math.inf if max_gain_db is None else max_gain_db
    if headroom < gain and headroom <= limit:
        return Normalisation(headroom, True)
    if limit < gain:
        return Normalisation(limit, False, True)
    return Normalisation(gain, False)


def apply_gain_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    gain_db: float,
    subtype: str | None,
    chunk_seconds: float = 10.0,
    limiter: TruePeakLimiter | None = None,
) -> None:
    """Stream ``source`` times ``gain_db`` (then through ``limiter``, when given) into ``target``
    (atomically), in ``subtype`` where the format allows it.

    Integer subtypes are clipped to [-1, 1] rather than left to wrap.
    """
    from vqdsp.audio.files import open_audio, output_format, output_subtype

    target = Path(target)
    fmt = output_format(target)
    scale = 10.0 ** (gain_db / 20.0)
    with open_audio(source) as (info, read):
        chunk = max(1, int(chunk_seconds * info.sample_rate))
        out_subtype = output_subtype(fmt, subtype)
        clip = out_subtype is None or not out_subtype.startswith(("FLOAT", "DOUBLE"))

        def write(tmp: Path) -> None:
            with sf.SoundFile(tmp, "w", info.sample_rate, info.channels, out_subtype, format=fmt) as out:
                def put(block: np.ndarray) -> None:
                    if clip:
                        np.clip(block, -1.0, 1.0, out=block)
                    if block.shape[1]:
                        out.write(np.ascontiguousarray(block.T))

                while (block := read(chunk)).shape[1]:
                    block = block * np.float32(scale)
                    put(limiter.process(block) if limiter is not None else block)
                if limiter is not None:
                    put(limiter.flush())

        atomic_write(target, write)
