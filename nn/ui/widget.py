"""The ipywidgets face of a :class:`nn.playground.Playground`: controls, buttons, live pictures.

``PlaygroundWidget(pg)`` shows itself when it is the last expression of a notebook cell; its
``root`` is the ipywidgets box. Step, Train/Pause (the live loop of :mod:`nn.ui.live`) and
Reset drive ``pg``; changing a control reconfigures ``pg`` and starts again from step 0.
"""

from __future__ import annotations

import re
import time

from scalargrad import NonFiniteError

from ..playground import ACTIVATIONS, DATASETS, OPTIMIZERS
from .live import LiveTraining
from .pictures import boundary_chart, loss_chart, network_graph


def _fitted(svg: str, max_width: float = 660, max_height: float = 460) -> str:
    """The SVG scaled down (never up, keeping its proportions) to fit max_width × max_height points."""
    size = re.search(r'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', svg)
    if not size:
        return svg
    width, height = float(size[1]), float(size[2])
    scale = min(1.0, max_width / width, max_height / height)
    head = size[0].replace(f'width="{size[1]}pt"', f'width="{width * scale:.0f}pt"')
    head = head.replace(f'height="{size[2]}pt"', f'height="{height * scale:.0f}pt"')
    return svg.replace(size[0], head, 1)


class PlaygroundWidget:
    """The ipywidgets face of a Playground (kept apart so the logic never needs a browser)."""

    def __init__(self, pg):
        import ipywidgets as w

        self.pg = pg
        self.live = LiveTraining(pg, on_refresh=self.refresh, on_error=self.show_error, on_stop=self.training_stopped)
        s = pg.settings
        self.dataset = w.Dropdown(options=list(DATASETS), value=s["dataset"], description="dataset")
        self.hidden = w.IntSlider(value=s["hidden"], min=1, max=16, description="hidden units")
        self.activation = w.Dropdown(options=list(ACTIVATIONS), value=s["activation"], description="activation")
        self.optimizer = w.Dropdown(options=list(OPTIMIZERS), value=s["optimizer"], description="optimizer")
        rates = sorted({0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, s["lr"]})
        self.lr = w.SelectionSlider(options=rates, value=s["lr"], description="learning rate")
        self.step_button = w.Button(description="Step", icon="step-forward")
        self.train_button = w.Button(description="Train", icon="play", button_style="success")
        self.reset_button = w.Button(description="Reset", icon="refresh")
        self.status = w.HTML()
        self.loss_image = w.HTML()
        self.boundary_image = w.HTML()
        self.table = w.HTML()
        self.graph = w.HTML()

        for control in (self.dataset, self.hidden, self.activation, self.optimizer, self.lr):
            control.style.description_width = "100px"
            control.observe(self._settings_changed, names="value")
        self.step_button.on_click(lambda _: self._step())
        self.train_button.on_click(lambda _: self._train_or_pause())
        self.reset_button.on_click(lambda _: self._reset())

        buttons = w.HBox([self.step_button, self.train_button, self.reset_button])
        controls = w.VBox([self.dataset, self.hidden, self.activation, self.optimizer, self.lr, buttons, self.status])
        controls.add_class("playground-controls")
        self.status.add_class("playground-status")
        self.boundary_image.add_class("playground-boundary")
        self.loss_image.add_class("playground-loss")
        self.table.add_class("playground-truth-table")
        self.graph.add_class("playground-graph")
        self.root = w.VBox([
            w.HBox([controls, self.loss_image]),
            w.HBox([self.boundary_image, self.table]),
            w.HTML("<b>The network, one node per neuron</b> (value and gradient for the first data point)"),
            self.graph,
        ])
        self.root.add_class("playground")
        self.refresh(graph=True)

    def refresh(self, graph: bool | None = None) -> None:
        pg = self.pg
        self.status.value = (
            f"<code>step {pg.steps} · loss {pg.loss:.4f} · accuracy {pg.accuracy:.2f}</code>"
        )
        self.loss_image.value = loss_chart(pg).svg
        self.boundary_image.value = boundary_chart(pg).svg
        self.table.value = self._table_html() if pg.settings["dataset"] == "xor" else ""
        now = time.perf_counter()
        if graph or (graph is None and now - getattr(self, "_graph_drawn", 0.0) > 2.0):
            self.graph.value = _fitted(network_graph(pg).svg())
            self._graph_drawn = now

    def _table_html(self) -> str:
        rows = "".join(
            f"<tr><td>{a:g}</td><td>{b:g}</td><td>{t}</td><td>{p:.3f}</td><td>{'✓' if (p > 0.5) == (t == 1) else '✗'}</td></tr>"
            for a, b, t, p in self.pg.truth_table()
        )
        return (
            "<b>XOR truth table</b><table><tr><th>x1</th><th>x2</th><th>x1 XOR x2</th>"
            f"<th>model P(1)</th><th></th></tr>{rows}</table>"
        )

    def show_error(self, message: str) -> None:
        self.status.value = f"<span style='color:#b2182b'>{message}</span>"

    def training_stopped(self) -> None:
        self.train_button.description, self.train_button.icon = "Train", "play"
        self.train_button.button_style = "success"
        self.refresh(graph=True)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.root)

    def _step(self) -> None:
        if not self.live.running:
            try:
                self.pg.step()
            except NonFiniteError as error:
                self.show_error(str(error))
                return
            self.refresh(graph=True)

    def _train_or_pause(self) -> None:
        if self.live.running:
            self.live.pause()
        else:
            self.train_button.description, self.train_button.icon = "Pause", "pause"
            self.train_button.button_style = "warning"
            self.live.start()

    def _reset(self) -> None:
        self.live.pause()
        self.pg.reset()
        self.refresh(graph=True)

    def _settings_changed(self, _change) -> None:
        self.live.pause()
        self.pg.configure(
            dataset=self.dataset.value, hidden=self.hidden.value, activation=self.activation.value,
            optimizer=self.optimizer.value, lr=float(self.lr.value),
        )
        self.refresh(graph=True)
