"""G.722 to WAV: decode raw 64 kbit/s G.722 prompts (16 kHz speech) for the wide-band corpus.

Debian's ``asterisk-core-sounds-*-g722`` packages hold the same prompts as the 8 kHz WAV ones,
coded with G.722, so they are real speech up to 7 kHz. The files are a bare bitstream: no header,
framing or checksum, and every byte is a valid code for two samples. So a cut file decodes to
shorter audio; what can be caught is an empty file or one in another format (a WAV, an Ogg, an
error page saved as text). Decoding is the ``G722`` module of the PyPI package ``g722``.

    python -m vqdsp.training.g722 SOURCE TARGET    # every SOURCE/**/*.g722 -> TARGET/<a__b__c>.wav
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from vqdsp.atomic import atomic_write
from vqdsp.extras import MissingExtraError, require

SAMPLE_RATE = 16000
BIT_RATE = 64000  # 8 bits per pair of samples: 2 samples per byte

# Leading bytes of formats that are not a raw G.722 bitstream, and what they are.
_OTHER_FORMATS = {
    b"RIFF": "a WAV (RIFF) file",
    b"OggS": "an Ogg file",
    b"fLaC": "a FLAC file",
    b"FORM": "an AIFF file",
    b"ID3": "an MP3 file",
    b"#!AMR": "an AMR file",
    b".snd": "a Sun/NeXT .au file",
    b"\x1f\x8b": "a gzip archive",
    b"PK\x03\x04": "a ZIP archive",
}
_TEXT = frozenset(range(32, 127)) | {9, 10, 13}


def decode_bytes(data: bytes) -> np.ndarray:
    """Decode a raw 64 kbit/s G.722 bitstream; returns int16 [2 * len(data)] samples at 16 kHz.

    Raises:
        ValueError: ``data`` is empty, text, or starts like another audio or archive format.
    """
    if not data:
        raise ValueError("no G.722 data (an empty file): extract the package again")
    for magic, name in _OTHER_FORMATS.items():
        if data.startswith(magic):
            raise ValueError(f"this is {name}, not a raw G.722 bitstream: read it with soundfile instead")
    if set(data[:512]) <= _TEXT:
        raise ValueError("this is text (an error page?), not a raw G.722 bitstream: download it again")
    codec = require("G722", "train").G722(SAMPLE_RATE, BIT_RATE)
    return np.asarray(codec.decode(data), dtype=np.int16)


def decode(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode the G.722 file at ``path``; returns (float32 [n] audio in [-1, 1), sample rate in Hz).

    Raises:
        ValueError: the file is empty or not a raw G.722 bitstream (the message names the file).
    """
    return _decode_file(path).astype(np.float32) / 32768.0, SAMPLE_RATE


def _decode_file(path: str | os.PathLike) -> np.ndarray:
    """int16 [n] samples of the G.722 file at ``path``; a ValueError names the file."""
    try:
        return decode_bytes(Path(path).read_bytes())
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def flat_name(relative: Path) -> str:
    """The WAV name for a file at ``relative`` (``a/b/c.g722`` -> ``a__b__c.wav``), as the 8 kHz corpus names them."""
    return "__".join(relative.with_suffix(".wav").parts)


@dataclass(frozen=True)
class Converted:
    """What :func:`convert_tree` did: files decoded now, files skipped because their WAV existed, empty inputs left out."""

    decoded: int
    skipped: int
    empty: tuple[Path, ...] = ()


def convert_tree(source: str | os.PathLike, target: str | os.PathLike, progress: bool = True) -> Converted:
    """Decode every ``*.g722`` under ``source`` into one flat folder ``target`` of 16-bit 16 kHz WAVs.

    Names follow :func:`flat_name`. A WAV that exists already is kept, never rewritten, so a re-run
    only decodes what is missing (outputs are written atomically: an existing one is whole). Inputs
    are only read. Empty inputs get no WAV and are listed in the result (Debian's Russian package
    ships one: ``is.g722``, whose 8 kHz WAV holds no samples either).

    Raises:
        FileNotFoundError: ``source`` is not a folder.
        ValueError: no ``*.g722`` file under ``source``, two inputs would share a name, or a file is not G.722.
    """
    source, target = Path(source), Path(target)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such folder (extract the G.722 package there first)")
    found = sorted(p for p in source.rglob("*.g722") if p.is_file())
    if not found:
        raise ValueError(f"{source}: no .g722 files found")
    empty = tuple(p for p in found if p.stat().st_size == 0)
    inputs = [p for p in found if p.stat().st_size > 0]
    outputs = [target / flat_name(p.relative_to(source)) for p in inputs]
    if len(set(outputs)) < len(outputs):
        raise ValueError(f"{source}: two .g722 files map to the same WAV name; convert their folders separately")
    decoded = 0
    todo = [(i, o) for i, o in zip(inputs, outputs, strict=True) if not o.exists()]
    for path, out in tqdm(todo, desc=f"G.722 {source.name}", unit="file", disable=not progress):
        pcm = _decode_file(path)  # written as decoded: int16, bit-exact
        atomic_write(out, partial(sf.write, data=pcm, samplerate=SAMPLE_RATE, subtype="PCM_16", format="WAV"))
        decoded += 1
    return Converted(decoded=decoded, skipped=len(inputs) - len(todo), empty=empty)


def main(argv: Sequence[str] | None = None) -> int:
    """Convert a folder tree of G.722 files from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m vqdsp.training.g722", description="Decode every raw 64 kbit/s .g722 file under SOURCE into 16-bit 16 kHz WAVs in TARGET."
    )
    parser.add_argument("source", type=Path, help="folder searched recursively for *.g722 files (only read)")
    parser.add_argument("target", type=Path, help="output folder: one flat WAV per input, a/b/c.g722 -> a__b__c.wav; existing WAVs are kept")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    args = parser.parse_args(argv)
    try:
        done = convert_tree(args.source, args.target, progress=not args.quiet)
    except (OSError, ValueError, MissingExtraError) as err:
        print(f"g722: error: {err}", file=sys.stderr)
        return 1
    for path in done.empty:
        print(f"g722: warning: {path} is empty; no WAV made for it", file=sys.stderr)
    if not args.quiet:
        print(f"{args.target}: {done.decoded} decoded, {done.skipped} already there, {len(done.empty)} empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
