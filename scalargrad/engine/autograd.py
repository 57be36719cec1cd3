"""Reverse-mode differentiation over a Value graph: ``backward()`` and ``grad()``.

The topological order is built with an explicit stack (no recursion, so depth is
limited only by memory) and visits parents in argument order, so the same program
always sums the same numbers in the same order: bit-identical gradients every run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from .value import Value

_traversal_lock = threading.Lock()


def topological_order(root) -> list:
    """Every node ``root`` depends on, each after all of its parents, ``root`` last.

    Same order as micrograd's recursive ``build_topo``, computed with an explicit stack:
    a node is pushed, then a ``None`` marker, then its parents; popping the marker means
    the parents are done and the node (just below it) is emitted. Visited nodes are
    marked with a token fresh for each traversal (the ``_mark`` slot); the lock keeps two
    threads walking a shared graph from mixing their marks.
    """
    order = []
    emit = order.append
    stack = [root]
    push, pop = stack.append, stack.pop
    with _traversal_lock:
        token = object()
        while stack:
            node = pop()
            if node is None:
                emit(pop())
                continue
            if node._mark is token:
                continue
            node._mark = token
            a = node._a
            if a is None:
                emit(node)
                continue
            push(node)
            push(None)
            b = node._b
            if b is not None and b._mark is not token:
                push(b)
            if a._mark is not token:
                push(a)
    return order


def _chain_rule_in_place(order: list, seed_leaves_at_zero: bool) -> list:
    """Run the chain rule over ``order`` (root last), accumulating straight into ``.grad``.

    Interior nodes start from 0; leaves start from what they had (``backward()``) or from 0
    (``grad()``). Each node, in reverse order, passes (its gradient × its recorded local
    derivative) to each parent. Returns the ``.grad`` values from before the pass, so that a
    caller can restore them; if a gradient is not finite, they are restored here and
    OverflowError is raised, leaving every ``.grad`` as it was.
    """
    before = [node.grad for node in order]
    if seed_leaves_at_zero:
        for node in order:
            node.grad = 0.0
    else:
        for node in order:
            if node._a is not None:
                node.grad = 0.0
    order[-1].grad += 1.0
    for node in reversed(order):
        g = node.grad
        if g - g != 0.0:  # inf or nan (faster than math.isfinite in this loop)
            _restore(order, before)
            _refuse_non_finite(node, g)
        a = node._a
        if a is None:
            continue
        a.grad += g * node._da
        b = node._b
        if b is not None:
            b.grad += g * node._db
    return before


def _restore(order: list, grads: list) -> None:
    for node, g in zip(order, grads):
        node.grad = g


def _refuse_non_finite(node, gradient: float) -> None:
    name = f"'{node.label}'" if node.label else f"made by {node.op!r}" if node.op else "(a leaf)"
    raise OverflowError(
        f"backpropagation: the gradient reaching the node {name} with data {node.data!r} is {gradient!r}, "
        "not a finite number (an infinite local derivative, such as x ** 0.5 at x = 0, or an overflow); "
        "no .grad was changed"
    )


def backward(root) -> None:
    """Fill ``.grad`` of every node ``root`` depends on; see ``Value.backward``."""
    _chain_rule_in_place(topological_order(root), seed_leaves_at_zero=False)


def as_values(items, what: str, ordered: bool = True) -> tuple:
    """``items`` (one Value, or an iterable of Values) as a tuple of Values.

    TypeError names ``what`` and the first item that is not a Value; with ``ordered``,
    a set is refused too (its order, and so the result's, would be arbitrary).
    """
    from .value import Value

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


def grad(output, inputs: "Value | Sequence", create_graph: bool = False) -> tuple:
    """∂output/∂x for each x in ``inputs``, as a tuple of Values; no ``.grad`` is touched.

    An input that ``output`` does not depend on gets ``Value(0.0)``.

    With ``create_graph=True`` the gradients are built from Values by the same table
    of local derivatives, so they are graphs themselves and can be differentiated
    again: ``dx, = grad(y, [x], create_graph=True); d2x, = grad(dx, [x])`` gives ∂²y/∂x².
    """
    from .value import Value

    if not isinstance(output, Value):
        raise TypeError(f"grad() output must be a Value, got {type(output).__name__} {output!r}")
    inputs = as_values(inputs, "grad() inputs")
    order = topological_order(output)
    if not create_graph:
        gradients = node_gradients(order)
        return tuple(Value(gradients.get(x, 0.0)) for x in inputs)
    return tuple(g if g is not None else Value(0.0) for g in map(_value_gradients(order).get, inputs))


def node_gradients(order: list) -> dict:
    """∂root/∂node as a float for every node of ``order`` (a topological order, root last).

    The same chain rule as ``backward()``, but no ``.grad`` is left changed.
    """
    before = _chain_rule_in_place(order, seed_leaves_at_zero=True)
    gradients = {node: node.grad for node in order}
    _restore(order, before)
    return gradients


def _value_gradients(order: list) -> dict:
    """Like ``_chain_rule_in_place``, but into a dict, and every gradient is a Value in a new, differentiable graph."""
    from .value import Value

    grads = {order[-1]: Value(1.0)}
    get = grads.get
    for node in reversed(order):
        g = get(node)
        if g is None or node._a is None:
            continue
        rule = node._prim.local
        if node._b is None:
            contributions = ((node._a, rule(node._a, node)),)
        else:
            contributions = zip((node._a, node._b), rule(node._a, node._b, node))
        for parent, local in contributions:
            if isinstance(local, float):
                if local == 0.0:
                    continue
                term = g if local == 1.0 else g * local
            else:
                term = g * local
            previous = get(parent)
            grads[parent] = term if previous is None else previous + term
    return grads


def zero_grad(values: Iterable) -> None:
    """Set ``.grad`` of each Value to 0.0."""
    for v in values:
        v.grad = 0.0
