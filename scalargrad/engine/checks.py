"""Argument checks shared by the engine, the pictures, nn and the command line.

Each returns the checked value (as float, int or bool) or raises ``TypeError`` (wrong type)
or ``ValueError`` (right type, value out of range) with a message naming the argument and
what was given. bool is not taken as a number, nor a number as a bool.
"""

from __future__ import annotations

import math
import numbers


#: How much of a value's repr an error message shows: a list of 200 Values is an excerpt, not 10 KB.
EXCERPT = 60


def excerpt(x) -> str:
    """``x`` as an error message names it: its type and the start of its repr (``list [Value(...``)."""
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= EXCERPT else text[:EXCERPT] + f'... ({len(text):,} characters)'}"


_given = excerpt


def all_finite(array) -> bool:
    """Whether every number of the numpy ``array`` is finite. Σa² is inf or nan if any is: one
    dot product (BLAS, which raises no floating-point flag: 1.6 µs for 6,000 numbers, where
    isfinite(a).all() takes 7), and each number is looked at only where it is not finite (a
    number above 1e154 overflows it). For compiled batches and optimizers stepping arrays."""
    import numpy  # loaded already: an array was given

    return math.isfinite(numpy.vdot(array, array)) or bool(numpy.isfinite(array).all())


def is_real(x) -> bool:
    """True for a real number that is not a bool: an int, a float, a numpy scalar (not a str, None, a bool)."""
    return type(x) is float or (isinstance(x, numbers.Real) and not isinstance(x, bool))


def number(
    x, what: str, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False, high_open: bool = False
) -> float:
    """``x`` as a finite float in [low, high]; ``low_open``/``high_open`` leave that end out."""
    if type(x) is not float and not is_real(x):  # float first: fast
        raise TypeError(f"{what} must be a real number, got {_given(x)}")
    try:
        f = float(x)
    except OverflowError:  # an int too large for a float
        f = math.inf
    if not math.isfinite(f) or f < low or f > high or (low_open and f == low) or (high_open and f == high):
        raise ValueError(f"{what} must be a finite number{_range(low, high, low_open, high_open)}, got {x!r}")
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


def _range(low, high, low_open: bool = False, high_open: bool = False) -> str:
    has_low = low is not None and low != -math.inf
    has_high = high is not None and high != math.inf
    if has_low and has_high and not (low_open or high_open):
        return f" from {low} to {high}"
    bounds = [f"{'>' if low_open else '>='} {low}"] if has_low else []
    bounds += [f"{'<' if high_open else '<='} {high}"] if has_high else []
    return " " + ", ".join(bounds) if bounds else ""
