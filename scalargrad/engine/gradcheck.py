"""``gradcheck``: the engine's gradients against central finite differences."""

from __future__ import annotations

from typing import Callable, Sequence

from .derivatives import grad
from .context import no_grad
from .value import Value


def numerical_gradient(f: Callable[..., Value], xs: Sequence[float], i: int, eps: float = 1e-6) -> float:
    """The lectures' numerical gradient of ``f`` in its ``i``-th argument:
    (f(…, xᵢ + ε, …) − f(…, xᵢ − ε, …)) / 2ε."""
    with no_grad():
        up = [Value(x) for x in xs]
        down = [Value(x) for x in xs]
        up[i] = Value(xs[i] + eps)
        down[i] = Value(xs[i] - eps)
        return (_evaluate(f, up).data - _evaluate(f, down).data) / (2.0 * eps)


def _evaluate(f, args) -> Value:
    out = f(*args)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, it returned {type(out).__name__} {out!r}")
    return out


def gradcheck(f: Callable[..., Value], inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check the engine's ∂f/∂xᵢ against central differences for every input.

    ``inputs`` are numbers or Values (their ``.data`` is used; no ``.grad`` is touched).
    An input passes when ``|analytic − numerical| ≤ atol + rtol·|numerical|``.
    Returns True, or raises AssertionError naming each input that fails, with both numbers.
    """
    if isinstance(inputs, (Value, int, float)):
        inputs = [inputs]
    xs = [x.data if isinstance(x, Value) else float(x) for x in inputs]
    leaves = [Value(x, getattr(v, "label", "")) for x, v in zip(xs, inputs)]
    analytic = [g.data for g in grad(_evaluate(f, leaves), leaves)]
    failures = []
    for i, (a, leaf) in enumerate(zip(analytic, leaves)):
        n = numerical_gradient(f, xs, i, eps)
        if not abs(a - n) <= atol + rtol * abs(n):
            name = f"input {i}" + (f" '{leaf.label}'" if leaf.label else "")
            failures.append(f"{name} at {xs[i]!r}: engine gradient {a!r}, numerical gradient {n!r}")
    if failures:
        raise AssertionError("gradcheck failed:\n  " + "\n  ".join(failures))
    return True
