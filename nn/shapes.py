"""Batches and shapes of nested lists, the way PyTorch reads tensors.

A sample is a flat list of numbers or Values (one row of features); a *batch* is a list of
samples (a list of lists), as a 2-D tensor is in PyTorch: ``model(X)`` then returns one
output row per sample. The shape of ``[[1, 2, 3], [4, 5, 6]]`` is ``(2, 3)``; of a lone
number or Value, ``()``.
"""

from __future__ import annotations

import numbers
from typing import Callable

from scalargrad import Value


def is_scalar(x) -> bool:
    """A Value or a real number (not a bool)."""
    return isinstance(x, Value) or (isinstance(x, numbers.Real) and not isinstance(x, bool))


def is_batch(x) -> bool:
    """True for a non-empty list/tuple whose first item is a list/tuple (a batch of samples)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (list, tuple))


def shape(x, what: str = "input") -> tuple[int, ...]:
    """The shape of a nested list (every row the same length), or ValueError/TypeError naming the first ragged row."""
    if is_scalar(x):
        return ()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{what} must be a number, a Value or a (nested) list of them, got {type(x).__name__} {x!r}")
    if not x:
        return (0,)
    inner = shape(x[0], f"{what}[0]")
    for i, item in enumerate(x[1:], 1):
        if shape(item, f"{what}[{i}]") != inner:
            raise ValueError(f"{what} is ragged: row {i} has shape {shape(item)} but row 0 has shape {inner}")
    return (len(x),) + inner


def flatten(x) -> list:
    """The scalars of a nested list, row by row."""
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    return [x]


def unflatten(leaves: list, like_shape: tuple[int, ...]):
    """``leaves`` put back into nested lists of shape ``like_shape`` (the inverse of ``flatten``)."""
    if not like_shape:
        return leaves[0]
    step = len(leaves) // like_shape[0] if like_shape[0] else 0
    return [unflatten(leaves[i * step : (i + 1) * step], like_shape[1:]) for i in range(like_shape[0])]


def rows_of(x, features: int, who: str) -> list:
    """The samples of a batch, each checked to hold ``features`` numbers or Values."""
    for i, row in enumerate(x):
        if not isinstance(row, (list, tuple)):
            raise TypeError(f"{who}: a batch is a list of samples (lists); item {i} is {type(row).__name__} {row!r}")
        if len(row) != features:
            raise ValueError(f"{who} expects {features} features per sample, got {len(row)} in sample {i}")
    return x


def each_sample(x, features: int, who: str, one: Callable):
    """``one(sample)`` for a sample, ``[one(row) for row in x]`` for a batch."""
    if is_batch(x):
        return [one(row) for row in rows_of(x, features, who)]
    return one(x)


def map_scalars(f: Callable, x):
    """``f`` applied to every scalar of a nested list, keeping the nesting."""
    if isinstance(x, (list, tuple)):
        return [map_scalars(f, item) for item in x]
    return f(x)
