"""Small datasets as plain lists (no numpy): ``X`` is a list of [x1, x2] rows, ``y`` a list of int labels.

The random ones are deterministic for a given ``seed`` (a ``random.Random`` each). Nothing is
downloaded: ``parabola`` is made here, ``digits`` is read from the file scikit-learn ships
inside its package (``pip install 'scalargrad-lab[labs]'``).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import math
from pathlib import Path
from typing import Iterator

from scalargrad.engine import checks

from .init import make_rng

_CORNERS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]


def xor() -> tuple[list, list]:
    """The four corners of the unit square, labelled x1 XOR x2: y = [0, 1, 1, 0]."""
    return [row[:] for row in _CORNERS], [0, 1, 1, 0]


def and_() -> tuple[list, list]:
    """The four corners, labelled x1 AND x2: y = [0, 0, 0, 1]."""
    return [row[:] for row in _CORNERS], [0, 0, 0, 1]


def or_() -> tuple[list, list]:
    """The four corners, labelled x1 OR x2: y = [0, 1, 1, 1]."""
    return [row[:] for row in _CORNERS], [0, 1, 1, 1]


def _check(n, noise, least: int = 1) -> tuple[int, float]:
    return checks.whole(n, "n", low=least), checks.number(noise, "noise", low=0)


def _linspace(a: float, b: float, n: int) -> list[float]:
    return [a] if n == 1 else [a + (b - a) * i / (n - 1) for i in range(n)]


def _shuffled(X, y, rng):
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def moons(n: int = 100, noise: float = 0.1, seed=None) -> tuple[list, list]:
    """Two interleaving half circles (scikit-learn's make_moons): ⌈n/2⌉… points on the upper moon
    (label 0) and the rest on the lower one (label 1), plus N(0, noise²) jitter, shuffled."""
    n, noise = _check(n, noise, 2)
    rng = make_rng(seed=seed)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    X += [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in _linspace(0.0, math.pi, n_in)]
    y = [0] * n_out + [1] * n_in
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X] if noise else X
    return _shuffled(X, y, rng)


def circles(n: int = 100, noise: float = 0.05, seed=None, factor: float = 0.5) -> tuple[list, list]:
    """A large circle (label 0) around a smaller one of radius ``factor`` (label 1), with jitter."""
    n, noise = _check(n, noise, 2)
    factor = checks.number(factor, "factor", low=0, high=1, low_open=True, high_open=True)
    rng = make_rng(seed=seed)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(2 * math.pi * i / n_out), math.sin(2 * math.pi * i / n_out)] for i in range(n_out)]
    X += [[factor * math.cos(2 * math.pi * i / n_in), factor * math.sin(2 * math.pi * i / n_in)] for i in range(n_in)]
    y = [0] * n_out + [1] * n_in
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X] if noise else X
    return _shuffled(X, y, rng)


def spiral(n: int = 100, classes: int = 3, noise: float = 0.2, seed=None) -> tuple[list, list]:
    """``classes`` interleaved spiral arms (CS231n's), ``n`` points in all, labels 0..classes−1.

    Arm j: radius r from 0 to 1, angle 4j + 4r (plus N(0, noise²)), point r·(sin θ, cos θ).
    """
    classes = checks.whole(classes, "classes", low=2)
    n, noise = _check(n, noise, classes)
    rng = make_rng(seed=seed)
    X, y = [], []
    for j in range(classes):
        count = n // classes + (1 if j < n % classes else 0)
        for r in _linspace(0.0, 1.0, count):
            theta = 4.0 * j + 4.0 * r + (rng.gauss(0.0, noise) if noise else 0.0)
            X.append([r * math.sin(theta), r * math.cos(theta)])
            y.append(j)
    return _shuffled(X, y, rng)


def batches(X, y, batch_size: int, shuffle: bool = True, seed=None) -> Iterator[tuple[list, list]]:
    """Mini-batches ``(X_batch, y_batch)`` covering the data once; the last may be smaller.
    With ``shuffle`` the order comes from a ``random.Random(seed)``."""
    if len(X) != len(y):
        raise ValueError(f"batches: {len(X)} inputs but {len(y)} labels")
    batch_size = checks.whole(batch_size, "batch_size", low=1)
    shuffle = checks.flag(shuffle, "batches shuffle")
    order = list(range(len(X)))
    if shuffle:
        make_rng(seed=seed).shuffle(order)
    return _batches(X, y, order, batch_size)


def _batches(X, y, order, batch_size):
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]


def parabola(n: int = 1000, seed=None, noise: float = 1.0) -> tuple[list, list]:
    """Lecture 003's data: x ~ U(−15, 15), y = 8x² + 7x + 3 + N(0, noise²), as (N, 1) rows
    ``[[x], …]`` and ``[[y], …]`` (the slide's tensors of shape (num_data, 1))."""
    _check(n, noise)
    rng = make_rng(seed=seed)
    x = [rng.uniform(-15.0, 15.0) for _ in range(n)]
    y = [8.0 * xi * xi + 7.0 * xi + 3.0 + (rng.gauss(0.0, noise) if noise else 0.0) for xi in x]
    return [[xi] for xi in x], [[yi] for yi in y]


def digits(test_size: float = 0.2, seed=0, scale: bool = True) -> tuple[list, list, list, list]:
    """The 8×8 handwritten digits scikit-learn ships inside its package (1,797 images, 64 pixels
    each, labels 0–9), split at random into ``(X_train, X_test, y_train, y_test)``.

    Pixels run 0–16; ``scale`` divides them by 16. The file is read from the installed
    scikit-learn (no download; scikit-learn itself is not imported, which would take seconds);
    ``test_size`` is the fraction held out, ``seed`` the split's.
    """
    checks.flag(scale, "digits scale")
    images, labels = _digits_file()
    factor = 1.0 / 16.0 if scale else 1.0
    X = [[p * factor for p in row] for row in images]
    return train_test_split(X, labels, test_size, seed)


def _digits_file() -> tuple[list[list[float]], list[int]]:
    """scikit-learn's ``datasets/data/digits.csv.gz``: rows of 64 pixels and the label."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nn.data.digits needs scikit-learn (it ships the digits): pip install 'scalargrad-lab[labs]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt", newline="") as file:
        rows = [[float(x) for x in row] for row in csv.reader(file)]
    return [row[:-1] for row in rows], [int(row[-1]) for row in rows]


def train_test_split(X, y, test_size: float = 0.2, seed=None) -> tuple[list, list, list, list]:
    """``(X_train, X_test, y_train, y_test)``: a seeded shuffle, the last ⌈test_size·n⌉ held out
    (at least one example on each side)."""
    if len(X) != len(y):
        raise ValueError(f"train_test_split: {len(X)} inputs but {len(y)} labels")
    if len(X) < 2:
        raise ValueError(f"train_test_split needs at least 2 examples, got {len(X)}")
    fraction = checks.number(test_size, "test_size", low=0.0, high=1.0, low_open=True)
    n_test = min(len(X) - 1, max(1, math.ceil(fraction * len(X))))
    order = list(range(len(X)))
    make_rng(seed=seed).shuffle(order)
    train, test = order[: len(X) - n_test], order[len(X) - n_test :]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


DATASETS = {"xor": xor, "and": and_, "or": or_, "moons": moons, "circles": circles, "spiral": spiral}
