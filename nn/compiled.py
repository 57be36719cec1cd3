"""Training through a compiled program: ``fit(..., compile=True)``.

The per-sample loss ``loss(model(x), t)`` is traced once with placeholders for the
sample's features, its target and every dropout choice, compiled with
``scalargrad.compile``, and then run on whole (mini)batches of numpy arrays. The
gradients, losses and accuracies are those of the eager loop (within rounding).

* Targets are placeholders when the loss uses them as Values (mse, l1, bce, bce_with_logits);
  a loss whose graph depends on the target's value (cross_entropy's class index, hinge's
  ±1) gets one program per distinct target instead.
* Dropout: each ``Dropout`` draws its keep/drop choices from its own random generator in
  the eager loop's order (sample by sample, layer by layer), so the masks, inputs of the
  program, are fresh for every sample and step and the same as eager's.
"""

from __future__ import annotations

import numpy as np
from scalargrad import Program, Value, topological_order
from scalargrad.engine import checks

from .layers import Dropout

#: More distinct targets than this, with a loss that cannot take the target as an input, is refused.
MAX_PROGRAMS = 64


def _placeholders(sample, name: str):
    """Values standing for one sample's numbers: one Value, or a list for a list of numbers."""
    if isinstance(sample, (list, tuple)):
        return [Value(float(v), f"{name}{i}") for i, v in enumerate(sample)]
    return Value(float(sample), name)


def _flat(placeholders) -> list:
    return list(placeholders) if isinstance(placeholders, list) else [placeholders]


def _modules(module):
    yield module
    for _, child in module.named_children():
        yield from _modules(child)


class CompiledTrainer:
    """Computes, for one batch, what fit's eager step does: the mean loss's gradients into
    each parameter's ``.grad``, the summed loss and the number of correct outputs."""

    def __init__(self, compile, model, X, y, loss_fn, threshold: float, l2: float, correct):  # noqa: A002
        checks.flag(compile, "fit: compile")
        self.model, self.loss_fn, self.threshold, self.l2 = model, loss_fn, threshold, l2
        self.correct = correct  # fit's rule for one output: correct(output, target, threshold)
        self.X = X
        try:
            self.features = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("fit(compile=True) needs every example to be a number or a list of the same "
                             "number of numbers") from None
        self.dropouts = [m for m in _modules(model) if isinstance(m, Dropout) and m.training and m.p > 0.0]
        self.params = model.parameters()
        self.by_target = None
        self.traced = self._trace(X[0], y[0], placeholder_target=True)
        if self.traced is None:  # the loss's graph depends on the target's value
            self.by_target = {}

    def _trace(self, x0, t0, placeholder_target: bool):
        """The program of ``loss(model(x), t)`` with inputs (features..., target..., masks...)."""
        masks = []  # (placeholder, the Dropout it belongs to), in the order eager draws them

        def drop(module):
            def masked(x):
                mask = Value(1.0, f"mask{len(masks)}")
                masks.append((mask, module))
                return x * mask
            return masked

        for d in self.dropouts:
            object.__setattr__(d, "_drop", drop(d))
        try:
            xs = _placeholders(x0, "x")
            output = self.model(xs)
            target = _placeholders(t0, "y") if placeholder_target else t0
            try:
                loss = self.loss_fn(output, target)
            except (TypeError, ValueError):
                if placeholder_target:
                    return None
                raise
        finally:
            for d in self.dropouts:
                object.__delattr__(d, "_drop")
        targets = _flat(target) if placeholder_target else []
        if placeholder_target and not set(targets) <= set(topological_order(loss)):
            return None
        outputs = output if isinstance(output, (list, tuple)) else [output]
        return Program(loss, [*_flat(xs), *targets, *(m for m, _ in masks)], watch=outputs), [d for _, d in masks]

    def _columns(self, Xb) -> list:
        features = self.features if len(Xb) == len(self.X) and Xb == self.X else np.asarray(Xb, dtype=np.float64)
        return list(features.T) if features.ndim == 2 else [features]

    @staticmethod
    def _masks(owners, n: int):
        """Dropout's factors (0 or 1/(1 − p)) for n samples, one column per mask, drawn in
        eager's order (sample by sample, and within a sample, layer by layer) by each layer's
        own rule: its ``_drop`` applied to 1.0 is the factor it would multiply a number by."""
        if not owners:
            return np.empty((n, 0))
        draws = [[d._drop(1.0) for d in owners] for _ in range(n)]
        return np.array(draws, dtype=np.float64).reshape(n, len(owners))

    def backward(self, Xb: list, yb: list) -> tuple[float, int]:
        """Add the batch's mean-loss gradient (plus the l2 term's) to every parameter's ``.grad``;
        return (the summed loss, how many outputs were right)."""
        n = len(Xb)
        columns = self._columns(Xb)
        if self.by_target is None:
            program, owners = self.traced
            run = self._backward(program, columns, np.asarray(yb, dtype=np.float64), self._masks(owners, n), n)
            losses, outputs = run.output, run.watched
        else:
            losses, outputs = self._backward_by_target(columns, yb, n)
        if self.l2:
            for p in self.params:
                p.grad += self.l2 * p.data * 2.0
        return float(np.sum(losses)), self._correct(outputs, yb)

    @staticmethod
    def _backward(program, columns, targets, masks, batch: int):
        target_columns = [] if targets is None else list(targets.T) if targets.ndim == 2 else [targets]
        # seed 1/batch: ∂(mean loss)/∂(one sample's loss), as eager's sum(...) * (1/n) passes it on.
        return program.run(*columns, *target_columns, *masks.T, seed=1.0 / batch, accumulate=True)

    def _backward_by_target(self, columns, yb, n):
        groups = {}
        for i, t in enumerate(yb):
            groups.setdefault(tuple(t) if isinstance(t, list) else t, []).append(i)
        for key, rows in groups.items():
            if key not in self.by_target:
                if len(self.by_target) >= MAX_PROGRAMS:
                    raise ValueError(f"fit(compile=True): this loss's graph depends on the target's value and the data "
                                     f"has more than {MAX_PROGRAMS} distinct targets; train without compile")
                self.by_target[key] = self._trace(self.X[0], yb[rows[0]], placeholder_target=False)
        masks = self._masks(self.by_target[key][1], n)  # every program has the same masks
        losses, outputs = np.empty(n), None
        for key, rows in groups.items():
            run = self._backward(self.by_target[key][0], [c[rows] for c in columns], None, masks[rows], n)
            losses[rows] = run.output
            if outputs is None:
                outputs = [np.empty(n) for _ in run.watched]
            for column, values in zip(outputs, run.watched):
                column[rows] = values
        return losses, outputs

    def _correct(self, outputs, yb) -> int:
        """How many outputs fit's rule counts as right, for the whole batch at once."""
        try:
            targets = np.asarray(yb, dtype=np.float64)
        except (TypeError, ValueError):
            targets = None
        if targets is None or targets.ndim != 1:
            return sum(self.correct([float(o[i]) for o in outputs], t, self.threshold) for i, t in enumerate(yb))
        if len(outputs) == 1:
            return int(np.sum((outputs[0] > self.threshold) == (targets > 0)))
        return int(np.sum(np.argmax(np.stack(outputs), axis=0) == targets))
