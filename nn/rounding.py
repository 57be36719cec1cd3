"""PyTorch's CPU rounding for the optimizers' update rules: fused multiply-add and lerp.

PyTorch's CPU kernels for ``add(b, alpha=a)``, ``addcmul`` and ``lerp`` compute a·b + c with
one rounding (a fused multiply-add), not two; to give PyTorch's numbers bit for bit the
optimizers do the same. ``fma`` is ``math.fma`` where Python has it (3.13+), else an exact
emulation: Dekker's error-free product a·b = p + e and ``math.fsum`` (which rounds the
exact sum once), with ``fractions`` for the rare arguments where the split could overflow
or underflow.
"""

from __future__ import annotations

import math
from fractions import Fraction

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_BIG = 2.0**995  # |x| below this: splitting x cannot overflow
_SMALL = 2.0**-969  # |a·b| above this: no partial product of the halves underflows


def _fma(a: float, b: float, c: float) -> float:
    p = a * b
    if not (_SMALL < abs(p) < _BIG and abs(a) < _BIG and abs(b) < _BIG and abs(c) < math.inf):
        return _rare_fma(a, b, c)
    t = _SPLIT * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = _SPLIT * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo  # a·b = p + e exactly
    try:
        return math.fsum((p, e, c))
    except OverflowError:  # the sum is beyond the largest double
        return math.copysign(math.inf, p if abs(p) > abs(c) else c)


def _rare_fma(a: float, b: float, c: float) -> float:
    """fma where Dekker's product could overflow or underflow, or an argument is not finite."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)) or a == 0.0 or b == 0.0:
        return a * b + c  # inf and nan propagate as in a fused multiply-add; 0·b is an exact (signed) zero
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


fma = getattr(math, "fma", _fma)
"""a·b + c with one rounding (IEEE 754 fusedMultiplyAdd)."""


def lerp(start: float, end: float, weight: float) -> float:
    """PyTorch's lerp, start + weight·(end − start), with its two branches (each one fma):
    start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w)."""
    if abs(weight) < 0.5:
        return fma(weight, end - start, start)
    return fma(-(end - start), 1.0 - weight, end)
