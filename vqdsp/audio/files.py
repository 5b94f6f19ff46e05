"""Audio files: finding, reading, writing, and streaming them through an effect chain.

The one module of the audio path that touches files. :func:`process_file` streams a file through
an effect or chain chunk by chunk and writes the result atomically: inputs are never modified,
outputs go to a temporary file beside the target and are renamed into place when complete, and
memory is bounded by the chunk size, not by the file's length. :func:`read_mono` serves training
and evaluation (any rate and channel count in, mono at one rate out).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from vqdsp.atomic import atomic_write
from vqdsp.audio.framing import flush_padding
from vqdsp.audio.layout import GUESS_FROM_SAMPLES
from vqdsp.audio.stft import check_audio, resample

CHUNK_SECONDS = 10.0
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au", ".mp3", ".gsm"}


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """Audio files under ``root`` (a file or a folder searched recursively), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def read_mono(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Audio of ``path`` as float32 mono at ``sample_rate`` (channels averaged).

    Headerless ``.gsm`` files (GSM 6.10 at 8 kHz, as telephony prompts ship) are read too.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".gsm":
            audio, rate = sf.read(path, format="RAW", subtype="GSM610", samplerate=8000, channels=1, dtype="float32")
        else:
            audio, rate = sf.read(path, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise ValueError(f"cannot read audio file {path}: {err}") from err
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return resample(np.ascontiguousarray(audio, dtype=np.float32), int(rate), sample_rate)


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
    Every chunk handed to ``board`` is ``(channels, samples)`` with more samples than channels and than
    :data:`~vqdsp.audio.layout.GUESS_FROM_SAMPLES`, so its layout cannot be misread (a short end is pushed
    with the chunk before it or the flush).
    """
    source, target = Path(source), Path(target)
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"refusing to write over the input {source}; choose another output")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    fmt = output_format(target)
    with open_audio(source) as (info, read):
        if info.frames == 0:
            raise ValueError(f"{source} holds no audio (0 frames)")
        rate, channels = info.sample_rate, info.channels
        check_writable(target, fmt, rate, channels)
        latency = board.latency_at(rate) if hasattr(board, "latency_at") else board.latency_samples
        small = max(channels, GUESS_FROM_SAMPLES)  # a chunk this short could be read either way round
        chunk = max(small + 1, int(chunk_seconds * rate))
        shortest = board.shortest_input_at(rate) if hasattr(board, "shortest_input_at") else 0
        if info.frames < shortest:
            from vqdsp.audio.effect_stream import short_input_message

            warnings.warn(f"{source}: {short_input_message(info.frames, rate, shortest)}", stacklevel=2)

        def checked(block: np.ndarray) -> np.ndarray:
            return check_audio(block, str(source), allow_empty=True)

        def push(block: np.ndarray) -> np.ndarray:
            out = board(block, rate, reset=False)
            if not np.isfinite(out).all():
                raise ValueError(
                    f"processing {source} gave NaN or Inf samples: an effect is unstable at {rate} Hz (a filter cutoff "
                    f"above {rate / 2:g} Hz?) or the model file is broken"
                )
            return out

        def write(tmp: Path) -> None:
            board.reset()
            with sf.SoundFile(tmp, "w", rate, channels, output_subtype(fmt, subtype or info.subtype), format=fmt) as out:
                skip = latency
                carry = np.zeros((channels, 0), np.float32)  # a whole file of <= `small` frames waits for the flush
                recent = np.zeros((channels, 0), np.float32)  # the last input, to mirror at the end
                block = checked(read(chunk))
                while block.shape[1]:
                    following = checked(read(chunk))
                    if 0 < following.shape[1] <= small:
                        block, following = np.concatenate([block, following], axis=1), checked(read(chunk))
                    if block.shape[1] <= small:
                        carry = block
                    else:
                        skip = _write_after(out, push(block), skip)
                    recent = np.concatenate([recent, block], axis=1)
                    recent = recent[:, recent.shape[1] - min(latency, recent.shape[1]) :]  # latency 0: keep none
                    block = following
                tail = np.concatenate([carry, flush_padding(recent, latency)], axis=1)
                _write_after(out, push(tail), skip)
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
        raise ValueError(f"cannot write {path.suffix!r} files; use .wav, .flac, .ogg, .aiff or .mp3")
    return fmt


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def check_writable(path: Path, fmt: str, sample_rate: int, channels: int) -> None:
    """A ValueError saying what to write instead when ``fmt`` cannot hold audio of this rate and channel count."""
    if fmt == "MP3" and (sample_rate not in MP3_RATES or channels > 2):
        rates = ", ".join(f"{r / 1000:g}" for r in MP3_RATES)
        raise ValueError(
            f"cannot write {path}: MP3 takes 1 or 2 channels at {rates} kHz, this audio is {channels} channel(s) at "
            f"{sample_rate} Hz; write .wav or .flac instead"
        )


def output_subtype(fmt: str, subtype: str | None) -> str | None:
    """``subtype`` if ``fmt`` can hold it, else None (the format's default)."""
    return subtype if subtype and sf.check_format(fmt, subtype) else None
