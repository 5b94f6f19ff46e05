"""Framing: audio of any length through a model that takes fixed-size segments, seamlessly and in bounded memory.

Segments of ``segment`` samples start every ``hop = segment - overlap`` samples. After
processing they are joined by overlap-add with a raised-cosine cross-fade in the middle of each
overlap (:func:`crossfade_ramp`), so every output sample comes from a part of a segment that had
context on both sides, and the weights sum to one: an identity process gives back the input.

:class:`SegmentStream` does this incrementally, so a file of any length streams through with
memory bounded by the segment and chunk sizes. Its output is the processed signal delayed by
:attr:`SegmentStream.latency` samples, whatever the chunk sizes; processing a whole signal at once
is the same stream flushed with :func:`flush_padding` (:meth:`SegmentStream.process_all`).
"""

from __future__ import annotations

from collections.abc import Callable

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


class SegmentStream:
    """Overlap-add of processed segments, fed chunk by chunk.

    Args:
        process: maps segments ``[N, segment]`` to processed segments of the same shape.
        segment: segment length in samples.
        overlap: samples shared by consecutive segments (< segment / 2).
        channels: channels of the audio pushed in (each channel's segments go through ``process``).
        batch: segments (per channel) handed to ``process`` at a time; bounds memory.
    """

    def __init__(self, process: SegmentFn, segment: int, overlap: int, channels: int = 1, batch: int = 8) -> None:
        if not 0 <= overlap < segment / 2:
            raise ValueError(f"overlap must be in [0, segment / 2), got {overlap} for segment {segment}")
        self.process, self.segment, self.overlap = process, segment, overlap
        self.channels, self.batch = channels, max(1, batch)
        self.hop = segment - overlap
        self.fade_in = crossfade_ramp(overlap)
        self.reset()

    @property
    def latency(self) -> int:
        """Output lags input by this many samples."""
        return self.segment

    def reset(self) -> None:
        """Forget all audio pushed so far."""
        self._pending = np.zeros((self.channels, 0), dtype=np.float32)  # input from the next segment's start
        self._acc = np.zeros((self.channels, 0), dtype=np.float64)  # partial output from the next segment's start
        self._ready = np.zeros((self.channels, 0), dtype=np.float64)  # complete output not yet returned
        self._segments = 0
        self._received = 0

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Feed ``audio [channels, n]``; returns ``[channels, n]``: the processed stream, ``latency`` samples late."""
        if audio.ndim != 2 or audio.shape[0] != self.channels:
            raise ValueError(f"expected audio [{self.channels}, samples], got shape {audio.shape}")
        n = audio.shape[1]
        self._pending = np.concatenate([self._pending, audio.astype(np.float32, copy=False)], axis=1)
        start = self._received - self.latency  # stream position of the first sample returned
        self._received += n
        while self._pending.shape[1] >= self.segment:
            self._run(min(self.batch, 1 + (self._pending.shape[1] - self.segment) // self.hop))
        out = np.zeros((self.channels, n), dtype=np.float32)
        skip = min(n, max(0, -start))  # pre-roll: nothing has come through yet
        out[:, skip:] = self._ready[:, : n - skip]
        self._ready = self._ready[:, n - skip :]
        return out

    def process_all(self, audio: np.ndarray) -> np.ndarray:
        """The whole of ``audio [channels, n]`` processed and aligned (the stream, flushed); resets first."""
        self.reset()
        padded = np.concatenate([audio, flush_padding(audio, self.latency)], axis=1)
        chunk = 1 << 18
        out = np.concatenate([self.push(padded[:, i : i + chunk]) for i in range(0, padded.shape[1], chunk)], axis=1)
        self.reset()
        return out[:, self.latency :]

    def _run(self, count: int) -> None:
        """Process the next ``count`` segments, add them into the output, and move completed output to ready."""
        starts = np.arange(count) * self.hop
        frames = np.stack([self._pending[:, s : s + self.segment] for s in starts], axis=1)
        processed = self.process(frames.reshape(-1, self.segment)).reshape(self.channels, count, self.segment)
        needed = int(starts[-1]) + self.segment
        self._acc = np.pad(self._acc, ((0, 0), (0, needed - self._acc.shape[1])))
        for k, s in enumerate(starts):
            weight = np.ones(self.segment)
            if self.overlap:
                weight[-self.overlap :] = 1.0 - self.fade_in
                if self._segments + k > 0:
                    weight[: self.overlap] = self.fade_in
            self._acc[:, s : s + self.segment] += processed[:, k] * weight
        self._segments += count
        done = count * self.hop
        self._ready = np.concatenate([self._ready, self._acc[:, :done]], axis=1)
        self._acc = self._acc[:, done:]
        self._pending = self._pending[:, done:]
