"""The playground's notebook face, apart from its logic (:mod:`nn.playground`):

* :mod:`nn.ui.pictures` — the loss curve and the decision boundary (SVG charts of
  :mod:`nn.ui.charts`, no plotting library), and the
  network drawn one node per neuron (``scalargrad.draw``);
* :mod:`nn.ui.live` — training on the notebook kernel's event loop until paused (asyncio);
* :mod:`nn.ui.widget` — the ipywidgets controls that tie them together.

    from nn.playground import Playground
    from nn.ui import PlaygroundWidget, figure, network_graph

    pg = Playground(dataset="xor", hidden=4)
    PlaygroundWidget(pg)       # in a notebook: the controls, Step / Train / Pause / Reset, live pictures

ipywidgets is imported only when the widget is made.
"""

from .live import LiveTraining
from .charts import Chart, line_chart, plane_chart
from .pictures import boundary_chart, figure, loss_chart, network_graph
from .widget import PlaygroundWidget

__all__ = [
    "PlaygroundWidget", "LiveTraining", "figure", "network_graph", "boundary_chart", "loss_chart",
    "Chart", "line_chart", "plane_chart",
]
