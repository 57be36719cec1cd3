"""Backpropagation step by step: one picture per node, the HTML page and the notebook slider."""

import re

import pytest
from draw_helpers import dot_nodes, svg_texts

from scalargrad import Value, backward_steps, save_steps, topological_order
from scalargrad.pictures.drawing import GraphTooLarge
from scalargrad.pictures.steps import steps_widget


def lecture_f():
    """(x + y) z at -2, 5, -4; backward() NOT called: the steps work the gradients out themselves."""
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return f


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


def test_save_steps_writes_one_self_contained_page(tmp_path):
    page = save_steps(lecture_f(), tmp_path / "steps.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<figure class="frame"') == 5 and page.count("<svg") == 5
    assert page.count("hidden>") == 4  # only the first frame is visible at first
    assert 'type="range" min="1" max="5"' in page and 'id="prev"' in page and 'id="next"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "<link" not in page and "<?xml" not in page
    first_frame = page.split('<figure class="frame"')[1]
    assert "step 1/5" in "".join(svg_texts(first_frame))


def test_save_steps_refuses_other_extensions_without_writing(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.html.*steps\.svg"):
        save_steps(lecture_f(), tmp_path / "steps.svg")
    assert list(tmp_path.iterdir()) == []


def test_captions_cannot_close_the_script(tmp_path):
    x = Value(2.0, "</script><script>alert(1)</script>")
    page = save_steps(x * 3, tmp_path / "s.html").read_text()
    assert page.count("</script>") == 1


def test_notebook_slider_walks_through_the_frames():
    pytest.importorskip("ipywidgets")
    box = steps_widget(lecture_f())
    controls, picture = box.children
    play, slider, caption = controls.children
    assert (slider.min, slider.max, slider.value) == (1, 5, 1)
    assert "step 1/5" in caption.value and picture.value.lstrip().startswith("<?xml")
    first = picture.value
    slider.value = 3
    assert "step 3/5" in caption.value and picture.value != first
    assert "grad -4" in svg_texts(picture.value)
