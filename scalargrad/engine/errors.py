"""The engine's error types. Everything else it raises is Python's usual pair:
``TypeError`` for an argument of the wrong type, ``ValueError`` for one of the right type
but a value out of range (see :mod:`scalargrad.engine.checks`).

``NonFiniteError`` is the one type to catch for a number that would not be finite. What is
raised is one of its three kinds, each also the exception Python's own floats raise for the
same event, in the manner of :mod:`decimal` (whose ``DivisionByZero`` is also a
``ZeroDivisionError``), so code written for plain numbers keeps working::

    NonFiniteError (FloatingPointError)
    ├── DivisionByZero (also ZeroDivisionError)   1/0, 0 ** -1, an infinite slope (√x at 0)
    ├── DomainError    (also ValueError)          log of x ≤ 0, (−8) ** 0.5, a ** b with a ≤ 0
    └── Overflow       (also OverflowError)       exp(1000), 1e308 * 10, a gradient that overflows
"""

from __future__ import annotations

import math


class NonFiniteError(FloatingPointError):
    """A number the engine would compute is not a finite real number.

    Raised, naming the operation and its inputs, when a result, a local derivative or a
    gradient would be infinite or undefined: an overflow, 1/0, log of a number <= 0, a
    negative base to a fractional power, an infinite derivative (√x at 0). nn raises it
    too when an optimizer step or a training run diverges. Nothing the user had is
    changed by the call that raises it. A ``FloatingPointError``, so ``ArithmeticError``
    catches it; what is raised is one of its kinds (``DivisionByZero``, ``DomainError``,
    ``Overflow``) where the event is one of those.
    """


class DivisionByZero(NonFiniteError, ZeroDivisionError):
    """A division by zero: 1/0, 0 ** −1, or a local derivative that is infinite (√x at 0)."""


class DomainError(NonFiniteError, ValueError):
    """An input outside where the operation is real: log of x ≤ 0, (−8) ** 0.5, a ** b with a ≤ 0."""


class Overflow(NonFiniteError, OverflowError):
    """A result, a local derivative or a gradient beyond the largest float (about 1.8e308)."""


def kind_for(*inputs: float) -> type:
    """The kind for a result that is not finite although no exception said why: Overflow when every
    number that went in was finite, the base NonFiniteError when one was inf or nan already (a
    ``.data`` or ``.grad`` set by hand, or what a ``_backward`` closure computed)."""
    return Overflow if all(map(math.isfinite, inputs)) else NonFiniteError


def kind_of(error: BaseException) -> type:
    """The NonFiniteError kind for an exception Python's floats raised (or the base class)."""
    if isinstance(error, ZeroDivisionError):
        return DivisionByZero
    if isinstance(error, OverflowError):
        return Overflow
    if isinstance(error, ValueError):
        return DomainError
    return type(error) if isinstance(error, NonFiniteError) else NonFiniteError
