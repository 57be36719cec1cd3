"""Training through a compiled program: ``fit(..., compile=True)``.

The per-sample loss ``loss(model(x), t)`` is traced once with placeholders for the
sample's features, its target and every dropout choice, compiled with
``scalargrad.compile``, and then run on whole (mini)batches of numpy arrays. The
gradients, losses and accuracies are those of the eager loop (within rounding).

* Targets are placeholders when the loss uses them as Values (mse, l1, bce, bce_with_logits).
  Cross-entropy (``cross_entropy``, ``CrossEntropyLoss``) is traced as −Σₖ tₖ·log_softmax(z)ₖ
  with the one-hot tₖ as placeholders: with tₖ ∈ {0, 1} it is exactly ln Σⱼ e^zⱼ − z_class,
  value and gradient, in one program for every class. Any other loss whose graph depends on
  the target's value (hinge's ±1) gets one program per distinct target instead.
* BatchNorm1d (one such layer, with no Dropout before it): its batch mean μ and biased variance
  σ² are inputs of the program (numbers, the same for every sample). Each batch runs in three
  passes: the layers before the norm give every sample's hⱼ (its input), so μⱼ = (1/N) Σₖ hₖⱼ
  and σ²ⱼ = (1/N) Σₖ (hₖⱼ − μⱼ)²; the loss program runs with them, giving the parameters'
  direct gradients and G_μⱼ = ∂L/∂μⱼ, G_σ²ⱼ = ∂L/∂σ²ⱼ (summed over the samples); then the
  statistics' own dependence on the parameters is added through the layers before the norm,
  with ∂L/∂hₖⱼ += G_μⱼ/N + G_σ²ⱼ · 2(hₖⱼ − μⱼ)/N (the derivatives of the mean and the
  variance; the variance's term through μ vanishes since Σₖ (hₖⱼ − μⱼ) = 0). That is eager's
  gradient, where the batch's graph carries the statistics. The running statistics move as in
  eager.
* Dropout: each ``Dropout`` draws its keep/drop choices from its own random generator in
  the eager loop's order (sample by sample, layer by layer), so the masks, inputs of the
  program, are fresh for every sample and step and the same as eager's.
"""

from __future__ import annotations

import numpy as np
from scalargrad import NonFiniteError, Program, Value, no_grad, topological_order
from scalargrad.engine import checks
from scalargrad.engine.autograd import add_to_grads

from . import losses
from .layers import Dropout
from .loss_modules import CrossEntropyLoss
from .normalization import BatchNorm1d
from .optim import Optimizer

#: More distinct targets than this, with a loss that cannot take the target as an input, is refused.
MAX_PROGRAMS = 64


def _placeholders(sample, name: str):
    """Values standing for one sample's numbers: one Value, or a list for a list of numbers."""
    if isinstance(sample, (list, tuple)):
        return [Value(float(v), f"{name}{i}") for i, v in enumerate(sample)]
    return Value(float(sample), name)


def _flat(placeholders) -> list:
    return list(placeholders) if isinstance(placeholders, list) else [placeholders]


def _is_cross_entropy(loss_fn) -> bool:
    return loss_fn is losses.cross_entropy or (isinstance(loss_fn, CrossEntropyLoss) and loss_fn.reduction != "none")


def _index(target, classes: int) -> bool:
    return isinstance(target, int) and not isinstance(target, bool) and 0 <= target < classes


def _key(target):
    return tuple(target) if isinstance(target, list) else target


def _modules(module):
    yield module
    for _, child in module.named_children():
        yield from _modules(child)


class TrainingStep:
    """One training step through a compiled program in one call. ``step(*batch, seed=s)`` does
    what these three calls do, and returns the output (one loss per sample)::

        optimizer.zero_grad()
        losses = program.backward(*batch, seed=s)
        optimizer.step()

    The numbers are the same bit for bit, and so are the refusals, which leave changed what the
    three calls would. The parameters' gradients go from the program to the optimizer as one
    array, not each through its Value's ``.grad`` and back (the ``.grad`` are written all the
    same): micrograd's moons step takes 0.32 ms instead of 0.36 (bench/bench_compile.py; the
    lab's, with fewer parameters, 0.235 instead of 0.238). ``fit(compile=True)`` steps this way."""

    def __init__(self, program, optimizer):
        if not isinstance(program, Program):
            raise TypeError(f"TrainingStep: program must be a scalargrad.compile(...) program, got {checks.excerpt(program)}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"TrainingStep: optimizer must be an nn.optim optimizer, got {checks.excerpt(optimizer)}")
        self.program, self.optimizer = program, optimizer
        self._params = None  # the optimizer's parameter list the positions below were found for

    def __call__(self, *batch, seed: float = 1.0):
        return self.run(*batch, seed=seed).output

    def run(self, *batch, seed: float = 1.0, check=None):
        """The step, returning the program's :class:`~scalargrad.Run`; ``check(run)``, if given, is
        called before any ``.grad`` is written (fit refuses a batch outside the loss's domain there)."""
        program, optimizer = self.program, self.optimizer
        self._find_positions()
        optimizer.zero_grad()  # first: a refusal names a parameter with its .grad
        if not self._stepped_all:  # a program parameter the optimizer does not step: its .grad adds up
            run = program.run(*batch, seed=seed)
            if check is not None:
                check(run)
            program.accumulate(run.parameter_gradients)
            optimizer.step()
            return run
        run = program.run(*batch, seed=seed, array=True)
        if check is not None:
            check(run)
        # Each .grad as zero_grad and backward leave it: 0.0 + the gradient (so −0.0 is 0.0), and
        # 0.0 for a parameter the program does not have; written, then stepped from the same array.
        grads = run.parameter_gradients[self._where] + 0.0
        if not self._everywhere:
            grads[self._missing] = 0.0
        for p, g in zip(optimizer.params, grads.tolist()):
            p.grad = g
        data = [p.data for p in optimizer.params]
        if set(map(type, data)) <= {float}:
            optimizer._step((np.array(data), grads))
        else:  # the optimizer decides, one number at a time
            optimizer.step()
        return run

    def _find_positions(self) -> None:
        """Where each optimizer parameter is among the program's (found again if the list changes)."""
        if self._params is self.optimizer.params:
            return
        self._params = self.optimizer.params
        position = {p: i for i, p in enumerate(self.program.parameters)}
        where = [position.get(p, -1) for p in self._params]
        self._stepped_all = len(set(where) - {-1}) == len(self.program.parameters)
        self._where = np.array(where)
        self._missing = self._where < 0
        self._everywhere = not self._missing.any()


class CompiledTrainer:
    """Computes, for one batch, what fit's eager step does: the mean loss's gradients into
    each parameter's ``.grad``, the summed loss and the number of correct outputs."""

    def __init__(self, compile, model, X, y, loss_fn, threshold: float, l2: float, correct):  # noqa: A002
        checks.flag(compile, "fit: compile")
        self.model, self.loss_fn, self.threshold, self.l2 = model, loss_fn, threshold, l2
        self.correct = correct  # fit's rule for one output: correct(output, target, threshold)
        self.X, self.y = X, y
        self._feature_columns = self._all_targets = None  # the whole data's, made on first use
        try:
            self.features = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("fit(compile=True) needs every example to be a number or a list of the same "
                             "number of numbers") from None
        self.dropouts = [m for m in _modules(model) if isinstance(m, Dropout) and m.training and m.p > 0.0]
        self.params = model.parameters()
        norms = [m for m in _modules(model) if isinstance(m, BatchNorm1d)]
        if len(norms) > 1:
            raise ValueError(f"fit: compile=True supports one BatchNorm1d layer and this model has {len(norms)}; "
                             "train it eagerly (compile=False)")
        self.norm = norms[0] if norms else None
        self.whole_batches = bool(norms)  # eager gives such a model each batch whole (fit's rule)
        self.statistics = None  # with a norm: (the norm's inputs, μ placeholders, σ² placeholders)
        self.by_target = None
        self.classes = None  # with cross-entropy: the number of classes, the one-hot targets' length
        self.traced = self._trace(X[0], y[0], placeholder_target=True)
        if self.classes is not None and not all(_index(t, self.classes) for t in y):
            self.classes, self.traced = None, None  # the eager loss's own check will refuse the bad target
        if self.traced is None:  # the loss's graph depends on the target's value
            self.by_target = {_key(y[0]): self._trace(X[0], y[0], placeholder_target=False)}
        if self.statistics is None:  # a norm the forward never calls
            self.norm = None
        self.before_norm = None if self.norm is None else self._before_norm()
        self._fused = (None, None)  # (the optimizer, its TrainingStep): see ``step``

    def _before_norm(self) -> Program:
        """Σⱼ hⱼ·cⱼ over the norm's inputs hⱼ, the cⱼ placeholders: run, its watched values are the
        hⱼ; its backward with cⱼ = ∂L/∂hⱼ adds the statistics' part of the gradients."""
        inputs, _, _ = self.statistics
        upstream = [Value(0.0, f"c{j}") for j in range(len(inputs))]
        total = sum(h * c for h, c in zip(inputs, upstream))
        graph = set(topological_order(total))
        if any(m in graph for m in self._mask_placeholders):
            raise ValueError("fit: compile=True cannot train a model with Dropout before BatchNorm1d; "
                             "train it eagerly (compile=False)")
        return Program(total, [*self._feature_placeholders, *upstream], watch=inputs)

    def _trace(self, x0, t0, placeholder_target: bool):
        """The program of ``loss(model(x), t)`` with inputs (features..., target..., masks...)."""
        masks = []  # (placeholder, the Dropout it belongs to), in the order eager draws them
        calls = []  # the norm's, in this trace

        def drop(module):
            def masked(x):
                mask = Value(1.0, f"mask{len(masks)}")
                masks.append((mask, module))
                return x * mask
            return masked

        def normalise(sample):
            if calls:
                raise ValueError("fit: compile=True supports a BatchNorm1d called once per forward; train this model "
                                 "eagerly (compile=False)")
            calls.append(sample)
            inputs = [h if isinstance(h, Value) else Value(float(h)) for h in sample]
            means = [Value(0.0, f"mean{j}") for j in range(len(inputs))]
            variances = [Value(1.0, f"var{j}") for j in range(len(inputs))]
            self.statistics = (inputs, means, variances)
            return self.norm.normalise_with(inputs, means, variances)

        for d in self.dropouts:
            object.__setattr__(d, "_drop", drop(d))
        if self.norm is not None:
            object.__setattr__(self.norm, "forward", normalise)
        try:
            xs = _placeholders(x0, "x")
            output = self.model(xs)
            target = _placeholders(t0, "y") if placeholder_target else t0
            try:
                if placeholder_target and _is_cross_entropy(self.loss_fn) and isinstance(output, list):
                    target = [Value(0.0, f"y{k}") for k in range(len(output))]
                    self.classes = len(output)
                    loss = -sum(t * z for t, z in zip(target, losses.log_softmax(output)))
                else:
                    loss = losses.one_value(self.loss_fn(output, losses.match_target(output, target)))
            except (TypeError, ValueError):
                if placeholder_target:
                    return None
                raise
        finally:
            for d in self.dropouts:
                object.__delattr__(d, "_drop")
            if self.norm is not None:
                object.__delattr__(self.norm, "forward")
        targets = _flat(target) if placeholder_target else []
        if placeholder_target and not set(targets) <= set(topological_order(loss)):
            return None
        self.output_is_list = isinstance(output, (list, tuple))
        outputs = output if self.output_is_list else [output]
        self._feature_placeholders, self._mask_placeholders = _flat(xs), [m for m, _ in masks]
        statistics = [*self.statistics[1], *self.statistics[2]] if calls else []
        inputs = [*_flat(xs), *targets, *statistics, *(m for m, _ in masks)]
        return Program(loss, inputs, watch=outputs), [d for _, d in masks]

    def _columns(self, Xb) -> list:
        if Xb is self.X:  # the whole data, as fit gives it without shuffling (made once)
            if self._feature_columns is None:
                self._feature_columns = self._as_columns(self.features)
            return self._feature_columns
        features = self.features if len(Xb) == len(self.X) and Xb == self.X else np.asarray(Xb, dtype=np.float64)
        return self._as_columns(features)

    @staticmethod
    def _as_columns(features) -> list:
        return [np.ascontiguousarray(c) for c in features.T] if features.ndim == 2 else [features]

    def _targets(self, yb):
        """The batch's targets as an array (one-hot rows for cross-entropy); the whole data's made once."""
        if yb is self.y and self._all_targets is not None:
            return self._all_targets
        targets = np.eye(self.classes)[yb] if self.classes is not None else np.asarray(yb, dtype=np.float64)
        if yb is self.y:
            self._all_targets = targets
        return targets

    def _masks(self, owners, n: int):
        """Dropout's factors (0 or 1/(1 − p)) for n samples, one column per mask, drawn in
        eager's order by each layer's own rule (its ``_drop`` applied to 1.0 is the factor it
        would multiply a number by): sample by sample, and within a sample, layer by layer; with
        a BatchNorm1d eager gives the model the batch whole, so layer by layer, and within a
        layer, sample by sample."""
        factors = np.empty((n, len(owners)))
        if not owners:  # no Dropout: nothing to draw (a loop over the samples cost 0.6 ms per lab epoch)
            return factors
        if not self.whole_batches:
            for i in range(n):
                factors[i] = [d._drop(1.0) for d in owners]
            return factors
        for layer in dict.fromkeys(owners):
            columns = [k for k, d in enumerate(owners) if d is layer]
            for i in range(n):
                factors[i, columns] = [layer._drop(1.0) for _ in columns]
        return factors

    def step(self, Xb: list, yb: list, optimizer) -> tuple[float, int]:
        """fit's whole step for one batch: ``optimizer.zero_grad()``, ``backward``, ``optimizer.step()``;
        fused (nn.TrainingStep, the same numbers) where one program gives every gradient."""
        if self.by_target is not None or self.norm is not None or self.l2:
            optimizer.zero_grad()
            result = self.backward(Xb, yb)
            optimizer.step()
            return result
        return self.backward(Xb, yb, optimizer)

    def backward(self, Xb: list, yb: list, optimizer=None) -> tuple[float, int]:
        """Add the batch's mean-loss gradient (plus the l2 term's) to every parameter's ``.grad``;
        return (the summed loss, how many outputs were right). A batch eager would refuse is
        refused with eager's error for its first failing sample, and no ``.grad`` changes. With
        ``optimizer`` (one program, see ``step``): zero_grad first and the optimizer's step after."""
        n = len(Xb)
        try:
            columns = self._columns(Xb)
            inputs, means, variances = self._batch_statistics(columns, n) if self.norm is not None else (None, [], [])
            statistics = [*means, *variances]
            if self.by_target is None:
                program, owners = self.traced
                targets = self._targets(yb)
                target_columns = list(targets.T) if targets.ndim == 2 else [targets]
                batch = [*columns, *target_columns, *statistics, *self._masks(owners, n).T]
                # seed 1/batch: ∂(mean loss)/∂(one sample's loss), as eager's sum(...) * (1/n) passes it on.
                if optimizer is not None:
                    if self._fused[0] is not optimizer:
                        self._fused = optimizer, TrainingStep(program, optimizer)
                    run = self._fused[1].run(*batch, seed=1.0 / n, check=lambda run: self._check_domain(run.watched, targets))
                    return float(np.sum(run.output)), self._correct(run.watched, yb)
                run = program.run(*batch, seed=1.0 / n)
                losses, outputs, gradients = run.output, run.watched, [(run.input_gradients, len(owners))]
                contributions = [(program.parameters, run.parameter_gradients)]
                self._check_domain(outputs, targets)
            else:
                losses, outputs, gradients, contributions = self._backward_by_target(columns, yb, statistics, n)
            if self.norm is not None:
                contributions.append(self._statistics_backward(columns, gradients, inputs, means, n))
        except (TypeError, ValueError) as error:
            if isinstance(error, NonFiniteError):  # the program's replay raised eager's own already
                raise
            self._eager_refusal(Xb, yb)  # eager's error for this batch, where eager refuses it
            raise
        self._write(contributions)
        return float(np.sum(losses)), self._correct(outputs, yb)

    def _check_domain(self, outputs, targets) -> None:
        """ValueError for a batch whose predictions or targets lie outside the loss's domain
        (``nn.losses.Domain``): the traced program has no Python checks in it, so they are made
        here, on the whole batch at once (``backward`` then raises the eager loss's own error)."""
        domain = getattr(self.loss_fn, "domain", None)
        if domain is None:
            return
        n = len(targets)
        for bounds, numbers in ((domain.prediction, np.stack(outputs)), (domain.target, targets.reshape(n, -1).T)):
            if bounds is not None and np.any((numbers < bounds[0]) | (numbers > bounds[1]) | np.isnan(numbers)):
                raise ValueError(f"fit: a sample of the batch lies outside the loss's domain {domain}")

    def _eager_refusal(self, Xb, yb) -> None:
        """Run the batch's forward and loss eagerly, as fit's eager loop does (no backward: no
        ``.grad`` is written), so that a batch eager refuses raises eager's own error."""
        norm = self.norm
        kept = norm is not None and norm.track_running_stats and (
            list(norm.running_mean), list(norm.running_var), norm.num_batches_tracked)
        try:
            with no_grad():
                outputs = self.model(Xb) if self.whole_batches else [self.model(x) for x in Xb]
                for output, target in zip(outputs, yb):
                    losses.one_value(self.loss_fn(output, losses.match_target(output, target)))
        finally:
            if kept:  # moved once already, by this batch's compiled statistics
                norm.running_mean, norm.running_var, norm.num_batches_tracked = kept

    def _write(self, contributions) -> None:
        """Add each program's parameter gradients (and the l2 term's) to ``.grad``: all, or none
        if a sum would not be finite (NonFiniteError naming the parameter, from ``add_to_grads``)."""
        totals = {}
        for parameters, gradients in contributions:
            for p, g in zip(parameters, gradients):
                totals[p] = totals.get(p, 0.0) + g
        if self.l2:
            for p in self.params:
                totals[p] = totals.get(p, 0.0) + self.l2 * p.data * 2.0
        add_to_grads(list(totals), list(totals.values()), lambda p: f"the parameter {p!r} summed over the batch")

    def _batch_statistics(self, columns, n: int):
        """Every sample's inputs of the norm (features × samples), their means and biased variances;
        the running statistics move as eager's forward moves them."""
        watched = self.before_norm.run(*columns, *([0.0] * self.norm.num_features), gradients=False).watched
        inputs = np.array([np.broadcast_to(h, (n,)) for h in watched], dtype=np.float64)
        means = inputs.mean(axis=1)
        variances = ((inputs - means[:, None]) ** 2).mean(axis=1)
        if self.norm.track_running_stats:
            self.norm._update_running_statistics(means.tolist(), variances.tolist(), n)
        return inputs, means.tolist(), variances.tolist()

    def _statistics_backward(self, columns, gradients, inputs, means, n: int) -> None:
        """Adds ∂L/∂parameters through μ and σ²: the layers before the norm run backward with
        ∂L/∂hₖⱼ = G_μⱼ/N + G_σ²ⱼ · 2(hₖⱼ − μⱼ)/N (see the module's docstring)."""
        j = self.norm.num_features
        g_means, g_variances = np.zeros(j), np.zeros(j)
        for run_gradients, masks in gradients:  # the statistics are the 2j inputs before the masks
            start = len(run_gradients) - masks - 2 * j
            g_means += [np.sum(g) for g in run_gradients[start:start + j]]
            g_variances += [np.sum(g) for g in run_gradients[start + j:start + 2 * j]]
        upstream = g_means[:, None] / n + g_variances[:, None] * 2.0 * (inputs - np.asarray(means)[:, None]) / n
        return self.before_norm.parameters, self.before_norm.run(*columns, *upstream).parameter_gradients

    def _backward(self, program, columns, statistics, masks, batch: int):
        return program.run(*columns, *statistics, *masks.T, seed=1.0 / batch)

    def _backward_by_target(self, columns, yb, statistics, n):
        groups = {}
        for i, t in enumerate(yb):
            groups.setdefault(_key(t), []).append(i)
        for key, rows in groups.items():
            if key not in self.by_target:
                if len(self.by_target) >= MAX_PROGRAMS:
                    raise ValueError(f"fit(compile=True): this loss's graph depends on the target's value and the data "
                                     f"has more than {MAX_PROGRAMS} distinct targets; train without compile")
                self.by_target[key] = self._trace(self.X[0], yb[rows[0]], placeholder_target=False)
        masks = self._masks(self.by_target[key][1], n)  # every program has the same masks
        losses, outputs, gradients, contributions = np.empty(n), None, [], []
        for key, rows in groups.items():
            program = self.by_target[key][0]
            run = self._backward(program, [c[rows] for c in columns], statistics, masks[rows], n)
            losses[rows] = run.output
            gradients.append((run.input_gradients, masks.shape[1]))
            contributions.append((program.parameters, run.parameter_gradients))
            if outputs is None:
                outputs = [np.empty(n) for _ in run.watched]
            for column, values in zip(outputs, run.watched):
                column[rows] = values
        return losses, outputs, gradients, contributions

    def _correct(self, outputs, yb) -> int:
        """How many outputs fit's rule counts as right, for the whole batch at once."""
        try:
            targets = self._targets(yb) if yb is self.y and self.classes is None else np.asarray(yb, dtype=np.float64)
        except (TypeError, ValueError):
            targets = None
        if targets is not None and targets.ndim == 2 and targets.shape[1] == 1:  # rows of one number: [[y], ...]
            targets = targets[:, 0]
        if targets is None or targets.ndim != 1:
            return sum(self.correct([float(o[i]) for o in outputs], t, self.threshold) for i, t in enumerate(yb))
        if len(outputs) == 1:
            return int(np.sum((outputs[0] > self.threshold) == (targets > 0)))
        return int(np.sum(np.argmax(np.stack(outputs), axis=0) == targets))
