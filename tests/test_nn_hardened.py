"""fit and nn's helpers attacked: the loss's domain checked on every sample of a compiled batch,
the shapes nn.data gives, numpy arrays, a loss that gives a list, and summary's argument types."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from scalargrad import NonFiniteError, Overflow


def _fit(model, X, y, loss, compile, **options):  # noqa: A002
    options = {"epochs": 2, "progress": False, "shuffle": False, **options}
    return nn.fit(model, X, y, loss, nn.SGD(model.parameters(), lr=0.1), compile=compile, **options)


def _refusals(make_model, X, y, loss, **options):
    """What eager and compiled fit raise, and whether each left the parameters as they were."""
    seen = []
    for compiled in (False, True):
        model = make_model()
        before = [p.data for p in model.parameters()]
        with pytest.raises((TypeError, ValueError, ArithmeticError)) as refused:
            _fit(model, X, y, loss, compiled, **options)
        seen.append((type(refused.value), str(refused.value).split(" got ")[0], [p.data for p in model.parameters()] == before))
    return seen


PROBABILITY_MODEL = lambda: nn.Sequential(nn.Linear(1, 1, seed=0), nn.Sigmoid())  # noqa: E731
LINEAR_MODEL = lambda: nn.Sequential(nn.Linear(1, 1, seed=0))  # noqa: E731
X3 = [[0.1], [0.2], [0.3]]


@pytest.mark.parametrize("loss, make_model, y", [
    ("bce", PROBABILITY_MODEL, [0.0, 5.0, 1.0]),
    (nn.BCELoss(), PROBABILITY_MODEL, [[0.0], [1.0], [-0.5]]),
    ("bce_with_logits", LINEAR_MODEL, [0.0, 1.0, -3.0]),
    (nn.BCEWithLogitsLoss(), LINEAR_MODEL, [[0.0], [1.5], [1.0]]),
])
def test_a_target_out_of_range_in_any_sample_is_refused_compiled_as_eager(loss, make_model, y):
    eager, compiled = _refusals(make_model, X3, y, loss)
    assert eager == compiled and eager[0] is ValueError and eager[2]


def test_a_prediction_out_of_range_is_refused_compiled_as_eager():
    X = [[0.1], [5.0], [-3.0]]  # a linear output is no probability

    def model():
        m = LINEAR_MODEL()
        m[0].weight[0][0].data, m[0].bias[0].data = 0.2, 0.5  # 1.5 for the second sample
        return m

    eager, compiled = _refusals(model, X, [0.0, 1.0, 1.0], "bce")
    assert [eager, compiled] == [(ValueError, "bce: prediction 0 must be a probability in [0, 1],", True)] * 2


def test_the_refusal_comes_at_the_batch_eager_refuses_it_with_earlier_steps_taken():
    X, y = [[0.1], [0.2], [0.3], [0.4]], [0.0, 1.0, 1.0, 7.0]
    after = []
    for compiled in (False, True):
        model = PROBABILITY_MODEL()
        with pytest.raises(ValueError, match="target 0 must be in"):
            _fit(model, X, y, "bce", compiled, batch_size=2, epochs=1)
        after.append([p.data for p in model.parameters()])
    np.testing.assert_allclose(after[0], after[1], rtol=1e-12)  # the first batch's step, taken by both
    assert after[0] != [p.data for p in PROBABILITY_MODEL().parameters()]


@given(targets=st.lists(st.one_of(st.floats(-2.0, 3.0), st.sampled_from([0.0, 1.0])), min_size=2, max_size=5),
       weight=st.floats(-3.0, 3.0))
@settings(max_examples=25, deadline=None)
def test_compiled_fit_refuses_or_trains_exactly_as_eager_for_any_targets(targets, weight):
    X = [[0.25 * i - 0.3] for i in range(len(targets))]
    results = []
    for compiled in (False, True):
        model = PROBABILITY_MODEL()
        model[0].weight[0][0].data = weight
        try:
            history = _fit(model, X, targets, "bce", compiled, epochs=1)
            results.append(("trained", history["loss"], [p.data for p in model.parameters()]))
        except ValueError as error:
            results.append(("refused", str(error).split(" got ")[0], None))
    assert results[0][0] == results[1][0], results
    if results[0][0] == "trained":
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9)
        np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-9)
    else:
        assert results[0][1] == results[1][1]


# ------------------------------------------------------------ shapes nn.data gives


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("loss", ["mse", "l1", nn.MSELoss(), nn.L1Loss(reduction="sum")])
def test_fit_trains_on_parabolas_rows_as_on_flat_targets(loss, compiled):
    X, y = nn.data.parabola(12, seed=0)
    histories = []
    for targets in (y, [row[0] for row in y]):
        model = nn.Sequential(nn.Linear(1, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1))
        histories.append(nn.fit(model, X, targets, loss, nn.SGD(model.parameters(), lr=1e-6), epochs=2,
                                progress=False, compile=compiled))
    assert histories[0] == histories[1]
    assert histories[0]["loss"][1] < histories[0]["loss"][0]


def test_a_row_of_several_targets_counts_its_largest_as_the_class():
    model = nn.Sequential(nn.Linear(2, 3, seed=0))
    X = [[1.0, 0.0], [0.0, 1.0]]
    y = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    eager = nn.fit(model, X, y, "mse", nn.SGD(model.parameters(), lr=0.0), epochs=1, progress=False)
    compiled = nn.fit(model, X, y, "mse", nn.SGD(model.parameters(), lr=0.0), epochs=1, progress=False, compile=True)
    expected = sum(max(range(3), key=lambda k: model(x)[k].data) == t.index(1.0) for x, t in zip(X, y)) / 2
    assert eager["accuracy"] == compiled["accuracy"] == [expected]


@pytest.mark.parametrize("compiled", [False, True])
def test_numpy_arrays_train_as_lists_do(compiled):
    X, y = nn.data.xor()
    histories = []
    for data in ((X, y), (np.array(X), np.array(y))):
        model = nn.MLP(2, [4, 1], seed=0)
        histories.append(nn.fit(model, *data, "mse", nn.SGD(model.parameters(), lr=0.1), epochs=3, progress=False,
                                compile=compiled))
    assert histories[0] == histories[1]


def test_fit_refuses_data_that_is_no_list_in_one_line():
    model = nn.MLP(2, [1], seed=0)
    with pytest.raises(TypeError, match="fit: X must be a list of examples"):
        nn.fit(model, "abc", [1], "mse", nn.SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_loss_giving_a_list_per_sample_is_named(compiled):
    X, y = nn.data.parabola(4, seed=0)
    model = nn.Sequential(nn.Linear(1, 1, seed=0))
    with pytest.raises(TypeError, match=r"fit: the loss must give one Value per sample, got list \[Value.*reduction='none'"):
        nn.fit(model, X, y, nn.MSELoss(reduction="none"), nn.SGD(model.parameters(), lr=0.1), epochs=1,
               progress=False, compile=compiled)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_diverging_fit_keeps_the_kind_of_the_error(compiled):
    X, y = [[1e154], [2e154]], [0.0, 1.0]
    model = nn.Sequential(nn.Linear(1, 1, seed=0))
    model[0].weight[0][0].data = 1e154
    with pytest.raises(Overflow, match=r"not a finite"):
        nn.fit(model, X, y, "mse", nn.SGD(model.parameters(), lr=0.1), epochs=1, progress=False, compile=compiled)
    assert issubclass(nn.DivergenceError, NonFiniteError) and math.isfinite(model[0].weight[0][0].data)


def test_batchnorm_with_adam_compiled_agrees_except_the_bias_the_norm_cancels():
    """The bias of the layer feeding a BatchNorm1d has a true gradient of 0: both modes compute
    rounding noise there (~1e-17), which Adam scales up to steps of about lr. Everything the
    model computes (its losses, every other weight) agrees to rounding."""
    import random

    rng = random.Random(0)
    X = [[rng.uniform(-1, 1) for _ in range(4)] for _ in range(16)]
    y = [1 if sum(r) > 0 else 0 for r in X]
    results = []
    for compiled in (False, True):
        model = nn.Sequential(nn.Linear(4, 6, seed=1), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1, seed=2), nn.Sigmoid())
        history = nn.fit(model, X, y, "bce", nn.Adam(model.parameters(), lr=0.01), epochs=10, batch_size=8, seed=3,
                         progress=False, compile=compiled)
        results.append((history["loss"], dict((k, p.data) for k, p in model.named_parameters())))
    (eager_loss, eager_p), (comp_loss, comp_p) = results
    np.testing.assert_allclose(comp_loss, eager_loss, rtol=1e-12)
    for name in eager_p:
        gap = abs(eager_p[name] - comp_p[name])
        assert gap <= (0.01 * 10 * 2 if name.startswith("0.bias") else 1e-12), (name, gap)


@pytest.mark.parametrize("where", ["y", "X"])
@pytest.mark.parametrize("bad, error, says", [(math.nan, ValueError, "must hold finite numbers, got"),
                                              (math.inf, ValueError, "must hold finite numbers, got"),
                                              ("1.0", TypeError, "must be a number or a list of numbers, got"),
                                              (None, TypeError, "must be a number or a list of numbers, got"),
                                              (True, TypeError, "must be a number or a list of numbers, got")])
@pytest.mark.parametrize("compiled", [False, True])
def test_a_bad_example_anywhere_is_refused_before_any_step(where, bad, error, says, compiled):
    X, y = [[0.1], [0.2], [0.3], [0.4]], [0.0, 1.0, 1.0, 0.0]
    if where == "y":
        y[2] = bad
    else:
        X[2] = [bad]
    model = PROBABILITY_MODEL()
    before = [p.data for p in model.parameters()]
    with pytest.raises(error, match=rf"fit: {where}\[2\] {says}"):
        _fit(model, X, y, "mse", compiled, batch_size=2)
    assert [p.data for p in model.parameters()] == before


def test_a_refusal_the_program_cannot_phrase_is_eagers_own():
    """A target the loss refuses (not its range: its kind) reaches the compiled path as a numpy
    error; the batch is then run eagerly, without a backward, to raise eager's own message."""
    X, y = [[0.1], [0.2], [0.3]], [0, 1, 2]
    results = _refusals(lambda: nn.Sequential(nn.Linear(1, 2, seed=0)), X, y, "cross_entropy")
    assert results[0] == results[1] and "out of range for 2 classes" in results[0][1]
