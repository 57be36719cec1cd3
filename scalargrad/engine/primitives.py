"""The table of primitive operations and their local derivatives.

Every graph node is made by exactly one primitive. A primitive knows two things:

* ``forward``: how to compute its output from its inputs' plain floats, raising a
  clear error where the result would not be a finite real number;
* ``local``: its local derivatives ∂out/∂input, given the inputs and the output.

``local`` is written once and serves both modes of differentiation: called with
floats when a node is made (the numbers ``backward()`` multiplies by), and called
with Values by ``grad(..., create_graph=True)``, where the same formula builds a
differentiable graph of the gradient itself (second and higher derivatives).
Unary primitives' ``local`` returns one derivative, binary ones a pair.

This is the table the README prints; change both together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable


@dataclass(frozen=True, slots=True)
class Primitive:
    """One operation: its display name, arity, forward rule and local-derivative rule."""

    name: str
    arity: int
    forward: Callable[..., float]
    local: Callable[..., object]
    formula: str

    def __repr__(self) -> str:
        return f"<primitive {self.name!r}: {self.formula}>"

    def __reduce__(self):
        # Pickled and deep-copied by name, so a graph can be saved or copied and still point
        # at the one table entry (the rules are functions, which pickle cannot carry).
        return primitive_named, (self.name,)


def data_of(x) -> float:
    """The plain number behind ``x``: ``x.data`` for a Value, ``x`` itself for a float."""
    return x.data if hasattr(x, "data") else x


# ---------------------------------------------------------------- forward rules


def _reciprocal(x: float) -> float:
    if x == 0.0:
        raise ZeroDivisionError("1/x is undefined at x = 0.0")
    return 1.0 / x


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(
            f"exp({x!r}) overflows a float (the largest is about 1.8e308, so exp needs x <= 709.78)"
        ) from None


def _log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log is only defined for x > 0, got x = {x!r}")
    return math.log(x)


def _sigmoid(x: float) -> float:
    # Two branches so that exp never sees a large positive argument.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _max(a: float, b: float) -> float:
    return a if a >= b else b


# ---------------------------------------------------------------- local rules


def _max_local(a, b, out):
    """Gradient to the larger input; on a tie, split evenly (as torch.maximum)."""
    a_data, b_data = data_of(a), data_of(b)
    if a_data > b_data:
        return 1.0, 0.0
    if a_data < b_data:
        return 0.0, 1.0
    return 0.5, 0.5


def _relu_local(x, out):
    """1 for x > 0, else 0: the derivative at exactly 0 is taken as 0 (as torch.relu)."""
    return 1.0 if data_of(x) > 0.0 else 0.0


ADD = Primitive("+", 2, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), "∂/∂a = 1, ∂/∂b = 1")
MUL = Primitive("*", 2, lambda a, b: a * b, lambda a, b, out: (b, a), "∂/∂a = b, ∂/∂b = a")
MAX = Primitive("max", 2, _max, _max_local, "1 to the larger input, 0 to the other; ½ each on a tie")
EXP = Primitive("exp", 1, _exp, lambda x, out: out, "d/dx eˣ = eˣ")
RECIPROCAL = Primitive("1/x", 1, _reciprocal, lambda x, out: -(out * out), "d/dx 1/x = −1/x²")
LOG = Primitive("log", 1, _log, lambda x, out: 1.0 / x, "d/dx ln x = 1/x")
RELU = Primitive("relu", 1, _relu, _relu_local, "1 if x > 0 else 0 (0 at x = 0)")
SIGMOID = Primitive("sigmoid", 1, _sigmoid, lambda x, out: out * (1.0 - out), "σ′ = y(1 − y)")
TANH = Primitive("tanh", 1, math.tanh, lambda x, out: 1.0 - out * out, "tanh′ = 1 − y²")


@lru_cache(maxsize=256)
def power(exponent: float) -> Primitive:
    """The primitive ``x ** exponent`` for one constant exponent, shown as e.g. ``**2``.

    d/dx xᶜ = c·xᶜ⁻¹ (0 for c = 0, even at x = 0). Where that is infinite (x = 0 with
    0 < c < 1) the float rule records ``inf``, which ``backward()`` and ``grad()`` refuse
    to pass on; ``grad(..., create_graph=True)`` raises OverflowError there too.
    """
    c = exponent
    shown = int(c) if c == int(c) else c

    def forward(x: float) -> float:
        try:
            y = x**c
        except ZeroDivisionError:
            raise ZeroDivisionError(f"{x!r} ** {shown} divides by zero") from None
        except OverflowError:
            raise OverflowError(f"{x!r} ** {shown} overflows a float") from None
        if isinstance(y, complex):
            raise ValueError(f"{x!r} ** {shown} is not a real number (negative base, fractional exponent)")
        return float(y)

    def local(x, out):
        if c == 1.0:
            return 1.0
        if c == 0.0:
            return 0.0
        if data_of(x) == 0.0 and c < 1.0:
            if isinstance(x, float):
                return math.inf
            raise OverflowError(f"the derivative of x ** {shown} at x = 0.0 is infinite")
        return c * x ** (c - 1.0)

    return Primitive(f"**{shown}", 1, forward, local, f"d/dx x^{shown} = {shown}·x^{c - 1:g}")


#: Every fixed primitive, in the order the README's table lists them.
TABLE: tuple[Primitive, ...] = (ADD, MUL, EXP, RECIPROCAL, MAX, LOG, RELU, SIGMOID, TANH)


def primitive_named(name: str) -> Primitive:
    """The table's primitive called ``name`` ('+', 'exp', '**2', ...)."""
    for primitive in TABLE:
        if primitive.name == name:
            return primitive
    if name.startswith("**"):
        try:
            return power(float(name[2:]))
        except ValueError:
            pass
    raise KeyError(f"no primitive is named {name!r}; the table has {', '.join(p.name for p in TABLE)} and **c")
