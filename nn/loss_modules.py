"""Loss modules with PyTorch's names: ``L1Loss``, ``MSELoss``, ``BCELoss``, ``BCEWithLogitsLoss``,
``CrossEntropyLoss`` and ``HingeEmbeddingLoss``, each with ``reduction="mean" | "sum" | "none"``.

``criterion(output, target)`` takes what a model returns — one sample or a batch of rows — and
targets of the same shape (class indices for ``CrossEntropyLoss``). The maths is the function
forms' in ``nn.losses``: each module only checks shapes and applies the reduction.

Unlike PyTorch, an output of shape (N, 1) with a target of shape (N,) is refused rather than
broadcast to (N, N) (which PyTorch does with only a warning, and which is never what was meant).
"""

from __future__ import annotations

from scalargrad import Value
from scalargrad.engine.checks import number, one_of

from . import losses
from .module import Module
from .shapes import flatten, is_batch, shape, unflatten

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        self.reduction = one_of(reduction, REDUCTIONS, f"{type(self).__name__} reduction")

    def _reduce(self, terms: list[Value], like_shape: tuple[int, ...]):
        if self.reduction == "mean":
            return losses.mean(terms)
        if self.reduction == "sum":
            return terms[0] if len(terms) == 1 else sum(terms)
        return unflatten(terms, like_shape)


class _ElementwiseLoss(_Loss):
    """A loss that pairs each output number with the target number at the same place."""

    def _terms(self, examples) -> list[Value]:
        raise NotImplementedError

    def forward(self, input, target):
        name = type(self).__name__
        input_shape, target_shape = shape(input, f"{name} input"), shape(target, f"{name} target")
        if input_shape != target_shape:
            raise ValueError(
                f"{name}: input has shape {input_shape} but target has shape {target_shape}; give them the same shape"
                " (PyTorch would broadcast them, with only a warning)"
            )
        return self._reduce(self._terms(losses.pairs(name, flatten(input), flatten(target))), input_shape)


class L1Loss(_ElementwiseLoss):
    """``|input − target|`` per number; mean (default), sum or none."""

    def _terms(self, examples):
        return losses.l1_terms(examples)


class MSELoss(_ElementwiseLoss):
    """(input − target)² per number; mean (default), sum or none."""

    def _terms(self, examples):
        return losses.mse_terms(examples)


class BCELoss(_ElementwiseLoss):
    """−[t ln p + (1 − t) ln(1 − p)] per probability p, each log clamped at −100 as PyTorch."""

    domain = losses.bce.domain

    def _terms(self, examples):
        return losses.bce_terms(examples, "BCELoss")


class BCEWithLogitsLoss(_ElementwiseLoss):
    """The binary cross entropy of σ(z) for raw scores z, computed stably (softplus(z) − t z)."""

    domain = losses.bce_with_logits.domain

    def _terms(self, examples):
        return losses.bce_with_logits_terms(examples, "BCEWithLogitsLoss")


class HingeEmbeddingLoss(_ElementwiseLoss):
    """x where the target is 1, max(0, margin − x) where it is −1 (PyTorch's HingeEmbeddingLoss)."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = number(margin, "HingeEmbeddingLoss margin")

    def _terms(self, examples):
        terms = []
        for i, (x, t) in enumerate(examples):
            if t not in (-1.0, 1.0):
                raise ValueError(f"HingeEmbeddingLoss: target {i} must be 1 or -1, got {t!r}")
            terms.append(x if t == 1.0 else (self.margin - x).relu())
        return terms


class CrossEntropyLoss(_Loss):
    """−ln softmax(z)[class] for a row of raw scores z and a class index; a batch of rows takes
    a list of class indices. Class-probability targets, ``weight``, ``ignore_index`` and
    ``label_smoothing`` are not supported."""

    def forward(self, input, target):
        if is_batch(input):
            shape(input, "CrossEntropyLoss input")
            if not isinstance(target, (list, tuple)):
                raise TypeError(f"CrossEntropyLoss: a batch of {len(input)} score rows needs a list of {len(input)} class indices, got {type(target).__name__} {target!r}")
            if len(target) != len(input):
                raise ValueError(f"CrossEntropyLoss: {len(input)} score rows but {len(target)} targets")
            terms = [losses.cross_entropy(row, t) for row, t in zip(input, target)]
            return self._reduce(terms, (len(terms),))
        return self._reduce([losses.cross_entropy(input, target)], ())
