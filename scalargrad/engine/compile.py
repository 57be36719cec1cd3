"""``compile``: trace a graph once and emit its chain rule as straight-line Python.

A compiled program is the graph's forward pass and ``backward()`` unrolled into one line
per node, each line one entry of the primitive table written out with the node's names::

    q = x + y                 # forward: the table's forward rule
    f = q * z
    df = 1.0                  # backward: ∂f/∂f
    dq += df * z              # ∂f/∂q += ∂f/∂f · (∂f/∂q's local rule, "b")
    dx += dq * 1.0            # ∂f/∂x += ∂f/∂q · (∂q/∂x's local rule, "1.0")

The same lines run on plain floats (one sample, standard library only) or, rewritten for
numpy (imported on first use), on 1-D arrays holding a whole batch of samples at once.

Roles of the leaves the output depends on: the ``inputs`` given (data placeholders,
one value per sample); **constants** (plain numbers mixed into expressions, and nodes
made only from them), baked into the code as literals; every other leaf is a
**parameter**, read from its ``.data`` at every call (so an optimizer's updates are seen
without compiling again), and its gradient is summed over the batch.

The structure is fixed when compiling, as with ``torch.jit.trace`` and ``jax.jit``: a
Python ``if`` on a Value's data while the graph was built is baked in. Data-dependent
rules of the table (max, relu, the power rule) stay data-dependent, per sample.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import keyword
import linecache
import math
import os
import re
import unicodedata
import weakref
from typing import NamedTuple

from . import autograd
from . import primitives as P
from .context import enable_grad
from .derivatives import as_values
from .errors import NonFiniteError, Overflow
from .checks import all_finite, is_real, number
from .grouping import GroupedPlan
from .value import Constant, Value, apply

_np = None
_SOURCES = itertools.count()  # a new file name for each generated source


def _numpy():
    """numpy, imported on first use (the engine itself needs only the standard library)."""
    global _np
    if _np is None:
        try:
            import numpy
        except ImportError:  # pragma: no cover - numpy is a dependency of the package
            raise ImportError("a compiled program runs batches (arrays) with numpy; install it with: pip install numpy") from None
        _np = numpy
    return _np


def _stable_sigmoid(x):
    # As the float rule: exp only ever sees -|x|, so it cannot overflow.
    np = _np
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def numpy_namespace() -> dict:
    """The table's functions for numpy arrays (elementwise, one sample per entry)."""
    np = _numpy()
    return {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _stable_sigmoid, "power": np.power,
            "where": np.where}


@functools.lru_cache(maxsize=8)
def _ones(n: int):
    """n ones, made once per batch size (read-only): a grouped program sums over samples with them."""
    ones = _np.ones(n)
    ones.flags.writeable = False
    return ones


def _require_finite_arrays(*arrays) -> None:
    # BLAS sets no floating-point flag: a matrix product that overflows is only seen in its result.
    if not all(map(all_finite, arrays)):
        raise FloatingPointError("a number is not finite")


def grouped_namespace(constants: dict) -> dict:
    """What a grouped program's code calls: the table's numpy functions and the array builders."""
    np = _numpy()
    return {**numpy_namespace(), "array": np.array, "zeros": np.zeros, "ones": _ones, "full": np.full,
            "maximum": np.maximum, "sign": np.sign, "concatenate": np.concatenate, "add": np.add,
            "finite_arrays": _require_finite_arrays, **constants}


class Run(NamedTuple):
    """What one call computed: the output, the watched nodes' values, ∂output/∂input for
    each input (per sample) and ∂output/∂parameter for each parameter (summed over the batch)."""

    output: object
    watched: tuple
    input_gradients: tuple
    parameter_gradients: tuple


# Names the generated code uses itself, so no node may be called by them.
_RESERVED = set(P.FUNCTIONS) | {"dot", "full", "zeros", "n", "seed", "finite", "__debug__"}


def _identifier(label: str, fallback: str) -> str:
    name = unicodedata.normalize("NFKC", re.sub(r"\W", "_", label)) if label else ""
    if not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED:
        name = f"{fallback}_{name}" if name and name.isidentifier() else fallback
    return name


def _literal(x: float) -> str:
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


def _paren(text: str) -> str:
    """``text`` in parentheses unless it is one name or one number."""
    try:
        float(text.strip("()"))
        return text
    except ValueError:
        return text if text.isidentifier() else f"({text})"


class Program:
    """A graph compiled to straight-line Python: see :func:`compile`.

    ``Program(output, inputs, watch=())`` also reports the values of the ``watch`` nodes
    (``run(...).watched``; nn's compiled training reads the model's outputs there).
    ``inputs`` and ``parameters`` list the program's placeholders and parameters in the
    order of its gradients.
    """

    #: How a batch runs: ``"auto"`` groups nodes into array operations (see :attr:`array_source`)
    #: where that makes at most a quarter as many steps as nodes, ``True`` always, ``False`` never
    #: (the per-node program of :attr:`batch_source`). The results agree within rounding.
    grouping = "auto"

    def __init__(self, output, inputs, watch=()):
        if not isinstance(output, Value):
            raise TypeError(f"compile() output must be a Value, got {type(output).__name__} {output!r}")
        self.inputs = as_values(inputs, "compile() inputs")
        self.watched = as_values(watch, "compile() watch")
        seen = set()
        for i, x in enumerate(self.inputs):
            if x._a is not None:
                raise ValueError(f"compile() inputs[{i}] must be a leaf (a placeholder such as Value(0.0, 'x')), "
                                 f"got a node made by {x.op!r}")
            if isinstance(x, Constant):
                raise ValueError(f"compile() inputs[{i}] is a Constant (a number mixed into an expression), not a placeholder")
            if x in seen:
                raise ValueError(f"compile() inputs[{i}] appears more than once in inputs")
            seen.add(x)
        self.output = output
        self._trace()
        # Each function is generated on its first use: for a 10^5-node graph Python's own compile()
        # takes about 1.8 s and 250 MB per function, and training runs only the batch one.
        self._functions = {}

    # ------------------------------------------------------------ tracing

    def _trace(self) -> None:
        order = autograd.topological_order(self.output)
        for w in self.watched:
            known = set(order)
            order += [v for v in autograd.topological_order(w) if v not in known]
        inputs = set(self.inputs)
        self._order = order
        self._const, self._batched = {}, {}  # node -> literal text; node -> depends on an input
        params = []
        for v in order:
            if v._a is not None and v._prim is None:
                name = f"'{v.label}' ({v.op})" if v.label else repr(v.op)
                raise TypeError(
                    f"compile() needs every operation to come from the table of primitives, and the node {name} "
                    "was made with a _backward closure (micrograd's way), whose rule Python cannot read; "
                    "define the operation with scalargrad.primitive(...) to compile it"
                )
            if v in inputs:
                self._batched[v] = True
            elif v._a is None:
                if isinstance(v, Constant):
                    self._const[v] = _literal(v.data)
                else:
                    params.append(v)
                self._batched[v] = False
            elif all(p in self._const for p in v.parents):
                self._const[v] = _literal(v.data)
                self._batched[v] = False
            else:
                self._batched[v] = any(self._batched[p] for p in v.parents)
        self.parameters = tuple(params)
        self._nodes = [v for v in order if v._a is not None and v not in self._const]
        # The backward pass covers what the output depends on (watched nodes only report values).
        root = set(autograd.topological_order(self.output))
        self._backward_nodes = [v for v in order if v in root and v not in self._const]
        # Eager's backward() gives constants gradients too, and refuses one that is not finite.
        self._constants_reached = [v for v in order if v in root and v in self._const]
        self._backward_set = set(self._backward_nodes)
        self._names, self._const_names = self._name_nodes()

    def _name_nodes(self) -> dict:
        """A variable name per non-constant node (its label where it has one) and ``d`` + name for its gradient."""
        names, used = {}, set(_RESERVED)
        counters = {"x": 0, "p": 0, "t": 0}

        def fresh(base: str) -> str:
            name, k = base, 2
            while name in used or f"d{name}" in used:
                name, k = f"{base}_{k}", k + 1
            used.update((name, f"d{name}"))
            return name

        inputs = set(self.inputs)
        for v in [*(x for x in self.inputs if x not in self._batched), *self._order]:
            if v in self._const or v in names:
                continue
            kind = "x" if v in inputs else "p" if v._a is None else "t"
            if v.label:
                names[v] = fresh(_identifier(v.label, kind))
            else:
                counters[kind] += 1
                names[v] = fresh(f"{kind}{counters[kind]}")
        constants = {v: fresh(f"c{k}") for k, v in enumerate(self._constants_reached, 1)}
        return names, constants

    def _text(self, v) -> str:
        return self._const.get(v) or self._names[v]

    def _constant_gradient_lines(self, scalar: bool) -> list:
        """Lines computing each constant's gradient (``dc1 = ...``), which eager's ``backward()``
        computes and refuses when it is not finite (a number × 1e308 can overflow there alone).
        Run only to raise: on floats every one is checked; on arrays an overflow raises (a
        constant below a node made only from parameters is checked on the batch's sum)."""
        lines, assigned = [], set()
        for v in reversed(self._order):
            if v._a is None or not any(p in self._const_names for p in v.parents):
                continue
            if v in self._const_names:
                g = f"d{self._const_names[v]}"
                if v not in assigned:
                    continue  # no gradient reached it
            elif v in self._names and v in self._backward_set:
                g = f"d{self._names[v]}"
            else:
                continue
            prim = v._prim
            mapping = dict(zip(prim.inputs, map(self._text, v.parents)), out=self._text(v))
            for parent, rule in zip(v.parents, prim.local):
                if parent in self._const_names:
                    local = self._rule(rule, mapping, scalar)
                    term = g if local == "1.0" else f"{g} * {_paren(local)}"
                    name = f"d{self._const_names[parent]}"
                    lines.append(f"{name} = {name} + {term}" if parent in assigned else f"{name} = {term}")
                    assigned.add(parent)
        return lines

    @staticmethod
    def _rule(rule: str, mapping: dict, scalar: bool) -> str:
        """A rule's text with the nodes' names in it: as :func:`P.scalar` writes it for floats
        (``where`` computes one branch), as the table writes it for arrays (numpy's ``where``)."""
        return P.scalar(rule, mapping) if scalar else P.substitute(rule, mapping)

    def _forward_line(self, v, scalar: bool) -> str:
        prim = v._prim
        return f"{self._names[v]} = {self._rule(prim.forward, dict(zip(prim.inputs, map(self._text, v.parents))), scalar)}"

    def _locals(self, v, scalar: bool):
        """(parent, local rule text) for each non-constant parent of ``v``, in argument order."""
        prim = v._prim
        mapping = dict(zip(prim.inputs, map(self._text, v.parents)), out=self._names[v])
        for parent, name, rule in zip(v.parents, prim.inputs, prim.local):
            if parent not in self._const:
                reads = P.names_in(rule)
                batched = any(self._batched[p] for p, x in zip(v.parents, prim.inputs) if x in reads) or (
                    "out" in reads and self._batched[v])
                yield parent, self._rule(rule, mapping, scalar), batched

    # ------------------------------------------------------------ the generated code

    def _signature(self, extra: str = "") -> str:
        names = [self._names[x] for x in self.inputs]
        names += [self._names[p] for p in self.parameters]
        return ", ".join([*([extra] if extra else []), *names])

    def _float_source(self, gradients: bool = True, checked: bool = False) -> str:
        out = self._text(self.output)
        lines = [f"def {'program' if gradients else 'forward'}({self._signature()}):",
                 "    # forward pass: one line per node, the table's forward rule"]
        lines += [f"    {self._forward_line(v, scalar=True)}" for v in self._nodes]
        watched = ", ".join(map(self._text, self.watched))
        if not gradients:
            if checked:
                lines.append(f"    finite({', '.join(self._names[v] for v in self._nodes)})")
            lines.append(f"    return {out}, ({watched}{',' if len(self.watched) == 1 else ''})" if self.watched
                         else f"    return {out}")
            return "\n".join(lines) + "\n"
        grads = [v for v in self._backward_nodes if v is not self.output]
        lines.append(f"    # backward pass (chain rule): d<v> = ∂{out}/∂<v>; each += adds ∂{out}/∂node · ∂node/∂v")
        if self.output in self._names:
            lines.append(f"    d{out} = 1.0")
            for start in range(0, len(grads), 10):
                lines.append(f"    {' = '.join(f'd{self._names[v]}' for v in grads[start:start + 10])} = 0.0")
        for v in reversed(self._backward_nodes):
            if v._a is not None:
                lines += [f"    d{self._names[p]} += d{self._names[v]} * {_paren(local)}"
                          for p, local, _ in self._locals(v, scalar=True)]
        if checked:
            constants = self._constant_gradient_lines(scalar=True)
            if constants:
                lines.append("    # the constants' gradients, which eager computes and refuses when not finite")
                lines += [f"    {line}" for line in constants]
            every = [self._names[v] for v in self._nodes] + [f"d{self._names[v]}" for v in self._backward_nodes]
            every += list(dict.fromkeys(line.split(" = ")[0] for line in constants))
            lines.append(f"    finite({', '.join(every)})")
        shown = f"({watched}{',' if len(self.watched) == 1 else ''}), " if self.watched else ""
        lines.append(f"    return {out}, {shown}({self._gradient_list('0.0')})")
        return "\n".join(lines) + "\n"

    def _gradient_list(self, zero: str) -> str:
        reached = set(self._backward_nodes)
        grads = [f"d{self._names[x]}" if x in reached else zero for x in self.inputs]
        grads += [f"d{self._names[p]}" if p in reached else "0.0" for p in self.parameters]
        return ", ".join(grads) + ("," if len(grads) == 1 else "")

    def _batch_source(self, gradients: bool) -> str:
        """The numpy version: parameters and the nodes made only from them stay scalars; a
        parameter's gradient is summed over the batch as it is passed on (``dot(dq, x)``)."""
        out = self._text(self.output)
        lines = [f"def batch_{'program' if gradients else 'forward'}({self._signature('n, seed')}):"]
        lines += [f"    {self._forward_line(v, scalar=False)}" for v in self._nodes]
        spread = lambda v: self._text(v) if self._batched.get(v) else f"full(n, {self._text(v)})"  # noqa: E731
        watched = "".join(f"{spread(v)}, " for v in self.watched)
        if not gradients:
            lines.append(f"    return {spread(self.output)}, ({watched})" if self.watched else f"    return {spread(self.output)}")
            return "\n".join(lines) + "\n"
        if self.output in self._names:
            lines.append(f"    d{out} = full(n, seed)" if self._batched[self.output] else f"    d{out} = seed * n")
        assigned = {self.output}
        for v in reversed(self._backward_nodes):
            if v._a is None:
                continue
            g = f"d{self._names[v]}"
            for p, local, local_batched in self._locals(v, scalar=False):
                if self._batched[p] or not self._batched[v]:
                    term = g if local == "1.0" else f"{g} * {_paren(local)}"
                elif local_batched:
                    term = f"dot({g}, {local})"
                else:
                    term = f"{g}.sum()" if local == "1.0" else f"{g}.sum() * {_paren(local)}"
                name = f"d{self._names[p]}"
                lines.append(f"    {name} = {name} + {term}" if p in assigned else f"    {name} = {term}")
                assigned.add(p)
        constants = self._constant_gradient_lines(scalar=False)
        if constants:
            lines.append("    # the constants' gradients, only so that one that overflows raises, as eager refuses it")
            lines += [f"    {line}" for line in constants]
        shown = f"({watched}), " if self.watched else ""
        lines.append(f"    return {spread(self.output)}, {shown}({self._gradient_list('zeros(n)')})")
        return "\n".join(lines) + "\n"

    def _define(self, source: str, namespace: dict):
        scope = dict(namespace)
        scope["finite"] = _require_finite
        if namespace is not P.FLOATS:
            np = _np
            scope.update(dot=np.dot, full=np.full, zeros=np.zeros)
        filename = f"<compiled {self._text(self.output)} #{id(self)}:{next(_SOURCES)}>"
        # In linecache while the program lives (tracebacks show the generated line), then dropped:
        # a 6,000-node program's source is about 1 MB, and every fit(compile=True) makes programs.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        weakref.finalize(self, linecache.cache.pop, filename, None)
        exec(builtins.compile(source, filename, "exec"), scope)  # noqa: S102 - generated from the table's checked text
        return scope[source[4:source.index("(")]]

    @property
    def source(self) -> str:
        """The generated Python for one sample of floats: the forward pass, then the backward
        pass, one line per node, named after the nodes' labels (``print(program)`` shows it)."""
        return self._float_source()

    @property
    def batch_source(self) -> str:
        """The numpy version of ``source`` that runs on arrays (a whole batch per line)."""
        return self._batch_source(gradients=True)

    def __str__(self) -> str:
        return self.source

    def __reduce__(self):
        # Pickled as its graph (which pickles at any depth) and compiled again when loaded; a
        # grouping chosen for this program goes with it.
        chosen = {"grouping": self.__dict__["grouping"]} if "grouping" in self.__dict__ else None
        return Program, (self.output, self.inputs, self.watched), chosen

    def __repr__(self) -> str:
        names = ", ".join(self._names[x] for x in self.inputs)
        return (f"<compiled program: {len(self._nodes)} nodes, inputs ({names}), "
                f"{len(self.parameters)} parameter(s); print() it to read its code>")

    # ------------------------------------------------------------ running

    def __call__(self, *args):
        """The output for these inputs: a float for floats, an array of N outputs for arrays of N samples."""
        return self.run(*args, gradients=False).output

    def grad(self, *args) -> tuple:
        """``(output, input_gradients)``: ∂output/∂input for each input, per sample. No ``.grad`` changes."""
        run = self.run(*args)
        return run.output, run.input_gradients

    def backward(self, *args, seed: float = 1.0):
        """The output; adds to each parameter's ``.grad`` what eager ``backward()`` would add,
        summed over the batch (or nothing, raising NonFiniteError, if any number is not finite).

        ``seed`` is ∂loss/∂output for every sample (1.0: the output is the loss)."""
        return self.run(*args, seed=seed, accumulate=True).output

    def run(self, *args, gradients: bool = True, seed: float = 1.0, accumulate: bool = False,
            array: bool = False) -> Run:
        """The output, the watched values and (with ``gradients``) the input and parameter
        gradients (see :class:`Run`); with ``accumulate`` the parameter gradients are also
        added to ``.grad`` (what ``backward`` does), else nothing is written. With ``array``
        the parameter gradients come as one numpy array (float64, in the order of
        :attr:`parameters`) instead of a tuple of floats: for code that updates parameters as
        arrays, as ``nn.TrainingStep`` does."""
        columns, n = self._arguments(args)
        seed = number(seed, "seed")
        params = self._parameter_values()
        if n is None:
            run = self._run_floats(columns, params, gradients, seed)
        else:
            run = self._run_batch(columns, n, params, gradients, seed)
        if not gradients:
            return run
        grads = run.parameter_gradients
        is_array = type(grads) is not tuple  # a grouped program's
        floats = grads.tolist() if is_array else grads
        self._check_sums(floats, "summed over the batch" if n is not None else "times the seed")
        if accumulate:
            self.accumulate(floats)
        if array != is_array:
            run = Run(run.output, run.watched, run.input_gradients, _numpy().array(grads) if array else tuple(floats))
        return run

    def _parameter_values(self) -> list:
        """Each parameter's ``.data``, read now; TypeError naming a parameter whose data is not a number."""
        values = [p.data for p in self.parameters]
        if set(map(type, values)) <= {float}:  # the usual case, checked at C speed
            return values
        for p, x in zip(self.parameters, values):
            if not is_real(x):
                raise TypeError(f"the parameter {self._names[p]} ({p!r}) has data {type(x).__name__} {x!r}, "
                                "not a number; set its .data to a finite float")
        return values

    def _check_sums(self, gradients, how: str) -> None:
        if math.isfinite(sum(gradients)):  # inf and nan carry through a sum (which may also overflow)
            return
        for p, g in zip(self.parameters, gradients):
            if not math.isfinite(g):
                raise Overflow(f"backpropagation: the gradient of the parameter {self._names[p]} ({p!r}) {how} "
                               f"would be {g!r}, not a finite number; no .grad was changed")

    def accumulate(self, gradients) -> None:
        """Add ``gradients`` (one per parameter, as ``run(...).parameter_gradients``) to the
        parameters' ``.grad``: all of them, or none (NonFiniteError) if a sum would not be finite."""
        autograd.add_to_grads(self.parameters, gradients, lambda p: f"the parameter {self._names[p]} ({p!r})")

    def _arguments(self, args):
        if len(args) != len(self.inputs):
            raise TypeError(f"this program takes {len(self.inputs)} input(s) "
                            f"({', '.join(self._names[x] for x in self.inputs)}), got {len(args)}")
        columns, n = [], None
        for i, a in enumerate(args):
            if _np is not None and type(a) is _np.ndarray and a.dtype == _np.float64 and a.ndim == 1 and len(a) and (
                    n is None or len(a) == n) and all_finite(a):  # the usual case, in one test
                n = len(a)
                columns.append(a)
                continue
            if type(a).__module__ == "numpy" and type(a).__name__ == "ndarray":
                np = _numpy()
                what = self._input_name
                if a.ndim != 1:
                    raise ValueError(f"{what(i)} must be a number or a 1-D array (one sample per entry), got a {a.ndim}-D array of shape {a.shape}")
                if a.dtype.kind not in "iuf":
                    raise TypeError(f"{what(i)} must hold real numbers, got an array of dtype {a.dtype}")
                if len(a) == 0:
                    raise ValueError(f"{what(i)} is an empty array; a batch needs at least one sample")
                if n is not None and len(a) != n:
                    raise ValueError(f"the input arrays must all have the same length; {what(i)} has {len(a)}, an earlier one {n}")
                n = len(a)
                a = np.asarray(a, dtype=np.float64)  # no copy of a float64 array: nothing writes into it
                if not np.isfinite(a).all():
                    bad = np.flatnonzero(~np.isfinite(a))
                    raise ValueError(f"{what(i)} must hold finite numbers, got {float(a[bad[0]])!r} at index {bad[0]}")
            else:
                a = number(a, f"{self._input_name(i)} (a number, or a 1-D numpy array for a batch)")
            columns.append(a)
        return columns, n

    def _input_name(self, i: int) -> str:
        return f"input {i} ({self._names[self.inputs[i]]})"

    def _plan(self):
        """The grouped plan batches run through (see :attr:`grouping`), or None for the per-node program."""
        chosen = self.__dict__.get("_chosen")
        if chosen is not None and chosen[0] is self.grouping:
            return chosen[1]
        if not (self.grouping is True or self.grouping is False or self.grouping == "auto"):
            raise ValueError(f"Program.grouping must be 'auto', True or False, got {self.grouping!r}")
        plan = None
        if self.grouping is not False and self._batched.get(self.output):
            plan = self._grouped_plan
            if self.grouping == "auto" and len(plan.groups) * 4 > len(self._nodes) or plan.shared_constants:
                plan = None
        self._chosen = (self.grouping, plan)
        return plan

    @functools.cached_property
    def _grouped_plan(self) -> GroupedPlan:
        """The groups of this graph (found on first use; whether batches run them is :meth:`_plan`'s choice)."""
        return GroupedPlan(self)

    @property
    def grouped(self) -> bool:
        """Whether a batch runs the grouped program (:attr:`array_source`), as :attr:`grouping` decides."""
        return self._plan() is not None

    @property
    def array_view(self) -> str:
        """The grouped program in the lecture's matrix notation, one line per group: a layer's
        sums as ``z1 = W1 @ x + b1``, its activations as ``h1 = relu(z1)``, then the backward
        pass as ``dW1 = dz1 @ x.T`` (the scalar chain rule of ``print(program)``, for a layer at once)."""
        if not self._batched.get(self.output):
            return "# the output does not depend on the inputs: there is nothing to group\n"
        return self._grouped_plan.view()

    @property
    def array_source(self) -> str:
        """The grouped program a batch runs: one line per group of nodes (a layer's sums as
        ``W @ a + b``, its activations as one array operation), forward then backward."""
        if not self._batched.get(self.output):
            return "# the output does not depend on the inputs: a batch runs the per-node program\n"
        return self._grouped_plan.source(gradients=True)

    def _function(self, batch: bool, gradients: bool, per_node: bool = False):
        """The generated function for floats or arrays, with or without the backward pass (made
        once); for arrays the grouped one where :meth:`_plan` says so, unless ``per_node``."""
        plan = self._plan() if batch and not per_node else None
        function = self._functions.get((batch, gradients, plan is not None))
        if function is None:
            if plan is not None:
                function = self._define(plan.source(gradients), grouped_namespace(plan.constants))
            elif batch:
                function = self._define(self._batch_source(gradients), numpy_namespace())
            else:
                function = self._define(self._float_source(gradients=gradients, checked=True), P.FLOATS)
            self._functions[batch, gradients, plan is not None] = function
        return function

    def _run_floats(self, values, params, gradients, seed, sample=None) -> Run:
        function = self._function(batch=False, gradients=gradients)
        try:
            result = function(*values, *params)
        except (ArithmeticError, ValueError):
            self._replay(values, gradients, sample)  # raises eager's error for these numbers
            raise
        out, watched, grads = self._parts(result, gradients)
        if gradients and seed != 1.0:
            grads = tuple(g * seed for g in grads)
            self._refuse_scaled(grads, seed, math.isfinite)
        k = len(self.inputs)
        return Run(out, watched, grads[:k], grads[k:])

    def _refuse_scaled(self, grads, seed, finite) -> None:
        """Overflow if an input's gradient times ``seed`` is not finite (each sample's own are)."""
        for x, g in zip(self.inputs, grads):
            if not finite(g):
                raise Overflow(f"the gradient of the input {self._names[x]} times the seed {seed!r} would not be "
                               "finite; nothing was changed")

    def _parts(self, result, gradients) -> tuple:
        """(output, watched values, gradients) from what a generated function returned."""
        if self.watched:
            return result if gradients else (*result, ())
        return (result[0], (), result[1]) if gradients else (result, (), ())

    def _batch_bytes(self, n: int, plan) -> int:
        """What a batch of n samples needs for its arrays: n values and n gradients for each input
        and each node (or each row of ``plan``'s groups)."""
        return 2 * 8 * n * ((len(plan.made) if plan is not None else len(self._nodes)) + len(self.inputs))

    def _refuse_oversized(self, n: int, plan) -> None:
        """MemoryError, before any array is made, for a batch whose arrays would need more than
        half the machine's memory."""
        need = self._batch_bytes(n, plan)
        memory = _physical_memory()
        if memory and need > memory / 2:
            raise MemoryError(f"a batch of {n:,} samples through this {len(self._nodes):,}-node program needs about "
                              f"{_bytes(need)} for its arrays, more than half this machine's {_bytes(memory)}; "
                              "run it in smaller batches")

    def _run_grouped(self, columns, n, params, gradients, seed):
        """The usual batch, lean: a grouped program on arrays (no number broadcast), every
        parameter finite, no operation failing. None otherwise (``_run_batch`` then takes the
        long way, which finds the failing sample and raises eager's error)."""
        function = self._functions.get((True, gradients, True))
        if function is None or n > self._largest_batch or not math.isfinite(sum(params)):
            return None
        try:
            with _np.errstate(all="raise", under="ignore"):
                result = function(n, seed, *columns, *params)
        except (ArithmeticError, ValueError):
            return None
        out, watched, grads = self._parts(result, gradients)
        k = len(self.inputs)
        return Run(out, watched, grads[:k], grads[k] if gradients else ())

    @functools.cached_property
    def _largest_batch(self) -> float:
        """The most samples a grouped batch can have that ``_refuse_oversized`` lets through."""
        memory = _physical_memory()
        return memory / 2 / self._batch_bytes(1, self._grouped_plan) if memory else math.inf

    def _run_batch(self, columns, n, params, gradients, seed) -> Run:
        plan = self._plan()
        grouped = plan is not None
        if grouped and all(type(c) is not float for c in columns):
            run = self._run_grouped(columns, n, params, gradients, seed)
            if run is not None:
                return run
        np = _numpy()
        self._refuse_oversized(n, plan)
        function = self._function(batch=True, gradients=gradients)
        columns = [np.full(n, c) if isinstance(c, float) else c for c in columns]  # numbers broadcast
        # The per-node program computes on numpy scalars (numpy's errors); a grouped one takes floats into S.
        args = (n, seed, *columns, *(params if grouped else map(np.float64, params)))
        k = len(self.inputs)
        try:
            if not all(map(math.isfinite, params)):  # set to inf or nan by hand: eager decides, sample by sample
                raise FloatingPointError
            with np.errstate(all="raise", under="ignore"):
                result = function(*args)
            out, watched, grads = self._parts(result, gradients)
            # An inf that no operation flagged (inf * 2); a grouped program checks its own (it
            # starts from finite numbers, and every array operation flags, or is checked).
            if not grouped and not all(map(all_finite, (out, *watched, *grads[:k]))):
                raise FloatingPointError
        except (ArithmeticError, ValueError):
            # Find the first sample whose numbers are not finite, and raise eager's error for it;
            # where none is, numpy's where() computed a branch it did not take, and only that failed.
            for i in range(n):
                self._run_floats([float(c[i]) for c in columns], params, gradients, 1.0, i)
            # No sample fails: run the table's rules as written, per node (a grouped program's cheaper
            # forms, maximum and sign, differ from them where a parameter is nan or a − b overflows).
            grouped = False
            with np.errstate(all="ignore"):
                result = self._function(batch=True, gradients=gradients, per_node=True)(
                    n, seed, *columns, *map(np.float64, params))
            out, watched, grads = self._parts(result, gradients)
            if not all(map(all_finite, (out, *watched))):
                raise NonFiniteError("the compiled batch computed a number that is not finite where each sample's "
                                     "own program does not (numpy's and math's functions differ at the edge)") from None
            self._refuse_scaled(grads[:k], seed, all_finite)
        if grouped:  # its input gradients are rows of one array, or new arrays; its parameters' one array
            return Run(out, tuple(watched), grads[:k], grads[k] if gradients else ())
        grads = tuple(g.copy() if any(g is h for h in grads[:i]) else g for i, g in enumerate(grads[:k])) + tuple(
            map(float, grads[k:]))
        return Run(out, tuple(watched), grads[:k], grads[k:])

    def _replay(self, values, gradients, sample) -> None:
        """Build this sample's graph eagerly (the graph compiled is not touched) and raise the
        engine's own NonFiniteError (of the same kind), naming the operation, and the sample in a batch."""
        made = {x: Value(v, x.label) for x, v in zip(self.inputs, values)}
        where = f"sample {sample}: " if sample is not None else ""
        try:
            with enable_grad():
                for v in self._order:
                    if v not in made:
                        made[v] = v if v._a is None or v in self._const else apply(v._prim, *(made[p] for p in v.parents))
                if gradients:
                    autograd.float_gradients(autograd.topological_order(made[self.output]))
        except NonFiniteError as error:
            raise type(error)(f"{where}{error}") from None
        raise NonFiniteError(f"{where}the compiled program computed a number that is not finite")


def _bytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


@functools.lru_cache(maxsize=None)
def _physical_memory() -> int:
    """This machine's memory in bytes, or 0 where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def _require_finite(*numbers_) -> None:
    if not all(map(math.isfinite, numbers_)):
        raise FloatingPointError("a number is not finite")


def compile(output, inputs) -> Program:  # noqa: A001 - scalargrad.compile, as torch.compile
    """Compile the graph of ``output`` to straight-line Python, for the placeholders ``inputs``.

    ``inputs``: the leaf Values that stand for one sample's data (x, y). Every other leaf
    the output depends on is a parameter (read from ``.data`` at each call) or a constant
    (a plain number in an expression; baked in). Then, with floats or 1-D numpy arrays
    (a batch of samples, all the same length)::

        program(*args)           # the output
        program.grad(*args)      # (output, ∂output/∂input for each input), per sample
        program.backward(*args)  # the output; each parameter's .grad += ∂output/∂parameter, summed
        print(program)           # the code: one line per node, forward then backward

    The results equal building the graph eagerly for each sample and calling ``backward()``
    (interior nodes get no ``.grad``). A number that is not finite raises NonFiniteError
    naming the operation (and the sample), changing nothing. The structure is fixed now:
    a Python ``if`` on a Value's data taken while the graph was built is baked in.
    """
    return Program(output, inputs)
