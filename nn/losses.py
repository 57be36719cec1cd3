"""Loss functions. Each returns one Value; lists are averaged (``reduction="mean"`` as PyTorch).

Predictions are Values (or plain numbers); targets are plain numbers. Mismatched lengths,
empty inputs and out-of-range targets are refused with the numbers that were given.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

from scalargrad import Value
from scalargrad.engine import checks

#: bce clamps each log at −100, as PyTorch's BCELoss: log(max(p, e⁻¹⁰⁰)).
_LOG_FLOOR = math.exp(-100.0)


class Domain(NamedTuple):
    """Where a loss is defined: the closed range (low, high) each prediction and each target
    must lie in (None: any finite number). The loss's own checks read it, and so does
    ``fit(compile=True)``, which checks a whole batch at once against ``loss.domain``."""

    prediction: tuple | None = None
    target: tuple | None = None


UNIT = (0.0, 1.0)


def inside(x: float, bounds: tuple) -> bool:
    low, high = bounds
    return low <= x <= high


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _number(t, what: str) -> float:
    return checks.number(t.data if isinstance(t, Value) else t, what)


def pairs(name: str, pred, target) -> list[tuple]:
    """(prediction as a Value, target as a float) pairs; lengths must match and not be 0."""
    preds, targets = _as_list(pred), _as_list(target)
    if len(preds) != len(targets):
        raise ValueError(f"{name}: {len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError(f"{name}: no predictions given")
    # A Value target stays a Value (a node of the graph, as a placeholder of a compiled loss).
    return [(p if isinstance(p, Value) else Value(p), t if isinstance(t, Value) else _number(t, f"{name} target {i}"))
            for i, (p, t) in enumerate(zip(preds, targets))]


def match_target(output, target):
    """``target`` in the shape of one sample's ``output`` where they differ only by a row of one:
    a number for a model giving one Value, ``[t]`` for a model giving ``[v]`` (nn.data.parabola's
    rows are ``[y]``, the other data sets' labels plain numbers). Anything else is left as it is."""
    if isinstance(output, (list, tuple)):
        return [target] if len(output) == 1 and not isinstance(target, (list, tuple)) else target
    if isinstance(target, (list, tuple)) and len(target) == 1:
        return target[0]
    return target


def one_value(loss):
    """``loss`` if it is one Value (what fit needs per sample); TypeError with an excerpt otherwise."""
    if not isinstance(loss, Value):
        raise TypeError(f"fit: the loss must give one Value per sample, got {checks.excerpt(loss)}"
                        " (a loss module with reduction='none' gives one per output: use 'mean' or 'sum')")
    return loss


def mean(terms: list) -> Value:
    """(1/n) Σ termᵢ (PyTorch's reduction="mean")."""
    return terms[0] if len(terms) == 1 else sum(terms) * (1.0 / len(terms))


def mse_terms(examples) -> list[Value]:
    """(pᵢ − tᵢ)² for each (prediction, target) pair."""
    return [(p - t) ** 2 for p, t in examples]


def l1_terms(examples) -> list[Value]:
    """``|pᵢ − tᵢ|`` for each pair (gradient 0 where pᵢ = tᵢ)."""
    terms = []
    for p, t in examples:
        d = p - t
        terms.append(d.max(-d))
    return terms


def bce_terms(examples, name: str = "bce") -> list[Value]:
    """−[tᵢ ln pᵢ + (1 − tᵢ) ln(1 − pᵢ)] for each pair, each log clamped at −100 (as PyTorch)."""
    terms = []
    for i, (p, t) in enumerate(examples):
        if not inside(p.data, UNIT):
            raise ValueError(f"{name}: prediction {i} must be a probability in [0, 1], got {p.data!r} (use bce_with_logits for raw scores)")
        if not inside(t, UNIT):
            raise ValueError(f"{name}: target {i} must be in [0, 1], got {t!r}")
        if t == 1.0:
            term = p.max(_LOG_FLOOR).log()
        elif t == 0.0:
            term = (1.0 - p).max(_LOG_FLOOR).log()
        else:
            term = t * p.max(_LOG_FLOOR).log() + (1.0 - t) * (1.0 - p).max(_LOG_FLOOR).log()
        terms.append(-term)
    return terms


def mse(pred, target) -> Value:
    """Mean squared error: (1/n) Σ (pᵢ − tᵢ)²."""
    return mean(mse_terms(pairs("mse", pred, target)))


def l1(pred, target) -> Value:
    """Mean absolute error: (1/n) Σ ``|pᵢ − tᵢ|`` (gradient 0 where pᵢ = tᵢ)."""
    return mean(l1_terms(pairs("l1", pred, target)))


def bce(prob, target) -> Value:
    """Binary cross entropy of probabilities: −(1/n) Σ [t ln p + (1 − t) ln(1 − p)].

    Each log is clamped at −100 (as PyTorch), so p = 0 or 1 gives a large finite loss.
    Probabilities and targets must lie in [0, 1].
    """
    return mean(bce_terms(pairs("bce", prob, target)))


bce.domain = Domain(prediction=UNIT, target=UNIT)


def softplus(x) -> Value:
    """ln(1 + eˣ), computed without overflow: x + ln(1 + e⁻ˣ) for x > 0."""
    x = x if isinstance(x, Value) else Value(x)
    if x.data > 0.0:
        return x + ((-x).exp() + 1.0).log()
    return (x.exp() + 1.0).log()


def bce_with_logits_terms(examples, name: str = "bce_with_logits") -> list[Value]:
    """softplus(zᵢ) − tᵢ zᵢ for each (score, target) pair."""
    terms = []
    for i, (z, t) in enumerate(examples):
        if not inside(t, UNIT):
            raise ValueError(f"{name}: target {i} must be in [0, 1], got {t!r}")
        terms.append(softplus(z) - z * t if t else softplus(z))
    return terms


def bce_with_logits(logit, target) -> Value:
    """Binary cross entropy of a sigmoid applied to raw scores z, in one stable formula:
    (1/n) Σ [softplus(z) − t z]   (= −[t ln σ(z) + (1 − t) ln(1 − σ(z))]); fine at z = ±1000."""
    return mean(bce_with_logits_terms(pairs("bce_with_logits", logit, target)))


bce_with_logits.domain = Domain(target=UNIT)


def _logits(name: str, logits) -> list[Value]:
    if not isinstance(logits, (list, tuple)) or not logits:
        raise ValueError(f"{name} expects a non-empty list of scores, got {logits!r}")
    return [z if isinstance(z, Value) else Value(z) for z in logits]


def _logsumexp(zs: list[Value]) -> Value:
    # ln Σ e^zᵢ = m + ln Σ e^(zᵢ − m) with m = max zᵢ (a constant): no exp ever overflows.
    m = max(z.data for z in zs)
    return sum((z - m).exp() for z in zs).log() + m


def softmax(logits: Sequence) -> list[Value]:
    """softmax(z)ᵢ = e^zᵢ / Σⱼ e^zⱼ, computed as e^(zᵢ − max z) / Σⱼ e^(zⱼ − max z)."""
    zs = _logits("softmax", logits)
    m = max(z.data for z in zs)
    es = [(z - m).exp() for z in zs]
    inv = sum(es).reciprocal()
    return [e * inv for e in es]


def log_softmax(logits: Sequence) -> list[Value]:
    """ln softmax(z)ᵢ = zᵢ − ln Σⱼ e^zⱼ (log-sum-exp, stable for any scores)."""
    zs = _logits("log_softmax", logits)
    lse = _logsumexp(zs)
    return [z - lse for z in zs]


def cross_entropy(logits: Sequence, target: int) -> Value:
    """−ln softmax(z)[target] = ln Σⱼ e^zⱼ − z_target, for one example's raw scores ``logits``
    and the index of its class. Uniform scores over k classes give ln k."""
    zs = _logits("cross_entropy", logits)
    target = checks.whole(target, "cross_entropy target (a class index)")
    if not 0 <= target < len(zs):
        raise ValueError(f"cross_entropy target {target} is out of range for {len(zs)} classes (0..{len(zs) - 1})")
    return _logsumexp(zs) - zs[target]


def hinge(score, target) -> Value:
    """micrograd's demo loss, the SVM max-margin loss: (1/n) Σ max(0, 1 − tᵢ sᵢ), targets ±1."""
    terms = []
    for i, (s, t) in enumerate(pairs("hinge", score, target)):
        if t not in (-1.0, 1.0):
            raise ValueError(f"hinge: target {i} must be -1 or +1, got {t!r} (turn 0/1 labels into ±1 with 2*y - 1)")
        terms.append((1.0 - s * t).relu())
    return mean(terms)


def l2_penalty(parameters, alpha: float = 1.0) -> Value:
    """alpha · Σ p² over ``parameters`` (a Module or a list of Values): micrograd's demo regulariser."""
    if hasattr(parameters, "parameters"):
        parameters = parameters.parameters()
    params = list(parameters)
    if not params:
        raise ValueError("l2_penalty: no parameters given")
    return sum(p * p for p in params) * _number(alpha, "l2_penalty alpha")


LOSSES = {"mse": mse, "l1": l1, "bce": bce, "bce_with_logits": bce_with_logits, "cross_entropy": cross_entropy, "hinge": hinge}


def get(name: str):
    """The loss function called ``name``; ValueError listing the known names otherwise."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(LOSSES)}") from None
