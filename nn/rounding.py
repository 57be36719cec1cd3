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


def _product_error(a, b, p):
    """e with a·b = p + e exactly, for p = a·b rounded (Dekker's product, Veltkamp's split); on
    floats or on numpy arrays alike. Exact while |a|, |b| < _BIG and |p| > _SMALL."""
    t = _SPLIT * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = _SPLIT * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _fma(a: float, b: float, c: float) -> float:
    p = a * b
    if not (_SMALL < abs(p) < _BIG and abs(a) < _BIG and abs(b) < _BIG and abs(c) < math.inf):
        return _rare_fma(a, b, c)
    e = _product_error(a, b, p)  # a·b = p + e exactly
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


_scalar_fma = getattr(math, "fma", _fma)


def fma(a, b, c):
    """a·b + c with one rounding (IEEE 754 fusedMultiplyAdd): on floats, or on numpy arrays
    (any of the three; see :func:`fma_arrays`)."""
    if hasattr(a, "shape") or hasattr(b, "shape") or hasattr(c, "shape"):
        return fma_arrays(a, b, c)
    return _scalar_fma(a, b, c)


def fma_arrays(a, b, c):
    """``fma`` on numpy arrays, element by element, with numpy's own operations, in two tiers.

    1. c + p, with p = a·b rounded, is s + t exactly (an error-free sum), and a·b = p + e with
       |e| ≤ 2⁻⁵³|p| (or an underflow's 2⁻¹⁰⁷⁵). Where |t| + that bound is clearly below half
       the gap between s and its neighbour towards zero (the smaller gap, at a power of two), no
       other double is nearer to c + a·b than s: s is the answer. About 18 operations; for an
       SGD step it is every element but a few in a thousand.
    2. Elsewhere (a tie is near, or c and a·b are close in size, as in Adam's averages) Dekker's
       exact product (``_fma_expansion``) settles most; what it cannot is computed one element
       at a time with the exact scalar ``fma``.

    An overflow anywhere makes an inf or a nan, which fails both tests. For an optimizer's step
    over 100 parameters this is 20 to 60 numpy operations instead of 100 scalar calls."""
    import numpy as np

    if type(a) is not float:
        a = np.asarray(a, dtype=np.float64)
    b, c = np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    with np.errstate(all="ignore"):
        p = a * b
        s, t = _two_sum(c, p)  # c + p = s + t, so c + a·b = s + t + e
        certain = np.abs(t) + np.abs(p) * 2.0**-53 + 2.0**-1074 < 0.4995 * np.abs(s - np.nextafter(s, 0.0))
    out = s if s.ndim else np.array(s)  # s is made here: the other elements are written into it
    doubtful = certain.size - np.count_nonzero(certain)  # (count_nonzero: 0.6 µs, all(): 1.5)
    if not doubtful:
        return float(out) if out.ndim == 0 else out
    if any(type(x) is not float and x.ndim and x.shape != out.shape for x in (a, b, c)):
        a, b, c = np.broadcast_arrays(a, b, c)  # shapes that broadcast: one element of each per element of out
    rest = np.flatnonzero(~certain)
    if doubtful > 4:  # cheaper than more than a few scalar calls
        r, exact = _fma_expansion(*(x if type(x) is float or not x.ndim else x.reshape(-1)[rest] for x in (a, b, c)))
        out.reshape(-1)[rest] = r  # (a view of out)
        rest = rest[~exact]
    for i in rest.tolist():
        out.flat[i] = _scalar_fma(*(x if type(x) is float else float(x.flat[i] if x.ndim else x) for x in (a, b, c)))
    return float(out) if out.ndim == 0 else out


def _fma_expansion(a, b, c):
    """(r, exact): c + a·b rounded once where ``exact`` says so, for 1-D arrays. Dekker's product
    gives a·b = p + e exactly; two error-free sums turn c + p + e into r + w + v exactly, where
    r is c + p + e rounded once in the usual case. r is the correctly rounded result whenever
    |w + v| is clearly below half the gap between r and its neighbour towards zero; not where a
    partial product of Dekker's could underflow."""
    import numpy as np

    with np.errstate(all="ignore"):
        p = a * b
        e = _product_error(a, b, p)  # a·b = p + e
        s, t = _two_sum(c, p)  # c + p = s + t
        u, v = _two_sum(t, e)  # t + e = u + v
        r, w = _two_sum(s, u)  # s + u = r + w, so c + a·b = r + w + v
        exact = np.abs(w + v) < 0.4995 * np.abs(r - np.nextafter(r, 0.0))
        exact &= (np.abs(p) > _SMALL) | (a == 0.0) | (b == 0.0)  # no partial product underflows
    return r, exact


def _two_sum(x, y):
    """(x + y rounded, its rounding error): x + y = s + err exactly (Knuth)."""
    s = x + y
    z = s - x
    return s, (x - (s - z)) + (y - z)


def lerp(start: float, end: float, weight: float) -> float:
    """PyTorch's lerp, start + weight·(end − start), with its two branches (each one fma):
    start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w)."""
    if abs(weight) < 0.5:
        return fma(weight, end - start, start)
    return fma(-(end - start), 1.0 - weight, end)
