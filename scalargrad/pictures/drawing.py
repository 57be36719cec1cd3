"""Pictures of a Value graph: each node's forward value and gradient, as the lecture slides draw them.

A value node is a record ``label | data … | grad …``; the operation that made it is an
oval feeding it (as micrograd's ``draw_dot``). Node names come from the topological
order (``v0``, ``v1``, … and ``o3`` for the operation that made ``v3``), never from
``id()``, so the same expression always gives byte-identical DOT.

Leaves are told apart by colour: inputs blue, parameters amber (pass ``params=``),
constants grey and dashed; the output has a thick green border.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..engine.autograd import topological_order
from ..engine import checks
from ..engine.derivatives import as_values
from .picture import Picture
from .render import DEFAULT_TIME_LIMIT, check_backend, check_time_limit
from ..engine.value import Constant, Value

DEFAULT_MAX_NODES = 500
RANKDIRS = ("LR", "TB")
GROUP_MODES = (None, "box", "collapse")

KIND_STYLE = {
    "output": {"color": "#15803d", "fillcolor": "#dcfce7", "penwidth": "2.5"},
    "input": {"color": "#1d4ed8", "fillcolor": "#dbeafe"},
    "parameter": {"color": "#b45309", "fillcolor": "#fef3c7", "penwidth": "1.5"},
    "constant": {"color": "#6b7280", "fillcolor": "#f3f4f6", "fontcolor": "#4b5563", "style": "filled,dashed"},
    "intermediate": {"color": "black", "fillcolor": "white"},
}
CURRENT_STYLE = {"color": "#dc2626", "fillcolor": "#fde68a", "penwidth": "3"}
GROUP_STYLE = {"shape": "box", "style": "rounded,filled", "color": "#6d28d9", "fillcolor": "#ede9fe"}
JUNCTION_STYLE = {"shape": "point", "width": "0.05", "color": "#4b5563", "fillcolor": "#4b5563"}
BUS_RANKS = 24  # a node whose edges would cross more ranks than this in total gets one wire (see bus_routes)


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes`` allows."""


# ---------------------------------------------------------------- text


#: A lone surrogate ("\ud800") is a str Python holds but no UTF-8 text can: shown as its escape.
_SURROGATES = {code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)}


def printable(text: str) -> str:
    """``text`` with each lone surrogate written as its escape ``\\udXXX``, so it encodes as UTF-8."""
    return text.translate(_SURROGATES)


def _escape_table() -> dict:
    table = {code: f"\\\\x{code:02x}" for code in [*range(32), *range(127, 160)]}
    table.update({code: "\\" + shown for code, shown in _SURROGATES.items()})
    table.update({ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\t"): " ", ord("&"): "&amp;"})
    table.update({ord(c): "\\" + c for c in "{}|<>"})
    return table


_ESCAPES = _escape_table()


def escape(text: str) -> str:
    """``text`` as a Graphviz label part that shows exactly ``text``, in a record or a plain label.

    Backslashes, quotes and the record characters ``{ } | < >`` are backslash-escaped,
    ``&`` becomes ``&amp;`` (Graphviz decodes entities), a newline becomes a line break,
    a tab a space, other control characters are shown as ``\\xNN`` and lone surrogates
    (which UTF-8 cannot hold) as ``\\uDXXX``.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ESCAPES)


def format_number(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, as the slides write it: -12, 0.7311, 1e-08."""
    s = f"{x:.{digits}g}"
    return "0" if s == "-0" else s


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """How to draw; see ``draw`` for the meaning of each."""

    rankdir: str = "LR"
    show_grad: bool = True
    edge_labels: bool = False
    digits: int = 4
    max_nodes: int | None = DEFAULT_MAX_NODES
    group: str | None = None
    group_depth: int | None = None
    fold_params: bool = False
    params: frozenset = frozenset()
    param_names: dict = field(default_factory=dict)  # parameter -> its name in a model, shown if it has no label
    color_grads: bool = False
    backend: str = "auto"
    time_limit: float | None = DEFAULT_TIME_LIMIT

    @classmethod
    def checked(cls, params: Iterable = (), **given) -> "Options":
        """Options from keyword arguments, each checked, with a message naming what was wrong."""
        names = {}
        if callable(getattr(params, "named_parameters", None)):  # a model (an nn Module): use its names
            names = {p: name for name, p in params.named_parameters()}
            params = list(names)
        o = cls(params=frozenset(as_values(params, "params", ordered=False)), param_names=names, **given)
        if o.rankdir not in RANKDIRS:
            raise ValueError(f"rankdir must be 'LR' (left to right) or 'TB' (top to bottom), got {o.rankdir!r}")
        checks.whole(o.digits, "digits (significant digits)", low=1, high=17)
        if o.max_nodes is not None:
            checks.whole(o.max_nodes, "max_nodes (or None for no limit)", low=1)
        if o.group not in GROUP_MODES:
            raise ValueError(f"group must be None, 'box' or 'collapse', got {o.group!r}")
        if o.group_depth is not None:
            checks.whole(o.group_depth, "group_depth (or None for full scope names)", low=1)
        checks.flag(o.fold_params, "fold_params")
        if o.fold_params and (o.group is None or not o.params):
            raise ValueError("fold_params=True folds parameters into groups: it needs group='box' or 'collapse' and params=")
        check_backend(o.backend)
        check_time_limit(o.time_limit)
        return o

    def group_of(self, node: Value) -> str:
        """The group a node is drawn in: its scope, cut to ``group_depth`` parts ('' for none)."""
        if self.group is None or not node.scope:
            return ""
        if self.group_depth is None:
            return node.scope
        return ".".join(node.scope.split(".")[: self.group_depth])


def draw(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    digits: int = 4,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    group: str | None = None,
    group_depth: int | None = None,
    fold_params: bool = False,
    params: Iterable = (),
    color_grads: bool = False,
    backend: str = "auto",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    format: str = "svg",
) -> Picture:
    """The computation graph ending at ``root``, with every node's data and grad.

    * ``rankdir``: ``"LR"`` (left to right) or ``"TB"`` (top to bottom).
    * ``show_grad``: show each node's ``.grad`` (as it is now: call ``backward()`` first).
    * ``edge_labels``: label each edge with the local derivative ∂node/∂parent, and with
      show_grad also ``local × upstream grad = contribution`` (the chain rule at each gate).
    * ``digits``: significant digits of every number.
    * ``max_nodes``: refuse (``GraphTooLarge``) a graph with more value nodes; ``None`` for no limit.
    * ``group``: ``"box"`` draws nodes made inside ``scalargrad.scope(name)`` in a box per
      scope; ``"collapse"`` draws each scope as one node showing its outputs' data and grad.
      ``group_depth=n`` groups by the first ``n`` parts of dotted scope names;
      ``fold_params=True`` draws each parameter (see ``params``) that is used inside only
      one group in that group, so a whole network collapses to its layers or neurons.
    * ``params``: Values to draw as parameters (e.g. ``model.parameters()``), or a model
      with ``named_parameters()`` (an ``nn`` Module), whose parameters are then shown under
      their names (``layers.0.neurons.1.w.0``) unless they have a label; other
      non-constant leaves are drawn as inputs.
    * ``color_grads``: fill value nodes red (negative grad) or blue (positive), deeper for larger ``|grad|``.
    * ``backend``: ``"auto"``, ``"dot"`` (system Graphviz) or ``"wasm"`` (built in).
    * ``time_limit``: seconds Graphviz may take to lay the picture out (``None``: no limit);
      past it the render stops with ``RenderError`` saying how to draw less.
    * ``format``: ``"svg"`` or ``"png"``, what ``.render(filename)`` writes, as micrograd's
      ``draw_dot(root, format="svg")``; ``.save(path)`` writes any format its extension names.

    Returns a ``Picture`` (shown as an image by Jupyter; ``.source``, ``.svg()``, ``.save(path)``).
    ``root`` and its graph are not changed.
    """
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', got {format!r}; save other formats with .save(path)")
    options = Options.checked(
        params=params, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels, digits=digits,
        max_nodes=max_nodes, group=group, group_depth=group_depth, fold_params=fold_params, color_grads=color_grads, backend=backend,
        time_limit=time_limit,
    )
    order = graph_nodes(root, options)
    return Picture(dot_source(order, options, grad_of=_current_grad), backend, time_limit, format)


draw_dot = draw


def _current_grad(node: Value) -> float:
    return node.grad


def graph_nodes(root: Value, options: Options) -> list:
    """The nodes ``root`` depends on in topological order, refused if there are too many to draw."""
    if not isinstance(root, Value):
        raise TypeError(f"draw needs a Value (the output of an expression), got {type(root).__name__} {root!r}")
    order = topological_order(root)
    if options.max_nodes is not None:
        count = _drawn_node_count(order, options)
        if count > options.max_nodes:
            raise GraphTooLarge(_too_large_message(order, count, options))
    return order


def groups_of(order: list, options: Options) -> dict:
    """The group each node is drawn in ('' for none): its scope cut to ``group_depth``, and with
    ``fold_params`` a parameter used only inside one group is drawn in that group."""
    group = {node: options.group_of(node) for node in order}
    if options.fold_params:
        users: dict = {}
        for node in order:
            for parent in node.parents:
                if parent in options.params and not group[parent]:
                    users.setdefault(parent, set()).add(group[node])
        for param, where in users.items():
            if len(where) == 1 and "" not in where:
                group[param] = next(iter(where))
    return group


def _drawn_node_count(order: list, options: Options) -> int:
    if options.group != "collapse":
        return len(order)
    group = groups_of(order, options)
    return sum(1 for n in order if not group[n]) + len(set(group.values()) - {""})


def _too_large_message(order: list, count: int, options: Options) -> str:
    what = "value nodes" if options.group != "collapse" else "nodes with its scopes collapsed"
    message = (
        f"the graph has {count} {what}, more than max_nodes={options.max_nodes}; "
        f"to draw it anyway pass max_nodes={count} (or max_nodes=None)"
    )
    if options.group == "collapse":
        advice = ", or collapse bigger groups with a smaller group_depth"
        if not options.fold_params:
            advice += ", or fold each group's parameters into it (fold_params=True, params=model)"
        return message + advice
    if any(n.scope for n in order):
        return message + ", or draw each scope as one node with group='collapse'"
    return message + ", or build it inside `with scalargrad.scope(name):` blocks and draw with group='collapse'"


def dot_source(
    order: list,
    options: Options,
    grad_of: Callable[[Value], float | None],
    current: Value | None = None,
    caption: str = "",
    element_ids: bool = False,
) -> str:
    """DOT text for the nodes in ``order`` (topological, output last).

    ``grad_of(node)`` gives the gradient to show (None shows a blank); ``current`` is
    highlighted; ``caption`` is written above the graph. With ``element_ids`` the SVG
    elements get ids a page script can find: ``v<i>`` for the i-th value node and
    ``v<i>_in<k>`` for the edge into its gate from the gate's k-th input.
    """
    import graphviz

    index = {node: i for i, node in enumerate(order)}
    root = order[-1]
    fmt = lambda x: format_number(x, options.digits)  # noqa: E731
    graph = graphviz.Digraph(
        "scalargrad",
        graph_attr={"rankdir": options.rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.35"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "style": "filled"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#4b5563"},
    )
    if caption:
        graph.attr(label=graphviz.nohtml(escape(caption)), labelloc="t")

    collapse = options.group == "collapse"
    group = groups_of(order, options)
    grads = [g for g in map(grad_of, order) if g is not None]
    grad_scale = max((abs(g) for g in grads), default=0.0)

    def value_node(target, node: Value) -> None:
        i = index[node]
        label = node.label or options.param_names.get(node, "")
        fields = [escape(label)] if label else []
        fields.append(f"data {fmt(node.data)}")
        if options.show_grad:
            g = grad_of(node)
            fields.append("grad " + ("" if g is None else fmt(g)))
        record = " | ".join(fields)
        record = "{ " + record + " }" if options.rankdir == "LR" else record
        kind = _kind(node, root, options.params)
        style = dict(KIND_STYLE[kind])
        if options.color_grads and grad_of(node) is not None:
            style["fillcolor"] = _grad_colour(grad_of(node), grad_scale)
        if node is current:
            style.update(CURRENT_STYLE)
        if element_ids:
            style["id"] = f"v{i}"
        target.node(f"v{i}", graphviz.nohtml(record), shape="record", **style)
        if not node.is_leaf:
            target.node(f"o{i}", graphviz.nohtml(escape(node.op)), shape="ellipse", fillcolor="#f9fafb", fontsize="14")

    def group_node(target, name: str, members: list) -> None:
        outputs = [n for n in members if n is root or any(group[c] != name for c in consumers[n])]
        folded = sum(1 for n in members if n in options.params)
        lines = [escape(name), f"({len(members)} nodes, {folded} parameters)" if folded else f"({len(members)} nodes)"]
        for n in outputs[:8]:
            text = f"{escape(n.label) + ': ' if n.label else 'out: '}data {fmt(n.data)}"
            if options.show_grad:
                g = grad_of(n)
                text += "  grad " + ("" if g is None else fmt(g))
            lines.append(text)
        if len(outputs) > 8:
            lines.append(f"… {len(outputs) - 8} more outputs")
        target.node(group_id[name], graphviz.nohtml("\\n".join(lines)), **GROUP_STYLE)

    members: dict[str, list] = {}
    for node in order:
        members.setdefault(group[node], []).append(node)
    consumers: dict[Value, list] = {node: [] for node in order}
    for node in order:
        for parent in node.parents:
            consumers[parent].append(node)
    group_id = {name: f"g{k}" for k, name in enumerate(n for n in members if n)}

    # Nodes: ungrouped ones at the top level, the others boxed or collapsed per group.
    for node in members.get("", []):
        value_node(graph, node)
    if collapse:
        for name in group_id:
            group_node(graph, name, members[name])
    else:
        _boxes(graph, [n for n in members if n], lambda target, name: [value_node(target, n) for n in members[name]])

    def source_id(node: Value) -> str:
        return group_id[group[node]] if collapse and group[node] else f"v{index[node]}"

    # Edges, in topological order: parent -> op -> value; into a collapsed group once per source.
    edges = []  # (tail, head, attributes)
    linked = set()
    for node in order:
        i = index[node]
        if collapse and group[node]:
            for parent in node.parents:
                edge = (source_id(parent), group_id[group[node]])
                if group[parent] != group[node] and edge not in linked:
                    linked.add(edge)
                    edges.append((*edge, {}))
            continue
        if node.is_leaf:
            continue
        edges.append((f"o{i}", f"v{i}", {}))
        upstream = grad_of(node) if options.show_grad else None
        # local_grads only where shown: a node made by user code has none until it gets a _backward.
        locals_ = node.local_grads if options.edge_labels else (None,) * len(node.parents)
        for k, (parent, local) in enumerate(zip(node.parents, locals_)):
            attributes = {"id": f"v{i}_in{k}"} if element_ids else {}
            if options.edge_labels:
                attributes["label"] = f"local {fmt(local)}"
                if upstream is not None:
                    attributes["label"] += f" × {fmt(upstream)} = {fmt(local * upstream)}"
            edges.append((source_id(parent), f"o{i}", attributes))
    edges, buses = bus_routes(edges)
    for tail, head, attributes in edges:
        graph.edge(tail, head, **attributes)
    for _, junction in buses:  # each junction is the head of one bus segment
        graph.node(junction, label="", **JUNCTION_STYLE)
    for tail, junction in buses:
        graph.edge(tail, junction, arrowhead="none")
    return graph.source


def bus_routes(edges: list) -> tuple[list, list]:
    """Route each far-reaching fan-out along one wire: ``(edges, bus segments)``.

    Graphviz's dot lays a long edge out as a chain of hidden points, one per rank it
    crosses, and its layout time grows faster than the number of points. A node that
    feeds gates all along a long chain (x in x·x·…·x, or in a Horner polynomial) has
    edges crossing 1 + 2 + … + n ranks: quadratic in the graph. When a node's edges
    would cross more than ``BUS_RANKS`` ranks in total, they leave it as one wire (the
    bus) through a junction point in front of each further rank that it feeds
    (``j<node>_<k>``); the edges from the junctions to the gates keep their attributes
    (labels). The wire crosses each rank once, so the layout stays linear. Ranks are
    estimated as dot assigns them (see ``_latest_ranks``).
    """
    rank = _latest_ranks(edges)
    out: dict[str, list] = {}
    for tail, head, _ in edges:
        out.setdefault(tail, []).append(head)
    bused = {  # (a node on a cycle, as collapsed groups can make, has no rank and keeps its edges)
        tail for tail, heads in out.items()
        if all(n in rank for n in (tail, *heads)) and sum(rank[h] - rank[tail] - 1 for h in heads) > BUS_RANKS
    }
    junction = {}  # (tail, rank of head) -> junction name
    buses = []  # (tail or junction, next junction)
    for tail in (t for t in out if t in bused):
        first, *later = sorted({rank[h] for h in out[tail]})
        junction[tail, first] = previous = tail  # the nearest gates are fed directly
        for k, r in enumerate(later, start=1):
            junction[tail, r] = f"j{tail}_{k}"
            buses.append((previous, junction[tail, r]))
            previous = junction[tail, r]
    routed = [(junction.get((tail, rank.get(head)), tail), head, attributes) for tail, head, attributes in edges]
    return routed, buses


def _latest_ranks(edges: list) -> dict:
    """{DOT node: its rank} with every node as late as possible: one rank before its earliest head.
    Nodes on a cycle, and those leading to one, are left out.

    With every edge of weight 1, dot ranks nodes to make the edges as short as possible in
    total, which in an expression graph mostly places each value just before its first use,
    as here; the long edges left are those from a value to its later uses.
    """
    heads: dict[str, list] = {}
    waiting: dict[str, int] = {}  # heads not ranked yet
    for tail, head, _ in edges:
        heads.setdefault(tail, []).append(head)
        heads.setdefault(head, [])
        waiting[tail] = waiting.get(tail, 0) + 1
        waiting.setdefault(head, 0)
    tails: dict[str, list] = {node: [] for node in heads}
    for tail, head, _ in edges:
        tails[head].append(tail)
    ready = [node for node, n in waiting.items() if not n]
    rank = {}
    while ready:  # Kahn's walk from the output back: every head is ranked before its tails
        node = ready.pop()
        rank[node] = min((rank[h] - 1 for h in heads[node]), default=0)
        for tail in tails[node]:
            waiting[tail] -= 1
            if not waiting[tail]:
                ready.append(tail)
    return rank


def _boxes(graph, names: list, emit: Callable) -> None:
    """Nest a Graphviz cluster per dotted scope name: ``a.b`` is boxed inside ``a``."""
    import graphviz

    wanted = set(names)
    prefixes = []  # every box to draw, parents first, in order of first appearance
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            prefix = ".".join(parts[:k])
            if prefix not in prefixes:
                prefixes.append(prefix)
    counter = iter(range(len(prefixes)))

    def box(target, prefix: str) -> None:
        with target.subgraph(name=f"cluster_{next(counter)}") as cluster:
            cluster.attr(label=graphviz.nohtml(escape(prefix.rpartition(".")[2])), style="rounded,dashed", color="#7c3aed",
                         fontcolor="#6d28d9", fontsize="10")
            if prefix in wanted:
                emit(cluster, prefix)
            for child in prefixes:
                if child.rpartition(".")[0] == prefix:
                    box(cluster, child)

    for prefix in prefixes:
        if "." not in prefix:
            box(graph, prefix)


def _kind(node: Value, root: Value, params: frozenset) -> str:
    if node is root:
        return "output"
    if not node.is_leaf:
        return "intermediate"
    if isinstance(node, Constant):
        return "constant"
    return "parameter" if node in params else "input"


def _grad_colour(g: float, scale: float) -> str:
    """White for 0, towards red for negative and blue for positive gradients, by |g| / scale."""
    t = 0.0 if scale == 0.0 else min(1.0, abs(g) / scale)
    r, gr, b = (220, 38, 38) if g < 0 else (37, 99, 235)
    mix = lambda c: round(255 + (c - 255) * 0.65 * t)  # noqa: E731 - keeps black text readable
    return f"#{mix(r):02x}{mix(gr):02x}{mix(b):02x}"
