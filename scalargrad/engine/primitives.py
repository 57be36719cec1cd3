"""The table of primitive operations: what each computes and its local derivatives.

Every graph node is made by exactly one primitive. A primitive is written as text,
in the notation of the lecture slides::

    MUL = primitive("*", inputs=("a", "b"), forward="a * b", local=("b", "a"))

``forward`` computes the output from the inputs; ``local`` gives ∂out/∂input for each
input, in terms of the inputs and ``out``. The text is the one source of truth, turned
into Python functions once per kind of number:

* plain floats (:data:`FLOATS`): the forward rule when a node is made, and the local
  derivatives that node records for ``backward()``;
* Values (:data:`VALUES`): the same local rule builds a differentiable graph of the
  gradient itself, for ``grad(..., create_graph=True)`` (second and higher derivatives);
* anything else with the same names, e.g. a whole batch of numbers at once.

The expressions may use the inputs, ``out`` (in ``local``), numbers, ``+ - * /``, and the
functions ``exp log tanh sigmoid power where`` that each kind of number provides. A
comparison (``< <= > >= == !=``) may stand only as the condition of ``where(c, p, q)``, which
is p if c else q: a rule's result is always a number. On one number (floats, Values) ``where``
computes only the branch it takes, so ``where(x > 30.0, x, log(1.0 + exp(x)))`` is a softplus
that never overflows; an array (compile's batches) computes both, and compile sends a batch
whose untaken branch overflows down its sample-by-sample path, with the same results.
Comparisons mean the same on every kind: on Values they compare ``data`` (``==`` too, though
Values themselves compare by identity).
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

#: The functions a rule's text may call, with their number of arguments. Each kind of number provides
#: them; ``where`` only where numbers come as arrays (one number at a time, :func:`scalar` writes it as
#: Python's conditional).
ARITY = {"exp": 1, "log": 1, "tanh": 1, "sigmoid": 1, "power": 2, "where": 3}
FUNCTIONS = tuple(ARITY)


def _sigmoid(x: float) -> float:
    # Two branches so that exp never sees a large positive argument.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _power(x: float, c: float) -> float:
    """math.pow, with 0 to a negative power a ZeroDivisionError as Python's own ``0.0 ** -1``
    (math.pow calls it a domain error)."""
    if x == 0.0 and c < 0.0:
        raise ZeroDivisionError("0.0 cannot be raised to a negative power")
    return math.pow(x, c)


def _data(x):
    """The number behind a Value (or the number itself): what a rule's comparison compares."""
    return getattr(x, "data", x)


#: Plain floats. math's functions raise (OverflowError, ValueError, ZeroDivisionError)
#: instead of returning inf or nan, which the node constructor turns into the engine's error.
FLOATS = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "sigmoid": _sigmoid, "power": _power}

#: Values: the same rules as graphs, for differentiating gradients again. ``data`` is there
#: because Values compare by identity: a rule's comparisons are made on their data.
VALUES = {
    "exp": lambda v: v.exp(),
    "log": lambda v: v.log(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "power": lambda v, c: v**c,
    "data": _data,
}


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation: its name, its inputs' names, and its rules as expressions.

    ``domain`` says where the operation is defined (``"x > 0"`` for log), for error messages.
    Make one with :func:`primitive`, which also checks the text and registers the name.
    """

    name: str
    inputs: tuple[str, ...]
    forward: str
    local: tuple[str, ...]
    domain: str = ""
    # The rules as float functions: forward(*xs) -> out, and derivatives(*xs, out) -> (∂out/∂x, ...).
    rule: Callable = field(init=False, repr=False)
    derivatives: Callable = field(init=False, repr=False)
    _functions: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        rule, derivatives = self.functions(FLOATS)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "derivatives", derivatives)

    def functions(self, namespace: dict) -> tuple[Callable, Callable]:
        """The forward and local rules as functions of numbers of one kind (see FLOATS, VALUES):
        ``forward(*inputs)`` and ``local(*inputs, out)``, which returns a tuple. Made once per kind.
        They are the rules as :func:`scalar` writes them (``where`` computes one branch; with a
        ``data`` function in the namespace, comparisons are made on it)."""
        made = self._functions.get(id(namespace))
        if made is None or made[0] is not namespace:
            made = self._functions[id(namespace)] = (namespace, *_compiled(self, namespace))
        return made[1], made[2]

    @property
    def formula(self) -> str:
        """The local derivatives as the slides write them: ``∂/∂a = b, ∂/∂b = a``."""
        return ", ".join(f"∂/∂{x} = {d}" for x, d in zip(self.inputs, self.local))

    def describe(self, values) -> str:
        """The forward rule with ``values`` in place of the inputs: ``exp(1000.0)``, ``1e+308 * 10.0``."""
        return substitute(self.forward, dict(zip(self.inputs, map(repr, values))))

    def __repr__(self) -> str:
        return f"<primitive {self.name!r}: {self.forward}; {self.formula}>"

    def __reduce__(self):
        # Pickled and deep-copied by name, so a graph can be saved or copied and still
        # point at the one registered primitive.
        return primitive_named, (self.name,)


def substitute(rule: str, names: dict) -> str:
    """``rule`` with each name in ``names`` (an input or ``out``) replaced by its text:
    ``substitute("a * b", {"a": "q", "b": "z"}) == "q * z"``. Other names (the functions) stay."""
    return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: names.get(m[0], m[0]), rule)


def names_in(rule: str) -> set:
    """The inputs (and ``out``) a rule's text reads: ``names_in("out * (1.0 - out)") == {"out"}``."""
    return set(re.findall(r"\b[A-Za-z_]\w*\b", rule)) - set(FUNCTIONS)


class _Scalar(ast.NodeTransformer):
    """See :func:`scalar`."""

    def __init__(self, compare_data: bool):
        self.compare_data = compare_data

    def visit_Call(self, node):
        self.generic_visit(node)
        if node.func.id == "where":
            return ast.copy_location(ast.IfExp(node.args[0], node.args[1], node.args[2]), node)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if self.compare_data:
            data = lambda x: ast.Call(ast.Name("data", ast.Load()), [x], [])  # noqa: E731
            node = ast.copy_location(ast.Compare(data(node.left), node.ops, [data(c) for c in node.comparators]), node)
        return node


def scalar(rule: str, names: dict | None = None, compare_data: bool = False) -> str:
    """``rule`` as code for one number at a time: ``where(c, p, q)`` becomes ``(p if c else q)``,
    so only the branch taken is computed; each name in ``names`` (an input, ``out``) is replaced
    by its text; with ``compare_data`` each side of a comparison is read through ``data()``."""
    text = _scalar_text(rule, compare_data)
    return substitute(text, names) if names else text


@lru_cache(maxsize=1024)
def _scalar_text(rule: str, compare_data: bool) -> str:
    # Once per rule (compile writes one line per node: re-parsing each measured 2.2 s of 3.0 s).
    tree = _Scalar(compare_data).visit(ast.parse(rule, mode="eval"))
    return f"({ast.unparse(ast.fix_missing_locations(tree))})" if "where" in rule else rule


def generated_names(prim: "Primitive") -> dict:
    """The names generated code gives ``prim``'s inputs (``in0``, ``in1``): a user's input names
    never meet the names of the code around the rule."""
    return {x: f"in{i}" for i, x in enumerate(prim.inputs)}


def _compiled(prim: Primitive, namespace: dict) -> tuple[Callable, Callable]:
    names = generated_names(prim)
    args = ", ".join(names.values())
    compare_data = "data" in namespace
    forward_text = scalar(prim.forward, names, compare_data)
    local_text = ", ".join(scalar(d, names, compare_data) for d in prim.local)
    scope = dict(namespace)
    forward = eval(f"lambda {args}: {forward_text}", scope)  # noqa: S307 - the table's own checked text
    local = eval(f"lambda {args}, out: ({local_text},)", scope)  # noqa: S307
    return forward, local


_REGISTRY: dict[str, Primitive] = {}
_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name, ast.Load, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd, ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq,
)


def _check_rule(text, names: tuple, what: str) -> None:
    """Refuse rule text that is not a number-valued expression over ``names``, numbers and FUNCTIONS."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be an expression written as a str, got {type(text).__name__} {text!r}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"{what} {text!r} is not a Python expression: {error.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"{what} {text!r} uses {type(node).__name__}; rules may use +, -, *, /, comparisons, "
                             f"numbers, the inputs and {', '.join(FUNCTIONS)}")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
            raise ValueError(f"{what} {text!r} may only contain numbers as constants, not {node.value!r}")
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
                raise ValueError(f"{what} {text!r} calls something other than {', '.join(FUNCTIONS)}")
            wanted = ARITY[node.func.id]
            if node.keywords or len(node.args) != wanted:
                raise ValueError(f"{what} {text!r}: {node.func.id}() takes {wanted} argument(s), given by position")
            if node.func.id == "where" and not isinstance(node.args[0], ast.Compare):
                raise ValueError(f"{what} {text!r}: the condition of where(c, p, q) must be a comparison such as x > 0.0")
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            raise ValueError(f"{what} {text!r} chains comparisons; write one comparison per where()")
        if isinstance(node, ast.Name) and node.id not in names and node.id not in FUNCTIONS:
            raise ValueError(f"{what} {text!r} uses the unknown name {node.id!r}; it may use {', '.join(names)}")
    conditions = {id(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call) and n.func.id == "where"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and id(node) not in conditions:
            raise ValueError(f"{what} {text!r} uses a comparison as a number; a comparison may only be the "
                             "condition of where(c, p, q), e.g. where(x > 0.0, 1.0, 0.0)")


def primitive(name: str, inputs: tuple, forward: str, local: tuple, domain: str = "") -> Primitive:
    """Define a primitive (checked, and registered under ``name`` so graphs using it pickle).

    ``inputs``: the names of its one or two inputs; ``forward``: the output as an expression of
    them; ``local``: ∂out/∂input for each input, as expressions of the inputs and ``out``.
    Redefining a name with different rules is refused, and so are the names ``**c`` of the
    constant powers (``x ** 2`` is the primitive ``**2``, made by :func:`power`).
    """
    if isinstance(name, str) and name.startswith("**") and name != "**":
        raise ValueError(f"the primitive names '**<number>' are the engine's own (x ** 2 is '**2'); "
                         f"choose another name than {name!r}")
    return _define(name, inputs, forward, local, domain)


def _usable_input(x) -> bool:
    return (isinstance(x, str) and x.isidentifier() and not keyword.iskeyword(x)
            and x not in ("out", "__debug__") and x not in FUNCTIONS)


def _define(name: str, inputs: tuple, forward: str, local: tuple, domain: str = "") -> Primitive:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a primitive needs a non-empty name, got {name!r}")
    inputs, local = tuple(inputs), tuple(local)
    if not 1 <= len(inputs) <= 2 or not all(map(_usable_input, inputs)):
        raise ValueError(f"a primitive takes one or two inputs named by identifiers other than 'out', Python's "
                         f"keywords and {', '.join(FUNCTIONS)}, got {inputs!r}")
    if len(set(inputs)) != len(inputs):
        raise ValueError(f"the inputs of a primitive need different names, got {inputs!r}")
    if len(local) != len(inputs):
        raise ValueError(f"{name}: give one local derivative per input ({len(inputs)}), got {len(local)}")
    _check_rule(forward, inputs, f"{name}: the forward rule")
    for x, d in zip(inputs, local):
        _check_rule(d, (*inputs, "out"), f"{name}: the local derivative ∂out/∂{x}")
    made = Primitive(name, inputs, forward, local, domain)
    known = _REGISTRY.get(name)
    if known is not None:
        if (known.inputs, known.forward, known.local) != (inputs, forward, local):
            raise ValueError(f"a primitive named {name!r} exists already with other rules: {known!r}")
        return known
    _REGISTRY[name] = made
    return made


# ---------------------------------------------------------------- the table

ADD = primitive("+", ("a", "b"), "a + b", ("1.0", "1.0"))
MUL = primitive("*", ("a", "b"), "a * b", ("b", "a"))
EXP = primitive("exp", ("x",), "exp(x)", ("out",))
RECIPROCAL = primitive("1/x", ("x",), "1.0 / x", ("-(out * out)",), domain="x ≠ 0")
# Gradient to the larger input; on a tie, half to each (as torch.maximum).
MAX = primitive("max", ("a", "b"), "where(a >= b, a, b)",
                ("where(a > b, 1.0, where(a < b, 0.0, 0.5))", "where(b > a, 1.0, where(b < a, 0.0, 0.5))"))
LOG = primitive("log", ("x",), "log(x)", ("1.0 / x",), domain="x > 0")
# The derivative at the kink x = 0 is taken as 0 (as torch.relu).
RELU = primitive("relu", ("x",), "where(x > 0.0, x, 0.0)", ("where(x > 0.0, 1.0, 0.0)",))
SIGMOID = primitive("sigmoid", ("x",), "sigmoid(x)", ("out * (1.0 - out)",))
TANH = primitive("tanh", ("x",), "tanh(x)", ("1.0 - out * out",))
# a ** b with a Value exponent: exp(b·ln a), defined for a > 0 (Value.__pow__ refuses a ≤ 0).
POWER = primitive("**", ("a", "b"), "power(a, b)", ("b * power(a, b - 1.0)", "out * log(a)"), domain="a > 0")

#: Every fixed primitive, in the order the README's table lists them.
TABLE: tuple[Primitive, ...] = (ADD, MUL, EXP, RECIPROCAL, MAX, LOG, RELU, SIGMOID, TANH, POWER)


@lru_cache(maxsize=256)
def power(exponent: float) -> Primitive:
    """The primitive ``x ** c`` for one constant exponent c, named e.g. ``**2``.

    d/dx xᶜ = c·xᶜ⁻¹, written as 0 for c = 0 and 1 for c = 1 (so that it holds at x = 0 too).
    """
    c = float(exponent)
    shown = int(c) if c.is_integer() and abs(c) < 2**53 else c
    derivative = "0.0" if c == 0.0 else "1.0" if c == 1.0 else f"{c!r} * power(x, {c - 1.0!r})"
    domain = "x > 0" if not c.is_integer() else "x ≠ 0" if c < 0 else ""
    return _define(f"**{shown}", ("x",), f"power(x, {c!r})", (derivative,), domain=domain)


def primitive_named(name: str) -> Primitive:
    """The registered primitive called ``name`` ('+', 'exp', '**2', or one a user defined)."""
    known = _REGISTRY.get(name)
    if known is not None:
        return known
    if isinstance(name, str) and name.startswith("**"):
        try:
            return power(float(name[2:]))
        except ValueError:
            pass
    raise KeyError(f"no primitive is named {name!r}; the table has {', '.join(p.name for p in TABLE)}, **c "
                   "and those defined with primitive()")
