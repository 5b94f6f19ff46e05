"""Denoise a recording with a chain of vqdsp and pedalboard effects, streaming it chunk by chunk.

    python examples/denoise_chain.py INPUT.wav OUTPUT.wav

The file is streamed by :func:`vqdsp.audio.files.process_file`, the same loop ``vqdsp denoise``
and ``vqdsp master`` use: bounded memory, latency compensated, the end flushed, written atomically.
"""

from __future__ import annotations

import sys

from pedalboard import Compressor, Gain, HighpassFilter

from vqdsp import Pedalboard, VQDenoise
from vqdsp.audio.files import process_file


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python examples/denoise_chain.py INPUT OUTPUT", file=sys.stderr)
        return 2
    board = Pedalboard([HighpassFilter(80), VQDenoise(attenuation_limit_db=30), Compressor(threshold_db=-20, ratio=3), Gain(3)])
    process_file(board, args[0], args[1], overwrite=True)
    print(f"wrote {args[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
