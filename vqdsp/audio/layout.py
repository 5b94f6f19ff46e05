"""How a 2-D chunk of audio is laid out, ``(channels, samples)`` or ``(samples, channels)``, in a stream.

pedalboard reads the smaller dimension as channels. A stream needs more: a tiny chunk (one frame of
stereo, ``(1, 2)``; two frames, ``(2, 2)``) fits both layouts, and a guess per chunk would silently
swap channels and samples. So the stream's first chunk sets the layout and every later one follows it;
a chunk that cannot be told and has no layout to follow is refused, saying to set ``channels=``.
"""

from __future__ import annotations

GUESS_FROM_SAMPLES = 64
"""Without ``channels=``, a stream's first 2-D chunk must be longer than this on one side: a shorter one (one
frame of stereo, ``(1, 2)``) could be either layout, so it is refused rather than read as the smaller-side guess."""


class Layout:
    """How 2-D audio is laid out: the channel count known (``source``: ``"user"``'s ``channels=``, the
    ``"stream"`` in progress, or none: ``"guess"``) and the stream's layout so far (True: channels last).

    A chunk that fits both layouts (``(2, 2)`` for 2 channels) follows the stream's layout, or is refused
    when it starts a stream (a whole signal, ``reset=True``, is read as ``(channels, samples)``); so is a
    tiny first chunk of a stream without ``channels=``.
    """

    def __init__(self, channels: int | None, source: str, established: bool | None, first_of_stream: bool = False) -> None:
        self.channels, self.source, self.established, self.first_of_stream = channels, source, established, first_of_stream

    def channels_last(self, shape: tuple[int, ...]) -> bool:
        """Whether audio of ``shape`` is ``(samples, channels)``; ValueError saying what to set when it cannot be told."""
        hint = self.channels
        if len(shape) == 1:
            if hint not in (None, 1):
                raise ValueError(f"got 1-D audio, but the channel count of {self._whose()} is {hint}; pass (channels, samples){self._fix()}")
            return False
        if hint is None:
            if shape[0] == shape[1] and shape[0] > 1:
                raise ValueError(f"cannot tell channels from samples in a square array {shape}; pass (channels, samples) and set channels=")
            if self.first_of_stream and max(shape) <= GUESS_FROM_SAMPLES:
                raise ValueError(
                    f"cannot tell channels from samples in a chunk of shape {shape} at the start of a stream; "
                    f"set channels= to the channel count (e.g. VQDenoise(channels={min(shape)})) to stream chunks this small"
                )
            return shape[1] < shape[0]
        fits_first, fits_last = shape[0] == hint, shape[1] == hint
        if fits_first and fits_last and hint > 1:
            if self.established is not None:
                return self.established
            if not self.first_of_stream:  # a whole signal with channels= given: (channels, samples), as documented
                return False
            raise ValueError(
                f"cannot tell channels from samples in {shape} ({hint} channels either way); pass (channels, samples), "
                f"or start the stream with a chunk of more than {hint} samples"
            )
        if fits_first or fits_last:
            if self.established is not None and fits_last != self.established and hint > 1:
                layout = "(samples, channels)" if self.established else "(channels, samples)"
                raise ValueError(f"audio of shape {shape} is laid out unlike the stream in progress, {layout}; keep one layout, or call reset() first")
            return fits_last
        raise ValueError(f"audio of shape {shape} has no dimension of {hint}, the channel count of {self._whose()}{self._fix()}")

    def _whose(self) -> str:
        return f"this effect (channels={self.channels})" if self.source == "user" else "the stream in progress"

    def _fix(self) -> str:
        if self.source == "user":
            return "; set channels= to the audio's channel count, or None to read it from the audio"
        return "; call reset() (or process with reset=True) to start a stream of another channel count"
