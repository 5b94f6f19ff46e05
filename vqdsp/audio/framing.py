"""Framing: audio of any length through a model that takes fixed-size segments, seamlessly and in bounded memory.

Segments of ``segment`` samples start every ``hop = segment - overlap`` samples. After
processing they are joined by overlap-add with a raised-cosine cross-fade in the middle of each
overlap (:func:`crossfade_ramp`), so every output sample comes from a part of a segment that had
context on both sides, and the weights sum to one: an identity process gives back the input.

:class:`SegmentStream` does this incrementally, so a file of any length streams through with
memory bounded by the segment and chunk sizes. Its output is the processed signal delayed by
:attr:`SegmentStream.latency` samples, whatever the chunk sizes; processing a whole signal at once
(:meth:`SegmentStream.process_all`) gives the stream flushed with :func:`flush_padding`, computed
directly. Everything is float32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor

import numpy as np

SegmentFn = Callable[[np.ndarray], np.ndarray]


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


def flush_padding(recent: np.ndarray, length: int) -> np.ndarray:
    """What to push after the end of a stream: the mirror image of its last samples ``recent [channels, m]``.

    The last segments then see the recording's own noise floor rather than digital silence (which
    a model never met in training and which skews its view of the noise), and the output up to the
    end stays what a longer recording would have given.
    """
    if recent.shape[-1] == 0:
        return np.zeros(recent.shape[:-1] + (length,), np.float32)
    mirrored = np.pad(recent, [(0, 0)] * (recent.ndim - 1) + [(0, length)], mode="symmetric")
    return mirrored[..., recent.shape[-1] :].astype(np.float32)


class _Fifo:
    """A growable ``[channels, n]`` float32 queue: append at the end, take from the front (amortised O(1))."""

    def __init__(self, channels: int) -> None:
        self._data = np.zeros((channels, 1024), np.float32)
        self._start = self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def view(self) -> np.ndarray:
        return self._data[:, self._start : self._end]

    def append(self, audio: np.ndarray) -> None:
        n = audio.shape[1]
        if self._end + n > self._data.shape[1]:
            kept = self.view()
            if len(self) + n > self._data.shape[1] // 2:
                grown = np.zeros((self._data.shape[0], 2 * (len(self) + n)), np.float32)
                grown[:, : len(self)] = kept
                self._data = grown
            else:
                self._data[:, : len(self)] = kept
            self._start, self._end = 0, len(self)
        self._data[:, self._end : self._end + n] = audio
        self._end += n

    def drop(self, n: int) -> None:
        self._start += n


class SegmentStream:
    """Overlap-add of processed segments, fed chunk by chunk.

    Args:
        process: maps segments ``[channels, N, segment]`` to processed segments of the same shape.
        segment: segment length in samples.
        overlap: samples shared by consecutive segments (< segment / 2).
        channels: channels of the audio pushed in.
        batch: segments (per channel) handed to ``process`` at a time; bounds memory.
        executor: runs batches in parallel (e.g. a thread pool); None: one after another.
    """

    def __init__(
        self, process: SegmentFn, segment: int, overlap: int, channels: int = 1, batch: int = 8,
        executor: Executor | None = None,
    ) -> None:
        if not 0 <= overlap < segment / 2:
            raise ValueError(f"overlap must be in [0, segment / 2), got {overlap} for segment {segment}")
        self.process, self.segment, self.overlap = process, segment, overlap
        self.channels, self.batch, self.executor = channels, max(1, batch), executor
        self.hop = segment - overlap
        fade_in = crossfade_ramp(overlap)
        self._first_weight = np.ones(segment, np.float32)
        if overlap:
            self._first_weight[-overlap:] = 1.0 - fade_in
        self._weight = self._first_weight.copy()
        self._weight[:overlap] = fade_in
        self.reset()

    @property
    def latency(self) -> int:
        """Output lags input by this many samples."""
        return self.segment

    def __getstate__(self) -> dict:
        return {**self.__dict__, "executor": None}  # a pool cannot be pickled; batches run one after another

    def reset(self) -> None:
        """Forget all audio pushed so far."""
        self._pending = _Fifo(self.channels)  # input from the next segment's start
        self._acc = np.zeros((self.channels, self.segment), np.float32)  # partial output from the next segment's start
        self._ready = _Fifo(self.channels)  # complete output not yet returned
        self._segments = 0
        self._received = 0

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Feed ``audio [channels, n]``; returns ``[channels, n]``: the processed stream, ``latency`` samples late."""
        if audio.ndim != 2 or audio.shape[0] != self.channels:
            raise ValueError(f"expected audio [{self.channels}, samples], got shape {audio.shape}")
        n = audio.shape[1]
        self._pending.append(audio)
        start = self._received - self.latency  # stream position of the first sample returned
        self._received += n
        count = 0 if len(self._pending) < self.segment else 1 + (len(self._pending) - self.segment) // self.hop
        if count:
            pending = self._pending.view()
            for processed in self._map(pending, count):
                self._add(processed)
            self._pending.drop(count * self.hop)
        out = np.zeros((self.channels, n), dtype=np.float32)
        skip = min(n, max(0, -start))  # pre-roll: nothing has come through yet
        out[:, skip:] = self._ready.view()[:, : n - skip]
        self._ready.drop(n - skip)
        return out

    def process_all(self, audio: np.ndarray) -> np.ndarray:
        """The whole of ``audio [channels, n]`` processed and aligned: the stream, flushed; resets first."""
        self.reset()
        n = audio.shape[1]
        padded = np.concatenate([audio.astype(np.float32, copy=False), flush_padding(audio, self.latency)], axis=1)
        count = 1 + n // self.hop
        out = np.zeros((self.channels, (count - 1) * self.hop + self.segment), np.float32)
        for k, processed in zip(range(0, count, self.batch), self._map(padded, count), strict=True):
            for j in range(processed.shape[1]):
                s = (k + j) * self.hop
                out[:, s : s + self.segment] += processed[:, j] * (self._weight if k + j else self._first_weight)
        self.reset()
        return out[:, :n]

    def _map(self, audio: np.ndarray, count: int) -> Iterator[np.ndarray]:
        """Processed segments ``[channels, <=batch, segment]``, batch by batch, of the first ``count`` segments of ``audio``."""
        framed = np.lib.stride_tricks.sliding_window_view(audio, self.segment, axis=1)[:, :: self.hop]
        batches = (np.ascontiguousarray(framed[:, k : min(count, k + self.batch)]) for k in range(0, count, self.batch))
        if self.executor is None or count <= self.batch:
            return map(self.process, batches)
        return self.executor.map(self.process, batches)

    def _add(self, processed: np.ndarray) -> None:
        """Overlap-add segments ``[channels, k, segment]`` that follow the last one; move completed output to ready."""
        for j in range(processed.shape[1]):
            weight = self._weight if self._segments else self._first_weight
            self._acc += processed[:, j] * weight
            self._segments += 1
            self._ready.append(self._acc[:, : self.hop])
            self._acc[:, : self.segment - self.hop] = self._acc[:, self.hop :]
            self._acc[:, self.segment - self.hop :] = 0.0
