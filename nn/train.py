"""``fit``: the training loop (forward, loss, backward, optimizer step) with a progress bar,
and ``accuracy``."""

from __future__ import annotations

import math
import sys

from scalargrad import NonFiniteError, Value, no_grad
from scalargrad.engine import checks
from tqdm.auto import tqdm

from . import losses as L
from .data import batches as _batches
from .module import Module
from .normalization import BatchNorm1d
from .optim import Optimizer
from .summary import layers_in_order

if sys.platform == "emscripten":
    # A browser's Python (Pyodide) has no threads: tqdm's monitor thread cannot start, and it would warn on every bar.
    tqdm.monitor_interval = 0


DivergenceError = NonFiniteError
"""What ``fit`` raises when a number stops being finite: ``scalargrad.NonFiniteError`` (the
one error for a non-finite number), under the name nn has always used; the message names the epoch."""


def _needs_batches(model) -> bool:
    """A model with BatchNorm1d sees each mini-batch whole (its statistics are over the batch); others sample by sample."""
    return isinstance(model, Module) and any(isinstance(layer, BatchNorm1d) for layer in layers_in_order(model))


def _label(output, threshold: float):
    """The class a model output stands for: argmax of a list, else 1 if the score > threshold."""
    if isinstance(output, (list, tuple)):
        if len(output) == 1:
            output = output[0]
        else:
            scores = [o.data if isinstance(o, Value) else o for o in output]
            return max(range(len(scores)), key=scores.__getitem__)
    score = output.data if isinstance(output, Value) else output
    return 1 if score > threshold else 0


def _correct(output, target, threshold: float) -> bool:
    if isinstance(target, (list, tuple)):
        if len(target) != 1:  # a row of several numbers (one-hot, probabilities): its largest is the class
            target = max(range(len(target)), key=lambda k: target[k])
            return _label(output, threshold) == target if isinstance(output, (list, tuple)) and len(output) > 1 else False
        target = target[0]  # a row of one number, as nn.data.parabola gives: [y]
    predicted = _label(output, threshold)
    if isinstance(output, (list, tuple)) and len(output) > 1:
        return predicted == target
    return predicted == (1 if target > 0 else 0)  # labels 0/1 or −1/+1


def _rows(data, what: str) -> list:
    """``data`` as a list: a list or tuple as it is, a numpy array or a tensor through ``tolist()``."""
    if isinstance(data, (list, tuple)):
        return data
    if hasattr(data, "tolist") and hasattr(data, "shape"):
        rows = data.tolist()
        if isinstance(rows, list):
            return rows
    raise TypeError(f"fit: {what} must be a list of examples (or a numpy array), got {checks.excerpt(data)}")


def _check_examples(data: list, what: str) -> None:
    """Each example a finite real number or a list of them (not a bool, a str or None), before any
    step: TypeError or ValueError naming the first that is not."""
    for i, example in enumerate(data):
        for x in example if isinstance(example, (list, tuple)) else (example,):
            if not checks.is_real(x):
                raise TypeError(f"fit: {what}[{i}] must be a number or a list of numbers, got {checks.excerpt(example)}")
            if not (x - x == 0 if type(x) is float or type(x) is int else math.isfinite(x)):  # builtins first: fast
                raise ValueError(f"fit: {what}[{i}] must hold finite numbers, got {checks.excerpt(example)}")


def _threshold_for(loss) -> float:
    return 0.0 if loss in (L.hinge, L.bce_with_logits) else 0.5


def accuracy(model, X, y, threshold: float = 0.5) -> float:
    """The fraction of examples the model classifies right (computed under ``no_grad``).

    A list output is classified by its largest entry (compared with the class index y);
    a single output s means class 1 when s > threshold (0.5 for probabilities, use 0 for raw
    scores), compared with y > 0, so labels may be 0/1 or −1/+1.
    """
    if len(X) != len(y):
        raise ValueError(f"accuracy: {len(X)} inputs but {len(y)} labels")
    if not X:
        raise ValueError("accuracy: no examples given")
    threshold = checks.number(threshold, "accuracy: threshold")
    with no_grad():
        return sum(_correct(model(x), t, threshold) for x, t in zip(X, y)) / len(X)


def fit(model, X, y, loss, optimizer, epochs: int, batch_size=None, shuffle: bool = True, seed=None,
        l2: float = 0.0, progress: bool = True, threshold=None, compile: bool = False) -> dict:  # noqa: A002
    """Train ``model`` on (X, y) and return the history ``{"loss": [...], "accuracy": [...]}``.

    ``compile=True`` compiles the per-sample loss once (``scalargrad.compile``) and runs each
    batch through it as numpy arrays: the same history, much faster (see nn.compiled).

    Each batch: forward every example, loss = mean of ``loss(output, target)`` (a function or
    a name such as "mse", "bce", "cross_entropy", "hinge") + ``l2``·Σp², ``zero_grad``,
    ``backward``, ``optimizer.step()``. The history holds, per epoch, the mean data loss and
    the accuracy of the outputs seen during the epoch (before each batch's step, as
    micrograd's demo reports them). ``batch_size=None`` uses all the data in each step.
    A model with ``BatchNorm1d`` is given each mini-batch whole (``model(X_batch)``), so
    ``batch_size`` must then be at least 2. ``progress`` shows a tqdm bar. If a number stops being
    finite, DivergenceError (that is, ``scalargrad.NonFiniteError``) names the epoch, and the step
    that overflowed changed nothing.
    """
    loss_fn = L.get(loss) if isinstance(loss, str) else loss
    if not callable(loss_fn):
        raise TypeError(f"fit: loss must be a function or a loss name, got {type(loss).__name__} {loss!r}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an nn.optim optimizer, got {type(optimizer).__name__} {optimizer!r}")
    X, y = _rows(X, "X"), _rows(y, "y")
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} inputs but {len(y)} labels")
    if not X:
        raise ValueError("fit: no training examples given")
    _check_examples(X, "X")
    _check_examples(y, "y")
    epochs = checks.whole(epochs, "fit: epochs", low=1)
    l2 = checks.number(l2, "fit: l2", low=0)
    shuffle = checks.flag(shuffle, "fit: shuffle")
    progress = checks.flag(progress, "fit: progress")
    threshold = _threshold_for(loss_fn) if threshold is None else checks.number(threshold, "fit: threshold")
    size = len(X) if batch_size is None else checks.whole(batch_size, "batch_size", low=1)
    params = model.parameters()
    batched = _needs_batches(model)
    if batched and (size == 1 or len(X) % size == 1):
        raise ValueError(
            f"fit: the model has BatchNorm1d, which cannot train on a batch of one sample, and batch_size={size} "
            f"with {len(X)} examples makes one; choose a batch_size that leaves no lone sample"
        )
    history = {"loss": [], "accuracy": []}
    model.train()
    trainer = None
    if compile is not False:  # CompiledTrainer checks that it is True
        from .compiled import CompiledTrainer

        trainer = CompiledTrainer(compile, model, X, y, loss_fn, threshold, l2, _correct)
    whole = size >= len(X) and trainer is not None  # the compiled trainer reads the whole data as arrays made once
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress, leave=progress)
    for epoch in bar:
        total, correct = 0.0, 0
        epoch_seed = None if not shuffle else (seed * 1_000_003 + epoch if seed is not None else None)
        try:
            for Xb, yb in [(X, y)] if whole else _batches(X, y, size, shuffle=shuffle and size < len(X), seed=epoch_seed):
                if trainer is not None:
                    batch_loss, batch_correct = trainer.step(Xb, yb, optimizer)
                    total += batch_loss * (1.0 / len(Xb)) * len(Xb)
                    correct += batch_correct
                    continue
                outputs = model(Xb) if batched else [model(x) for x in Xb]
                data_loss = sum(L.one_value(loss_fn(o, L.match_target(o, t))) for o, t in zip(outputs, yb)) * (1.0 / len(Xb))
                objective = data_loss + l2 * sum(p * p for p in params) if l2 else data_loss
                optimizer.zero_grad()
                objective.backward()
                optimizer.step()
                total += data_loss.data * len(Xb)
                correct += sum(_correct(o, t, threshold) for o, t in zip(outputs, yb))
        except ArithmeticError as error:
            bar.close()
            kind = type(error) if isinstance(error, NonFiniteError) else DivergenceError  # its kind: Overflow, ...
            raise kind(f"training diverged in epoch {epoch} of {epochs}: {error}") from error
        history["loss"].append(total / len(X))
        history["accuracy"].append(correct / len(X))
        if progress:
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", acc=f"{history['accuracy'][-1]:.3f}", refresh=False)
    bar.close()
    return history
