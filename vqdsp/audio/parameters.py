"""Checks of ``VQDenoise``'s parameter values, each with an error that names the parameter and its range."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000
CHANNEL_MODES = ("independent", "linked")


def real_number(name: str, value: Any) -> float:
    """``value`` as a float; a TypeError for what is not a real number (bools included), a ValueError for NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    return value


def is_whole_number(value: Any) -> bool:
    """Whether ``value`` is an integer (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def check_sample_rate(sample_rate: Any) -> int:
    """The rate in whole Hz, from :data:`MIN_SAMPLE_RATE` to :data:`MAX_SAMPLE_RATE`."""
    value = real_number("sample_rate", sample_rate)
    if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, got {sample_rate!r}")
    return int(round(value))


def check_device(value: Any) -> str:
    """``"cpu"`` or a CUDA device this machine has, as torch spells it."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {value!r}") from err
    if device.type == "cpu":
        return "cpu"
    if device.type != "cuda":
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {value!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {value!r} asked for, but CUDA is not available here; use 'cpu'")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {value!r} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    return str(device)
