"""Module, Neuron/Layer/MLP, PyTorch-style layers, init, seeding, state and files."""

import json
import math
import random
import statistics

import pytest

from nn import MLP, Dropout, Layer, Linear, Module, Neuron, ReLU, Sequential, Sigmoid, Tanh
from nn.module import ModelFileError
from scalargrad import Value


def outputs(model, xs):
    return [model(x).data for x in xs]


POINTS = [[0.0, 0.0], [1.0, -2.0], [0.5, 0.25], [-3.0, 4.0]]


# ---------------------------------------------------------------- structure


def test_parameters_are_ordered_named_and_unique():
    model = MLP(2, [3, 1], seed=0)
    names = [n for n, _ in model.named_parameters()]
    assert names[:4] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b", "layers.0.neurons.1.w.0"]
    assert names[-1] == "layers.1.neurons.0.b"
    assert model.num_parameters() == len(model.parameters()) == 3 * 3 + 4 == len(set(map(id, model.parameters())))

    class Tied(Module):
        def __init__(self):
            self.a = Linear(2, 2, seed=1)
            self.b = self.a  # shared: listed once

        def forward(self, x):
            return self.b(self.a(x))

    tied = Tied()
    assert tied.num_parameters() == 6 and [n for n, _ in tied.named_parameters()][0] == "a.weight.0.0"


def test_micrograd_shapes_one_output_is_a_value_and_width_one_layers_work():
    model = MLP(2, [16, 16, 1])
    assert isinstance(model([1.0, 2.0]), Value)
    assert len(model.parameters()) == 337  # as micrograd's demo prints
    assert isinstance(MLP(2, [3, 2], seed=0)([1.0, 2.0]), list)
    narrow = MLP(2, [1, 1, 3, 1], seed=0)  # micrograd breaks on a width-1 hidden layer
    assert isinstance(narrow([1.0, -1.0]), Value)
    assert isinstance(Layer(2, 1)([1.0, 2.0]), list)
    # micrograd's spelling: nonlin=False is a linear neuron, and its repr-ish attributes exist
    n = Neuron(3, nonlin=False)
    assert n.activation == "linear" and not n.nonlin and len(n.w) == 3 and n.b.data == 0.0


def test_hidden_layers_use_the_activation_and_the_last_is_linear_unless_asked():
    model = MLP(2, [4, 4, 2], activation="tanh", seed=0)
    assert [layer.neurons[0].activation for layer in model.layers] == ["tanh", "tanh", "linear"]
    model = MLP(2, [4, 1], output_activation="sigmoid", seed=0)
    assert model.layers[-1].neurons[0].activation == "sigmoid"
    assert all(0 < y < 1 for y in outputs(model, POINTS))


def test_forward_nodes_carry_their_module_scope():
    model = MLP(2, [2, 1], seed=0)
    out = model([1.0, 2.0])
    assert out.scope == "layers.1.neurons.0"
    assert {n.scope for n in out.parents} >= {"layers.1.neurons.0"}
    hidden = model.layers[0]([1.0, 2.0])
    assert hidden[1].scope == "layers.0.neurons.1"
    seq = Sequential(Linear(2, 2, seed=0), Tanh())
    assert [v.scope for v in seq([1.0, 2.0])] == ["1", "1"]


def test_inputs_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="Layer expects 2 inputs, got 3"):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Linear expects 2 inputs, got 1"):
        Linear(2, 1)([1.0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MLP(2, [16, 1], activation="gelu"), "unknown activation 'gelu'; known activations: relu, tanh, sigmoid, linear"),
        (lambda: Neuron(2, activation="swish"), "unknown activation 'swish'"),
        (lambda: MLP(2, [4, 1], init="glorot"), "init must be one of 'xavier', 'he', 'uniform', 'pytorch', got 'glorot'"),
        (lambda: MLP(2, []), "non-empty list of layer widths"),
        (lambda: MLP(2, [4, 0]), "MLP nouts\\[1\\] must be a whole number >= 1, got 0"),
        (lambda: Linear(0, 2), "Linear in_features must be a whole number >= 1, got 0"),
        (lambda: Dropout(1.0), "Dropout p \\(a probability\\) must be a finite number >= 0, < 1, got 1.0"),
        (lambda: Dropout(-0.1), "got -0.1"),
    ],
)
def test_construction_refusals(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_repr_lists_the_sub_modules():
    text = repr(MLP(2, [16, 1], seed=0))
    assert text == "MLP(\n  (layers.0): Layer(2, 16, activation='relu')\n  (layers.1): Layer(16, 1, activation='linear')\n)"
    text = repr(Sequential(Linear(2, 4), ReLU(), Dropout(0.2), Linear(4, 1)))
    assert "(0): Linear(in_features=2, out_features=4, bias=True)" in text and "(2): Dropout(p=0.2, inplace=False)" in text
    assert "(3): Linear(in_features=4, out_features=1, bias=True)" in text


# ---------------------------------------------------------------- init and seeds


def test_same_seed_same_model_bit_for_bit_and_different_seed_differs():
    a, b, c = MLP(3, [5, 2], seed=7), MLP(3, [5, 2], seed=7), MLP(3, [5, 2], seed=8)
    assert a.state_dict() == b.state_dict() != c.state_dict()
    random.seed(1337)
    d = MLP(2, [4, 1])
    random.seed(1337)
    assert MLP(2, [4, 1]).state_dict() == d.state_dict()  # no seed: reproducible from random.seed, as micrograd


def test_init_scales():
    rng = random.Random(0)
    he = Layer(50, 200, activation="relu", rng=rng)  # default for relu: He, σ = sqrt(2/50) = 0.2
    ws = [w.data for n in he.neurons for w in n.w]
    assert statistics.pstdev(ws) == pytest.approx(math.sqrt(2 / 50), rel=0.03)
    xavier = Layer(50, 150, activation="tanh", rng=rng)  # default for tanh: Xavier, σ = sqrt(2/200)
    ws = [w.data for n in xavier.neurons for w in n.w]
    assert statistics.pstdev(ws) == pytest.approx(math.sqrt(2 / 200), rel=0.03)
    uniform = Layer(50, 100, init="uniform", rng=rng)
    ws = [w.data for n in uniform.neurons for w in n.w]
    assert -1 <= min(ws) < -0.99 and 0.99 < max(ws) <= 1 and statistics.pstdev(ws) == pytest.approx(1 / math.sqrt(3), rel=0.03)
    assert all(n.b.data == 0.0 for n in uniform.neurons)


# ---------------------------------------------------------------- modes and layers


def test_train_eval_set_the_flag_everywhere_and_return_self():
    model = Sequential(Linear(2, 3), ReLU(), Dropout(0.5), Sequential(Linear(3, 1), Sigmoid()))
    assert model.eval() is model
    assert not any(m.training for m in [model, model[0], model[2], model[3], model[3][1]])
    assert model.train() is model and model[3][0].training
    with pytest.raises(TypeError, match="True or False"):
        model.train("no")


def test_dropout_is_inverted_in_training_and_identity_in_eval():
    drop = Dropout(0.25, seed=3)
    xs = [Value(2.0) for _ in range(2000)]
    ys = drop(xs)
    kept = [y.data for y in ys if y.data != 0.0]
    assert set(kept) == {2.0 / 0.75}
    assert len(kept) / len(xs) == pytest.approx(0.75, abs=0.03)
    assert drop.eval()(xs) is xs
    assert Dropout(0.0)(xs) is xs
    again = Dropout(0.25, seed=3)(xs)
    assert [y.data for y in again] == [y.data for y in ys]


def test_sequential_stacks_like_pytorch_and_elementwise_activations():
    seq = Sequential(Linear(2, 3, seed=0), Tanh(), Linear(3, 1, seed=1), Sigmoid())
    out = seq([0.5, -1.0])
    assert len(out) == 1 and 0 < out[0].data < 1
    assert len(seq) == 4 and isinstance(seq[1], Tanh)
    assert seq.num_parameters() == 6 + 3 + 3 + 1
    assert [n for n, _ in seq.named_parameters()][:2] == ["0.weight.0.0", "0.weight.0.1"]
    assert ReLU()([Value(-1.0), Value(2.0)])[1].data == 2.0 and ReLU()(Value(-1.0)).data == 0.0
    with pytest.raises(TypeError, match="Sequential item 1 must be a Module, got builtin_function_or_method"):
        Sequential(Linear(1, 1), math.tanh)


def test_zero_grad():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# ---------------------------------------------------------------- state and files


def test_save_load_round_trip_reproduces_outputs_exactly(tmp_path):
    model = MLP(2, [5, 3, 1], activation="tanh", seed=1)
    model.parameters()[0].data = 0.1 + 0.2  # a float with no short decimal form
    path = tmp_path / "model.json"
    model.save(path)
    other = MLP(2, [5, 3, 1], activation="tanh", seed=99)
    assert outputs(other, POINTS) != outputs(model, POINTS)
    assert other.load(path) is other
    assert outputs(other, POINTS) == outputs(model, POINTS)
    assert other.state_dict() == model.state_dict()
    document = json.loads(path.read_text())
    assert document["format"] == "scalargrad.nn/state" and len(document["parameters"]) == model.num_parameters()


def test_load_state_dict_round_trip():
    a, b = MLP(3, [4, 2], seed=0), MLP(3, [4, 2], seed=1)
    assert b.load_state_dict(a.state_dict()) is b
    assert [y.data for y in a([1.0, 2.0, 3.0])] == [y.data for y in b([1.0, 2.0, 3.0])]


def _write(path, parameters, **extra):
    document = {"format": "scalargrad.nn/state", "version": 1, "parameters": parameters, **extra}
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.pop("layers.0.neurons.0.w.1"), "parameter 'layers.0.neurons.0.w.1' is missing from the state \\(the model has 13 parameters, the state has 12\\)"),
        (lambda s: s.update({"layers.2.neurons.0.b": 0.0}), "extra parameter 'layers.2.neurons.0.b'"),
        (lambda s: s.update({"layers.0.neurons.0.b": "0.5"}), "parameter 'layers.0.neurons.0.b' must be a real number, got str '0.5'"),
        (lambda s: s.update({"layers.0.neurons.0.b": None}), "must be a real number, got NoneType"),
        (lambda s: s.update({"layers.0.neurons.0.b": True}), "must be a real number, got bool"),
        (lambda s: s.update({"layers.0.neurons.0.b": [1.0]}), "must be a real number, got list"),
    ],
)
def test_bad_files_are_refused_naming_the_problem_and_the_model_is_untouched(tmp_path, mutate, message):
    model = MLP(2, [3, 1], seed=0)
    state = MLP(2, [3, 1], seed=5).state_dict()
    mutate(state)
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        model.load(_write(tmp_path / "bad.json", state))
    assert model.state_dict() == before
    with pytest.raises((TypeError, ValueError), match=message):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_a_file_for_another_size_is_refused(tmp_path):
    big = MLP(2, [4, 1], seed=0)
    big.save(tmp_path / "big.json")
    small = MLP(2, [3, 1], seed=0)
    before = small.state_dict()
    with pytest.raises(ValueError, match="extra parameter 'layers.0.neurons.3.w.0'.*model has 13 parameters, the state has 17"):
        small.load(tmp_path / "big.json")
    assert small.state_dict() == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not a JSON parameter file"),
        ('{"format": "scalargrad.nn/state", "version": 1, "parameters": {"a": NaN}}', "NaN is not a finite number"),
        ('{"format": "scalargrad.nn/state", "version": 1, "parameters": {"a": 1, "a": 2}}', "the name 'a' appears twice"),
        ('[1, 2, 3]', "not a scalargrad nn parameter file"),
        ('{"format": "pickle", "version": 1, "parameters": {}}', "not a scalargrad nn parameter file"),
        ('{"format": "scalargrad.nn/state", "version": 3, "parameters": {}}', "unsupported file version 3"),
        ('{"format": "scalargrad.nn/state", "version": 2, "parameters": {}, "buffers": [1.0]}', "'buffers' must be a JSON object"),
        ('{"format": "scalargrad.nn/state", "version": 1, "parameters": [1.0]}', "'parameters' must be a JSON object"),
    ],
)
def test_malformed_files_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    with pytest.raises(ModelFileError, match=message):
        model.load(path)
    assert model.state_dict() == before


def test_huge_numbers_in_a_file_are_refused(tmp_path):
    model = MLP(1, [1], seed=0)
    path = tmp_path / "huge.json"
    path.write_text('{"format": "scalargrad.nn/state", "version": 1, '
                    '"parameters": {"layers.0.neurons.0.w.0": 1e400, "layers.0.neurons.0.b": 0.0}}')
    with pytest.raises(ValueError, match="'layers.0.neurons.0.w.0' must be a finite number, got inf"):
        model.load(path)


def test_save_replaces_a_file_whole(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [8, 1], seed=0).save(path)
    small = MLP(2, [1], seed=1)
    small.save(path)
    assert MLP(2, [1], seed=2).load(path).state_dict() == small.state_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_micrograd_style_subclass_works():
    class Affine(Module):  # written the micrograd way: __call__ and parameters(), no super().__init__
        def __init__(self):
            self.w = Value(2.0)
            self.b = Value(1.0)

        def __call__(self, x):
            return self.w * x + self.b

        def parameters(self):
            return [self.w, self.b]

    m = Affine()
    m(3.0).backward()
    assert (m.w.grad, m.b.grad) == (3.0, 1.0)
    m.zero_grad()
    assert m.state_dict() == {"w": 2.0, "b": 1.0} and m.w.grad == 0.0
