"""An interactive playground: a small MLP learning a 2-D dataset while you watch.

    from nn.playground import Playground
    Playground(dataset="xor", hidden=4)        # in a notebook: the controls and live pictures

The training logic (``step``, ``train``, ``reset``, ``history``, ``figure``, ``graph``) is plain
Python and needs no browser; ``widget()`` wraps it in ipywidgets controls
(``nn/playground_widget.py``). matplotlib and
ipywidgets are imported only when a picture or the widget is asked for, so ``import nn``
stays light.

Model: ``MLP(2, [hidden, 1], activation)`` giving a score s; the prediction is σ(s) and the
loss is the mean binary cross entropy of the scores (``bce_with_logits``), full batch.
"""

from __future__ import annotations

import asyncio
import copy
import math
import time

from scalargrad import NonFiniteError, no_grad

from . import data as datasets
from . import optim
from .layers import MLP
from .losses import bce_with_logits

DATASETS = {
    "xor": lambda n, seed: datasets.xor(),
    "moons": lambda n, seed: datasets.moons(n, noise=0.1, seed=seed),
    "circles": lambda n, seed: datasets.circles(n, noise=0.08, seed=seed),
    "spiral": lambda n, seed: datasets.spiral(n, classes=2, noise=0.1, seed=seed),
}
OPTIMIZERS = {
    "sgd": lambda params, lr: optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: optim.RMSprop(params, lr=lr),
    "adagrad": lambda params, lr: optim.Adagrad(params, lr=lr),
    "adam": lambda params, lr: optim.Adam(params, lr=lr),
}
ACTIVATIONS = ("tanh", "relu", "sigmoid")


def _sigmoid(s: float) -> float:
    return 1 / (1 + math.exp(-s)) if s >= 0 else math.exp(s) / (1 + math.exp(s))


_FLOAT_ACTIVATIONS = {"tanh": math.tanh, "relu": lambda s: s if s > 0 else 0.0, "sigmoid": _sigmoid, "linear": lambda s: s}
MAX_HIDDEN = 32


def _choice(value, known, what: str) -> str:
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(map(repr, known))}")
    return value


class Playground:
    """Train ``MLP(2, [hidden, 1], activation)`` on a 2-D dataset, one full-batch step at a time.

    ``dataset``: "xor", "moons", "circles" or "spiral" (two arms); ``n`` points for the generated
    ones (XOR has its four corners). ``optimizer``: "sgd", "momentum", "rmsprop", "adagrad", "adam".
    ``seed`` fixes the data and the initial weights, so the same settings give the same run.
    """

    def __init__(self, dataset="xor", hidden=4, activation="tanh", optimizer="adam", lr=0.05, n=80, seed=0):
        self.settings = {}
        self.configure(dataset=dataset, hidden=hidden, activation=activation, optimizer=optimizer, lr=lr, n=n, seed=seed)
        self._ui = None
        self._task = None

    # ------------------------------------------------------------ settings and state

    @staticmethod
    def _checked(settings: dict) -> dict:
        s = dict(settings)
        _choice(s["dataset"], DATASETS, "dataset")
        _choice(s["activation"], ACTIVATIONS, "activation")
        _choice(s["optimizer"], OPTIMIZERS, "optimizer")
        for key, low, high in (("hidden", 1, MAX_HIDDEN), ("n", 8, 1000)):
            v = s[key]
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ValueError(f"{key} must be a whole number from {low} to {high}, got {v!r}")
        lr = s["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr <= 10 and math.isfinite(lr)):
            raise ValueError(f"lr must be a number in (0, 10], got {lr!r}")
        if isinstance(s["seed"], bool) or not isinstance(s["seed"], int):
            raise ValueError(f"seed must be an int, got {s['seed']!r}")
        s["lr"] = float(lr)
        return s

    def configure(self, **changes) -> "Playground":
        """Change settings (same names as the constructor) and start again from step 0.

        Unknown names or bad values are refused before anything changes.
        """
        unknown = set(changes) - {"dataset", "hidden", "activation", "optimizer", "lr", "n", "seed"}
        if unknown:
            raise TypeError(f"Playground has no setting {', '.join(sorted(unknown))}")
        self.settings = self._checked({**self.settings, **changes})
        self.reset()
        return self

    def reset(self) -> None:
        """New data and fresh weights from the seed; the history is emptied."""
        s = self.settings
        self.X, self.y = DATASETS[s["dataset"]](s["n"], s["seed"])
        self.model = MLP(2, [s["hidden"], 1], activation=s["activation"], seed=s["seed"])
        for name, p in self.model.named_parameters():  # "layers.0.neurons.1.w.0" is drawn as "L0·n1·w0"
            p.label = name.replace("layers.", "L").replace(".neurons.", "·n").replace(".w.", "·w").replace(".b", "·b")
        self.optimizer = OPTIMIZERS[s["optimizer"]](self.model.parameters(), s["lr"])
        self.history = {"loss": [], "accuracy": []}
        self._evaluate()

    @property
    def steps(self) -> int:
        """How many optimizer steps have been taken since the last reset."""
        return len(self.history["loss"])

    # ------------------------------------------------------------ training

    def _forward(self):
        scores = [self.model(x) for x in self.X]
        return scores, bce_with_logits(scores, self.y)

    def _evaluate(self) -> None:
        with no_grad():
            scores, loss = self._forward()
        self.loss = loss.data
        self.accuracy = self._accuracy(scores)

    def _accuracy(self, scores) -> float:
        return sum((s.data > 0) == (t == 1) for s, t in zip(scores, self.y)) / len(self.y)

    def step(self) -> float:
        """One gradient step on the whole dataset; records and returns the loss after it.

        loss = (1/n) Σ bce_with_logits(score_i, y_i); every parameter moves by the optimizer's rule.
        A step whose numbers overflow (a learning rate too large) is refused with scalargrad.NonFiniteError,
        and the weights and the optimizer are left as they were before it.
        """
        weights, shown = [p.data for p in self.model.parameters()], (self.loss, self.accuracy)
        optimizer_state = copy.deepcopy({k: v for k, v in vars(self.optimizer).items() if k != "params"})
        try:
            _, loss = self._forward()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self._evaluate()
            if not math.isfinite(self.loss):
                raise OverflowError(f"the loss became {self.loss}")
        except (ArithmeticError, ValueError) as error:
            for p, d in zip(self.model.parameters(), weights):
                p.data = d
            vars(self.optimizer).update(optimizer_state)
            self.loss, self.accuracy = shown
            raise NonFiniteError(
                f"training diverged at step {self.steps + 1} ({error}); Reset, or lower the learning rate"
            ) from None
        self.history["loss"].append(self.loss)
        self.history["accuracy"].append(self.accuracy)
        return self.loss

    def train(self, steps: int) -> dict:
        """Take ``steps`` gradient steps; returns the history (loss and accuracy after each step)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")
        for _ in range(steps):
            self.step()
        return self.history

    def predict(self, x1: float, x2: float) -> float:
        """The model's probability σ(score) that the point (x1, x2) is of class 1.

        Computed with plain floats from the current weights (no graph), so that a whole
        decision-boundary grid is cheap; the tests hold it equal to the model's own forward.
        """
        x = [float(x1), float(x2)]
        for layer in self.model.layers:
            x = [
                _FLOAT_ACTIVATIONS[n.activation](sum((w.data * xi for w, xi in zip(n.w, x)), n.b.data))
                for n in layer.neurons
            ]
        return _sigmoid(x[0])

    def truth_table(self) -> list[tuple[float, float, int, float]]:
        """XOR's four rows as (x1, x2, target, model's probability of 1)."""
        X, y = datasets.xor()
        return [(a, b, t, self.predict(a, b)) for (a, b), t in zip(X, y)]

    # ------------------------------------------------------------ pictures

    def _bounds(self):
        xs, ys = [p[0] for p in self.X], [p[1] for p in self.X]
        pad_x, pad_y = 0.25 * (max(xs) - min(xs)) + 0.1, 0.25 * (max(ys) - min(ys)) + 0.1
        return min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y

    def plot_boundary(self, ax, resolution: int = 40) -> None:
        """Draw the predicted probability over the plane, the 0.5 contour and the data points on ``ax``."""
        x0, x1, y0, y1 = self._bounds()
        gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
        gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
        grid = [[self.predict(a, b) for a in gx] for b in gy]
        ax.contourf(gx, gy, grid, levels=[i / 10 for i in range(11)], cmap="RdBu_r", alpha=0.55, vmin=0, vmax=1)
        ax.contour(gx, gy, grid, levels=[0.5], colors="k", linewidths=1.2)
        for label, colour in ((0, "#2166ac"), (1, "#b2182b")):
            pts = [p for p, t in zip(self.X, self.y) if t == label]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=colour, edgecolors="black", linewidths=0.6, s=70 if len(self.X) <= 10 else 28, label=f"class {label}")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{self.settings['dataset']}: decision boundary (accuracy {self.accuracy:.2f})")

    def plot_loss(self, ax) -> None:
        """Draw the loss (and accuracy) after each step on ``ax``."""
        loss = self.history["loss"]
        ax.plot(range(1, len(loss) + 1), loss, color="#b2182b", label="loss")
        ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1, label="ln 2 (a coin flip)")
        ax.set_xlabel("step")
        ax.set_ylabel("mean cross entropy")
        ax.set_xlim(0, max(10, len(loss)))
        ax.set_ylim(0, max([1.0] + loss[:1]) * 1.05)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"loss {self.loss:.4f} after {self.steps} steps")

    def figure(self):
        """A matplotlib Figure with the loss curve (left) and the decision boundary (right)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        self.plot_loss(left)
        self.plot_boundary(right)
        return fig

    def graph(self, point=None):
        """The network's graph for one input (default: the first data point), drawn by neuron groups:
        each neuron collapsed into one node with its output's value and gradient after a backward pass
        of that point's loss."""
        from scalargrad import draw

        x = list(point) if point is not None else self.X[0]
        t = self.y[self.X.index(x)] if point is None else 1
        params = self.model.parameters()
        saved = [p.grad for p in params]
        loss = bce_with_logits([self.model(x)], [t])
        loss.label = "loss"
        loss.backward()
        picture = draw(loss, group="collapse", params=params, rankdir="LR")
        for p, g in zip(params, saved):  # the picture must not disturb training
            p.grad = g
        return picture

    # ------------------------------------------------------------ the widget

    def widget(self):
        """The playground as ipywidgets: controls, buttons, status, loss curve, boundary, truth table, graph."""
        if self._ui is None:
            from .playground_widget import PlaygroundWidget

            self._ui = PlaygroundWidget(self)
        return self._ui.root

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    @property
    def running(self) -> bool:
        """True while the live training loop is running."""
        return self._task is not None and not self._task.done()

    def start(self, refresh_every: float = 0.25):
        """Start training on the running event loop (the notebook kernel's); returns the asyncio task.

        The loop takes steps for about ``refresh_every`` seconds, redraws, and yields to the
        kernel, so button clicks (Pause) are handled while it trains.
        """
        if not self.running:
            self._task = asyncio.get_event_loop().create_task(self._run(refresh_every))
        return self._task

    def pause(self) -> None:
        """Stop the live training loop after its current step."""
        if self.running:
            self._task.cancel()

    async def _run(self, refresh_every: float) -> None:
        try:
            while True:
                deadline = time.perf_counter() + refresh_every
                while time.perf_counter() < deadline:
                    self.step()
                if self._ui is not None:
                    self._ui.refresh()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass
        except FloatingPointError as error:
            if self._ui is None:
                raise
            self._ui.show_error(str(error))
        finally:
            if self._ui is not None:
                self._ui.training_stopped()
