"""``Value``: one scalar node of a computation graph, and ``apply``, the one way nodes are made.

A node stores its number (``data``), its gradient (``grad``), the primitive that made it,
its parents, and the local derivatives ∂node/∂parent, worked out when the node is made
(as the slides write them on each gate during the forward pass). There is no closure per
node, so a graph holds no reference cycles and is freed as soon as the last reference goes.

Nodes can also be made the way micrograd and the "building micrograd" lecture make them,
``Value(data, (parents...), 'op')`` with a ``_backward`` closure set on them; the chain rule
runs such a closure as that node's step (see ``autograd.closure_step``).
"""

from __future__ import annotations

import linecache
import math
import numbers

from . import autograd, pickling
from . import primitives as P
from .checks import number
from .context import current as _current_context
from .errors import DomainError, NonFiniteError, kind_for, kind_of

_new = object.__new__


def _describe(v: "Value") -> str:
    return f"Value '{v.label}' (data={v.data!r})" if v.label else f"Value(data={v.data!r})"


def _not_finite(prim: P.Primitive, parents: tuple, what: str, cause=None) -> NonFiniteError:
    """The engine's error for ``prim`` applied to ``parents``: ``exp: exp(1000.0) is not ...``, of the
    kind (DivisionByZero, DomainError, Overflow) of Python's own ``cause``, or without one, ``kind_for``'s."""
    domain = f" ({prim.name} needs {prim.domain})" if prim.domain else ""
    given = ", ".join(_describe(v) for v in parents)
    kind = kind_for(*(v.data for v in parents)) if cause is None else kind_of(cause)
    return kind(f"{prim.name}: {prim.describe([v.data for v in parents])} {what}{domain} [input: {given}]")


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


def _children_of(children) -> tuple:
    """micrograd's ``_children`` as a tuple of at most two parent Values."""
    if not isinstance(children, (tuple, list, set, frozenset)):
        raise TypeError(
            "Value()'s second argument is a label (a str) or micrograd's _children (a tuple of Values, as in "
            f"Value(t, (self,), 'tanh')), got {type(children).__name__} {children!r}"
        )
    parents = tuple(children)
    for i, parent in enumerate(parents):
        if not isinstance(parent, Value):
            raise TypeError(f"Value() _children[{i}] must be a Value, got {type(parent).__name__} {parent!r}")
    if len(parents) > 2:
        raise ValueError(
            f"a Value has at most two parents (every operation of micrograd and its lecture has one or two), "
            f"got {len(parents)} _children; make it in two-input steps, as (a + b) + c"
        )
    return parents


# The one constructor of nodes. Each primitive gets its own copy of it with the primitive's
# forward and local rules written in (the table's text, so they stay the one source of truth):
# measured, this makes a node 2.7x faster than calling the rules as functions. The rules' inputs
# are renamed in0, in1 (P.generated_names), so a user's names never meet the template's own.
_NODE_MAKER = """
def make({nodes}, prim=prim):
{conversions}
    {floats}, = {datas},
    try:
        out = {forward}
    except (ArithmeticError, ValueError) as error:
        raise refuse(prim, ({nodes},), "is not a finite real number", error) from None
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
        except (ArithmeticError, ValueError) as error:
            raise refuse(prim, ({nodes},), "has a local derivative that is infinite or undefined", error) from None
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
    if {node}.__class__ is not Value and {node}.__class__ is not UserValue:
        {node} = operand({node})
        if {node} is NotImplemented:
            return {node}
"""


def _node_maker(prim: P.Primitive):
    """The function making the node ``prim(*parents)`` from Values, generated from _NODE_MAKER."""
    names = P.generated_names(prim)
    nodes = [f"node{i}" for i in range(len(prim.inputs))]
    locals_ = [f"({P.scalar(d, names)})" for d in prim.local]  # parenthesised: a rule may be a whole expression
    unary = len(nodes) == 1
    source = _NODE_MAKER.format(
        nodes=", ".join(nodes),
        floats=", ".join(names.values()),
        datas=", ".join(f"{n}.data" for n in nodes),
        forward=P.scalar(prim.forward, names),
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

    ``Value(data, _children=(), _op='', label='')`` is micrograd's signature too: a node made
    with parents (at most two) and an op name is the lecture's kind of node, backpropagated
    by the ``_backward`` closure set on it. A str second argument is a label (``Value(2.0, "a")``).

    Values hash and compare (``==``) by identity, so they can be set members and dict keys;
    ``< <= > >=`` compare their data. A Value made by calling ``Value(...)`` takes attributes
    of your own (``p.m = 0.0``); the results of operations do not (see ``UserValue``).
    """

    # The parents and their local derivatives sit in slots, not tuples: a node is then one object
    # for the garbage collector instead of three, which measured 2x faster on the bench's step.
    # A leaf has _a = _b = None; a unary node _b = None; _da/_db are set only where _a/_b are
    # and _prim is set. A node made by user code (_prim None, _a set) has no _da/_db: its op name
    # and its _backward closure are in its __dict__.
    #
    # Only Values made by calling Value(...) have a __dict__ (they are UserValues): on CPython
    # 3.11 a __dict__ slot costs 32 bytes an object (a managed dict's header and its eagerly made
    # values), 25% of a node, so the nodes operations make have none.
    __slots__ = ("data", "grad", "label", "_prim", "_a", "_b", "_da", "_db", "_scope")

    def __new__(cls, *args, **kwargs):
        return _new(UserValue if cls is Value else cls)

    def __init__(self, data, _children=(), _op: str = "", label: str = ""):
        if _children.__class__ is str:  # Value(data, "label")
            if label:
                raise TypeError(f"Value() got two labels: {_children!r} and label={label!r}")
            _children, label = (), _children
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        if isinstance(data, Value):
            raise TypeError(f"Value() expects a plain real number, got {_describe(data)}; use it directly or .detach() it")
        self.data = number(data, "Value()")
        self.grad = 0.0
        self.label = label
        self._prim = self._a = self._b = None
        recording, self._scope = _current_context()
        if _children.__class__ is not tuple or _children or _op.__class__ is not str or _op:
            self._made_from(_children, _op, recording)

    def _made_from(self, children, op: str, recording: bool) -> None:
        """micrograd's ``Value(data, _children, _op)``: parents (at most two) and an op name."""
        if not isinstance(op, str):
            raise TypeError(f"Value() _op must be the operation's name as a str, got {type(op).__name__} {op!r}")
        parents = _children_of(children)
        if op and not parents:
            raise ValueError(f"Value() got _op={op!r} but no _children: an op name belongs to a node made from parents")
        if parents and recording:  # under no_grad, a leaf (as the table's nodes)
            self._a, self._b = parents if len(parents) == 2 else (parents[0], None)
            if op:
                self.__dict__["_op"] = op

    # ------------------------------------------------------------ the graph

    @property
    def op(self) -> str:
        """The name of the operation that made this node ('' for a leaf)."""
        prim = self._prim
        if prim is not None:
            return prim.name
        return "" if self._a is None else self.__dict__.get("_op", "")

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
        """∂self/∂parent for each parent, as recorded when this node was made.

        For a node made by user code, what its ``_backward`` closure passes to each parent
        per unit of gradient (the closure is run with ``self.grad = 1``, then ``.grad`` restored).
        """
        if self._a is None:
            return ()
        if self._prim is None:
            return autograd.closure_step(self, 1.0)[: len(self.parents)]
        return (self._da,) if self._b is None else (self._da, self._db)

    @property
    def primitive(self) -> P.Primitive | None:
        """The table entry that made this node (None for a leaf or a node made by user code)."""
        return self._prim

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents: an input, a parameter, a constant or a no_grad result."""
        return self._a is None

    @property
    def scope(self) -> str:
        """The dotted scope name this node was made in ('' outside any ``scope()``)."""
        return self._scope

    # micrograd and the lecture notebooks read these names; they are set by the constructor.
    def _set_by_the_constructor(self, value) -> None:
        raise AttributeError(
            "_prev and _op are set by Value(data, _children, _op): a subclass's __init__ calls "
            "super().__init__(data, _children, _op, label) instead of setting them"
        )

    _prev = property(parents.fget, _set_by_the_constructor, doc="micrograd's name for ``parents``.")
    _op = property(op.fget, _set_by_the_constructor, doc="micrograd's name for ``op``.")
    del _set_by_the_constructor

    @property
    def _backward(self):
        """micrograd's ``_backward``: this node's one step of the chain rule, as a function.

        Calling it adds ``self.grad`` × ∂self/∂parent to each parent's ``.grad`` (nothing for a
        leaf), so the lecture's manual pass ``o.grad = 1.0; o._backward(); n._backward(); ...``
        works. On a node made as ``Value(data, _children, _op)`` it is the closure set on it.
        """
        if self._prim is None:
            closure = getattr(self, "__dict__", {}).get("_backward")
            if closure is not None:
                return closure
        return self._chain_rule_step

    @_backward.setter
    def _backward(self, closure) -> None:
        if not callable(closure):
            raise TypeError(f"_backward must be a function taking no arguments, got {type(closure).__name__} {closure!r}")
        if self._prim is not None or not hasattr(self, "__dict__"):
            made = f"the table's {self.op!r}, whose derivative it is" if self._prim else "an operation under no_grad, or a Constant"
            raise TypeError(
                f"cannot set _backward on a node made by {made}; set it on a node you make from its parents, "
                "Value(data, _children, _op), as micrograd does"
            )
        self.__dict__["_backward"] = closure

    @_backward.deleter
    def _backward(self) -> None:
        getattr(self, "__dict__", {}).pop("_backward", None)

    def _chain_rule_step(self) -> None:
        autograd.chain_rule_step(self)

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
        """x ** c for a constant number c (a '**c' node); a ** b for a Value b (a '**' node),
        which needs a > 0, as exp(b·ln a) does: NonFiniteError otherwise."""
        if isinstance(exponent, Value):
            if not self.data > 0.0:
                raise DomainError(
                    f"**: {self.data!r} ** {exponent.data!r} with a Value exponent is exp(b·ln a), which needs a > 0 "
                    f"(a constant exponent, x ** {exponent.data!r}, works for any x where it is real) "
                    f"[input: {_describe(self)}, {_describe(exponent)}]"
                )
            return maker(P.POWER)(self, exponent)
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

    # ------------------------------------------------------------ pickling and copying

    def __reduce__(self):
        return pickling.reduce(self)

    def __deepcopy__(self, memo: dict) -> "Value":
        """A copy of the whole graph behind this node, made parents first (no recursion)."""
        return pickling.deep_copy(self, memo)

    def __copy__(self) -> "Value":
        """A new node with this one's fields and attributes, and the same parents."""
        return pickling.shallow_copy(self)

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


class UserValue(Value):
    """A Value made by calling ``Value(...)``: the same, and it takes attributes of your own
    (``p.m = 0.0``, ``v._vis_color = "red"``), as micrograd's Values do, in its ``__dict__``.

    The nodes operations make are plain Values, with no ``__dict__``: a graph of them keeps
    its size and speed. ``isinstance(v, Value)`` holds for both.
    """

    __slots__ = ("__dict__",)


_MAKER_GLOBALS["UserValue"] = UserValue


class Constant(Value):
    """A leaf made from a plain number mixed into an expression, as the 2 in ``2 * x``."""

    __slots__ = ()
