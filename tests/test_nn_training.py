"""Training end to end: the lecture's XOR story, micrograd's demo, fit() and accuracy()."""

import math

import pytest

import nn
from nn import MLP, SGD, Adam, DivergenceError, Linear, Sequential, Tanh, accuracy, fit, hinge, l2_penalty
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


def test_micrograd_demo_workload_reaches_99_percent_within_100_steps():
    # micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons points (noise 0.1), SVM hinge loss + 1e-4·Σp²,
    # full-batch SGD with lr = 1 − 0.9·k/100. We stop at the first step that reaches ≥ 99 %.
    X, y = moons(100, noise=0.1, seed=1337)
    y = [2 * t - 1 for t in y]
    model = MLP(2, [16, 16, 1], seed=1337)
    for k in range(100):
        scores = [model(x) for x in X]
        total = hinge(scores, y) + l2_penalty(model, 1e-4)
        acc = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores)) / len(y)
        if acc >= 0.99:
            break
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
    assert acc >= 0.99, f"accuracy {acc} after 100 steps"


def test_micrograd_demo_code_runs_with_only_the_imports_swapped():
    np = pytest.importorskip("numpy")
    # ---- micrograd's demo.ipynb, imports swapped (and make_moons from nn.data instead of sklearn)
    import random

    from nn import MLP
    from scalargrad import Value

    np.random.seed(1337)
    random.seed(1337)
    X, y = moons(100, noise=0.1, seed=0)
    X, y = np.array(X), np.array(y)
    y = y * 2 - 1  # make y be -1 or 1
    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    print(model)
    print("number of parameters", len(model.parameters()))

    def loss(batch_size=None):
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(map(Value, xrow)) for xrow in Xb]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    total_loss, acc = loss()
    print(total_loss, acc)
    first = total_loss.data
    for k in range(3):  # the demo runs 100 steps; three show the loop works
        total_loss, acc = loss(batch_size=50)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        print(f"step {k} loss {total_loss.data}, accuracy {acc*100}%")
    h = 0.25
    xx, yy = np.meshgrid(np.arange(-2, 3, h), np.arange(-1.5, 2, h))
    Xmesh = np.c_[xx.ravel(), yy.ravel()]
    inputs = [list(map(Value, xrow)) for xrow in Xmesh]
    scores = list(map(model, inputs))
    Z = np.array([s.data > 0 for s in scores]).reshape(xx.shape)
    # ---- end of demo code
    assert Z.shape == xx.shape
    assert loss()[0].data < first


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
