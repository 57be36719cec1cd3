"""Grouped programs: a compiled graph run as a few array operations over a whole batch.

The per-node batch program (``Program.batch_source``) runs one numpy call per node. A graph
built from neurons is full of structure that call throws away: the ten products ``wⱼ·x`` of a
layer are one primitive at one depth over different operands, and a neuron's sum is a linear
combination. A grouped program keeps that structure:

* **linear groups**: each sum ``b + Σⱼ wⱼ·aⱼ`` (a tree of ``+`` over products of a parameter or
  constant ``wⱼ`` with a batch value ``aⱼ``, whose inner nodes feed nothing else) is one row of
  ``z = W @ A + b``; the sums of one depth over the same operands (a layer's neurons) are one
  matrix product. Backward: ``dA = Wᵀ @ dz``, ``dW = dz @ Aᵀ`` (the chain rule for a layer at
  once: the lecture's matrix calculus), ``db = Σ dz`` over the batch.
* **elementwise groups**: the nodes of one primitive at one depth whose operands are already
  computed (a layer's relus) apply the table's forward and local rules to (rows × samples)
  arrays, as the per-node batch program applies them to one row.

Values live in one (rows × samples) array per group; an operand is a view of the group that
made it where its rows come in order, else gathered by an index. Gradients of shared nodes are
added (``numpy.add.at`` where an index repeats). Parameters, and nodes made only from them, are
scalars in a vector ``S``; their gradients (summed over the batch) in ``dS``.

A matrix product adds a sum in another order than the node-by-node program: the results agree
within rounding (the README states the tolerance, and the tests check it). BLAS raises no
floating-point flag, so every group's values and gradients are checked to be finite, and a
batch that fails is sent down the per-node path, which names the failing sample as eager does.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from . import primitives as P


@dataclass
class _Group:
    name: str
    kind: str  # "linear" or a primitive's name
    level: int
    nodes: list
    prim: object = None
    operands: list = field(default_factory=list)  # linear: the batch values the sums read (W's columns)
    # elementwise: per argument slot, the kind of every row's operand ("b" batch, "s" scalar, "c" constant)
    slots: tuple = ()


class GroupedPlan:
    """The groups of a traced :class:`~scalargrad.engine.compile.Program` and the Python that runs them.

    ``source`` is the generated function ``grouped(n, seed, *values)`` (inputs' arrays, then
    the parameters' values), returning what the per-node batch function returns, except that
    the parameters' gradients come as one array (the last item of the gradients)."""

    def __init__(self, program):
        self.p = program
        self.constants = {}  # name -> numpy array baked into the function
        self._plan()

    # ------------------------------------------------------------ finding the groups

    def _plan(self) -> None:
        p = self.p
        order = p._order
        consumers = {}
        for v in order:  # (_a and _b, a node's parents, read directly: a 10^5-node plan takes 0.15 s, not 0.3)
            if v._a is not None:
                consumers[v._a] = consumers.get(v._a, 0) + 1
                if v._b is not None:
                    consumers[v._b] = consumers.get(v._b, 0) + 1
        pinned = {p.output, *p.watched}
        batched, const = p._batched, p._const
        inputs = set(p.inputs)
        # Scalars: parameters, then the nodes made only from parameters (and constants).
        self.scalars = list(p.parameters) + [v for v in p._nodes if not batched[v]]
        # A constant that feeds two nodes, or is made from constants, has a gradient summed from
        # several terms; the grouped code checks one term per constant, so such a graph runs per node.
        self.shared_constants = any(v._a is not None or consumers.get(v, 0) > 1 for v in p._constants_reached)
        self.sindex = {v: i for i, v in enumerate(self.scalars)}

        folded = set()  # the inner nodes of sums: a + feeding only a +, or c * a (one batch operand)
        for v in order:
            if v._prim is P.ADD and batched[v]:
                for u in (v._a, v._b):
                    if consumers[u] != 1 or u in pinned or u._a is None or u in const or not batched[u]:
                        continue  # not an inner node of this sum
                    if u._prim is P.ADD or (u._prim is P.MUL and batched[u._a] != batched[u._b]):
                        folded.add(u)
        self.sums = {}
        for v in order:
            if v._prim is P.ADD and batched[v] and v not in folded:
                self.sums[v] = self._expand(v, folded)
        self.made = [v for v in p._nodes if batched[v] and v not in folded]
        level = {x: 0 for x in inputs}

        def operands(v):
            if v in self.sums:
                return [a for _, a in self.sums[v][0]]
            return [u for u in v.parents if batched.get(u) and u not in const]

        keyed = {}
        for v in self.made:
            ops = operands(v)
            level[v] = 1 + max((level[a] for a in ops), default=0)
            if v in self.sums:
                key = ("linear", level[v], frozenset(ops))
            else:
                kinds = tuple("b" if batched[u] and u not in const else "c" if u in const else "s" for u in v.parents)
                key = (v._prim.name, level[v], kinds, v._prim)
            keyed.setdefault(key, []).append(v)
        self.groups = []
        counters = {}
        position = {v: i for i, v in enumerate(order)}
        for key, nodes in sorted(keyed.items(), key=lambda kv: (kv[0][1], position[kv[1][0]])):
            kind = "linear" if key[0] == "linear" else key[0]
            base = "z" if kind == "linear" else _base(kind)
            counters[base] = counters.get(base, 0) + 1
            group = _Group(f"{base}{counters[base]}", kind, key[1], nodes)
            if kind == "linear":
                group.operands = sorted(key[2], key=lambda a: position[a])
            else:
                group.prim, group.slots = key[3], key[2]
            self.groups.append(group)
        self.location = {x: ("x", i) for i, x in enumerate(p.inputs)}
        self.sizes = {"x": len(p.inputs), **{g.name: len(g.nodes) for g in self.groups}}
        for group in self.groups:
            for row, v in enumerate(group.nodes):
                self.location[v] = (group.name, row)

    def _expand(self, root, folded) -> tuple[list, list]:
        """``root`` (a ``+``) as ([(coefficient ref, batch operand)], [bias refs]); a ref is
        ("s", scalar index), ("c", number) for a constant node, or ("1", 1.0) for an operand
        added as it is."""
        terms, bias = [], []
        stack = [root]
        p = self.p
        while stack:
            v = stack.pop()
            for u in (v._b, v._a):  # (a + is binary: its parents in reverse)
                if u in folded and u._prim is P.ADD:
                    stack.append(u)
                elif u in folded:  # c * a
                    a, b = u._a, u._b
                    c, x = (b, a) if p._batched[a] else (a, b)
                    terms.append((self._ref(c), x))
                elif p._batched[u] and u not in p._const:
                    terms.append((("1", 1.0), u))  # the operand itself: coefficient 1, no constant node
                else:
                    bias.append(self._ref(u))
        return terms, bias

    def _ref(self, v):
        return ("c", float(v.data)) if v in self.p._const else ("s", self.sindex[v])

    # ------------------------------------------------------------ writing the code

    def _constant(self, prefix: str, array) -> str:
        name = f"{prefix}{len(self.constants)}"
        self.constants[name] = array
        return name

    def _index_array(self, positions) -> str:
        """The name of ``positions`` baked into the function as an index array."""
        import numpy as np

        return self._constant("I", np.array(positions))

    def _rows(self, nodes, into: str) -> tuple[str, list]:
        """An expression for the rows of ``nodes`` (batch values), and the lines that make it."""
        import numpy as np

        where = [self.location[v] for v in nodes]
        sources = list(dict.fromkeys(g for g, _ in where))
        if len(sources) == 1:
            g = sources[0]
            rows = [r for _, r in where]
            return self._take(g, rows), []
        parts = [self._take(g, [r for h, r in where if h == g]) for g in sources]
        lines = [f"{into} = concatenate(({', '.join(parts)},))"]
        order = [i for g in sources for i, (h, _) in enumerate(where) if h == g]
        if order != list(range(len(order))):
            inverse = np.argsort(np.array(order))
            lines.append(f"{into} = {into}[{self._index_array(inverse)}]")
        return into, lines

    def _index(self, positions: list) -> str:
        """``positions`` as an index: a slice ``a:b`` where they run on by one (a view), else the
        name of an index array baked into the function (a gather)."""
        if positions == list(range(positions[0], positions[0] + len(positions))):
            return f"{positions[0]}:{positions[0] + len(positions)}"
        return self._index_array(positions)

    def _take(self, g: str, rows: list, prefix: str = "") -> str:
        """The rows ``rows`` of group ``g``'s array (or of its gradient, prefix "d")."""
        name = prefix + g
        return name if rows == list(range(self.sizes[g])) else f"{name}[{self._index(rows)}]"

    def _scatter(self, nodes, term: str, temp: str) -> list:
        """Backward steps adding ``term`` (one row per node) into the nodes' gradients: tuples
        (group whose gradient is written, whether all its rows are, the line)."""

        where = [self.location[v] for v in nodes]
        steps = []
        sources = list(dict.fromkeys(g for g, _ in where))
        if len(sources) > 1 and not _simple(term):
            steps.append((None, False, f"{temp} = {term}"))
            term = temp
        for g in sources:
            picks = [i for i, (h, _) in enumerate(where) if h == g]
            rows = [where[i][1] for i in picks]
            part = term if len(sources) == 1 else f"{term}[{self._index(picks)}]"
            if len(set(rows)) < len(rows):
                steps.append((g, False, f"add.at(d{g}, {self._index_array(rows)}, {part})"))
                continue
            target = self._take(g, rows, "d")
            steps.append((g, target == f"d{g}", f"{target} += {part}"))
        return steps

    def _scalar_column(self, refs) -> str:
        """A (rows × 1) column of scalars or constants, or one literal where every row has the same constant."""
        import numpy as np

        if all(kind == "c" for kind, _ in refs):
            values = {x for _, x in refs}
            if len(values) == 1:
                return repr(values.pop())
            return self._constant("C", np.array([x for _, x in refs])[:, None])
        return f"S[{self._index([i for _, i in refs])}, None]"

    def _add_scalars(self, refs, values: str) -> str:
        """A line adding ``values`` (one per ref) into ``dS`` at the refs' scalar indices."""

        idx = [i for _, i in refs]
        if len(set(idx)) == len(idx):
            return f"dS[{self._index(idx)}] += {values}"
        return f"add.at(dS, {self._index_array(idx)}, {values})"

    def source(self, gradients: bool = True) -> str:
        p, lines = self.p, []
        ni, npar = len(p.inputs), len(p.parameters)
        lines.append("def grouped(n, seed, *values):")
        lines.append(f"    x = array(values[:{ni}]).reshape({ni}, n)  # the inputs, one row each")
        lines.append(f"    S = zeros({len(self.scalars)})  # parameters, then nodes made only from them")
        lines.append(f"    S[:{npar}] = values[{ni}:]")
        sname = lambda v: f"S[{self.sindex[v]}]"  # noqa: E731
        for v in self.scalars[npar:]:
            mapping = dict(zip(v._prim.inputs, (p._const.get(u) or sname(u) for u in v.parents)))
            lines.append(f"    {sname(v)} = {P.substitute(v._prim.forward, mapping)}")
        backward = []  # (group, lines) filled while writing the forward pass
        for group in self.groups:
            forward, back = (self._linear if group.kind == "linear" else self._elementwise)(group)
            lines += [f"    {line}" for line in forward]
            backward.append((group, back))
        products = [g.name for g in self.groups if g.kind == "linear" and len(g.operands) > 1]
        if products:
            lines.append(f"    finite_arrays({', '.join(products)})  # matrix products raise no flag")
        out = self._value(p.output)
        watched = "".join(f"{self._value(v)}, " for v in p.watched)
        if not gradients:
            lines.append(f"    return {out}, ({watched})" if p.watched else f"    return {out}")
            return "\n".join(lines) + "\n"
        reached = set(p._backward_nodes)
        lines.append("    # backward: each group's gradient, in reverse")
        lines.append(f"    dS = zeros({len(self.scalars)})")
        if any("ones_n" in line for _, back in backward for _, _, line, *_ in back):
            lines.append("    ones_n = ones(n)")
        live = [g for g in self.groups if any(v in reached for v in g.nodes)]
        g, row = self.location[p.output]
        if self.sizes[g] == 1:
            lines.append(f"    d{g} = full((1, n), seed)")
        else:
            lines += [f"    d{g} = zeros(({self.sizes[g]}, n))", f"    d{g}[{row}] = seed"]
        written, from_products = {g}, set()  # gradients written at all; those written from a matrix product
        for group, back in reversed(backward):
            if group not in live:
                continue
            for target, whole, line, *product in back:
                if product and product[0] and target is not None:
                    from_products.add(target)
                if target is not None and target not in written:
                    written.add(target)
                    if whole:  # the first write covers every row: it assigns (a copy, where it would be a view)
                        part = line.split(" += ", 1)[1]
                        line = f"d{target} = {part}.copy()" if _simple(part) else f"d{target} = {part}"
                    else:
                        lines.append(f"    d{target} = zeros(({self.sizes[target]}, n))")
                lines.append(f"    {line}")
        if from_products:
            lines.append(f"    finite_arrays({', '.join(f'd{g}' for g in sorted(from_products))})")
        for v in reversed(self.scalars[npar:]):
            if v not in reached:
                continue
            mapping = dict(zip(v._prim.inputs, (p._const.get(u) or sname(u) for u in v.parents)), out=sname(v))
            for u, rule in zip(v.parents, v._prim.local):
                if u not in p._const:
                    lines.append(f"    d{sname(u)} += d{sname(v)} * ({P.substitute(rule, mapping)})")
        grads = [f"dx[{i}]" if x in reached and "x" in written else "zeros(n)" for i, x in enumerate(p.inputs)]
        lines.append(f"    return {out}, {f'({watched}), ' if p.watched else ''}({''.join(g + ', ' for g in grads)}dS[:{npar}])")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------ the view for reading

    def view(self) -> str:
        """The grouped program in the lecture's matrix notation, one line per group: forward
        (``z1 = W1 @ x + b1``, ``h1 = relu(z1)``), then backward (``dW1 = dz1 @ x.T``)."""
        p = self.p
        lines = ["# forward: one line per group of nodes (a layer's sums are z = W @ a + b)"]
        for group in self.groups:
            k = len(group.nodes)
            if group.kind == "linear":
                bias = any(self.sums[v][1] for v in group.nodes)
                W = f"W{group.name[1:]}"
                line = f"{group.name} = {W} @ {self._math_rows(group.operands)}{f' + b{group.name[1:]}' if bias else ''}"
                m = len(group.operands)
                fixed = "" if self._weighted(group) else " of constants"
                note = f"{_count(k, 'sum')} of {_count(m, 'input')}: {W} is {k}×{m}{fixed}"
            else:
                args = self._math_args(group)
                line = f"{group.name} = {_call(group.prim, args)}"
                note = f"{k} × {group.prim.name}"
            lines.append(f"{line:<40} # {note}")
        scalars = len(self.scalars) - len(p.parameters)
        if scalars:
            lines.append(f"# and {scalars} node(s) made only from parameters, computed once per batch as numbers")
        out = self.location.get(p.output)
        lines.append(f"# backward: d<name> = ∂output/∂<name> for every sample, from d{out[0]}[{out[1]}] = 1")
        reached = set(p._backward_nodes)
        for group in reversed(self.groups):
            if not any(v in reached for v in group.nodes):
                continue
            d = f"d{group.name}"
            if group.kind == "linear":
                n = group.name[1:]
                A = self._math_rows(group.operands)
                parts = [f"dW{n} = {d} @ {A}.T"] if self._weighted(group) else []
                if any(ref[0] == "s" for v in group.nodes for ref in self.sums[v][1]):
                    parts.append(f"db{n} = {d}.sum(over samples)")
                parts.append(f"d{A} += W{n}.T @ {d}")
                lines.append(",  ".join(parts))
            else:
                args = self._math_args(group)
                mapping = dict(zip(group.prim.inputs, args), out=group.name)
                for kind, arg, rule in zip(group.slots, args, group.prim.local):
                    if kind != "c":
                        local = P.substitute(rule, mapping)
                        lines.append(f"d{arg} += {d}" + ("" if local == "1.0" else f" * {_paren(local)}")
                                     + ("   (summed over samples)" if kind == "s" else ""))
        return "\n".join(lines) + "\n"

    def _weighted(self, group) -> bool:
        """Whether a linear group's W holds parameters (else only constants: no dW)."""
        return any(ref[0] == "s" for v in group.nodes for ref, _ in self.sums[v][0])

    def _math_rows(self, nodes) -> str:
        where = [self.location[v] for v in nodes]
        sources = list(dict.fromkeys(g for g, _ in where))
        parts = []
        for g in sources:
            rows = [r for h, r in where if h == g]
            if g == "x":  # the inputs, by their own names
                parts += [self.p._names[self.p.inputs[r]] for r in rows]
            elif rows == list(range(self.sizes[g])):
                parts.append(g)
            elif len(rows) == 1:
                parts.append(f"{g}[{rows[0]}]")
            elif rows == list(range(rows[0], rows[0] + len(rows))):
                parts.append(f"{g}[{rows[0]}:{rows[0] + len(rows)}]")
            else:
                parts.append(f"{g}[{', '.join(map(str, rows))}]")
        return parts[0] if len(parts) == 1 else f"[{'; '.join(parts)}]"

    def _math_args(self, group) -> list:
        args = []
        for j, kind in enumerate(group.slots):
            column = [v.parents[j] for v in group.nodes]
            if kind == "b":
                args.append(self._math_rows(column))
            elif kind == "c" and len({u.data for u in column}) == 1:
                args.append(repr(float(column[0].data)))
            else:
                args.append("c" if kind == "c" else "p")  # constants, parameters: one number per row
        return args

    def _value(self, v) -> str:
        if v in self.location:
            g, row = self.location[v]
            return f"{g}[{row}]"
        if v in self.p._const:
            return f"full(n, {self.p._const[v]})"
        return f"full(n, S[{self.sindex[v]}])"

    def _linear(self, group) -> tuple[list, list]:
        """A linear group's forward and backward lines. Operands whose every coefficient is a
        constant (the target in ``prediction - target``) get a constant matrix of their own, so
        that W's product, and its gradient dW, read no operand W does not weigh."""
        import numpy as np

        name, k = group.name, len(group.nodes)
        column = {a: j for j, a in enumerate(group.operands)}
        weighed = {column[a] for v in group.nodes for ref, a in self.sums[v][0] if ref[0] == "s"}
        parts = [[a for a in group.operands if column[a] in weighed], [a for a in group.operands if column[a] not in weighed]]
        if not all(parts):  # one kind of operand only: one matrix
            parts = [group.operands]
        bias_rows, bias_refs, bias_fixed = [], [], np.zeros(k)
        for i, v in enumerate(group.nodes):
            for ref in self.sums[v][1]:
                if ref[0] == "c":
                    bias_fixed[i] += ref[1]
                else:
                    bias_rows.append(i)
                    bias_refs.append(ref)
        forward, back = [], []
        for p, operands in enumerate(parts):
            suffix = "" if p == 0 else "c"
            f, b_ = self._linear_part(group, operands, suffix, first=p == 0)
            forward += f
            back += b_
        b = f"b{name[1:]}"
        has_bias = bool(bias_refs) or bias_fixed.any()
        if has_bias:
            if bias_rows == list(range(k)) and not bias_fixed.any():
                forward.append(f"{b} = {self._gather_scalars(bias_refs)}")
            else:
                start = f"{self._constant('C', bias_fixed)}.copy()" if bias_fixed.any() else f"zeros({k})"
                forward.append(f"{b} = {start}")
                if bias_refs:
                    forward.append(f"add.at({b}, {self._index_array(bias_rows)}, {self._gather_scalars(bias_refs)})")
            forward.append(f"{name} += {b}[:, None]")  # in place: the product is a new array (a new one costs a third more)
        if bias_refs:
            back.append((None, False, f"d{b} = d{name} @ ones_n  # Σ over samples (BLAS: twice as fast as .sum(axis=1))"))
            picked = f"d{b}" if bias_rows == list(range(k)) else f"d{b}[{self._index_array(bias_rows)}]"
            back.append((None, False, self._add_scalars(bias_refs, picked)))
        return forward, back

    def _linear_part(self, group, operands, suffix: str, first: bool) -> tuple[list, list]:
        """The product of one matrix (W, or the constant one, ``suffix`` "c") with its operands'
        rows: ``z = W @ A`` (``first``) or ``z += ...``; backward ``dA += W.T @ dz``, the constant
        coefficients' gradients (checked: an overflow raises) and ``dW = dz @ A.T``."""
        import numpy as np

        name, k = group.name, len(group.nodes)
        column = {a: j for j, a in enumerate(operands)}
        m = len(operands)
        cells, refs, fixed = [], [], np.zeros(k * m)
        constant_cells = []  # (row, column) of each constant coefficient: its gradient is checked
        sums, place = self.sums, column.get
        for i, v in enumerate(group.nodes):
            row = i * m
            for ref, a in sums[v][0]:
                j = place(a)
                if j is None:  # an operand of the other part
                    continue
                if ref[0] == "s":
                    cells.append(row + j)
                    refs.append(ref)
                else:
                    fixed[row + j] += ref[1]
                    if ref[0] == "c":
                        constant_cells.append((i, j))
        if cells:
            cells, refs = map(list, zip(*sorted(zip(cells, refs), key=itemgetter(0))))
        forward, back = [], []
        A, gather = self._rows(operands, f"a{name}{suffix}")
        forward += gather
        if not _simple(A):
            forward.append(f"a{name}{suffix} = {A}")
            A = f"a{name}{suffix}"
        W = f"W{name[1:]}{suffix}"
        if not refs:
            forward.append(f"{W} = {self._constant('C', fixed.reshape(k, m))}")
        elif cells == list(range(k * m)) and not fixed.any():
            forward.append(f"{W} = {self._gather_scalars(refs)}.reshape({k}, {m})")
        else:
            start = f"{self._constant('C', fixed)}.copy()" if fixed.any() else f"zeros({k * m})"
            forward.append(f"{W} = {start}")
            if len(set(cells)) == len(cells):
                forward.append(f"{W}[{self._index_array(cells)}] += {self._gather_scalars(refs)}")
            else:
                forward.append(f"add.at({W}, {self._index_array(cells)}, {self._gather_scalars(refs)})")
            forward.append(f"{W} = {W}.reshape({k}, {m})")
        product = _product(W, A, m)
        forward.append(f"{name} = {product}  # {k} sum(s) of {m} operand(s): a layer's z = W a + b" if first
                       else f"{name} += {product}  # the operands with constant coefficients only")
        if any(self.p._batched[a] for a in operands):
            back += [(*step, k > 1) for step in self._scatter(operands, _product(f"{W}.T", f"d{name}", k), f"da{name}{suffix}")]
        if constant_cells:  # each constant coefficient's gradient, per sample, as eager computes it: raises on overflow
            rows, cols = (self._index(list(x)) for x in zip(*constant_cells))
            back.append((None, False, f"dc{name}{suffix} = d{name}[{rows}] * {A}[{cols}]  # constants' gradients: an overflow raises"))
        if refs:
            back.append((None, False, f"d{W} = d{name} @ {A}.T  # the weights' gradient, summed over the batch"))
            dW = f"d{W}.ravel()"
            picked = dW if cells == list(range(k * m)) else f"{dW}[{self._index_array(cells)}]"
            back.append((None, False, self._add_scalars(refs, picked)))
        return forward, back

    def _gather_scalars(self, refs) -> str:
        return f"S[{self._index([i for _, i in refs])}]"

    def _elementwise(self, group) -> tuple[list, list]:
        name, prim = group.name, group.prim
        forward, back, args = [], [], []
        for j, kind in enumerate(group.slots):
            column = [v.parents[j] for v in group.nodes]
            if kind == "b":
                expr, lines = self._rows(column, f"a{name}_{j}")
                forward += lines
                if not _simple(expr):
                    forward.append(f"a{name}_{j} = {expr}")
                    expr = f"a{name}_{j}"
            else:
                expr = self._scalar_column([self._ref(u) for u in column])
            args.append(expr)
        mapping = dict(zip(prim.inputs, args))
        forward.append(f"{name} = {P.substitute(_array_rule(prim.forward), mapping)}  # {len(group.nodes)} × {prim.name}")
        mapping["out"] = name
        for j, (kind, rule) in enumerate(zip(group.slots, prim.local)):
            local = P.substitute(_array_rule(rule), mapping)
            if kind == "c":  # the constants' gradients, per sample, as eager computes them: raises on overflow
                if local != "1.0":
                    back.append((None, False, f"dc{name}_{j} = d{name} * {_paren(local)}"))
                continue
            if _is_mask(rule):  # a 0/1 slope: the gradient times the mask itself (True is 1.0, False 0.0)
                local = local[len("1.0 * "):]
            term = f"d{name}" if local == "1.0" else f"d{name} * {_paren(local)}"
            column = [v.parents[j] for v in group.nodes]
            if kind == "b":
                back += self._scatter(column, term, f"d{name}_{j}")
            else:
                back.append((None, False, self._add_scalars([self._ref(u) for u in column], f"({term}).sum(axis=1)")))
        return forward, back


@lru_cache(maxsize=None)
def _array_rule(rule: str) -> str:
    """A rule's text with selections written as cheaper array operations, the same numbers:
    ``where(x > c, x, c)`` (relu) and ``where(a >= b, a, b)`` (max) as ``maximum(x, c)``,
    ``where(cond, 1.0, 0.0)`` (relu's slope) as ``1.0 * (cond)``, and max's slope
    ``where(a > b, 1.0, where(a < b, 0.0, 0.5))`` as ``0.5 + 0.5 * sign(a - b)`` (a − b is 0 only
    at a tie). numpy's where over a random mask of 10×1,000 takes 27 µs (branch mispredictions);
    maximum 5 µs, the mask times 1.0 6 µs: a relu layer's forward and backward cost half as
    much, and max's slope over 1,000 samples takes 4 µs instead of 9. (At a tie both forms give
    the same number. They differ where a number is nan, which only a parameter set to nan by hand
    can bring, or where a − b overflows: such a batch takes the long way, which runs the table's
    rules as written, per node.)"""
    tree = ast.parse(rule, mode="eval")

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if not (isinstance(node.func, ast.Name) and node.func.id == "where" and len(node.args) == 3):
                return node
            cond, yes, no = node.args
            same = ast.dump
            inner = no.args if isinstance(no, ast.Call) and isinstance(no.func, ast.Name) and no.func.id == "where" else None
            if (inner and _compares(cond, ast.Gt) and _compares(inner[0], ast.Lt) and same(cond) != same(inner[0])
                    and same(cond.left) == same(inner[0].left) and same(cond.comparators[0]) == same(inner[0].comparators[0])
                    and [_number(yes), _number(inner[1]), _number(inner[2])] == [1.0, 0.0, 0.5]):
                difference = ast.BinOp(cond.left, ast.Sub(), cond.comparators[0])
                sign = ast.Call(ast.Name("sign", ast.Load()), [difference], [])
                return ast.BinOp(ast.Constant(0.5), ast.Add(), ast.BinOp(ast.Constant(0.5), ast.Mult(), sign))
            if (_compares(cond, (ast.Gt, ast.GtE)) and same(cond.left) == same(yes)
                    and same(cond.comparators[0]) == same(no)):
                return ast.Call(ast.Name("maximum", ast.Load()), [yes, no], [])
            if (isinstance(yes, ast.Constant) and yes.value == 1.0 and isinstance(no, ast.Constant)
                    and no.value == 0.0 and str(no.value) == "0.0"):
                return ast.BinOp(ast.Constant(1.0), ast.Mult(), cond)
            return node

    return ast.unparse(Rewrite().visit(tree))


def _compares(node, op) -> bool:
    return isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], op)


def _number(node):
    return node.value if isinstance(node, ast.Constant) and type(node.value) is float else None


def _is_mask(rule: str) -> bool:
    """Whether the whole rule is ``where(cond, 1.0, 0.0)`` (so ``_array_rule`` wrote ``1.0 * (cond)``)."""
    body = ast.parse(rule, mode="eval").body
    return (isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id == "where"
            and _array_rule(rule).startswith("1.0 * ("))


def _product(a: str, b: str, inner: int) -> str:
    """``a @ b``; with an inner size of 1 an outer product, which broadcasting makes 5x faster than BLAS."""
    return f"{a} * {b}" if inner == 1 else f"{a} @ {b}"


def _call(prim, args) -> str:
    if prim.name in ("+", "*") and len(args) == 2:
        return f"{args[0]} {prim.name} {args[1]}"
    if prim.name.startswith("**") and len(args) == 1:  # a power with its exponent in the name: **2
        return f"{args[0]} ** {prim.name[2:]}"
    return f"{prim.name}({', '.join(args)})"


def _count(k: int, what: str) -> str:
    return f"{k} {what}{'' if k == 1 else 's'}"


def _simple(expr: str) -> bool:
    """One name, or one name's contiguous rows: a view, not a new array."""
    return re.fullmatch(r"\w+(\[\d+:\d+\])?", expr) is not None


def _paren(text: str) -> str:
    try:
        float(text)
        return text
    except ValueError:
        return text if text.replace("_", "").isalnum() else f"({text})"


def _base(kind: str) -> str:
    return {"relu": "h", "tanh": "h", "sigmoid": "h", "max": "h", "+": "s", "*": "m"}.get(kind, "t")
