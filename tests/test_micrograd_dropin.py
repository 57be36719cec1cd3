"""micrograd's own demo and README code, run with micrograd 0.1.0 and with only the imports
swapped (``from scalargrad import Value``, ``from nn.micrograd import Neuron, Layer, MLP``):
the same printed numbers."""

import contextlib
import gc
import io
import random
import re

import pytest

import nn
from nn.micrograd import MLP, Layer, Neuron
from scalargrad import Value

np = pytest.importorskip("numpy")
micrograd_nn = pytest.importorskip("micrograd.nn", reason="the bench dependency group is not installed")

MICROGRAD_IMPORTS = (
    "from micrograd.engine import Value\n"
    "from micrograd.nn import Neuron, Layer, MLP\n"
)
SWAPPED_IMPORTS = (
    "from scalargrad import Value\n"
    "from nn.micrograd import Neuron, Layer, MLP\n"
)


def make_moons(n_samples=100, *, noise=None):
    """scikit-learn's ``make_moons`` with ``random_state=None``, number for number (sklearn is not
    a dependency): the points, then a shuffle and N(0, noise²) jitter from numpy's global generator."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)), np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    np.random.shuffle(order)
    X, y = X[order], y[order]
    if noise is not None:
        X += np.random.normal(scale=noise, size=X.shape)
    return X, y


# micrograd's demo.ipynb, cell by cell, with its imports; the only changes: make_moons is the
# function above (not `from sklearn.datasets import make_moons`), the data size, the model's
# widths and the number of steps are N_SAMPLES, SIZES and STEPS (100, [16, 16, 1], 100 in the
# notebook), and the plotting cells are left out.
DEMO = MICROGRAD_IMPORTS + '''
np.random.seed(1337)
random.seed(1337)

# make up a dataset
X, y = make_moons(n_samples=N_SAMPLES, noise=0.1)

y = y*2 - 1 # make y be -1 or 1

# initialize a model
model = MLP(2, SIZES) # 2-layer neural network
print(model)
print("number of parameters", len(model.parameters()))

# loss function
def loss(batch_size=None):

    # inline DataLoader :)
    if batch_size is None:
        Xb, yb = X, y
    else:
        ri = np.random.permutation(X.shape[0])[:batch_size]
        Xb, yb = X[ri], y[ri]
    inputs = [list(map(Value, xrow)) for xrow in Xb]

    # forward the model to get scores
    scores = list(map(model, inputs))

    # svm "max-margin" loss
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    # L2 regularization
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss

    # also get accuracy
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

total_loss, acc = loss()
print(total_loss, acc)

# optimization
for k in range(STEPS):

    # forward
    total_loss, acc = loss()

    # backward
    model.zero_grad()
    total_loss.backward()

    # update (sgd)
    learning_rate = 1.0 - 0.9*k/100
    for p in model.parameters():
        p.data -= learning_rate * p.grad

    if k % 1 == 0:
        print(f"step {k} loss {total_loss.data}, accuracy {acc*100}%")
'''

# micrograd's README example, verbatim.
README_EXAMPLE = "from micrograd.engine import Value\n" + '''
a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numeric value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numeric value of dg/db
'''


def swapped(source: str, micrograd_import: str, scalargrad_import: str) -> str:
    assert micrograd_import in source
    return source.replace(micrograd_import, scalargrad_import)


def run(source: str, **names) -> str:
    """What ``source`` prints, run as a script (with ``names`` already defined)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<micrograd code>", "exec"), {"__name__": "__main__", "np": np, "random": random, **names})
    return out.getvalue()


@contextlib.contextmanager
def cycle_collector_paused():
    """micrograd's nodes hold closures in reference cycles, so each step leaves ~65,000 nodes for
    Python's cycle collector, which then takes most of micrograd's time (11 of 12 s for the
    two-step demo on a loaded machine); the numbers do not depend on it. Collected once at the end."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


NUMBER = r"[-+0-9.e]+"


def demo_output(text: str) -> tuple[list[str], list[tuple[float, float]]]:
    """The demo's printed model lines, and (loss, accuracy) of the first evaluation then of each step."""
    lines = text.splitlines()
    first = re.fullmatch(rf"Value\(data=({NUMBER}), grad=[-+0-9.e]+\) ({NUMBER})", lines[2])
    steps = [re.fullmatch(rf"step \d+ loss ({NUMBER}), accuracy ({NUMBER})%", line) for line in lines[3:]]
    assert first and all(steps), text
    return lines[:2], [(float(m[1]), float(m[2])) for m in [first] + steps]


def assert_same_demo(names):
    with cycle_collector_paused():
        theirs = run(DEMO, **names)
    ours = run(swapped(DEMO, MICROGRAD_IMPORTS, SWAPPED_IMPORTS), **names)
    (their_model, their_numbers), (our_model, our_numbers) = demo_output(theirs), demo_output(ours)
    assert our_model == their_model  # repr and number of parameters
    assert len(our_numbers) == len(their_numbers) == names["STEPS"] + 1
    for (our_loss, our_acc), (their_loss, their_acc) in zip(our_numbers, their_numbers):
        assert our_loss == pytest.approx(their_loss, rel=1e-9, abs=1e-9)
        assert our_acc == their_acc
    return their_model, their_numbers


def test_micrograd_demo_with_the_imports_swapped_prints_micrograd_numbers():
    # The notebook's own model and data. Two steps: micrograd takes ~1 s a step (all 100 steps
    # were compared when nn.micrograd was written: every loss within 2.3e-16, every accuracy equal).
    model_lines, numbers = assert_same_demo({"make_moons": make_moons, "N_SAMPLES": 100, "SIZES": [16, 16, 1], "STEPS": 2})
    assert model_lines[1] == "number of parameters 337"
    assert model_lines[0].startswith("MLP of [Layer of [ReLUNeuron(2), ") and model_lines[0].endswith("LinearNeuron(16)]]")
    # demo.ipynb prints "Value(data=0.8958441028683222, grad=0) 0.5" (its data came from
    # scikit-learn, so make_moons above makes the same points) and "step 1 loss 1.7236, accuracy 81.0%"
    assert numbers[0] == (pytest.approx(0.8958441028683222, abs=1e-15), 0.5)
    assert numbers[2] == (pytest.approx(1.7235905336972022, abs=1e-9), 81.0)


def test_a_longer_run_of_the_demo_on_a_smaller_model_stays_on_micrograd_numbers():
    # All 100 steps of the demo's learning-rate schedule, on 20 points and MLP(2, [4, 4, 1]).
    _, numbers = assert_same_demo({"make_moons": make_moons, "N_SAMPLES": 20, "SIZES": [4, 4, 1], "STEPS": 100})
    assert len({acc for _, acc in numbers}) > 2 and numbers[-1][0] < numbers[0][0] / 2  # it really trains


def test_micrograd_readme_example_with_the_import_swapped_prints_the_same():
    theirs = run(README_EXAMPLE)
    assert theirs == "24.7041\n138.8338\n645.5773\n"
    assert run(swapped(README_EXAMPLE, "from micrograd.engine import Value\n", "from scalargrad import Value\n")) == theirs


# ------------------------------------------------------------------ the classes themselves

SHAPES = [(2, [16, 16, 1]), (3, [4, 2]), (1, [1]), (5, [3, 3, 3, 2])]


@pytest.mark.parametrize("nin, nouts", SHAPES)
def test_weights_repr_and_parameter_order_are_micrograds(nin, nouts):
    random.seed(7)
    theirs = micrograd_nn.MLP(nin, nouts)
    after_theirs = random.random()
    random.seed(7)
    ours = MLP(nin, nouts)
    assert random.random() == after_theirs  # as many draws from the global generator
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)
    x = [0.5, -1.5, 2.0, 0.25, -0.75][:nin]
    out_ours, out_theirs = ours(x), theirs(x)
    if isinstance(out_theirs, list):
        assert [v.data for v in out_ours] == pytest.approx([v.data for v in out_theirs], rel=1e-12)
    else:
        assert isinstance(out_ours, Value) and out_ours.data == pytest.approx(out_theirs.data, rel=1e-12)


def test_default_nn_mlp_gets_micrograds_weights_from_uniform_init_and_the_global_generator():
    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = nn.MLP(2, [16, 16, 1], init="uniform", rng=random)
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]


def test_draws_interleave_with_the_users_own_random_calls():
    random.seed(3)
    theirs = [micrograd_nn.Neuron(2), random.uniform(0, 1), micrograd_nn.Neuron(2, nonlin=False)]
    random.seed(3)
    ours = [Neuron(2), random.uniform(0, 1), Neuron(2, nonlin=False)]
    assert ours[1] == theirs[1]
    assert [[p.data for p in n.parameters()] for n in ours[::2]] == [[p.data for p in n.parameters()] for n in theirs[::2]]
    assert [repr(n) for n in ours[::2]] == ["ReLUNeuron(2)", "LinearNeuron(2)"]


def test_a_layer_of_one_neuron_returns_its_value_and_wider_layers_a_list():
    lone, pair = Layer(2, 1), Layer(2, 2, nonlin=False)
    assert isinstance(lone([1.0, 2.0]), Value)
    out = pair([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert repr(lone) == "Layer of [ReLUNeuron(2)]" and repr(pair) == "Layer of [LinearNeuron(2), LinearNeuron(2)]"
    neuron = Neuron(2, nonlin=False)
    neuron.w[0].data, neuron.w[1].data = 1.0, 1.0
    assert neuron([-3.0, 1.0]).data == -2.0  # linear: no relu
    relu = Neuron(2)
    relu.w[0].data, relu.w[1].data = 1.0, 1.0
    assert relu([-3.0, 1.0]).data == 0.0
    relu.nonlin = False  # a plain attribute in micrograd; setting it switches the activation
    assert relu([-3.0, 1.0]).data == -2.0 and repr(relu) == "LinearNeuron(2)"


def test_a_width_one_hidden_layer_feeds_the_next_layer():
    # micrograd itself fails here ('Value' object is not iterable); nn.micrograd reads the lone Value.
    model = MLP(3, [4, 1, 2])
    out = model([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 2
    with pytest.raises(TypeError):
        micrograd_nn.MLP(3, [4, 1, 2])([1.0, 2.0, 3.0])


def test_parameters_zero_grad_and_nn_module_machinery():
    model = MLP(2, [3, 1])
    params = model.parameters()
    assert params == [p for layer in model.layers for n in layer.neurons for p in n.w + [n.b]]
    assert all(p.data == 0.0 for layer in model.layers for p in [n.b for n in layer.neurons])
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0.0 for p in params)
    model.zero_grad()
    assert all(p.grad == 0.0 for p in params)
    assert list(model.state_dict())[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert isinstance(model, nn.MLP) and isinstance(model.layers[0], nn.Layer) and isinstance(params[0], Value)


def test_a_numpy_row_is_read_as_micrograd_reads_it():
    random.seed(5)
    theirs = micrograd_nn.MLP(2, [3, 1])
    random.seed(5)
    ours = MLP(2, [3, 1])
    row = np.array([0.3, -1.2])
    assert ours(row).data == pytest.approx(theirs(row).data, rel=1e-12)
    assert nn.MLP(2, [3, 1], seed=0)(row).data == nn.MLP(2, [3, 1], seed=0)([0.3, -1.2]).data


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: MLP(2, []), ValueError, "MLP nouts must be a non-empty list"),
        (lambda: MLP(0, [1]), ValueError, "MLP nin"),
        (lambda: Layer(2, 0), ValueError, "Layer nout"),
        (lambda: Neuron(0), ValueError, "Neuron nin"),
        (lambda: MLP(2, [1])([1.0, 2.0, 3.0]), ValueError, "expects 2 inputs, got 3"),  # micrograd's zip drops the 3rd
        (lambda: MLP(2, [1])(np.zeros((2, 2))), TypeError, "input 0 must be a number or a Value, got ndarray"),
        (lambda: MLP(2, [1])("ab"), TypeError, "expects a list of 2 numbers or Values, got str"),
        (lambda: MLP(2, [1])({1.0, 2.0}), TypeError, "got set"),
        (lambda: nn.MLP(2, [1], rng=np.random), TypeError, "rng must be a random.Random or the random module"),
    ],
)
def test_refusals(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()
