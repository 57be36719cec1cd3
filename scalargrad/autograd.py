"""Reverse-mode differentiation over a Value graph: ``backward()`` and ``grad()``.

The topological order is built with an explicit stack (no recursion, so depth is
limited only by memory) and visits parents in argument order, so the same program
always sums the same numbers in the same order: bit-identical gradients every run.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

_isfinite = math.isfinite


def topological_order(root) -> list:
    """Every node ``root`` depends on, each after all of its parents, ``root`` last.

    Same order as micrograd's recursive ``build_topo``, computed with an explicit stack
    (two parallel lists, so that no tuple is allocated per step).
    """
    order = []
    visited = set()
    seen, visit, emit = visited.__contains__, visited.add, order.append
    nodes, parents_done = [root], [False]
    push_node, push_done, pop_node, pop_done = nodes.append, parents_done.append, nodes.pop, parents_done.pop
    while nodes:
        node = pop_node()
        if pop_done():
            emit(node)
            continue
        if seen(node):
            continue
        visit(node)
        push_node(node)
        push_done(True)
        b = node._b
        if b is not None and not seen(b):
            push_node(b)
            push_done(False)
        a = node._a
        if a is not None and not seen(a):
            push_node(a)
            push_done(False)
    return order


def _float_gradients(order: list) -> dict:
    """∂root/∂node for every node in ``order`` (root last), as floats, by the chain rule:
    each node passes (its gradient × its recorded local derivative) to each parent."""
    grads = {order[-1]: 1.0}
    get = grads.get
    for node in reversed(order):
        a = node._a
        if a is None:
            continue
        g = grads[node]
        grads[a] = get(a, 0.0) + g * node._da
        b = node._b
        if b is not None:
            grads[b] = get(b, 0.0) + g * node._db
    return grads


def _refuse_non_finite(node, gradient: float) -> None:
    name = f"'{node.label}'" if node.label else f"made by {node.op!r}" if node.op else "(a leaf)"
    raise OverflowError(
        f"backward: the gradient reaching the node {name} with data {node.data!r} is {gradient!r}, "
        "not a finite number (an infinite local derivative, such as x ** 0.5 at x = 0, or an overflow); "
        "no .grad was changed"
    )


def backward(root) -> None:
    """Fill ``.grad`` of every node ``root`` depends on; see ``Value.backward``.

    All gradients are computed and checked before any ``.grad`` is written, so a
    refused pass (a non-finite gradient) leaves every ``.grad`` as it was.
    """
    grads = _float_gradients(topological_order(root))
    for node, g in grads.items():
        if node._a is None:
            g += node.grad
        if not _isfinite(g):
            _refuse_non_finite(node, g)
    for node, g in grads.items():
        node.grad = g if node._a is not None else node.grad + g


def _as_inputs(inputs) -> tuple:
    from .value import Value

    if isinstance(inputs, Value):
        return (inputs,)
    if isinstance(inputs, (set, frozenset)):
        raise TypeError("grad() inputs must be ordered (a list or tuple of Values), got a set")
    try:
        inputs = tuple(inputs)
    except TypeError:
        raise TypeError(f"grad() inputs must be a Value or a sequence of Values, got {type(inputs).__name__}") from None
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad() inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    return inputs


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
    inputs = _as_inputs(inputs)
    order = topological_order(output)
    if not create_graph:
        grads = _float_gradients(order)
        for node, g in grads.items():
            if not _isfinite(g):
                _refuse_non_finite(node, g)
        return tuple(Value(grads.get(x, 0.0)) for x in inputs)
    return tuple(g if g is not None else Value(0.0) for g in map(_value_gradients(order).get, inputs))


def _value_gradients(order: list) -> dict:
    """Like ``_float_gradients``, but every gradient is a Value in a new, differentiable graph."""
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
