"""Backpropagation step by step: one picture per node, the HTML page and the notebook slider."""

import json
import re

import pytest
from draw_helpers import dot_nodes, lecture_graph, svg_texts

from scalargrad import Value, backward_steps, save_steps, topological_order
from scalargrad.pictures.drawing import GraphTooLarge
from scalargrad.pictures.steps import script_json, steps_widget


def lecture_f():
    """(x + y) z at -2, 5, -4; backward() NOT called: the steps work the gradients out themselves."""
    return lecture_graph()[0]


def grads_shown(source):
    """{node label: the grad text shown (None if blank)}."""
    shown = {}
    for label, _ in dot_nodes(source).values():
        if label.startswith("{"):
            fields = [f.strip() for f in label.strip("{ }").split("|")]
            grad = fields[-1].removeprefix("grad").strip()
            shown[fields[0]] = grad or None
    return shown


def highlighted(source):
    return [label for label, attrs in dot_nodes(source).values() if "penwidth=3" in attrs]


def test_one_frame_per_node_in_reverse_topological_order():
    f = lecture_f()
    frames = [p.source for p in backward_steps(f)]
    order = topological_order(f)
    assert len(frames) == len(order) == 5
    processed = [highlighted(s) for s in frames]
    assert all(len(h) == 1 for h in processed)
    assert [h[0].split(" | ")[0].strip("{ ") for h in processed] == ["f", "z", "q", "y", "x"]


def test_first_frame_shows_only_the_outputs_gradient():
    first = next(backward_steps(lecture_f())).source
    assert grads_shown(first) == {"x": None, "y": None, "q": None, "z": None, "f": "1"}
    assert "step 1/5" in first


def test_gradients_fill_in_as_the_lecture_computes_them():
    shown = [grads_shown(p.source) for p in backward_steps(lecture_f())]
    assert shown[1] == {"x": None, "y": None, "q": None, "z": "3", "f": "1"}  # ∂f/∂z = q = 3
    assert shown[2] == {"x": None, "y": None, "q": "-4", "z": "3", "f": "1"}  # ∂f/∂q = z = -4
    assert shown[-1] == {"x": "-4", "y": "-4", "q": "-4", "z": "3", "f": "1"}


def test_steps_leave_every_grad_untouched():
    f = lecture_f()
    list(backward_steps(f))
    assert all(n.grad == 0.0 for n in topological_order(f))


def test_current_gates_edges_show_local_times_upstream():
    frames = [p.source for p in backward_steps(lecture_f())]
    assert "local 1 × -4 = -4" in frames[2] and "local 1 × -4 = -4" not in frames[1]


def test_options_and_limit_are_checked_before_the_first_frame():
    with pytest.raises(GraphTooLarge, match="5 value nodes"):
        backward_steps(lecture_f(), max_nodes=4)
    with pytest.raises(ValueError, match="cannot collapse"):
        backward_steps(lecture_f(), group="collapse")
    with pytest.raises(ValueError, match="'XY'"):
        backward_steps(lecture_f(), rankdir="XY")


def page_parts(page):
    """(the picture's SVG, the data the script walks: {"ids": [...], "captions": [...]}, the script's text)."""
    svg = page[page.index("<svg"): page.index("</svg>") + len("</svg>")]
    script = page[page.index("<script>") + len("<script>"): page.index("</script>")]
    data = json.loads(re.search(r"^const data = (.*);$", script, re.M)[1])
    return svg, data, script


def node_group(svg, node_id):
    return re.search(rf'<g id="{node_id}" class="node">.*?</g>', svg, re.S)[0]


def test_save_steps_writes_one_self_contained_page_with_one_picture(tmp_path):
    f = lecture_f()
    page = save_steps(f, tmp_path / "steps.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1 and page.count("<script>") == 1
    assert 'type="range" min="1" max="5"' in page and 'id="prev"' in page and 'id="next"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "<link" not in page and "<?xml" not in page and "$" not in page  # every template field filled
    svg, data, _ = page_parts(page)
    labels = {node_id: svg_texts(node_group(svg, node_id))[0] for node_id in data["ids"]}
    assert [labels[i] for i in data["ids"]] == ["f", "z", "q", "y", "x"]  # reverse topological order
    assert data["captions"][0].startswith("step 1/5: 'f' has grad 1")
    assert data["captions"][2] == "step 3/5: 'q' has grad -4; its gate passes local × grad to its inputs"


def test_the_picture_has_every_gradient_with_its_number_apart_for_the_steps_to_hide(tmp_path):
    svg, data, _ = page_parts(save_steps(lecture_f(), tmp_path / "steps.html").read_text())
    numbers = {svg_texts(node_group(svg, i))[0]: re.findall(r'<tspan class="grad-value">([^<]*)</tspan>', node_group(svg, i))
               for i in data["ids"]}
    assert numbers == {"f": [" 1"], "z": [" 3"], "q": [" &#45;4"], "y": [" &#45;4"], "x": [" &#45;4"]}
    q = data["ids"][2]
    into_q_gate = re.findall(rf'<g id="{q}_in\d" class="edge">.*?</g>', svg, re.S)
    assert [svg_texts(edge) for edge in into_q_gate] == [["local 1 × -4 = -4"]] * 2
    assert all('<tspan class="upstream"> × &#45;4 = &#45;4</tspan>' in edge for edge in into_q_gate)


def test_the_page_grows_linearly_with_the_graph(tmp_path):
    def chain(n):
        y = Value(1.0)
        for i in range(n - 1):
            y = y * Value(1.0 + i / 100)
        return y

    sizes = [save_steps(chain(n), tmp_path / f"c{n}.html").stat().st_size for n in (40, 80, 160)]
    # One picture: doubling the nodes about doubles the page (a page of one picture per step quadruples).
    assert sizes[1] / sizes[0] < 2.3 and sizes[2] / sizes[1] < 2.3, sizes


def test_save_steps_refuses_other_extensions_without_writing(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.html.*steps\.svg"):
        save_steps(lecture_f(), tmp_path / "steps.svg")
    assert list(tmp_path.iterdir()) == []


HOSTILE = ["<!--<script>", "</script><script>alert(1)</script>", "a & b > c", "\u2028 line \u2029"]


@pytest.mark.parametrize("label", HOSTILE)
def test_no_label_can_reach_the_script_as_markup(tmp_path, label):
    x = Value(2.0, label)
    page = save_steps(x * 3, tmp_path / "s.html").read_text()
    _, data, script = page_parts(page)
    assert "<" not in script  # \u003c instead: nothing can end the script or open a comment in it
    assert page.count("</script>") == 1
    assert data["captions"][2].startswith(f"step 3/3: '{label}' has grad 3")  # and the script gets it back as written


def test_script_json_reads_back_as_the_same_data():
    data = {"captions": ["<!--<script>", "</script>", "&amp; <b>", "\u2028\u2029"], "n": [1, 2.5]}
    text = script_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data


def test_labels_that_look_like_gradients_stay_shown(tmp_path):
    x = Value(2.0, "grad 7")
    y = x * Value(3.0, "local 1 × 2 = 2")
    svg, data, _ = page_parts(save_steps(y, tmp_path / "s.html").read_text())
    assert svg.count('class="grad-value"') == 3 and svg.count('class="upstream"') == 2
    x_box = node_group(svg, data["ids"][-1])
    assert svg_texts(x_box) == ["grad 7", "data 2", "grad 3"]
    assert '<tspan class="grad-value"> 3</tspan>' in x_box and ">grad 7</text>" in x_box


def test_a_single_value_has_one_step(tmp_path):
    svg, data, _ = page_parts(save_steps(Value(5.0, "a"), tmp_path / "s.html").read_text())
    assert data == {"ids": ["v0"], "captions": ["step 1/1: 'a' has grad 1 (∂output/∂output = 1)"]}
    assert '<g id="v0" class="node">' in svg


def test_notebook_slider_walks_through_the_steps_on_one_picture():
    pytest.importorskip("ipywidgets")
    f = lecture_f()
    box = steps_widget(f)
    controls, picture = box.children
    play, slider, caption = controls.children
    assert (slider.min, slider.max, slider.value) == (1, 5, 1)
    assert "step 1/5" in caption.value and picture.value.count("<svg") == 1 and "<?xml" not in picture.value
    scope = re.match(r'<div id="([\w-]+)">', picture.value)[1]

    def hidden(value):
        """Labels of the nodes whose gradient number the style hides, and the highlighted one."""
        style = value[value.index("<style>"): value.index("</style>")]
        svg = value[value.index("<svg"):]
        label = {i: svg_texts(node_group(svg, i))[0] for i in re.findall(r'<g id="(v\d+)" class="node">', svg)}
        pending = {label[i] for i in re.findall(rf"#{scope} #(v\d+) \.grad-value", style)}
        current = [label[i] for i in re.findall(rf"#{scope} #(v\d+) polygon", style)]
        return pending, current

    assert hidden(picture.value) == ({"z", "q", "x", "y"}, ["f"])
    assert f"#{scope} svg {{ max-width: 100%; height: auto; }}" in picture.value  # fits its output: the current node in view
    first = picture.value
    slider.value = 3
    assert "step 3/5" in caption.value and picture.value != first
    assert hidden(picture.value) == ({"x", "y"}, ["q"])
    assert picture.value.split("</style>")[1] == first.split("</style>")[1]  # the same picture: nothing redrawn
    slider.value = 5
    assert hidden(picture.value) == (set(), ["x"])


def test_the_slider_shows_a_sentence_when_the_graph_cannot_be_drawn(monkeypatch):
    pytest.importorskip("ipywidgets")
    from scalargrad.pictures import render

    def broken(*args):
        raise render.RenderError("no renderer today")

    monkeypatch.setattr(render, "render_svg", broken)
    shown = steps_widget(lecture_f())
    assert shown.value == "(could not draw the steps: no renderer today; save_steps writes them as a page)"
