"""Backpropagation step by step, in the order ``backward()`` visits the nodes.

Step k (k = 1 … n, n = the number of value nodes) highlights the k-th node of the
reverse topological order. Its gradient is complete at that moment: every node that uses
it came earlier. A step shows the gradients of the nodes processed so far (this one
included) and leaves the others blank, so step 1 shows only the output's ∂f/∂f = 1.
Edge labels show each gate's ``local × upstream = contribution`` once its upstream
gradient is known.

The gradients are this pass's ∂root/∂node, worked out without touching any ``.grad``.

``backward_steps`` yields one picture per step. The page (``save_steps``) and the
notebook slider (``steps_widget``) draw the graph once, with every gradient, and each step
only changes which gradient numbers are hidden and which node is highlighted, so their
size and time grow with the graph, not with its square.
"""

from __future__ import annotations

import html
import itertools
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Iterator

from ..engine.autograd import float_gradients
from ..engine.value import Value
from ..files import require_folder, write_atomically
from .drawing import CURRENT_STYLE, Options, dot_source, format_number, graph_nodes, printable
from .picture import Picture, script_json
from .render import RenderError

TITLE = "Backpropagation, step by step"
_widget_numbers = itertools.count(1)  # names each widget's style scope; the same in every fresh kernel


def backward_steps(root: Value, *, edge_labels: bool = True, **options) -> Iterator[Picture]:
    """Yield one ``Picture`` per step of backpropagation from ``root`` (see the module docstring).

    Takes ``draw``'s options except ``group="collapse"`` (a collapsed group hides the
    nodes being stepped through). Options and the node limit are checked at once, before
    the first picture; each picture is laid out when it is shown.
    """
    order, opts = _checked(root, edge_labels=edge_labels, **options)
    return _frames(order, opts)


def _checked(root: Value, **options) -> tuple[list, Options]:
    if options.get("group") == "collapse":
        raise ValueError("backward_steps cannot collapse groups (the steps go through every node); use group='box' or None")
    if not options.get("show_grad", True):
        raise ValueError("backward_steps shows gradients being filled in; show_grad=False would show nothing")
    opts = Options.checked(**options)
    return graph_nodes(root, opts), opts


def _steps(order: list, digits: int) -> tuple[dict, list[tuple[Value, str]]]:
    """(∂root/∂node for every node, [(node, caption)] in the order backpropagation visits them)."""
    final = float_gradients(order)
    n = len(order)
    return final, [(node, _caption(k, n, node, final[node], digits)) for k, node in enumerate(reversed(order), start=1)]


def _frames(order: list, opts: Options) -> Iterator[Picture]:
    final, steps = _steps(order, opts.digits)
    known: dict = {}
    for node, caption in steps:
        known[node] = final[node]
        yield Picture(dot_source(order, opts, grad_of=known.get, current=node, caption=caption), opts.backend, opts.time_limit)


def _caption(k: int, n: int, node: Value, g: float, digits: int) -> str:
    name = f"'{node.label}'" if node.label else f"the '{node.op}' node" if node.op else "a leaf"
    name = printable(name)
    step = f"step {k}/{n}: {name} has grad {format_number(g, digits)}"
    if k == 1:
        return step + " (∂output/∂output = 1)"
    if node.is_leaf:
        return step + " (a leaf: nothing to pass on)"
    return step + "; its gate passes local × grad to its inputs"


# ---------------------------------------------------------------- one picture, many steps


class StepPicture:
    """The graph drawn once with every gradient, and what each step shows of it.

    ``svg`` has ids from the DOT names (``v<i>`` per value node, ``v<i>_in<k>`` per edge
    into its gate); each gradient number and each edge label's ``× upstream = contribution``
    is a ``<tspan>`` (classes ``grad-value``, ``upstream``) that a step hides while its node
    is pending. ``ids[k - 1]`` is the node of step k, ``captions[k - 1]`` its caption.
    """

    def __init__(self, root: Value, **options):
        order, opts = _checked(root, **options)
        index = {node: i for i, node in enumerate(order)}
        final, steps = _steps(order, opts.digits)
        source = dot_source(order, opts, grad_of=final.get, element_ids=True)
        self.svg = _split_step_texts(_PROLOGUE.sub("", Picture(source, opts.backend, opts.time_limit).svg(), count=1))
        self.ids = [f"v{index[node]}" for node, _ in steps]
        self.captions = [caption for _, caption in steps]

    def css(self, step: int, scope: str) -> str:
        """CSS that shows ``step`` of the picture inside the element with id ``scope``."""
        hidden = ", ".join(f"#{scope} #{i} .grad-value, #{scope} [id^={i}_in] .upstream" for i in self.ids[step:])
        return (f"{hidden} {{ visibility: hidden; }}\n" if hidden else "") + _current_css(f"#{scope} #{self.ids[step - 1]}")


_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.S)  # the XML declaration and doctype, not wanted inside HTML
_WITHIN_GROUP = r"(?:(?!</g>).)*?"  # anything up to the group's end
_NODE_GROUP = re.compile(rf'(<g id="v\d+" class="node">{_WITHIN_GROUP})(<text[^>]*>grad)( [^<]*)(</text>\s*</g>)', re.S)
_EDGE_LABEL = re.compile(rf'(<g id="v\d+_in\d+" class="edge">{_WITHIN_GROUP}<text[^>]*>local [^ <]*)( ×[^<]*)(</text>)', re.S)


def _split_step_texts(svg: str) -> str:
    """Put each value node's gradient number and each edge label's upstream part in its own tspan."""
    svg = _NODE_GROUP.sub(r'\1\2<tspan class="grad-value">\3</tspan>\4', svg)
    return _EDGE_LABEL.sub(r'\1<tspan class="upstream">\2</tspan>\3', svg)


def _current_css(selector: str) -> str:
    """The highlight of the node being processed (``CURRENT_STYLE``), as CSS for ``selector``."""
    fill, stroke, width = CURRENT_STYLE["fillcolor"], CURRENT_STYLE["color"], CURRENT_STYLE["penwidth"]
    return (
        f"{selector} polygon {{ fill: {fill}; stroke: {stroke}; stroke-width: {width}; }}\n"
        f"{selector} polyline {{ stroke: {stroke}; }}\n"
    )


def save_steps(root: Value, path, *, edge_labels: bool = True, **options) -> Path:
    """Write the steps of ``backward_steps(root, **options)`` to one self-contained HTML page.

    The page holds the picture once, inline, and a script that shows each step on it,
    with a slider and previous/next buttons (arrow keys work too); it needs no server and
    no network. Returns the path.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"save_steps writes an HTML page: the file name must end in .html, got {str(path)!r}")
    require_folder(path)
    write_atomically(path, steps_html(StepPicture(root, edge_labels=edge_labels, **options)).encode("utf-8"))
    return path


def steps_html(picture: StepPicture, title: str = TITLE) -> str:
    """The step-through page of ``picture`` (the template ``steps.html``, next to this module)."""
    template = Template(resources.files(__package__).joinpath("steps.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=html.escape(title),
        steps=len(picture.ids),
        picture=picture.svg,
        step_css=".pending .grad-value, .pending .upstream { visibility: hidden; }\n" + _current_css(".current"),
        data=script_json({"ids": picture.ids, "captions": picture.captions}),
    )




def steps_widget(root: Value, *, edge_labels: bool = True, **options):
    """A notebook slider (ipywidgets) walking through the steps of ``backward_steps(root, **options)``.

    Needs ``ipywidgets`` (the ``notebooks`` dependency group). The graph is drawn once; each
    step changes only a style sheet scoped to this widget's picture.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError("steps_widget needs ipywidgets: pip install ipywidgets (or uv sync --group notebooks)") from None
    try:
        picture = StepPicture(root, edge_labels=edge_labels, **options)
    except RenderError as error:  # a sentence in the notebook, not a traceback (as Picture's display)
        return widgets.HTML(html.escape(f"(could not draw the steps: {error}; save_steps writes them as a page)"))
    scope = f"scalargrad-steps-{next(_widget_numbers)}"

    def shown(step: int) -> str:
        # The whole picture fits the output's width (so the current node is always in view);
        # save_steps writes the same steps as a page to see at full size.
        fit = f"#{scope} svg {{ max-width: 100%; height: auto; }}\n"
        return f'<div id="{scope}"><style>\n{fit}{picture.css(step, scope)}</style>\n{picture.svg}</div>'

    n = len(picture.ids)
    slider = widgets.IntSlider(value=1, min=1, max=n, description="step", continuous_update=True)
    caption = widgets.Label(picture.captions[0])
    view = widgets.HTML(shown(1))

    def show(change) -> None:
        view.value = shown(change["new"])
        caption.value = picture.captions[change["new"] - 1]

    slider.observe(show, names="value")
    play = widgets.Play(value=1, min=1, max=n, interval=1200)
    widgets.jslink((play, "value"), (slider, "value"))
    return widgets.VBox([widgets.HBox([play, slider, caption]), view])
