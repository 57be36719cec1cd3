"""Argument checks shared by the engine, the pictures, nn and the command line.

Each returns the checked value (as float, int or bool) or raises ``TypeError`` (wrong type)
or ``ValueError`` (right type, value out of range) with a message naming the argument and
what was given. bool is not taken as a number, nor a number as a bool.
"""

from __future__ import annotations

import math
import numbers


def _given(x) -> str:
    return f"{type(x).__name__} {x!r}"


def number(x, what: str, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False) -> float:
    """``x`` as a finite float in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {_given(x)}")
    f = float(x)
    if not math.isfinite(f) or f < low or f > high or (low_open and f == low):
        raise ValueError(f"{what} must be a finite number{_range(low, high, low_open)}, got {x!r}")
    return f


def whole(x, what: str, *, low: int | None = None, high: int | None = None) -> int:
    """``x`` as an int in [low, high]."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{what} must be a whole number, got {_given(x)}")
    i = int(x)
    if (low is not None and i < low) or (high is not None and i > high):
        raise ValueError(f"{what} must be a whole number{_range(low, high)}, got {x!r}")
    return i


def flag(x, what: str) -> bool:
    """``x`` if it is True or False."""
    if not isinstance(x, bool):
        raise TypeError(f"{what} must be True or False, got {_given(x)}")
    return x


def one_of(x, options, what: str):
    """``x`` if it is one of ``options``."""
    try:
        known = x in options
    except TypeError:  # unhashable
        known = False
    if not known:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, options))}, got {x!r}")
    return x


def _range(low, high, low_open: bool = False) -> str:
    has_low = low is not None and low != -math.inf
    has_high = high is not None and high != math.inf
    if has_low and has_high:
        return f" {'>' if low_open else 'from'} {low}{',' if low_open else ''} {'<=' if low_open else 'to'} {high}"
    if has_low:
        return f" {'>' if low_open else '>='} {low}"
    if has_high:
        return f" <= {high}"
    return ""
