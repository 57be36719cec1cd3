"""Pictures of a :class:`nn.playground.Playground`: the loss curve and the decision boundary
(matplotlib, imported when a picture is made), and the network drawn one node per neuron."""

from __future__ import annotations

import io
import math

from scalargrad import draw

from ..losses import bce_with_logits


def plot_boundary(pg, ax, resolution: int = 40) -> None:
    """Draw the predicted probability over the plane, the 0.5 contour and the data points on ``ax``."""
    xs, ys, grid = pg.boundary_grid(resolution)
    ax.contourf(xs, ys, grid, levels=[i / 10 for i in range(11)], cmap="RdBu_r", alpha=0.55, vmin=0, vmax=1)
    ax.contour(xs, ys, grid, levels=[0.5], colors="k", linewidths=1.2)
    for label, colour in ((0, "#2166ac"), (1, "#b2182b")):
        pts = [p for p, t in zip(pg.X, pg.y) if t == label]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=colour, edgecolors="black", linewidths=0.6,
                   s=70 if len(pg.X) <= 10 else 28, label=f"class {label}")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_title(f"{pg.settings['dataset']}: decision boundary (accuracy {pg.accuracy:.2f})")


def plot_loss(pg, ax) -> None:
    """Draw the loss after each step on ``ax``, with ln 2 (a coin flip's loss) for reference."""
    loss = pg.history["loss"]
    ax.plot(range(1, len(loss) + 1), loss, color="#b2182b", label="loss")
    ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1, label="ln 2 (a coin flip)")
    ax.set_xlabel("step")
    ax.set_ylabel("mean cross entropy")
    ax.set_xlim(0, max(10, len(loss)))
    ax.set_ylim(0, max([1.0] + loss[:1]) * 1.05)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"loss {pg.loss:.4f} after {pg.steps} steps")


def figure(pg):
    """A matplotlib Figure with the loss curve (left) and the decision boundary (right)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_loss(pg, left)
    plot_boundary(pg, right)
    return fig


def png(plot, pg, figsize) -> bytes:
    """``plot(pg, ax)`` drawn alone on a figure of ``figsize`` inches, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=90, layout="constrained")
    plot(pg, fig.subplots())
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


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
