"""Drawing has a bounded cost: a node feeding many gates is routed along one wire (so Graphviz's
layout stays linear), every graph of the node limit's size renders, and a render past its time
limit stops with RenderError saying what to do. No timings are asserted: hanging cases run in
a subprocess with a timeout, and the time limit is tested with a limit too small for any layout."""

import contextlib
import functools
import html
import importlib.util
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from draw_helpers import dot_edges, dot_nodes

from scalargrad import Value, draw, scope, topological_order
from scalargrad.pictures import drawing, render
from scalargrad.pictures.picture import Picture
from scalargrad.pictures.render import RenderError
from test_draw_render import needs_dot


def power(k, x=None):
    """x·x·…·x with k factors: x feeds every gate of the chain."""
    x = x or Value(1.001, "x")
    y = x
    for _ in range(k - 1):
        y = y * x
    return y


def laid_out(svg):
    """({node: rank}, [(tail, head)]) of a left-to-right picture: a rank is a column of node centres."""
    centre = {}
    for name, body in re.findall(r'<g id="[^"]*" class="node">\s*<title>([^<]*)</title>(.*?)</g>', svg, re.S):
        ellipse = re.search(r'<ellipse[^>]*cx="([-\d.]+)"', body)
        if ellipse:
            centre[html.unescape(name)] = round(float(ellipse[1]))
        else:
            xs = [float(p.split(",")[0]) for p in re.search(r'<polygon[^>]*points="([^"]*)"', body)[1].split()]
            centre[html.unescape(name)] = round((min(xs) + max(xs)) / 2)
    columns = sorted(set(centre.values()))
    edges = [tuple(html.unescape(t).split("->")) for t in re.findall(r'<g id="[^"]*" class="edge">\s*<title>([^<]*)</title>', svg)]
    return {name: columns.index(x) for name, x in centre.items()}, edges


def ranks_crossed(svg):
    """How many ranks the picture's edges cross in all: what Graphviz lays out, one hidden point per rank."""
    rank, edges = laid_out(svg)
    return sum(rank[head] - rank[tail] for tail, head in edges), len(edges)


@pytest.mark.parametrize("k", [30, 60])
def test_a_node_feeding_a_long_chain_crosses_each_rank_about_once(k):
    crossed, edges = ranks_crossed(draw(power(k), backend="wasm").svg())
    assert crossed <= 2 * edges, (crossed, edges)  # x's k edges alone would cross about k²/… ranks


def test_without_the_wire_the_same_graph_crosses_quadratically_many_ranks(monkeypatch):
    monkeypatch.setattr(drawing, "BUS_RANKS", 10**9)  # what the drawing did before: no wire
    crossed, edges = ranks_crossed(draw(power(30), backend="wasm").svg())
    assert crossed > 5 * edges, (crossed, edges)  # so the measure above can fail


def resolved(source):
    """The DOT's edges with every wire followed back to its node: [(tail, head, label)], as a multiset."""
    edges = dot_edges(source)
    wire = re.findall(r"^\t(\w+) -> (j\w+) \[arrowhead=none\]$", source, re.M)
    assert len(edges) + len(wire) == source.count(" -> ")
    edges += [(tail, head, None) for tail, head in wire]
    feeds = {head: tail for tail, head, _ in edges if head.startswith("j")}  # the wire: node -> j -> j ...

    def origin(name):
        while name in feeds:
            name = feeds[name]
        return name

    return Counter((origin(tail), head, label) for tail, head, label in edges if not head.startswith("j"))


@pytest.mark.parametrize("build", [lambda: power(40), lambda: horner(30)], ids=["power", "horner"])
def test_the_wire_feeds_every_gate_the_same_inputs_with_the_same_labels(build, monkeypatch):
    root = build()
    root.backward()
    wired = draw(root, edge_labels=True).source
    assert re.search(r"\tj\w+ \[", wired), "no wire in this graph: the test would show nothing"
    monkeypatch.setattr(drawing, "BUS_RANKS", 10**9)
    plain = draw(root, edge_labels=True).source
    assert resolved(wired) == resolved(plain)
    assert {n: a for n, a in dot_nodes(wired).items() if not n.startswith("j")} == dot_nodes(plain)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from("+*"), st.sampled_from(["", "A", "B", "A.b"])),
                min_size=1, max_size=40),
       st.sampled_from([None, "box", "collapse"]), st.booleans())
def test_any_graph_keeps_its_edges_through_the_wires(steps, group, edge_labels):
    nodes = [Value(0.5, "x"), Value(-1.5, "y")]
    for i, j, op, name in steps:  # each new node combines two earlier ones, so fan-out is common
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        with scope(name) if name else contextlib.nullcontext():
            nodes.append(a + b if op == "+" else a * b)
    root = nodes[-1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drawing, "BUS_RANKS", 2)  # wires wherever they can be
        wired = draw(root, group=group, edge_labels=edge_labels).source
        patch.setattr(drawing, "BUS_RANKS", 10**9)
        plain = draw(root, group=group, edge_labels=edge_labels).source
    assert resolved(wired) == resolved(plain)


def horner(k):
    x, y = Value(0.5, "x"), Value(1.0, "c")
    for i in range(k):
        y = y * x + 0.1 * (i + 1)
    return y


def test_small_lecture_graphs_get_no_wire():
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    f = (x + y) * z * x * y  # x and y used twice, close together
    assert not any(name.startswith("j") for name in dot_nodes(draw(f).source))


def test_groups_that_feed_each_other_in_a_circle_still_draw(values):
    (x,) = values(x=1.0)
    with scope("A"):
        a = x * 2
    with scope("B"):
        b = a + 1
    with scope("A"):
        c = b * 3  # A -> B -> A once collapsed
    picture = draw(c, group="collapse")
    assert ("g0", "g1", None) in dot_edges(picture.source) and ("g1", "g0", None) in dot_edges(picture.source)
    assert picture.svg().count('class="node"') == 3


def run_python(code, timeout=300):
    """Run ``code`` in a fresh interpreter (a layout that hangs cannot hang the suite); its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_shapes_that_used_to_hang_render_at_the_node_limit():
    # Before the wire, x·x·…·x took 54 s at 100 factors and a Horner polynomial over 5 minutes at 500 nodes.
    out = run_python("""
        from scalargrad import Value, draw, topological_order
        from scalargrad.pictures.drawing import DEFAULT_MAX_NODES as N
        x = Value(1.001, "x")
        power = x
        for _ in range(N - 1):
            power = power * x
        poly = Value(1.0)
        while len(topological_order(poly)) + 3 <= N:
            poly = poly * x + 0.5
        scaled_sum = sum(x * (0.1 * i) for i in range(N // 3))  # x feeds gates that sit next to their + nodes
        for root in (power, poly, scaled_sum):
            root.backward()
            svg = draw(root, backend="wasm").svg()  # within the default time limit, or RenderError
            print(len(topological_order(root)), svg.count('class="node"'))
    """)
    counts = [tuple(map(int, line.split())) for line in out.splitlines()]
    assert len(counts) == 3 and all(drawing.DEFAULT_MAX_NODES - 5 <= n <= drawing.DEFAULT_MAX_NODES <= drawn for n, drawn in counts)


@functools.cache
def big_source():
    """A picture whose layout takes a good part of a second: a time limit of a millisecond cannot let it finish."""
    return draw(power(400), edge_labels=True).source


@pytest.mark.parametrize("backend", ["wasm", pytest.param("dot", marks=needs_dot)])
def test_a_render_past_its_time_limit_stops_with_what_to_do(backend):
    with pytest.raises(RenderError, match=r"within time_limit=0.001 s; draw less of it: .*group='collapse'.*fold_params=True"
                                          r".*max_nodes; or allow more time with time_limit="):
        Picture(big_source(), backend, time_limit=0.001).svg()
    assert "data 1" in draw(Value(1.0), backend=backend).svg()  # the next render works


def test_a_runaway_layout_or_a_graph_too_long_for_the_webassembly_stack_is_a_render_error_and_the_next_render_works():
    out = run_python("""
        from scalargrad import Value, draw, scope, topological_order
        from scalargrad.pictures import drawing, render
        drawing.BUS_RANKS = 10**9  # no wire: x·x·…·x (100 factors) as drawn before it, a minute of layout
        x = Value(1.001, "x")
        y = x
        for _ in range(99):
            y = y * x
        chain = "digraph {" + ";".join(f"n{i} -> n{i + 1}" for i in range(6000)) + "}"
        for source, time_limit in ((draw(y).source, 1.0), (chain, None)):
            try:
                render.render_svg(source, "wasm", time_limit=time_limit)
            except render.RenderError as error:
                print("refused:", error)
            print(render.render_svg("digraph { a -> b }", "wasm").count('class="node"'))
    """, timeout=120)
    runaway, after_runaway, too_long, after_too_long = out.splitlines()
    assert runaway.startswith("refused: Graphviz did not finish laying the graph out within time_limit=1 s")
    assert too_long.startswith("refused: the WebAssembly Graphviz ran out of stack") and "apt-get install graphviz" in too_long
    assert after_runaway == after_too_long == "2"


@pytest.mark.parametrize("bad, error", [("1", TypeError), (True, TypeError), (0, ValueError), (-1.0, ValueError),
                                        (float("nan"), ValueError), (float("inf"), ValueError)])
def test_time_limit_is_checked_before_anything_is_drawn(bad, error):
    with pytest.raises(error, match="time_limit"):
        draw(Value(1.0), time_limit=bad)
    with pytest.raises(error, match="time_limit"):
        Picture("digraph { a }", time_limit=bad)


def test_no_time_limit_is_allowed():
    assert draw(Value(2.0), time_limit=None, backend="wasm").svg().count('class="node"') == 1
    assert render.DEFAULT_TIME_LIMIT > 0


def test_the_draw_bench_builds_each_shape_near_the_size_asked():
    spec = importlib.util.spec_from_file_location("bench_draw", Path(__file__).resolve().parents[1] / "bench" / "bench_draw.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    uses = {}
    for shape in bench.SHAPES:
        root = bench.graph_of_size(shape, 100)
        order = topological_order(root)
        assert abs(len(order) - 100) <= 25, (shape, len(order))
        assert root.grad == 1.0  # backward() was run, so the picture shows gradients
        uses[shape] = max(Counter(p for n in order for p in n.parents).values())
    assert uses["chain"] == 1 and uses["fan-out"] >= 99 and uses["horner"] >= 30  # who feeds how many gates
