"""Checks for values a user types: effect parameters, config and preset fields, CLI options.

Every value is checked once, where it enters, by these functions, so that the message is the same
everywhere: it names the value as the user wrote it, shows what was given and the range allowed.
:class:`BadValue` keeps those parts apart, so a caller that knows the user's spelling of a field
(the CLI's ``--steps`` for a config's ``steps``) can say it that way. Imports nothing heavy.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


class BadValue(ValueError):
    """A value outside what ``name`` takes; the message is ``<name> must be <expected>, got <value>``."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        self.name, self.value, self.expected = name, value, expected
        super().__init__(self.renamed(name))

    def renamed(self, name: str) -> str:
        """The message with the field called ``name`` (e.g. the CLI flag that set it)."""
        return f"{name} {self.requirement}"

    @property
    def requirement(self) -> str:
        """``must be <expected>, got <value>``: the message without the field's name."""
        shown = f"{self.value:g}" if isinstance(self.value, float) else repr(self.value)
        return f"must be {self.expected}, got {shown}"


def span(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """The range ``[low, high]`` in words: ``>= 1``, ``<= 0``, ``in (0, 200]`` (``""``: no bounds)."""
    if low == -math.inf and high == math.inf:
        return ""
    if high == math.inf:
        return f"{'>' if low_open else '>='} {_shown(low)}"
    if low == -math.inf:
        return f"{'<' if high_open else '<='} {_shown(high)}"
    return f"in {'(' if low_open else '['}{_shown(low)}, {_shown(high)}{')' if high_open else ']'}"


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e15 else f"{bound:g}"


def whole(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int, or :class:`BadValue` unless it is a whole number (not a bool) in ``[low, high]`` (None: unbounded)."""
    bounds = span(-math.inf if low is None else low, math.inf if high is None else high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadValue(name, value, f"a whole number {bounds}".rstrip())
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise BadValue(name, value, f"a whole number {bounds}".rstrip())
    return number


def real(value: Any, name: str, low: float = -math.inf, high: float = math.inf, low_open: bool = False,
         high_open: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a float, or :class:`BadValue` unless it is a number (not a bool, not NaN; finite unless
    ``allow_inf``) in the range from ``low`` to ``high`` (``*_open``: that end excluded)."""
    expected = f"a {'' if allow_inf else 'finite '}number {span(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadValue(name, value, expected)
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf) or not low <= number <= high:
        raise BadValue(name, value, expected)
    if (low_open and number == low) or (high_open and number == high):
        raise BadValue(name, value, expected)
    return number


def choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else :class:`BadValue` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise BadValue(name, value, f"one of {', '.join(map(repr, choices))}")
    return value
