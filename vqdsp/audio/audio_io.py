"""Reading audio files for training and evaluation: any rate and channel count in, mono at one rate out."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au", ".mp3", ".gsm"}


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """Audio files under ``root`` (a file or a folder searched recursively), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``)."""
    if rate_in == rate_out:
        return audio
    ratio = Fraction(rate_out, rate_in).limit_denominator(1000)
    return scipy.signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


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
