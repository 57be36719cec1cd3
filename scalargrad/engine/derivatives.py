"""``grad()``: the derivatives of one Value with respect to others, returned as Values.

No ``.grad`` is read or written. With ``create_graph=True`` the derivatives are graphs
themselves, built by the same chain rule from the table's local rules applied to Values,
so they can be differentiated again (second, third derivatives, Hessian entries).
"""

from __future__ import annotations

from typing import Sequence

from . import primitives as P
from .autograd import chain_rule, float_gradients, topological_order
from .value import Value


def as_values(items, what: str, ordered: bool = True) -> tuple:
    """``items`` (one Value, or an iterable of Values) as a tuple of Values.

    TypeError names ``what`` and the first item that is not a Value; with ``ordered``,
    a set is refused too (its order, and so the result's, would be arbitrary).
    """
    if isinstance(items, Value):
        return (items,)
    if ordered and isinstance(items, (set, frozenset)):
        raise TypeError(f"{what} must be ordered (a list or tuple of Values), got a set")
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{what} must be a Value or a sequence of Values, got {type(items).__name__}") from None
    for i, x in enumerate(items):
        if not isinstance(x, Value):
            raise TypeError(f"{what}[{i}] must be a Value, got {type(x).__name__} {x!r}")
    return items


def _value_locals(node) -> tuple:
    """(∂node/∂a, ∂node/∂b) as Values: the node's local rule applied to its parents (and to
    the node itself as ``out``); ∂node/∂b is None for a unary node."""
    if node._prim is None:
        raise TypeError(
            f"grad(create_graph=True) cannot differentiate the {node.op!r} node with data {node.data!r} again: it was made "
            "by user code, and its _backward closure computes numbers, not a graph; make it with primitive() and "
            "apply() to get its derivatives as graphs"
        )
    _, local = node._prim.functions(P.VALUES)
    derivatives = local(*node.parents, node)
    return derivatives if len(derivatives) == 2 else (derivatives[0], None)


def grad(output, inputs: "Value | Sequence", create_graph: bool = False) -> tuple:
    """∂output/∂x for each x in ``inputs``, as a tuple of Values; no ``.grad`` is touched.

    An input that ``output`` does not depend on gets ``Value(0.0)``.

    With ``create_graph=True`` the gradients are built from Values by the same table
    of local derivatives, so they are graphs themselves and can be differentiated
    again: ``dx, = grad(y, [x], create_graph=True); d2x, = grad(dx, [x])`` gives ∂²y/∂x².
    A node made by user code with a ``_backward`` closure is refused there (TypeError);
    without ``create_graph`` its closure is run as in ``backward()``.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad() output must be a Value, got {type(output).__name__} {output!r}")
    inputs = as_values(inputs, "grad() inputs")
    order = topological_order(output)
    if not create_graph:
        grads = float_gradients(order)
        return tuple(Value(grads.get(x, 0.0)) for x in inputs)
    grads = chain_rule(order, Value(1.0), _value_locals)
    return tuple(grads[x] if x in grads else Value(0.0) for x in inputs)
