"""Backpropagation step by step: one picture per node, in the order ``backward()`` visits them.

Step k (k = 1 … n, n = the number of value nodes) highlights the k-th node of the
reverse topological order. Its gradient is complete at that moment: every node that uses
it came earlier. The picture shows the gradients of the nodes processed so far (this
one included) and leaves the others blank, so step 1 shows only the output's ∂f/∂f = 1.
Edge labels show each gate's ``local × upstream = contribution``.

The gradients are this pass's ∂root/∂node, worked out without touching any ``.grad``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Iterator

from ..engine.autograd import float_gradients
from .drawing import Options, dot_source, format_number, graph_nodes
from ..files import require_folder, write_atomically
from .picture import Picture
from ..engine.value import Value


def backward_steps(root: Value, *, edge_labels: bool = True, **options) -> Iterator[Picture]:
    """Yield one ``Picture`` per step of backpropagation from ``root`` (see the module docstring).

    Takes ``draw``'s options except ``group="collapse"`` (a collapsed group hides the
    nodes being stepped through). Options and the node limit are checked at once, before
    the first picture.
    """
    return (picture for picture, _ in _frames(root, edge_labels=edge_labels, **options))


def _frames(root: Value, **options) -> Iterator[tuple[Picture, str]]:
    """Check everything, then return a lazy iterator of (picture, caption) per step."""
    if options.get("group") == "collapse":
        raise ValueError("backward_steps cannot collapse groups (the steps go through every node); use group='box' or None")
    if not options.get("show_grad", True):
        raise ValueError("backward_steps shows gradients being filled in; show_grad=False would show nothing")
    opts = Options.checked(**options)
    order = graph_nodes(root, opts)
    return _frame_sources(order, opts)


def _frame_sources(order: list, opts: Options) -> Iterator[tuple[Picture, str]]:
    final = float_gradients(order)
    known: dict = {}
    n = len(order)
    for k, node in enumerate(reversed(order), start=1):
        known[node] = final[node]
        caption = _caption(k, n, node, final[node], opts.digits)
        yield Picture(dot_source(order, opts, grad_of=known.get, current=node, caption=caption), opts.backend), caption


def _caption(k: int, n: int, node: Value, g: float, digits: int) -> str:
    name = f"'{node.label}'" if node.label else f"the '{node.op}' node" if node.op else "a leaf"
    step = f"step {k}/{n}: {name} has grad {format_number(g, digits)}"
    if k == 1:
        return step + " (∂output/∂output = 1)"
    if node.is_leaf:
        return step + " (a leaf: nothing to pass on)"
    return step + "; its gate passes local × grad to its inputs"


def save_steps(root: Value, path, *, edge_labels: bool = True, **options) -> Path:
    """Write every step of ``backward_steps(root, **options)`` to one self-contained HTML page.

    The page holds the SVG frames inline and a slider with previous/next buttons
    (arrow keys work too); it needs no server and no network. Returns the path.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"save_steps writes an HTML page: the file name must end in .html, got {str(path)!r}")
    require_folder(path)
    frames = [(picture.svg(), caption) for picture, caption in _frames(root, edge_labels=edge_labels, **options)]
    write_atomically(path, steps_html(frames).encode("utf-8"))
    return path


_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.S)


def steps_html(frames: list[tuple[str, str]], title: str = "Backpropagation, step by step") -> str:
    """An HTML page showing SVG ``frames`` (each with its caption) one at a time, with a slider."""
    figures = "\n".join(
        f'<figure class="frame"{"" if k == 0 else " hidden"}>{_PROLOGUE.sub("", svg, count=1)}</figure>'
        for k, (svg, _) in enumerate(frames)
    )
    captions = json.dumps([caption for _, caption in frames], ensure_ascii=False).replace("</", "<\\/")
    n = len(frames)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }}
.controls {{ display: flex; gap: 0.6em; align-items: center; margin-bottom: 1em; }}
input[type=range] {{ width: 24em; }}
figure {{ margin: 0; overflow-x: auto; }}
figure svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<div class="controls">
<button id="prev" type="button">&#9664; previous</button>
<input id="slider" type="range" min="1" max="{n}" value="1" aria-label="step">
<button id="next" type="button">next &#9654;</button>
<span id="caption"></span>
</div>
{figures}
<script>
const frames = document.querySelectorAll(".frame");
const captions = {captions};
const slider = document.getElementById("slider");
function show(step) {{
  step = Math.min(Math.max(step, 1), frames.length);
  frames.forEach((f, i) => {{ f.hidden = i !== step - 1; }});
  slider.value = step;
  document.getElementById("caption").textContent = captions[step - 1];
}}
slider.addEventListener("input", () => show(Number(slider.value)));
document.getElementById("prev").addEventListener("click", () => show(Number(slider.value) - 1));
document.getElementById("next").addEventListener("click", () => show(Number(slider.value) + 1));
document.addEventListener("keydown", (e) => {{
  if (e.key === "ArrowLeft") show(Number(slider.value) - 1);
  if (e.key === "ArrowRight") show(Number(slider.value) + 1);
}});
show(1);
</script>
</body>
</html>
"""


def steps_widget(root: Value, *, edge_labels: bool = True, **options):
    """A notebook slider (ipywidgets) walking through ``backward_steps(root, **options)``.

    Needs ``ipywidgets`` (the ``notebooks`` dependency group); all frames are rendered first.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError("steps_widget needs ipywidgets: pip install ipywidgets (or uv sync --group notebooks)") from None
    frames = [(picture.svg(), caption) for picture, caption in _frames(root, edge_labels=edge_labels, **options)]
    slider = widgets.IntSlider(value=1, min=1, max=len(frames), description="step", continuous_update=True)
    caption = widgets.Label(frames[0][1])
    picture = widgets.HTML(frames[0][0])

    def show(change) -> None:
        svg, text = frames[change["new"] - 1]
        picture.value = svg
        caption.value = text

    slider.observe(show, names="value")
    play = widgets.Play(value=1, min=1, max=len(frames), interval=1200)
    widgets.jslink((play, "value"), (slider, "value"))
    return widgets.VBox([widgets.HBox([play, slider, caption]), picture])
