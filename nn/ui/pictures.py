"""Pictures of a :class:`nn.playground.Playground`: the loss curve and the decision boundary
(SVG charts, :mod:`nn.ui.charts`), and the network drawn one node per neuron."""

from __future__ import annotations

import math

from scalargrad import draw

from ..losses import bce_with_logits
from .charts import Chart, line_chart, plane_chart, side_by_side


def boundary_chart(pg, resolution: int = 40) -> Chart:
    """The predicted probability over the plane (blue 0 → white ½ → red 1), its ½ contour and the data points."""
    field = pg.boundary_grid(resolution)
    title = f"{pg.settings['dataset']}: decision boundary (accuracy {pg.accuracy:.2f})"
    return plane_chart(pg.X, pg.y, field=field, title=title)


def loss_chart(pg) -> Chart:
    """The loss after each step, with ln 2 (a coin flip's loss) for reference."""
    loss = pg.history["loss"]
    return line_chart({"loss": loss}, title=f"loss {pg.loss:.4f} after {pg.steps} steps", xlabel="step",
                      ylabel="mean cross entropy", reference=(math.log(2), "ln 2 (a coin flip)"),
                      xmax=max(10, len(loss)), ymax=max([1.0] + loss[:1]) * 1.05)


def figure(pg) -> Chart:
    """The loss curve (left) and the decision boundary (right), side by side."""
    return side_by_side(loss_chart(pg), boundary_chart(pg))


def network_graph(pg, point=None):
    """The network's graph for one input (default: the first data point), drawn by neuron groups:
    each neuron collapsed into one node with its output's value and gradient after a backward pass
    of that point's loss. The parameters' ``.grad`` are left as they were, so training is undisturbed."""
    x = list(point) if point is not None else pg.X[0]
    t = pg.y[pg.X.index(x)] if point is None else 1
    params = pg.model.parameters()
    saved = [p.grad for p in params]
    loss = bce_with_logits([pg.model(x)], [t])
    loss.label = "loss"
    loss.backward()
    picture = draw(loss, group="collapse", params=params, rankdir="LR")
    for p, g in zip(params, saved):
        p.grad = g
    return picture
