"""argparse types and the parser of the ``vqdsp`` command: every option's value checked as it is parsed.

The types check with :mod:`vqdsp.checks`, so an option takes what the setting it feeds takes, and a bad
value is refused before any work starts: exit status 2 and one line on stderr naming the option as it
was typed (``vqdsp train: error: argument --steps: must be a whole number >= 1, got '0'``), never a
traceback. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from vqdsp.checks import BadValue, real, whole


class Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line: ``<prog>: error: <message>`` (no usage), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def whole_number(low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in ``[low, high]`` (None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value: Any = int(text)
        except ValueError:
            value = text
        try:
            return whole(value, "value", low, high)
        except BadValue as err:
            raise argparse.ArgumentTypeError(_requirement(err, text)) from None

    parse.__name__ = "whole number"
    return parse


def number(low: float = -math.inf, high: float = math.inf, low_open: bool = False, inf: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number from ``low`` to ``high`` (``low_open``: above ``low``); ``inf``: ``inf`` too (no limit)."""

    def parse(text: str) -> float:
        try:
            value: Any = float(text)
        except ValueError:
            value = text
        if inf and value == math.inf:
            return math.inf
        try:
            return real(value, "value", low, high, low_open=low_open)
        except BadValue as err:
            message = _requirement(err, text)
            raise argparse.ArgumentTypeError(message.replace(", got", " or inf (no limit), got") if inf else message) from None

    parse.__name__ = "number"
    return parse


def text(what: str) -> Callable[[str], str]:
    """argparse type: any non-empty text (``what`` says what it names, for the message)."""

    def parse(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"must be {what}, got ''")
        return value

    parse.__name__ = "text"
    return parse


def device(value: str) -> str:
    """argparse type: a torch device name, ``cpu`` or ``cuda[:N]`` (whether it exists is checked when it is used)."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", value):
        raise argparse.ArgumentTypeError(f"must be cpu or cuda[:N], got {value!r}")
    return value


def subtype(value: str) -> str:
    """argparse type: a libsndfile sample format (``PCM_16``, ``FLOAT``, ...), upper-cased; whether the output
    format holds it is checked per file."""
    import soundfile

    known = sorted(soundfile.available_subtypes())
    if value.upper() not in known:
        raise argparse.ArgumentTypeError(f"must be a sample format such as PCM_16, PCM_24 or FLOAT, got {value!r}")
    return value.upper()


def ordered(values: list[float], flag: str) -> str | None:
    """The problem of a ``LOW HIGH`` pair given as ``flag``, or None when ``LOW <= HIGH``."""
    low, high = values
    return None if low <= high else f"argument {flag}: LOW must be <= HIGH, got {low:g} {high:g}"


def _requirement(err: BadValue, typed: str) -> str:
    return f"must be {err.expected}, got {typed!r}"
