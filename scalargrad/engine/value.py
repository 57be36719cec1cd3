"""``Value``: one scalar node of a computation graph, and ``apply``, the one way nodes are made.

A node stores its number (``data``), its gradient (``grad``), the primitive that made it,
its parents, and the local derivatives ∂node/∂parent, worked out when the node is made
(as the slides write them on each gate during the forward pass). There is no closure per
node, so a graph holds no reference cycles and is freed as soon as the last reference goes.
"""

from __future__ import annotations

import linecache
import math
import numbers

from . import autograd
from . import primitives as P
from .checks import number
from .context import current as _current_context
from .errors import NonFiniteError

_new = object.__new__


def _describe(v: "Value") -> str:
    return f"Value '{v.label}' (data={v.data!r})" if v.label else f"Value(data={v.data!r})"


def _not_finite(prim: P.Primitive, parents: tuple, what: str) -> NonFiniteError:
    """The engine's error for ``prim`` applied to ``parents``: ``exp: exp(1000.0) is not ...``."""
    domain = f" ({prim.name} needs {prim.domain})" if prim.domain else ""
    given = ", ".join(_describe(v) for v in parents)
    return NonFiniteError(f"{prim.name}: {prim.describe([v.data for v in parents])} {what}{domain} [input: {given}]")


def _constant(x: float) -> "Constant":
    out = _new(Constant)
    out.data = x
    out.grad = 0.0
    out.label = ""
    out._prim = out._a = out._b = None
    out._scope = _current_context().scope
    return out


def _operand(x):
    """``x`` as a Value: Values pass through, plain numbers become Constant leaves, others NotImplemented."""
    cls = x.__class__
    if cls is float or cls is int:
        x = float(x)
        if x - x != 0.0:
            raise ValueError(f"cannot mix the non-finite number {x!r} into an expression")
        return _constant(x)
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        if not math.isfinite(x):
            raise ValueError(f"cannot mix the non-finite number {x!r} into an expression")
        return _constant(float(x))
    return NotImplemented


def _compared(x):
    """What a Value's data is compared with: a Value's data or a real number (NotImplemented otherwise)."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return x
    return NotImplemented


# The one constructor of nodes. Each primitive gets its own copy of it with the primitive's
# forward and local rules written in (the table's text, so they stay the one source of truth):
# measured, this makes a node 2.7x faster than calling the rules as functions.
_NODE_MAKER = """
def make({nodes}, prim=prim):
{conversions}
    {floats}, = {datas},
    try:
        out = {forward}
    except (ArithmeticError, ValueError):
        raise refuse(prim, ({nodes},), "is not a finite real number") from None
    if out - out != 0.0:  # inf or nan
        raise refuse(prim, ({nodes},), f"= {{out!r}}, not a finite number")
    node = new(Value)
    node.data = out
    node.grad = 0.0
    node.label = ""
    recording, node._scope = context()
    if recording:
        try:
            da, db = {locals}
        except (ArithmeticError, ValueError):
            raise refuse(prim, ({nodes},), "has a local derivative that is infinite or undefined") from None
        if {local_not_finite}:
            raise refuse(prim, ({nodes},), f"has the local derivative(s) {{(da, db)[:{arity}]!r}}, not all finite")
        node._prim = prim
        node._a, node._b = {parents}
        node._da, node._db = da, db
    else:
        node._prim = node._a = node._b = None
    return node
"""


# Plain numbers become Constant leaves; other types make the operator return NotImplemented.
_CONVERSION = """\
    if {node}.__class__ is not Value:
        {node} = operand({node})
        if {node} is NotImplemented:
            return {node}
"""


def _node_maker(prim: P.Primitive):
    """The function making the node ``prim(*parents)`` from Values, generated from _NODE_MAKER."""
    nodes = [f"node_{x}" for x in prim.inputs]
    locals_ = [f"({d})" for d in prim.local]  # parenthesised: a rule may be a whole expression
    unary = len(nodes) == 1
    source = _NODE_MAKER.format(
        nodes=", ".join(nodes),
        floats=", ".join(prim.inputs),
        datas=", ".join(f"{n}.data" for n in nodes),
        forward=prim.forward,
        parents=f"{nodes[0]}, None" if unary else ", ".join(nodes),
        locals=f"{locals_[0]}, None" if unary else ", ".join(locals_),
        local_not_finite=" or ".join(f"{d} - {d} != 0.0" for d in ("da", "db")[: len(nodes)]),
        arity=len(nodes),
        conversions="".join(_CONVERSION.format(node=n) for n in nodes),
    )
    made: dict = {"prim": prim}
    filename = f"<node maker for {prim.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show the line
    exec(compile(source, filename, "exec"), _MAKER_GLOBALS, made)  # noqa: S102 - the table's checked text
    return made["make"]


_MAKERS: dict = {}
_MAKER_GLOBALS: dict = {**P.FLOATS, "new": _new, "context": _current_context, "refuse": _not_finite, "operand": _operand}


def maker(prim: P.Primitive):
    """The node-making function of ``prim`` (made on first use, then kept)."""
    make = _MAKERS.get(prim)
    if make is None:
        make = _MAKERS[prim] = _node_maker(prim)
    return make


def apply(prim: P.Primitive, *parents: "Value") -> "Value":
    """The node ``prim(*parents)``: its data from the forward rule and, while the graph is
    recorded, its parents and local derivatives from the local rule.

    A result or a local derivative that is not a finite number raises NonFiniteError.
    """
    if not isinstance(prim, P.Primitive):
        raise TypeError(f"apply() needs a Primitive (made with scalargrad.primitive), got {type(prim).__name__} {prim!r}")
    if len(parents) != len(prim.inputs):
        raise TypeError(f"{prim.name} takes {len(prim.inputs)} input(s) ({', '.join(prim.inputs)}), got {len(parents)}")
    return maker(prim)(*map(_as_parent, parents))


def _as_parent(x) -> "Value":
    v = _operand(x)
    if v is NotImplemented:
        raise TypeError(f"a primitive's inputs must be Values or real numbers, got {type(x).__name__} {x!r}")
    return v


class Value:
    """A scalar in a computation graph: ``Value(data, label="")``.

    ``data`` is any finite real number (int, float, numpy scalar), stored as a float.
    Operations on Values (``+ - * / **``, ``exp``, ``log``, ``relu``, ``sigmoid``,
    ``tanh``, ``max``) make new Values that remember how they were made, so that
    ``backward()`` can apply the chain rule node by node.

    Values hash and compare (``==``) by identity, so they can be set members and dict keys;
    ``< <= > >=`` compare their data.
    """

    # The parents and their local derivatives sit in slots, not tuples: a node is then one object
    # for the garbage collector instead of three, which measured 2x faster on the bench's step.
    # A leaf has _a = _b = None; a unary node _b = None; _da/_db are set only where _a/_b are.
    __slots__ = ("data", "grad", "label", "_prim", "_a", "_b", "_da", "_db", "_scope")

    def __init__(self, data, label: str = ""):
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        if isinstance(data, Value):
            raise TypeError(f"Value() expects a plain real number, got {_describe(data)}; use it directly or .detach() it")
        self.data = number(data, "Value()")
        self.grad = 0.0
        self.label = label
        self._prim = self._a = self._b = None
        self._scope = _current_context().scope

    # ------------------------------------------------------------ the graph

    @property
    def op(self) -> str:
        """The name of the operation that made this node ('' for a leaf)."""
        return self._prim.name if self._prim is not None else ""

    @property
    def parents(self) -> tuple["Value", ...]:
        """The input Values of the operation that made this node, in argument order."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        return (a,) if b is None else (a, b)

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

    # self + other and self * other: the primitives' node makers themselves (they turn numbers
    # into Constants, and give NotImplemented for other types, as operators should).
    __add__ = maker(P.ADD)
    __mul__ = maker(P.MUL)

    def __radd__(self, other):
        return maker(P.ADD)(other, self)

    def __rmul__(self, other):
        return maker(P.MUL)(other, self)

    def max(self, other) -> "Value":
        """max(self, other); the gradient goes to the larger, split ½/½ on a tie."""
        result = maker(P.MAX)(self, other)
        if result is NotImplemented:
            raise TypeError(f"max() expects a Value or a real number, got {type(other).__name__} {other!r}")
        return result

    def exp(self) -> "Value":
        """eˣ. NonFiniteError above x ≈ 709.78."""
        return maker(P.EXP)(self)

    def log(self) -> "Value":
        """Natural logarithm ln x; NonFiniteError for x ≤ 0."""
        return maker(P.LOG)(self)

    def reciprocal(self) -> "Value":
        """1/x, the '1/x' gate; NonFiniteError at 0 (or where 1/x overflows)."""
        return maker(P.RECIPROCAL)(self)

    def relu(self) -> "Value":
        """max(x, 0), with derivative 0 at x = 0 (as torch.relu)."""
        return maker(P.RELU)(self)

    def sigmoid(self) -> "Value":
        """σ(x) = 1/(1 + e⁻ˣ) as one fused gate, σ′ = σ(1 − σ); stable for any x."""
        return maker(P.SIGMOID)(self)

    def tanh(self) -> "Value":
        """tanh x as one fused gate, tanh′ = 1 − tanh²; stable for any x."""
        return maker(P.TANH)(self)

    def __pow__(self, exponent) -> "Value":
        """x ** c for a constant number c (a '**c' node)."""
        if isinstance(exponent, Value):
            raise TypeError(
                f"the exponent of ** must be a constant number, got {_describe(exponent)}; "
                "for a variable exponent write (b * a.log()).exp()"
            )
        return maker(P.power(number(exponent, "the exponent of Value ** c")))(self)

    # ------------------------------------------------------------ composites (no derivative code)

    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return other
        return self + (-other.data if isinstance(other, Constant) else -other)

    def __rsub__(self, other):
        other = _operand(other)
        return other if other is NotImplemented else other + (-self)

    def __truediv__(self, other):
        other = _operand(other)
        return other if other is NotImplemented else self * other.reciprocal()

    def __rtruediv__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 1:
            return self.reciprocal()
        other = _operand(other)
        return other if other is NotImplemented else other * self.reciprocal()

    def __rpow__(self, base):
        """c ** x for a constant c > 0, built as exp(x · ln c)."""
        c = number(base, "the base of number ** Value")
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
        autograd.backward(self)

    def detach(self) -> "Value":
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self.data, self.label)

    def __float__(self) -> float:
        return self.data

    def item(self) -> float:
        """The plain number ``data`` (as PyTorch's ``tensor.item()``)."""
        return self.data

    # Ordering compares data (with Values or plain numbers) and gives a bool, as PyTorch's
    # 0-d tensors do in an ``if``; == and hashing stay by identity, so Values remain dict keys.
    def __lt__(self, other):
        other = _compared(other)
        return other if other is NotImplemented else self.data < other

    def __le__(self, other):
        other = _compared(other)
        return other if other is NotImplemented else self.data <= other

    def __gt__(self, other):
        other = _compared(other)
        return other if other is NotImplemented else self.data > other

    def __ge__(self, other):
        other = _compared(other)
        return other if other is NotImplemented else self.data >= other

    def __repr__(self) -> str:
        label = f"label={self.label!r}, " if self.label else ""
        return f"Value({label}data={self.data!r}, grad={self.grad!r})"


_MAKER_GLOBALS["Value"] = Value


class Constant(Value):
    """A leaf made from a plain number mixed into an expression, as the 2 in ``2 * x``."""

    __slots__ = ()
