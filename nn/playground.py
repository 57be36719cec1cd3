"""The playground's logic: a small MLP learning a 2-D dataset one full-batch step at a time.

    from nn.playground import Playground
    pg = Playground(dataset="xor", hidden=4)
    pg.train(150); pg.truth_table(); pg.boundary_grid()

Plain Python with no pictures, widgets or event loop: the notebook face (controls, the live
training loop, matplotlib plots, the network graph) is :mod:`nn.ui`, which uses this module;
this module never imports it.

Model: ``MLP(2, [hidden, 1], activation)`` giving a score s; the prediction is σ(s) and the
loss is the mean binary cross entropy of the scores (``bce_with_logits``), full batch.
"""

from __future__ import annotations

import math

from scalargrad import NonFiniteError, no_grad
from scalargrad.engine import checks

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
SETTINGS = ("dataset", "hidden", "activation", "optimizer", "lr", "n", "seed")
MAX_HIDDEN = 32
MAX_LR = 10


class Playground:
    """Train ``MLP(2, [hidden, 1], activation)`` on a 2-D dataset, one full-batch step at a time.

    ``dataset``: "xor", "moons", "circles" or "spiral" (two arms); ``n`` points for the generated
    ones (XOR has its four corners). ``optimizer``: "sgd", "momentum", "rmsprop", "adagrad", "adam".
    ``seed`` fixes the data and the initial weights, so the same settings give the same run.
    """

    def __init__(self, dataset="xor", hidden=4, activation="tanh", optimizer="adam", lr=0.05, n=80, seed=0):
        self.settings = {}
        self.configure(dataset=dataset, hidden=hidden, activation=activation, optimizer=optimizer, lr=lr, n=n, seed=seed)

    # ------------------------------------------------------------ settings and state

    @staticmethod
    def _checked(settings: dict) -> dict:
        s = dict(settings)
        checks.one_of(s["dataset"], tuple(DATASETS), "dataset")
        checks.one_of(s["activation"], ACTIVATIONS, "activation")
        checks.one_of(s["optimizer"], tuple(OPTIMIZERS), "optimizer")
        s["hidden"] = checks.whole(s["hidden"], "hidden", low=1, high=MAX_HIDDEN)
        s["n"] = checks.whole(s["n"], "n", low=8, high=1000)
        s["lr"] = checks.number(s["lr"], "lr", low=0, high=MAX_LR, low_open=True)
        s["seed"] = checks.whole(s["seed"], "seed")
        return s

    def configure(self, **changes) -> "Playground":
        """Change settings (same names as the constructor) and start again from step 0.

        Unknown names or bad values are refused before anything changes.
        """
        unknown = set(changes) - set(SETTINGS)
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
        A step whose numbers stop being finite (a learning rate too large) is refused with
        ``scalargrad.NonFiniteError``, and the weights and the optimizer are left as they were.
        """
        weights, shown = [p.data for p in self.model.parameters()], (self.loss, self.accuracy)
        optimizer_state = self.optimizer.state_dict()
        try:
            _, loss = self._forward()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self._evaluate()
            if not math.isfinite(self.loss):
                raise NonFiniteError(f"the loss became {self.loss}")
        except (ArithmeticError, ValueError) as error:
            for p, d in zip(self.model.parameters(), weights):
                p.data = d
            self.optimizer.load_state_dict(optimizer_state)
            self.loss, self.accuracy = shown
            raise NonFiniteError(
                f"training diverged at step {self.steps + 1} ({error}); Reset, or lower the learning rate"
            ) from None
        self.history["loss"].append(self.loss)
        self.history["accuracy"].append(self.accuracy)
        return self.loss

    def train(self, steps: int) -> dict:
        """Take ``steps`` gradient steps; returns the history (loss and accuracy after each step)."""
        for _ in range(checks.whole(steps, "steps", low=0)):
            self.step()
        return self.history

    def predict(self, x1: float, x2: float) -> float:
        """The model's probability σ(score) that the point (x1, x2) is of class 1.

        The model's own forward, under ``no_grad`` (no graph is kept): the decision boundary
        is exactly what the model computes.
        """
        with no_grad():
            return self._probability(x1, x2)

    def _probability(self, x1: float, x2: float) -> float:
        return self.model([float(x1), float(x2)]).sigmoid().data

    def truth_table(self) -> list[tuple[float, float, int, float]]:
        """XOR's four rows as (x1, x2, target, model's probability of 1)."""
        X, y = datasets.xor()
        return [(a, b, t, self.predict(a, b)) for (a, b), t in zip(X, y)]

    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max): the data's extent with a quarter of it as margin on each side."""
        xs, ys = [p[0] for p in self.X], [p[1] for p in self.X]
        pad_x, pad_y = 0.25 * (max(xs) - min(xs)) + 0.1, 0.25 * (max(ys) - min(ys)) + 0.1
        return min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y

    def boundary_grid(self, resolution: int = 40) -> tuple[list[float], list[float], list[list[float]]]:
        """(xs, ys, p): ``resolution`` evenly spaced xs and ys over :meth:`bounds`, and the
        predicted probability ``p[j][i] = predict(xs[i], ys[j])`` at every grid point."""
        resolution = checks.whole(resolution, "resolution", low=2, high=500)
        x0, x1, y0, y1 = self.bounds()
        xs = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
        ys = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
        with no_grad():
            return xs, ys, [[self._probability(a, b) for a in xs] for b in ys]
