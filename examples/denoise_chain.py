"""Denoise a recording with a chain of vqdsp and pedalboard effects, streaming it chunk by chunk.

    python examples/denoise_chain.py INPUT.wav OUTPUT.wav
"""

from __future__ import annotations

import sys

import numpy as np
from pedalboard import Compressor, Gain, HighpassFilter
from pedalboard.io import AudioFile

from vqdsp import Pedalboard, VQDenoise
from vqdsp.audio.framing import flush_padding


def main(source: str, target: str) -> None:
    denoise = VQDenoise(attenuation_limit_db=30)
    board = Pedalboard([HighpassFilter(80), denoise, Compressor(threshold_db=-20, ratio=3), Gain(3)])
    with AudioFile(source) as f, AudioFile(target, "w", f.samplerate, f.num_channels) as out:
        skip = denoise.latency_at(f.samplerate)  # the stream lags by this much: drop it at the start
        latency = skip

        def write(chunk: np.ndarray) -> None:
            nonlocal skip
            out.write(chunk[:, skip:])
            skip = max(0, skip - chunk.shape[1])

        chunk = np.zeros((f.num_channels, 0), np.float32)
        while f.tell() < f.frames:
            chunk = f.read(f.samplerate * 10)
            write(board(chunk, f.samplerate, reset=False))
        # Flush: push the mirror image of the end, so the last second is denoised like the rest.
        write(board(flush_padding(chunk, latency), f.samplerate, reset=False))


if __name__ == "__main__":
    main(*sys.argv[1:3])
