"""Denoise audio files: read, process, and write the result atomically (an input is never touched)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from vqdsp.checkpoint import atomic_write, load_model
from vqdsp.denoiser import Denoiser


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int, str]:
    """``(audio [channels, samples] float32, sample_rate, subtype)`` of an audio file, or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        with sf.SoundFile(path) as f:
            audio = f.read(dtype="float32", always_2d=True).T
            return np.ascontiguousarray(audio), f.samplerate, f.subtype
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"cannot read {path} as audio: {err}") from err


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write ``audio [channels, samples]`` to ``path`` through a temporary file renamed into place."""
    path = Path(path)
    fmt = sf.available_formats().get(path.suffix.lstrip(".").upper())
    if fmt is None:
        raise ValueError(f"cannot write {path.suffix!r} files; use .wav, .flac or .ogg")
    subtype = subtype if subtype and sf.check_format(path.suffix.lstrip(".").upper(), subtype) else None
    atomic_write(path, lambda tmp: sf.write(tmp, audio.T, sample_rate, subtype=subtype, format=path.suffix.lstrip(".").upper()))


def denoise_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: str | os.PathLike | None = None,
    attenuation_limit_db: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Denoise ``source`` into ``target`` (same rate, channels and sample format)."""
    source, target = Path(source), Path(target)
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"refusing to write over the input {source}; choose another output")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--force) to replace it")
    audio, rate, subtype = read_audio(source)
    denoiser = Denoiser(load_model(model), attenuation_limit_db=attenuation_limit_db)
    write_audio(target, denoiser(audio, rate), rate, subtype)
    return target
