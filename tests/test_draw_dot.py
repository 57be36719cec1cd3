"""The DOT text of ``draw``: nodes, edges and labels for the lecture examples, options, limits."""

import re
from collections import Counter

import pytest
from draw_helpers import dot_edges, dot_nodes

import scalargrad
from scalargrad import Constant, Value, draw, draw_dot
from scalargrad.pictures.drawing import GraphTooLarge, escape, format_number


def lecture_f(values):
    """f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4 (Forward & Back Prop. slides), after backward."""
    x, y, z = values(x=-2, y=5, z=-4)
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f


def sigmoid_neuron(values):
    """f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) at w0=2, x0=-1, w1=-3, x1=-2, w2=-3, after backward."""
    w0, x0, w1, x1, w2 = values(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    f.backward()
    return f, (w0, x0, w1, x1, w2)


def test_lecture_graph_has_a_record_per_value_and_an_oval_per_gate(values):
    source = draw(lecture_f(values)).source
    nodes = dot_nodes(source)
    assert {name: label for name, (label, _) in nodes.items()} == {
        "v0": "{ x | data -2 | grad -4 }",
        "v1": "{ y | data 5 | grad -4 }",
        "v2": "{ q | data 3 | grad -4 }",
        "o2": "+",
        "v3": "{ z | data -4 | grad 3 }",
        "v4": "{ f | data -12 | grad 1 }",
        "o4": "*",
    }
    assert all("shape=record" in attrs for name, (_, attrs) in nodes.items() if name.startswith("v"))
    assert dot_edges(source) == [
        ("o2", "v2", None), ("v0", "o2", None), ("v1", "o2", None),
        ("o4", "v4", None), ("v2", "o4", None), ("v3", "o4", None),
    ]


def test_edge_labels_are_local_gradient_times_upstream_gradient(values):
    edges = dot_edges(draw(lecture_f(values), edge_labels=True).source)
    labels = {(tail, head): label for tail, head, label in edges}
    # ∂f/∂q = z = -4 and ∂f/∂z = q = 3 at the '*' gate; ∂q/∂x = ∂q/∂y = 1 at the '+' gate.
    assert labels[("v2", "o4")] == "local -4 × 1 = -4"
    assert labels[("v3", "o4")] == "local 3 × 1 = 3"
    assert labels[("v0", "o2")] == labels[("v1", "o2")] == "local 1 × -4 = -4"
    assert labels[("o4", "v4")] is None
    without_grads = dot_edges(draw(lecture_f(values), edge_labels=True, show_grad=False).source)
    assert {label for _, _, label in without_grads} == {None, "local 1", "local -4", "local 3"}


def test_sigmoid_neuron_shows_the_lecture_numbers(values):
    f, leaves = sigmoid_neuron(values)
    nodes = dot_nodes(draw(f, digits=2).source)
    labels = [label for label, _ in nodes.values()]
    for expected in ["{ w0 | data 2 | grad -0.2 }", "{ x0 | data -1 | grad 0.39 }", "{ w1 | data -3 | grad -0.39 }",
                     "{ x1 | data -2 | grad -0.59 }", "{ w2 | data -3 | grad 0.2 }", "{ data 0.73 | grad 1 }"]:
        assert expected in labels
    ops = Counter(label for name, (label, _) in nodes.items() if name.startswith("o"))
    assert ops == Counter({"*": 3, "+": 3, "exp": 1, "1/x": 1})  # -(…) is ·(-1); 1/(…) is the '1/x' gate
    values_drawn = [name for name in nodes if name.startswith("v")]
    assert len(values_drawn) == len(scalargrad.topological_order(f))


def test_same_expression_gives_byte_identical_dot(values):
    first = draw(sigmoid_neuron(values)[0], edge_labels=True).source
    clutter = [Value(i) for i in range(1000)]  # other objects in between: different id()s
    second = draw(sigmoid_neuron(values)[0], edge_labels=True).source
    assert first == second
    assert not re.search(r"\b\d{6,}\b", first)  # no id()-like numbers in node names
    assert clutter


def test_leaf_kinds_and_output_are_styled_apart():
    w, x = Value(0.5, "w"), Value(2.0, "x")
    out = (w * x + 3).relu()
    nodes = dot_nodes(draw(out, params=[w]).source)
    by_label = {label: attrs for label, attrs in nodes.values()}
    assert 'fillcolor="#fef3c7"' in by_label["{ w | data 0.5 | grad 0 }"]  # parameter
    assert 'fillcolor="#dbeafe"' in by_label["{ x | data 2 | grad 0 }"]  # input
    assert "dashed" in by_label["{ data 3 | grad 0 }"]  # the constant 3
    assert "penwidth=2.5" in by_label["{ data 4 | grad 0 }"]  # the output
    styles = [attrs for _, attrs in nodes.values()]
    assert sum("penwidth=2.5" in a for a in styles) == 1


def test_colour_by_gradient_sign_and_size(values):
    nodes = dot_nodes(draw(lecture_f(values), color_grads=True).source)
    fill = {label.split(" | ")[0].strip("{ "): re.search(r'fillcolor="(#\w+)"', attrs)[1] for label, attrs in nodes.values()
            if label.startswith("{")}
    red = lambda c: int(c[1:3], 16) > int(c[5:7], 16)  # noqa: E731
    assert red(fill["x"]) and red(fill["q"]) and not red(fill["z"]) and not red(fill["f"])
    assert fill["x"] == fill["y"] == fill["q"]  # same gradient, same colour
    depth = lambda c: 765 - sum(int(c[k:k + 2], 16) for k in (1, 3, 5))  # noqa: E731
    assert depth(fill["z"]) > depth(fill["f"]) > 0  # |3| > |1|: a deeper blue


def test_top_to_bottom_records_keep_fields_side_by_side(values):
    source = draw(lecture_f(values), rankdir="TB").source
    assert "rankdir=TB" in source
    assert "x | data -2 | grad -4" in {label for label, _ in dot_nodes(source).values()}


def test_show_grad_false_hides_every_gradient(values):
    source = draw(lecture_f(values), show_grad=False).source
    assert "| grad" not in source and "{ f | data -12 }" in source


def test_format_number_uses_significant_digits():
    assert [format_number(x, 3) for x in (-12.0, 0.731058, 1e-8, -0.0, 123456.0)] == ["-12", "0.731", "1e-08", "0", "1.23e+05"]


def test_draw_changes_nothing(values):
    f = lecture_f(values)
    before = [(n.data, n.grad, n.label) for n in scalargrad.topological_order(f)]
    draw(f, edge_labels=True, color_grads=True, group="box")
    assert [(n.data, n.grad, n.label) for n in scalargrad.topological_order(f)] == before


def test_micrograd_draw_dot_call_works(values):
    assert draw_dot is draw
    assert draw_dot(lecture_f(values), format="svg", rankdir="LR").source == draw(lecture_f(values)).source


@pytest.mark.parametrize(
    "option, given",
    [("rankdir", "XY"), ("digits", 0), ("digits", 18), ("max_nodes", 0), ("group", "boxes"),
     ("group_depth", 0), ("backend", "cairo"), ("format", "pdf")],
)
def test_bad_options_are_refused_naming_the_value(values, option, given):
    with pytest.raises(ValueError, match=re.escape(repr(given))):
        draw(lecture_f(values), **{option: given})


@pytest.mark.parametrize(
    "option, given",
    [("digits", 2.5), ("digits", True), ("max_nodes", "500"), ("group_depth", 1.0), ("fold_params", "yes")],
)
def test_options_of_the_wrong_type_are_a_type_error_naming_it(values, option, given):
    # the README's convention: the wrong type is a TypeError, a value out of range a ValueError
    with pytest.raises(TypeError, match=rf"^{option}.*got {type(given).__name__} {re.escape(repr(given))}$"):
        draw(lecture_f(values), **{option: given})


def test_a_model_as_params_names_its_unlabelled_parameters():
    import nn

    model = nn.Neuron(2, activation="linear", rng=__import__("random").Random(0))
    w0, w1 = model.w
    w1.label = "mine"
    out = model([Value(1.0, "x0"), Value(2.0, "x1")])
    labels = [label for label, attrs in dot_nodes(draw(out, params=model).source).values() if "#fef3c7" in attrs]
    assert sorted(label.split(" | ")[0] for label in labels) == ["{ b", "{ mine", "{ w.0"]
    assert w0.label == ""  # drawing names it; it does not change the Value


def test_non_value_root_and_params_are_refused():
    with pytest.raises(TypeError, match="got float 3.0"):
        draw(3.0)
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value, got int"):
        draw(Value(1.0) * 2, params=[Value(1.0), 5])


def chain(n):
    """A graph of exactly n value nodes: x, then n - 1 tanh gates."""
    v = Value(0.1, "x")
    for _ in range(n - 1):
        v = v.tanh()
    return v


def test_node_limit_refuses_with_the_count_and_what_to_do():
    assert len(dot_nodes(draw(chain(10), max_nodes=10).source)) == 10 + 9  # at the limit: drawn
    with pytest.raises(GraphTooLarge) as refused:
        draw(chain(11), max_nodes=10)
    message = str(refused.value)
    assert "11 value nodes" in message and "max_nodes=10" in message
    assert "max_nodes=11" in message and "group='collapse'" in message
    assert len(dot_nodes(draw(chain(600), max_nodes=None).source)) == 600 + 599


def test_default_limit_refuses_a_big_graph():
    with pytest.raises(GraphTooLarge, match=r"the graph has 501 value nodes, more than max_nodes=500"):
        draw(chain(501))


HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    "{record} | <port> | {a|b}",
    "two\nlines",
    '"]; evil [label="pwned',
    "\\N \\G \\l \\n \\L",
    "&lt;b&gt; &amp;",
    "<<b>html</b>>",
    "tab\there",
]


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_stay_inside_their_node(label):
    x = Value(1.0, label)
    source = draw(x * 2).source
    nodes = dot_nodes(source)
    assert set(nodes) == {"v0", "v1", "v2", "o2"}  # nothing injected
    assert len(dot_edges(source)) == 3
    assert nodes["v0"][0] == "{ " + escape(label) + " | data 1 | grad 0 }"


def test_escape_backslash_escapes_record_characters():
    assert escape('a"b\\c{d}|e<f>g') == 'a\\"b\\\\c\\{d\\}\\|e\\<f\\>g'
    assert escape("one\r\ntwo\rthree\nfour") == "one\\ntwo\\nthree\\nfour"
    assert escape("bell\x07") == "bell\\\\x07"


def test_constants_are_drawn_as_constants():
    x = Value(2.0, "x")
    y = x * 3
    three = y.parents[1]
    assert isinstance(three, Constant)
    nodes = dot_nodes(draw(y).source)
    assert "dashed" in nodes["v1"][1] and nodes["v1"][0] == "{ data 3 | grad 0 }"



def test_a_label_with_a_lone_surrogate_is_drawn_as_its_escape(tmp_path):
    from scalargrad import save_steps, steps_widget

    a = Value(1.0, "\ud800")
    b = a * 2.0
    b.label = "x\udfff"
    picture = draw(b.tanh())
    svg = picture.svg()
    assert "\\ud800" in svg and "x\\udfff" in svg
    picture.save(tmp_path / "g.dot")
    assert "\\\\ud800" in (tmp_path / "g.dot").read_text(encoding="utf-8")
    page = save_steps(b.tanh(), tmp_path / "steps.html").read_text(encoding="utf-8")
    assert "x\\\\udfff" in page or "x\\udfff" in page
    assert steps_widget(b) is not None
