"""A true-peak limiter for the loudness step: look-ahead, 4x oversampled detection, smooth release.

Loudness normalisation alone cannot reach -16 LUFS under a -1 dBTP ceiling on speech with
peaks: the gain that reaches the target lifts the peaks over the ceiling. The limiter lowers
only those peaks, as Auphonic's and ffmpeg's ``loudnorm`` do, so that both targets are met.

How the gain reduction (dB) is made, per sample ``n``, all vectorised and streamed:

1. *Detection*: the peak of the 4x oversampled signal around ``n`` (the same
   ``scipy.signal.resample_poly`` filter as :class:`~vqdsp.mastering.loudness.TruePeak`, so the
   meter agrees), the largest over the channels (stereo-linked: the image does not move); the
   reduction needed is how far that peak is over the ceiling.
2. *Look-ahead hold*: the largest need over the next ``lookahead`` samples, so the gain is down
   before a peak arrives (the output is delayed by the look-ahead inside the stream; the
   stream's output lines up with its input).
3. *Release*: the reduction decays exponentially (time constant ``release_ms``) once peaks stop.
4. *Attack smoothing*: a moving average over ``lookahead`` samples. Every sample of that window
   held the need of sample ``n``, so the average still meets it: no overshoot, and the
   reduction changes by at most its own size per look-ahead time (no click, no pumping faster
   than the release).

Where no peak is over the ceiling the audio passes unchanged, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import scipy.signal

from vqdsp.mastering.loudness import _CONTEXT, OVERSAMPLING

LOOKAHEAD_MS = 5.0
RELEASE_MS = 150.0
MARGIN_DB = 0.1  # aimed under the ceiling: a gain that moves shifts the oversampled peaks a little


class TruePeakLimiter:
    """Stream limiter: :meth:`process` each ``[channels, n]`` chunk in order, then :meth:`flush`.

    The outputs of all calls, joined, have the input's length and timing. :attr:`max_reduction_db`
    and :attr:`limited_fraction` (share of samples reduced by more than 0.1 dB) say what it did.

    Args:
        sample_rate: rate of the audio in Hz.
        channels: channel count; the reduction is the same on every channel.
        ceiling_dbtp: true-peak ceiling in dBTP.
        lookahead_ms: how early the gain starts to fall before a peak (and the attack's length).
        release_ms: time constant of the gain's recovery after the last peak.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        ceiling_dbtp: float,
        lookahead_ms: float = LOOKAHEAD_MS,
        release_ms: float = RELEASE_MS,
    ) -> None:
        if not (math.isfinite(ceiling_dbtp) and -60.0 <= ceiling_dbtp <= 0.0):
            raise ValueError(f"the limiter's ceiling must be in [-60, 0] dBTP, got {ceiling_dbtp!r}")
        if not (math.isfinite(release_ms) and 1.0 <= release_ms <= 5000.0):
            raise ValueError(f"the limiter's release must be in [1, 5000] ms, got {release_ms!r}")
        if not (math.isfinite(lookahead_ms) and 0.5 <= lookahead_ms <= 50.0):
            raise ValueError(f"the limiter's look-ahead must be in [0.5, 50] ms, got {lookahead_ms!r}")
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.lookahead = max(2, round(lookahead_ms * self.sample_rate / 1000.0))
        self._release = release_ms * self.sample_rate / 1000.0  # time constant in samples
        self._ceiling = 10.0 ** ((ceiling_dbtp - MARGIN_DB) / 20.0)
        # L - 1 silent samples lead the stream (and are dropped from the output), so that the start's
        # averaging window, too, holds only reductions that saw the first peaks coming.
        self._lead = self.lookahead - 1
        self._pending = np.zeros((self.channels, self._lead), np.float32)  # received, not yet output
        self._detect_carry = np.zeros((self.channels, 0))  # input tail: oversampling context
        self._started = False
        self._need = np.zeros(self._lead)  # reduction needed (dB) per pending sample whose hold is not known yet
        self._recent = np.zeros(self.lookahead - 1)  # the last released reductions (for the average)
        self._released = 0.0  # the last sample's released reduction
        self.max_reduction_db = 0.0
        self._limited = 0
        self._frames = 0

    @property
    def limited_fraction(self) -> float:
        """Share of the output's samples turned down by more than 0.1 dB."""
        return self._limited / self._frames if self._frames else 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Take ``block [channels, n]``; return the limited audio that is ready (possibly none yet)."""
        block = np.asarray(block, np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected a block shaped ({self.channels}, samples), got {block.shape}")
        self._pending = np.concatenate([self._pending, block], axis=1)
        self._need = np.concatenate([self._need, self._detect(block, final=False)])
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        """The rest of the audio, the stream's end treated as silence after it."""
        self._need = np.concatenate([self._need, self._detect(np.zeros((self.channels, 0)), final=True)])
        return self._emit(final=True)

    def _detect(self, block: np.ndarray, final: bool) -> np.ndarray:
        """Reduction (dB) needed by each sample whose oversampling context is complete."""
        x = np.concatenate([self._detect_carry, np.asarray(block, np.float64)], axis=1)
        if not final and x.shape[1] <= 2 * _CONTEXT:  # wait for context on both sides
            self._detect_carry = x
            return np.zeros(0)
        first = _CONTEXT if self._started else 0
        stop = x.shape[1] if final else x.shape[1] - _CONTEXT
        if stop <= first:
            return np.zeros(0)
        up = scipy.signal.resample_poly(x, OVERSAMPLING, 1, axis=1)[:, first * OVERSAMPLING : stop * OVERSAMPLING]
        peak = np.abs(up).max(axis=0).reshape(-1, OVERSAMPLING).max(axis=1)
        peak = np.maximum(peak, np.abs(x[:, first:stop]).max(axis=0))
        self._detect_carry = x[:, -2 * _CONTEXT :]
        self._started = True
        with np.errstate(divide="ignore"):
            return np.maximum(0.0, 20.0 * np.log10(peak / self._ceiling))

    def _emit(self, final: bool) -> np.ndarray:
        lookahead = self.lookahead
        need = np.concatenate([self._need, np.zeros(lookahead - 1)]) if final else self._need
        count = len(need) - lookahead + 1  # samples whose whole look-ahead window is known
        if count <= 0:
            return np.zeros((self.channels, 0), np.float32)
        held = scipy.ndimage.maximum_filter1d(need, lookahead)[lookahead // 2 : lookahead // 2 + count]
        released = self._release_from(held)
        window = np.concatenate([self._recent, released])
        total = np.concatenate([[0.0], np.cumsum(window)])
        reduction = (total[lookahead:] - total[:-lookahead]) / lookahead
        reduction[reduction < 1e-9] = 0.0  # cumulative-sum rounding: no reduction is exactly none
        self._recent = window[-(lookahead - 1) :]
        self._need = need[count:] if not final else np.zeros(0)
        out, self._pending = self._pending[:, :count], self._pending[:, count:]
        if self._lead:
            lead, self._lead = min(self._lead, count), self._lead - min(self._lead, count)
            out, reduction = out[:, lead:], reduction[lead:]
        if reduction.any():
            out = out * (10.0 ** (-reduction / 20.0)).astype(np.float32)
        self.max_reduction_db = max(self.max_reduction_db, float(reduction.max(initial=0.0)))
        self._limited += int((reduction > 0.1).sum())
        self._frames += len(reduction)
        return out

    def _release_from(self, held: np.ndarray) -> np.ndarray:
        """``r[n] = max(held[n], r[n-1] * exp(-1 / release))``, without a loop (a running max in the log domain)."""
        n = np.arange(1, len(held) + 1, dtype=np.float64)
        with np.errstate(divide="ignore"):
            logs = np.log(np.concatenate([[self._released], held]))
        steps = np.concatenate([[0.0], n]) / self._release
        released = np.exp(np.maximum.accumulate(logs + steps)[1:] - steps[1:])
        self._released = float(released[-1])
        return released
