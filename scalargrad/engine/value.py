"""``Value``: one scalar node of a computation graph.

A node stores its number (``data``), its gradient (``grad``), the primitive that
made it, its one or two parents, and the local derivatives ∂node/∂parent, worked
out when the node is made. There is no closure per node, so a graph holds no
reference cycles and is freed as soon as the last reference to it goes.
"""

from __future__ import annotations

import math
import numbers

from . import primitives as P
from .autograd import backward as _backward
from .context import current as _current_context

_isfinite = math.isfinite
_new = object.__new__


def _describe(v: "Value") -> str:
    return f"Value '{v.label}' (data={v.data!r})" if v.label else f"Value(data={v.data!r})"


def _as_real(x, what: str) -> float:
    """``x`` as a finite float, or TypeError/ValueError saying what was given."""
    if isinstance(x, Value):
        raise TypeError(f"{what} expects a plain real number, got {_describe(x)}; use it directly or .detach() it")
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} expects a real number (int, float or numpy scalar), got {type(x).__name__} {x!r}")
    f = float(x)
    if not _isfinite(f):
        raise ValueError(f"{what} expects a finite number, got {x!r}")
    return f


def _failure(error: Exception, prim: P.Primitive, inputs: tuple) -> Exception:
    """The same kind of error as ``error``, naming the operation and the Values it was given."""
    given = ", ".join(_describe(v) for v in inputs)
    return type(error)(f"{prim.name}: {error} [input: {given}]")


def _unary(prim: P.Primitive, x: "Value") -> "Value":
    xd = x.data
    try:
        y = prim.forward(xd)
    except (ArithmeticError, ValueError) as error:
        raise _failure(error, prim, (x,)) from None
    out = _new(Value)
    out.data = y
    out.grad = 0.0
    out.label = ""
    out._b = out._mark = None
    recording, out._scope = _current_context()
    if recording:
        out._prim = prim
        out._a = x
        out._da = prim.local(xd, y)
    else:
        out._prim = out._a = None
    return out


def _binary_operator(prim: P.Primitive):
    """The method ``self <prim> other`` making one node of the binary primitive ``prim``.

    Plain-number operands become Constant leaves; anything else gives NotImplemented. For +
    and *, which make most of a network's nodes, the table's forward and local rules are
    written out here (tests check that they make exactly the table's node); other
    primitives call the table's functions.
    """
    add, multiply = prim is P.ADD, prim is P.MUL
    forward, local = prim.forward, prim.local

    def operator(self, other):
        if other.__class__ is not Value:
            other = _operand(other)
            if other is NotImplemented:
                return other
        ad = self.data
        bd = other.data
        y = ad * bd if multiply else ad + bd if add else forward(ad, bd)
        if y - y != 0.0:  # inf or nan
            raise _failure(OverflowError(f"the result {ad!r} {prim.name} {bd!r} overflows a float"), prim, (self, other))
        out = _new(Value)
        out.data = y
        out.grad = 0.0
        out.label = ""
        out._mark = None
        recording, out._scope = _current_context()
        if recording:
            out._prim = prim
            out._a = self
            out._b = other
            if multiply:
                out._da = bd
                out._db = ad
            elif add:
                out._da = out._db = 1.0
            else:
                out._da, out._db = local(ad, bd, y)
        else:
            out._prim = out._a = out._b = None
        return out

    return operator


_max = _binary_operator(P.MAX)


def _constant(x: float) -> "Constant":
    out = _new(Constant)
    out.data = x
    out.grad = 0.0
    out.label = ""
    out._prim = out._a = out._b = out._mark = None
    out._scope = _current_context().scope
    return out


def _operand(x):
    """``x`` as a Value: Values pass through, plain numbers become Constant leaves."""
    cls = x.__class__
    if cls is Value:
        return x
    if cls is float or cls is int:
        x = float(x)
        if not _isfinite(x):
            raise ValueError(f"cannot mix the non-finite number {x!r} into an expression")
        return _constant(x)
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return _constant(_as_real(x, "an operand"))
    return NotImplemented


class Value:
    """A scalar in a computation graph: ``Value(data, label="")``.

    ``data`` is any finite real number (int, float, numpy scalar), stored as a float.
    Operations on Values (``+ - * / **``, ``exp``, ``log``, ``relu``, ``sigmoid``,
    ``tanh``, ``max``) make new Values that remember how they were made, so that
    ``backward()`` can apply the chain rule node by node.

    Values hash and compare by identity, so they can be set members and dict keys.
    """

    # Parents and local derivatives sit in slots, not tuples: 135 bytes a node instead of ~220.
    # A leaf has _prim = _a = _b = None and no _da/_db; a unary node has _b = None and no _db;
    # readers test _a/_b before reading the derivatives. _mark is topological_order's
    # "visited in this traversal" flag (faster than a set of visited nodes).
    __slots__ = ("data", "grad", "label", "_prim", "_a", "_b", "_da", "_db", "_scope", "_mark")

    def __init__(self, data, label: str = ""):
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        cls = data.__class__
        if (cls is float or cls is int) and _isfinite(data):
            self.data = float(data)
        else:
            self.data = _as_real(data, "Value()")
        self.grad = 0.0
        self.label = label
        self._prim = self._a = self._b = self._mark = None
        self._scope = _current_context().scope

    # ------------------------------------------------------------ the graph

    @property
    def op(self) -> str:
        """The name of the operation that made this node ('' for a leaf)."""
        return self._prim.name if self._prim is not None else ""

    @property
    def parents(self) -> tuple["Value", ...]:
        """The input Values of the operation that made this node, in argument order."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """∂self/∂parent for each parent, as recorded when this node was made."""
        if self._a is None:
            return ()
        return (self._da,) if self._b is None else (self._da, self._db)

    @property
    def primitive(self) -> P.Primitive | None:
        """The table entry that made this node (None for a leaf)."""
        return self._prim

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents: an input, a parameter, a constant or a no_grad result."""
        return self._a is None

    @property
    def scope(self) -> str:
        """The dotted scope name this node was made in ('' outside any ``scope()``)."""
        return self._scope

    # micrograd and the lecture notebooks read these names.
    _prev = parents
    _op = op

    # ------------------------------------------------------------ primitives

    __add__ = _binary_operator(P.ADD)
    __mul__ = _binary_operator(P.MUL)

    def max(self, other) -> "Value":
        """max(self, other); the gradient goes to the larger, split ½/½ on a tie."""
        result = _max(self, other)
        if result is NotImplemented:
            raise TypeError(f"max() expects a Value or a real number, got {type(other).__name__} {other!r}")
        return result

    def exp(self) -> "Value":
        """eˣ. Raises OverflowError above x ≈ 709.78."""
        return _unary(P.EXP, self)

    def log(self) -> "Value":
        """Natural logarithm ln x; ValueError for x ≤ 0."""
        return _unary(P.LOG, self)

    def reciprocal(self) -> "Value":
        """1/x, the '1/x' gate; ZeroDivisionError at 0."""
        return _unary(P.RECIPROCAL, self)

    def relu(self) -> "Value":
        """max(x, 0), with derivative 0 at x = 0 (as torch.relu)."""
        return _unary(P.RELU, self)

    def sigmoid(self) -> "Value":
        """σ(x) = 1/(1 + e⁻ˣ) as one fused gate, σ′ = σ(1 − σ); stable for any x."""
        return _unary(P.SIGMOID, self)

    def tanh(self) -> "Value":
        """tanh x as one fused gate, tanh′ = 1 − tanh²; stable for any x."""
        return _unary(P.TANH, self)

    def __pow__(self, exponent) -> "Value":
        """x ** c for a constant number c (a '**c' node)."""
        if isinstance(exponent, Value):
            raise TypeError(
                f"the exponent of ** must be a constant number, got {_describe(exponent)}; "
                "for a variable exponent write (b * a.log()).exp()"
            )
        c = _as_real(exponent, "Value ** exponent")
        return _unary(P.power(c), self)

    # ------------------------------------------------------------ composites

    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        return self + (-other.data if isinstance(other, Constant) else -other)

    def __truediv__(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        return self * other.reciprocal()

    def __radd__(self, other):
        other = _operand(other)
        return other if other is NotImplemented else other + self

    def __rmul__(self, other):
        other = _operand(other)
        return other if other is NotImplemented else other * self

    def __rsub__(self, other):
        other = _operand(other)
        return other if other is NotImplemented else other + (-self)

    def __rtruediv__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 1:
            return self.reciprocal()
        other = _operand(other)
        return other if other is NotImplemented else other * self.reciprocal()

    def __rpow__(self, base):
        """c ** x for a constant c > 0, built as exp(x · ln c)."""
        c = _as_real(base, "number ** Value")
        if c <= 0.0:
            raise ValueError(f"number ** Value needs a positive base, got {base!r}")
        return (self * math.log(c)).exp()

    # ------------------------------------------------------------ gradients

    def backward(self) -> None:
        """Backpropagate from this node: the chain rule, node by node, in reverse topological order.

        Every node of the graph gets this pass's ∂self/∂node in ``.grad``; leaves add it
        to what they had, so two calls give leaves twice the gradient (as PyTorch).
        Iterative: graphs of any depth work under the default recursion limit.
        """
        _backward(self)

    def detach(self) -> "Value":
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self.data, self.label)

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        label = f"label={self.label!r}, " if self.label else ""
        return f"Value({label}data={self.data!r}, grad={self.grad!r})"


class Constant(Value):
    """A leaf made from a plain number mixed into an expression, as the 2 in ``2 * x``."""

    __slots__ = ()
