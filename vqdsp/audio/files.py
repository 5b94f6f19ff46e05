"""Audio files through an effect chain, streamed chunk by chunk and written atomically.

Inputs are never modified: outputs go to a temporary file beside the target and are renamed
into place when complete. Memory is bounded by the chunk size, not by the file's length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from vqdsp.atomic import atomic_write
from vqdsp.audio.framing import flush_padding

CHUNK_SECONDS = 10.0


@dataclass(frozen=True)
class AudioInfo:
    """What an output must keep of its input."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str | None


@contextmanager
def open_audio(path: str | os.PathLike) -> Iterator[tuple[AudioInfo, Any]]:
    """Open ``path`` for reading: ``(info, read)`` where ``read(n)`` gives ``[channels, <=n]`` float32.

    soundfile reads WAV, FLAC, OGG, AIFF (and MP3 with libsndfile >= 1.1); other formats that
    ``pedalboard.io.AudioFile`` decodes (MP3, M4A) are read through it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as sf_err:
        from pedalboard.io import AudioFile

        try:
            handle = AudioFile(str(path))
        except Exception as err:  # pedalboard raises plain RuntimeError/ValueError subclasses
            raise ValueError(f"cannot read {path} as audio: {sf_err}; {err}") from err
        with handle:
            info = AudioInfo(int(handle.samplerate), handle.num_channels, handle.frames, None)
            yield info, lambda n: handle.read(n).astype(np.float32, copy=False)
        return
    with handle:
        info = AudioInfo(handle.samplerate, handle.channels, handle.frames, handle.subtype)

        def read(n: int) -> np.ndarray:
            try:
                return handle.read(n, dtype="float32", always_2d=True).T
            except (sf.LibsndfileError, RuntimeError) as err:
                raise ValueError(f"cannot read {path}: {err}") from err

        yield info, read


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int, str | None]:
    """``(audio [channels, samples] float32, sample_rate, subtype)`` of a whole audio file."""
    with open_audio(path) as (info, read):
        return np.ascontiguousarray(read(info.frames)), info.sample_rate, info.subtype


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write ``audio [channels, samples]`` to ``path`` atomically, in ``subtype`` where the format allows it."""
    path = Path(path)
    fmt = output_format(path)
    atomic_write(path, lambda tmp: sf.write(tmp, audio.T, sample_rate, subtype=output_subtype(fmt, subtype), format=fmt))


def process_file(
    board: Any,
    source: str | os.PathLike,
    target: str | os.PathLike,
    overwrite: bool = False,
    subtype: str | None = None,
    chunk_seconds: float = CHUNK_SECONDS,
) -> AudioInfo:
    """Stream ``source`` through ``board`` (an effect or chain) into ``target``; returns the input's info.

    The output keeps the input's rate, channels, length and sample format (``subtype`` overrides
    it). The chain's latency is compensated, so the output lines up with the input; the stream is
    flushed with :func:`~vqdsp.audio.framing.flush_padding`, as a one-shot ``board(audio, rate)`` would be.
    """
    source, target = Path(source), Path(target)
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"refusing to write over the input {source}; choose another output")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--force) to replace it")
    fmt = output_format(target)
    with open_audio(source) as (info, read):
        if info.frames == 0:
            raise ValueError(f"{source} holds no audio (0 frames)")
        chunk = max(1, int(chunk_seconds * info.sample_rate))

        def write(tmp: Path) -> None:
            board.reset()
            with sf.SoundFile(
                tmp, "w", info.sample_rate, info.channels, output_subtype(fmt, subtype or info.subtype), format=fmt
            ) as out:
                skip = None
                recent = np.zeros((info.channels, 0), np.float32)  # the last input, to mirror at the end
                while True:
                    block = read(chunk)
                    if block.shape[1] == 0:
                        break
                    if not np.all(np.isfinite(block)):
                        raise ValueError(f"{source} contains NaN or Inf samples")
                    processed = board(block, info.sample_rate, reset=False)
                    skip = board.latency_samples if skip is None else skip
                    skip = _write_after(out, processed, skip)
                    recent = np.concatenate([recent, block], axis=1)[:, -board.latency_samples :]
                tail = flush_padding(recent, board.latency_samples)
                _write_after(out, board(tail, info.sample_rate, reset=False), skip)
            board.reset()

        atomic_write(target, write)
    return info


def _write_after(out: sf.SoundFile, processed: np.ndarray, skip: int) -> int:
    """Write ``processed [channels, n]`` less its first ``skip`` samples; returns what is left to skip."""
    n = processed.shape[1]
    if skip < n:
        out.write(np.ascontiguousarray(processed[:, skip:].T))
    return max(0, skip - n)


def output_format(path: Path) -> str:
    """The soundfile format to write ``path`` in, from its extension, or a ValueError naming it."""
    fmt = path.suffix.lstrip(".").upper()
    fmt = {"OGA": "OGG", "AIF": "AIFF"}.get(fmt, fmt)
    if fmt not in sf.available_formats():
        raise ValueError(f"cannot write {path.suffix!r} files; use .wav, .flac or .ogg")
    return fmt


def output_subtype(fmt: str, subtype: str | None) -> str | None:
    """``subtype`` if ``fmt`` can hold it, else None (the format's default)."""
    return subtype if subtype and sf.check_format(fmt, subtype) else None
