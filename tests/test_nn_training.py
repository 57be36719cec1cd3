"""Training end to end: the lecture's XOR story, micrograd's demo, fit() and accuracy()."""

import math

import pytest

import nn
from nn import MLP, SGD, Adam, DivergenceError, Linear, Sequential, Tanh, accuracy, fit
from scalargrad import NonFiniteError
from nn.data import moons, spiral, xor


def test_one_logistic_unit_stalls_on_xor_at_ln2_and_half_right():
    X, y = xor()
    unit = MLP(2, [1], output_activation="sigmoid", seed=0)  # one perceptron with a sigmoid
    history = fit(unit, X, y, "bce", SGD(unit, lr=1.0), epochs=1000, progress=False)
    assert history["loss"][-1] == pytest.approx(math.log(2), abs=1e-4)  # ln 2 ≈ 0.6931: no better than a coin
    assert history["loss"][-1] == pytest.approx(0.6931, abs=1e-4)
    # The best a line can do on XOR by this loss is w = 0, b = 0: every output 0.5, all read as class 0.
    assert [unit(x).data for x in X] == pytest.approx([0.5] * 4, abs=1e-6)
    assert accuracy(unit, X, y) == 0.5


def test_one_hidden_layer_solves_xor():
    X, y = xor()
    model = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    history = fit(model, X, y, "bce", Adam(model, lr=0.1), epochs=200, progress=False)
    assert accuracy(model, X, y) == 1.0 and history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.01 < history["loss"][0]
    assert [round(model(x).data) for x in X] == [0, 1, 1, 0]


def test_same_seed_same_training_run_bit_for_bit():
    X, y = moons(20, 0.1, seed=1)

    def run():
        model = Sequential(Linear(2, 6, seed=4), Tanh(), nn.Dropout(0.1, seed=5), Linear(6, 1, seed=6))
        return fit(model, X, y, "bce_with_logits", Adam(model, lr=0.05), epochs=3, batch_size=7, seed=9, progress=False), model.state_dict()

    assert run() == run()


def test_fit_history_batches_and_multiclass():
    X, y = spiral(30, classes=3, seed=0)
    model = MLP(2, [8, 3], activation="tanh", seed=0)
    history = fit(model, X, y, "cross_entropy", Adam(model, lr=0.05), epochs=4, batch_size=8, seed=0, l2=1e-3, progress=False)
    assert len(history["loss"]) == len(history["accuracy"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    assert all(0.0 <= a <= 1.0 for a in history["accuracy"])


def test_fit_shows_a_tqdm_progress_bar_that_can_be_turned_off(capsys):
    X, y = xor()
    model = MLP(2, [2, 1], seed=0)
    fit(model, X, y, "mse", SGD(model, lr=0.1), epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "3/3" in err and "loss=" in err
    fit(model, X, y, "mse", SGD(model, lr=0.1), epochs=3, progress=False)
    assert capsys.readouterr().err == ""


def test_a_diverging_run_stops_naming_the_epoch():
    X, y = xor()
    model = MLP(2, [8, 1], seed=0)
    with pytest.raises(DivergenceError, match="training diverged in epoch [0-9]+ of 50"):
        fit(model, X, y, "mse", SGD(model, lr=1e150), epochs=50, progress=False)


def test_divergence_is_the_engines_one_non_finite_error():
    assert DivergenceError is NonFiniteError and issubclass(DivergenceError, FloatingPointError)
    X, y = xor()
    model = MLP(2, [8, 1], seed=0)
    optimizer = Adam(model, lr=0.1)
    for p in model.layers[0].parameters():  # hidden activations ~1e160: the output weights' gradients square to inf
        p.data *= 1e160
    before = model.state_dict()
    with pytest.raises(NonFiniteError, match="training diverged in epoch 1 of 3: Adam.step: the second moment v of parameter"):
        fit(model, X, y, "l1", optimizer, epochs=3, progress=False)
    assert model.state_dict() == before and optimizer.steps == 0


def test_accuracy_reads_labels_01_pm1_and_class_indices():
    model = Sequential(Linear(1, 1, seed=0))
    model[0].weight[0][0].data, model[0].bias[0].data = 1.0, 0.0
    single = MLP(1, [1], seed=0)
    single.layers[0].neurons[0].w[0].data = 1.0
    assert accuracy(single, [[1.0], [-1.0], [2.0]], [1, 0, 0], threshold=0.0) == pytest.approx(2 / 3)
    assert accuracy(single, [[1.0], [-1.0]], [1, -1], threshold=0.0) == 1.0
    three = MLP(1, [3], seed=0)
    for i, n in enumerate(three.layers[0].neurons):
        n.w[0].data, n.b.data = 0.0, float(i)
    assert accuracy(three, [[0.0], [5.0]], [2, 0]) == 0.5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(epochs=0), ValueError, "fit: epochs must be a whole number >= 1, got 0"),
        (dict(loss="huber"), ValueError, "unknown loss 'huber'"),
        (dict(optimizer="sgd"), TypeError, "optimizer must be an nn.optim optimizer, got str"),
        (dict(y=[0, 1]), ValueError, "4 inputs but 2 labels"),
        (dict(l2=-1.0), ValueError, "fit: l2 must be a finite number >= 0, got -1.0"),
        (dict(batch_size=0), ValueError, "batch_size must be a whole number >= 1, got 0"),
    ],
)
def test_fit_refusals(kwargs, error, message):
    X, y = xor()
    model = MLP(2, [2, 1], seed=0)
    args = dict(X=X, y=y, loss="mse", optimizer=SGD(model, lr=0.1), epochs=2, progress=False)
    args.update(kwargs)
    before = model.state_dict()
    with pytest.raises(error, match=message):
        fit(model, **args)
    assert model.state_dict() == before
