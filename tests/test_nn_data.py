"""Datasets: labels, sizes, determinism, batches."""

import math

import pytest

from nn.data import and_, batches, circles, moons, or_, spiral, xor


def test_truth_tables():
    X, y = xor()
    assert X == [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] and y == [0, 1, 1, 0]
    assert and_()[1] == [0, 0, 0, 1] and or_()[1] == [0, 1, 1, 1]
    X[0][0] = 9.0
    assert xor()[0][0] == [0.0, 0.0]  # each call gives fresh lists


@pytest.mark.parametrize("make", [lambda s: moons(50, 0.1, seed=s), lambda s: circles(50, 0.05, seed=s), lambda s: spiral(50, 3, 0.2, seed=s)])
def test_deterministic_for_a_seed(make):
    assert make(3) == make(3) != make(4)
    X, y = make(3)
    assert len(X) == len(y) == 50 and all(len(row) == 2 and all(math.isfinite(v) for v in row) for row in X)


def test_shapes_without_noise():
    X, y = moons(10, noise=0.0, seed=0)
    assert sorted(y) == [0] * 5 + [1] * 5
    for (a, b), t in zip(X, y):
        centre = (0.0, 0.0) if t == 0 else (1.0, 0.5)
        assert math.hypot(a - centre[0], b - centre[1]) == pytest.approx(1.0)
    X, y = circles(8, noise=0.0, factor=0.5, seed=0)
    assert all(math.hypot(*row) == pytest.approx(1.0 if t == 0 else 0.5) for row, t in zip(X, y))
    X, y = spiral(10, classes=3, noise=0.0, seed=0)
    assert sorted(y) == [0] * 4 + [1] * 3 + [2] * 3 and all(math.hypot(*row) <= 1.0 + 1e-12 for row in X)


def test_batches_cover_everything_once():
    X, y = list(range(10)), [i * 10 for i in range(10)]
    got = list(batches(X, y, 4, shuffle=True, seed=1))
    assert [len(b[0]) for b in got] == [4, 4, 2]
    assert sorted(x for b, _ in got for x in b) == X
    assert all(t == 10 * x for bx, by in got for x, t in zip(bx, by))
    assert got == list(batches(X, y, 4, shuffle=True, seed=1))
    assert list(batches(X, y, 4, shuffle=False))[0] == ([0, 1, 2, 3], [0, 10, 20, 30])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: batches([1, 2], [1], 1), "2 inputs but 1 labels"),
        (lambda: batches([1], [1], 0), "batch_size must be a whole number >= 1, got 0"),
        (lambda: moons(1), "n must be a whole number >= 2, got 1"),
        (lambda: moons(10, noise=-1), "noise must be a finite number >= 0, got -1"),
        (lambda: spiral(10, classes=1), "classes must be a whole number >= 2, got 1"),
        (lambda: circles(10, factor=1.5), "factor must be a finite number > 0, < 1, got 1.5"),
    ],
)
def test_refusals(call, message):
    with pytest.raises(ValueError, match=message):
        call()
