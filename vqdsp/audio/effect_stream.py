"""One ``VQDenoise``'s stream: the audio buffered between calls, its rate, channels and layout, and the thread pool.

:class:`~vqdsp.audio.effect.VQDenoise` checks the input and holds the parameters; this turns a checked
array into the denoised one, whole or chunk by chunk, with :class:`~vqdsp.audio.framing.SegmentStream`
framing it and the effect's denoiser at the audio's rate turning segments into denoised segments.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from vqdsp.audio.framing import SegmentStream
from vqdsp.audio.layout import Layout
from vqdsp.audio.threads import check_not_forked_after_torch, torch_threads

if TYPE_CHECKING:
    from vqdsp.audio.effect import VQDenoise


class EffectStream:
    """The stream state of ``effect``: one stream at a time, kept between ``reset=False`` calls."""

    def __init__(self, effect: VQDenoise) -> None:
        self.effect = effect
        self._segments: SegmentStream | None = None
        self._key: tuple[int, int] | None = None  # (rate, channels) of the stream in progress
        self._channels_last: bool | None = None  # as the stream's 2-D chunks so far were read
        self._executor: ThreadPoolExecutor | None = None

    def reset(self) -> None:
        """Drop the buffered audio: the next call starts a new stream."""
        self._segments, self._key, self._channels_last = None, None, None

    def process(self, audio: np.ndarray, rate: int, reset: bool) -> np.ndarray:
        """Denoise ``audio`` (checked, 1-D or 2-D, not empty; float32) at ``rate``: the output in its layout.

        ``reset=True``: a whole signal, aligned with the input; ``reset=False``: the next chunk of the
        stream, delayed by the effect's latency.
        """
        effect = self.effect
        key = None if reset else self._key
        if key is not None and effect.channels in (None, key[1]):  # a stream goes on: its channels and layout hold
            layout = Layout(key[1], "stream", self._channels_last)
        else:
            layout = Layout(effect.channels, "user" if effect.channels is not None else "guess", None, first_of_stream=not reset)
        channels_last = layout.channels_last(audio.shape)
        planar = audio.T if channels_last else audio if audio.ndim == 2 else audio[None]
        check_not_forked_after_torch()
        stream = self.segments_for(rate, planar.shape[0], fresh=reset)
        with torch_threads(1), np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            if reset:
                shortest = effect.shortest_input_at(rate)
                if planar.shape[1] < shortest:
                    warnings.warn(short_input_message(planar.shape[1], rate, shortest), stacklevel=4)  # the caller of VQDenoise.process
                out = stream.process_all(planar)
            else:
                out = stream.push(planar)
                if audio.ndim == 2:
                    self._channels_last = channels_last
        if not np.isfinite(out).all():
            peak = float(np.abs(audio).max())
            if peak <= 1.0:  # the input is in range: what broke is the model or the stage
                raise ValueError(
                    f"the output has NaN or Inf samples although the input peaks at {peak:.3g}: the model or high-band stage "
                    "is broken (retrain or re-export it, or try high_band=None)"
                )
            raise ValueError(f"the output overflowed float32 (input peak {peak:.3g}); scale the input into [-1, 1] first")
        return out.T if channels_last else out.reshape(audio.shape)

    def segments_for(self, rate: int, channels: int, fresh: bool) -> SegmentStream:
        """The framing of the stream at ``rate`` with ``channels`` (a new one when ``fresh``); refuses a change mid-stream."""
        key = (rate, channels)
        if not fresh and self._segments is not None and self._key != key:
            raise ValueError(
                f"sample rate or channel count changed mid-stream ({self._key} -> {key}); "
                "call reset() or process with reset=True"
            )
        if fresh or self._segments is None:
            denoiser = self.effect.denoiser_at(rate)
            seg, overlap = denoiser.segment_length(rate)
            batch = max(1, denoiser.batch_size // (1 if self.effect.channel_mode == "linked" else channels))
            self._segments = SegmentStream(_SegmentsAt(self.effect, rate), seg, overlap, channels, batch)
            self._key = key
        self._segments.executor = self._executor_for()
        return self._segments

    def shutdown_executor(self) -> None:
        """Let the thread pool go (the thread count changed); a new one starts on the next call."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _executor_for(self) -> ThreadPoolExecutor | None:
        threads = self.effect.threads
        if threads > 1 and self._executor is None:
            self._executor = ThreadPoolExecutor(threads, thread_name_prefix="vqdsp")
        return self._executor

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_executor": None}  # threads are not pickled; a new pool starts on the next call


def short_input_message(samples: int, sample_rate: int, shortest: int) -> str:
    """The warning for input shorter than the model can judge."""
    return (
        f"{samples / sample_rate * 1000:.3g} ms of audio is shorter than the denoiser's analysis window "
        f"({shortest / sample_rate * 1000:.3g} ms), too short to tell speech from noise: it is processed as if "
        "it went on mirrored, and may come back strongly attenuated"
    )


class _SegmentsAt:
    """Denoise and mix segments ``[channels, N, samples]`` at one rate: what a stream of ``effect`` runs."""

    def __init__(self, effect: VQDenoise, rate: int) -> None:
        self.effect, self.rate = effect, rate

    def __call__(self, segments: np.ndarray) -> np.ndarray:
        effect = self.effect
        with np.errstate(over="ignore", invalid="ignore"):  # VQDenoise.process checks the output
            wet = effect.denoiser_at(self.rate).process_segments(segments, self.rate, linked=effect.channel_mode == "linked")
        return wet if effect.mix >= 1.0 else effect.mix * wet + (1.0 - effect.mix) * segments
