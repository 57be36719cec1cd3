"""Batches through modules, BatchNorm1d, loss modules, summary, the labs' data and the bridge's
refusal without torch — everything of the lectures' labs that needs no PyTorch."""

import importlib.util
import json
import math
import socket
import statistics
import sys

import pytest

import nn
from nn import optim
from nn.module import ModelFileError
from scalargrad import NonFiniteError, Value


def _data(x):
    return [_data(i) for i in x] if isinstance(x, list) else x.data


class Model(nn.Module):
    def __init__(self, features=784, hidden=50):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(features, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.5))
        self.layer2 = nn.Sequential(nn.Linear(hidden, 10, bias=False))

    def forward(self, x):
        return self.layer2(self.layer1(x))


# ---------------------------------------------------------------- batches


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Linear(3, 2, seed=0),
        lambda: nn.Sequential(nn.Linear(3, 4, seed=1), nn.ReLU(), nn.Linear(4, 1, bias=False, seed=2), nn.Sigmoid()),
        lambda: nn.MLP(3, [4, 1], seed=3),
        lambda: nn.MLP(3, [4, 2], seed=3),
        lambda: nn.Layer(3, 2, rng=__import__("random").Random(4)),
        lambda: nn.Neuron(3, rng=__import__("random").Random(5)),
    ],
)
def test_a_batch_gives_one_output_row_per_sample(make):
    model = make()
    X = [[0.5, -1.0, 2.0], [1.5, 0.0, -0.25], [-2.0, 1.0, 1.0]]
    batched = model(X)
    assert len(batched) == 3
    assert [_data(row) if isinstance(row, list) else row.data for row in batched] == [
        _data(model(x)) if isinstance(model(x), list) else model(x).data for x in X
    ]


def test_dropout_draws_the_same_numbers_for_a_batch_as_sample_by_sample():
    X = [[1.0] * 6, [2.0] * 6]
    one, two = nn.Dropout(0.5, seed=7), nn.Dropout(0.5, seed=7)
    assert _data(one([[Value(x) for x in row] for row in X])) == [_data(two([Value(x) for x in row])) for row in X]


def test_a_ragged_or_mistyped_batch_is_refused():
    layer = nn.Linear(2, 1, seed=0)
    with pytest.raises(ValueError, match="Linear expects 2 features per sample, got 3 in sample 1"):
        layer([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="item 1 is float"):
        layer([[1.0, 2.0], 3.0])


def test_linear_bias_false_and_pytorchs_init():
    layer = nn.Linear(4, 3, bias=False, seed=0)
    assert layer.num_parameters() == 12 and layer.bias == []
    assert (layer.in_features, layer.out_features) == (4, 3)
    with pytest.raises(TypeError, match="Linear bias must be True or False, got int 1"):
        nn.Linear(2, 2, bias=1)
    big = nn.Linear(100, 50, seed=1)
    values = [p.data for p in big.parameters()]
    assert max(abs(v) for v in values) <= 0.1  # U(−1/√100, 1/√100), biases too
    assert statistics.pstdev(values) == pytest.approx(0.1 / math.sqrt(3), rel=0.05)
    assert any(b.data != 0.0 for b in big.bias)


# ---------------------------------------------------------------- BatchNorm1d


def test_batchnorm_training_normalises_each_feature_with_the_batch_statistics():
    bn = nn.BatchNorm1d(2)
    X = [[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]]
    out = _data(bn(X))
    for j in range(2):
        column = [row[j] for row in X]
        mu, var = statistics.fmean(column), statistics.pvariance(column)
        assert [row[j] for row in out] == pytest.approx([(x - mu) / math.sqrt(var + 1e-5) for x in column], abs=1e-12)
        assert bn.running_mean[j] == pytest.approx(0.1 * mu, abs=1e-12)
        assert bn.running_var[j] == pytest.approx(0.9 + 0.1 * statistics.variance(column), abs=1e-12)  # unbiased
    assert bn.num_batches_tracked == 1 and bn.num_parameters() == 4


def test_batchnorm_eval_uses_the_running_statistics_and_takes_one_sample():
    bn = nn.BatchNorm1d(2)
    bn.running_mean, bn.running_var = [1.0, -2.0], [4.0, 0.25]
    bn.weight[0].data, bn.bias[1].data = 3.0, 0.5
    bn.eval()
    assert _data(bn([5.0, 0.0])) == pytest.approx([3.0 * 4.0 / math.sqrt(4.0 + 1e-5), 2.0 / math.sqrt(0.25 + 1e-5) + 0.5], abs=1e-12)
    assert bn.num_batches_tracked == 0


@pytest.mark.parametrize("x", [[[1.0, 2.0]], [1.0, 2.0]])
def test_batchnorm_refuses_one_sample_in_training_and_changes_nothing(x):
    bn = nn.BatchNorm1d(2)
    before = bn.state_dict()
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \[1, 2\]"):
        bn(x)
    assert bn.state_dict() == before


def test_batchnorm_argument_checks():
    with pytest.raises(ValueError, match="BatchNorm1d num_features must be a whole number >= 1, got 0"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="BatchNorm1d eps must be a finite number > 0"):
        nn.BatchNorm1d(3, eps=0.0)
    with pytest.raises(ValueError, match="BatchNorm1d momentum"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(TypeError, match="BatchNorm1d affine must be True or False"):
        nn.BatchNorm1d(3, affine="yes")
    with pytest.raises(ValueError, match="BatchNorm1d expects 3 features per sample, got 2 in sample 0"):
        nn.BatchNorm1d(3)([[1.0, 2.0], [3.0, 4.0]])


def test_the_optimizer_never_sees_the_running_statistics():
    model = nn.Sequential(nn.Linear(2, 3, seed=0), nn.BatchNorm1d(3))
    assert model.num_parameters() == 9 + 6
    out = model([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    sum(v * v for row in out for v in row).backward()
    stats = list(model[1].running_mean)
    opt.step()
    assert model[1].running_mean == stats


# ---------------------------------------------------------------- buffers in state and files


def test_state_dict_carries_the_buffers_after_the_parameters():
    model = nn.Sequential(nn.Linear(2, 2, seed=0), nn.BatchNorm1d(2))
    model([[1.0, 2.0], [3.0, 5.0]])
    state = model.state_dict()
    names = list(state)
    assert names[:10] == [name for name, _ in model.named_parameters()]
    assert names[10:] == ["1.running_mean.0", "1.running_mean.1", "1.running_var.0", "1.running_var.1", "1.num_batches_tracked"]
    fresh = nn.Sequential(nn.Linear(2, 2, seed=9), nn.BatchNorm1d(2)).load_state_dict(state)
    assert fresh.state_dict() == state and isinstance(fresh[1].num_batches_tracked, int)


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("1.num_batches_tracked", 1.5, "is a count: it must be a whole number >= 0, got 1.5"),
        ("1.num_batches_tracked", -1, "is a count: it must be a whole number >= 0, got -1.0"),
        ("1.running_var.1", -0.5, "is a variance: it must be >= 0, got -0.5"),
    ],
)
def test_buffers_are_checked_on_load_and_nothing_changes(name, bad, message):
    model = nn.Sequential(nn.Linear(2, 2, seed=0), nn.BatchNorm1d(2))
    state = model.state_dict()
    before = dict(state)
    state["0.weight.0.0"] = 42.0
    state[name] = bad
    with pytest.raises(ValueError, match=f"buffer '{name}' {message}"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_files_of_models_with_buffers_are_version_2_and_round_trip(tmp_path):
    model = Model(8, 5)  # lecture 000's model, narrower: its 39,200 weights of 784 inputs would show nothing more
    model.layer1[1].running_mean[3] = 0.125
    model.layer1[1].num_batches_tracked = 7
    path = tmp_path / "model.json"
    model.save(path)
    document = json.loads(path.read_text())
    assert document["version"] == 2 and document["buffers"]["layer1.1.running_mean.3"] == 0.125
    assert "layer1.1.running_mean.3" not in document["parameters"]
    back = Model(8, 5).load(path)
    assert back.state_dict() == model.state_dict()


def test_models_without_buffers_still_write_version_1(tmp_path):
    path = tmp_path / "mlp.json"
    nn.MLP(2, [3, 1], seed=0).save(path)
    assert json.loads(path.read_text())["version"] == 1


def test_a_file_without_buffers_is_refused_by_a_model_with_them(tmp_path):
    path = tmp_path / "linear.json"
    nn.Sequential(nn.Linear(2, 2, seed=0)).save(path)
    model = nn.Sequential(nn.Linear(2, 2, seed=1), nn.BatchNorm1d(2))
    before = model.state_dict()
    with pytest.raises(ValueError, match="'1.weight.0' is missing"):
        model.load(path)
    assert model.state_dict() == before


def test_a_name_both_parameter_and_buffer_is_refused(tmp_path):
    model = nn.Sequential(nn.BatchNorm1d(1))
    path = tmp_path / "m.json"
    model.save(path)
    document = json.loads(path.read_text())
    document["buffers"]["0.weight.0"] = 1.0
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="the name '0.weight.0' is both a parameter and a buffer"):
        model.load(path)


@pytest.mark.parametrize(
    "slot, bad, error, message",
    [
        ("running_mean", math.inf, NonFiniteError, "buffer '0.running_mean.0' is inf, not a finite number"),
        ("running_var", math.nan, NonFiniteError, "buffer '0.running_var.0' is nan, not a finite number"),
        ("running_mean", "0.5", TypeError, "buffer '0.running_mean.0' must be a real number"),
        ("running_var", -0.25, ValueError, "buffer '0.running_var.0' is a variance: it must be >= 0, got -0.25"),
    ],
)
def test_save_refuses_a_buffer_load_would_refuse_and_keeps_the_old_file(tmp_path, slot, bad, error, message):
    model = nn.Sequential(nn.BatchNorm1d(2))
    path = tmp_path / "m.json"
    model.save(path)
    old = path.read_bytes()
    getattr(model[0], slot)[0] = bad
    with pytest.raises(error, match=message):
        model.save(path)
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_count_buffer_is_written_as_a_whole_number(tmp_path):
    model = nn.Sequential(nn.BatchNorm1d(2))
    model([[1.0, 2.0], [3.0, 5.0]])
    path = tmp_path / "m.json"
    model.save(path)
    assert json.loads(path.read_text())["buffers"]["0.num_batches_tracked"] == 1
    assert '"0.num_batches_tracked": 1\n' in path.read_text()
    assert type(nn.Sequential(nn.BatchNorm1d(2)).load(path)[0].num_batches_tracked) is int


# ---------------------------------------------------------------- loss modules


def test_elementwise_losses_refuse_shapes_pytorch_would_broadcast():
    output = [[Value(1.0)], [Value(2.0)]]
    with pytest.raises(ValueError, match=r"L1Loss: input has shape \(2, 1\) but target has shape \(2,\)"):
        nn.L1Loss()(output, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"MSELoss input is ragged"):
        nn.MSELoss()([[1.0], [1.0, 2.0]], [[1.0], [1.0, 2.0]])


def test_loss_reduction_is_checked_and_none_keeps_the_shape():
    with pytest.raises(ValueError, match=r"MSELoss reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")
    terms = nn.MSELoss(reduction="none")([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]])
    assert _data(terms) == [[1.0, 4.0], [9.0, 9.0]]
    assert nn.MSELoss(reduction="sum")([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]).data == 23.0


def test_loss_modules_equal_the_function_forms():
    pred, target = [Value(0.2), Value(0.9), Value(0.4)], [0.0, 1.0, 1.0]
    assert nn.MSELoss()(pred, target).data == nn.mse(pred, target).data
    assert nn.L1Loss()(pred, target).data == nn.l1(pred, target).data
    assert nn.BCELoss()(pred, target).data == nn.bce(pred, target).data
    assert nn.BCEWithLogitsLoss()(pred, target).data == nn.bce_with_logits(pred, target).data
    rows = [[0.1, 2.0, -1.0], [0.5, 0.5, 3.0]]
    assert nn.CrossEntropyLoss()(rows, [1, 2]).data == pytest.approx((nn.cross_entropy(rows[0], 1).data + nn.cross_entropy(rows[1], 2).data) / 2, abs=1e-15)


def test_cross_entropy_loss_refusals():
    with pytest.raises(ValueError, match="CrossEntropyLoss: 2 score rows but 3 targets"):
        nn.CrossEntropyLoss()([[0.0, 1.0], [1.0, 0.0]], [0, 1, 1])
    with pytest.raises(TypeError, match="needs a list of 2 class indices"):
        nn.CrossEntropyLoss()([[0.0, 1.0], [1.0, 0.0]], 1)
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        nn.CrossEntropyLoss()([[0.0, 1.0], [1.0, 0.0]], [0, 2])
    with pytest.raises(TypeError, match="class index"):
        nn.CrossEntropyLoss()([[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0])
    with pytest.raises(ValueError, match="HingeEmbeddingLoss: target 1 must be 1 or -1, got 0.0"):
        nn.HingeEmbeddingLoss()([1.0, 2.0], [1.0, 0.0])


# ---------------------------------------------------------------- summary

SLIDE_ROWS = [
    "            Linear-1                   [-1, 50]          39,200",
    "       BatchNorm1d-2                   [-1, 50]             100",
    "              ReLU-3                   [-1, 50]               0",
    "           Dropout-4                   [-1, 50]               0",
    "            Linear-5                   [-1, 10]             500",
]


def test_summary_prints_lecture_000s_table(capsys):
    totals = nn.summary(Model(), input_size=(100, 784))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "        Layer (type)               Output Shape         Param #"
    assert lines[3:8] == SLIDE_ROWS
    assert lines[9:12] == ["Total params: 39,800", "Trainable params: 39,800", "Non-trainable params: 0"]
    assert lines[13:17] == ["Input size (MB): 0.30", "Forward/backward pass size (MB): 0.00", "Params size (MB): 0.15", "Estimated Total Size (MB): 0.45"]
    assert totals == (39_800, 39_800)


def test_summary_refusals():
    with pytest.raises(ValueError, match="Linear expects 784 features per sample, got 64"):
        nn.summary(Model(), input_size=64)
    with pytest.raises(ValueError, match=r"summary input_size \(a positive int.*must be a whole number >= 1, got 0"):
        nn.summary(Model(), input_size=(0, 784))
    with pytest.raises(TypeError, match=r"summary input_size .* must be a whole number, got float 4.0"):
        nn.summary(Model(), input_size=(4.0,))
    with pytest.raises(ValueError, match=r"summary input_size .* is empty"):
        nn.summary(Model(), input_size=())
    with pytest.raises(TypeError, match="summary expects an nn Module"):
        nn.summary("model", 3)


def test_summary_of_an_mlp_lists_its_layers():
    from nn.summary import summary_string

    text, totals = summary_string(nn.MLP(2, [16, 16, 1], seed=0), 2)
    assert "Layer-1                   [-1, 16]              48" in text and "Layer-3                    [-1, 1]              17" in text
    assert totals == (337, 337)


# ---------------------------------------------------------------- data


def test_parabola_is_lecture_003s_data():
    x, y = nn.data.parabola(2000, seed=1)
    assert (x, y) == nn.data.parabola(2000, seed=1) and len(x) == len(y) == 2000
    assert all(len(r) == 1 and -15.0 <= r[0] <= 15.0 for r in x)
    residuals = [yi[0] - (8 * xi[0] ** 2 + 7 * xi[0] + 3) for xi, yi in zip(x, y)]
    assert abs(statistics.fmean(residuals)) < 0.1 and statistics.pstdev(residuals) == pytest.approx(1.0, abs=0.05)
    assert nn.data.parabola(3, seed=2, noise=0.0)[1] == [[8 * v[0] ** 2 + 7 * v[0] + 3] for v in nn.data.parabola(3, seed=2, noise=0.0)[0]]


def test_digits_come_from_scikit_learns_package_without_a_network(monkeypatch):
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn (the labs extra) is not installed")

    def no_network(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    X_train, X_test, y_train, y_test = nn.data.digits(test_size=0.2, seed=0)
    assert (len(X_train), len(X_test)) == (1437, 360) and len(y_train) == 1437 and len(y_test) == 360
    assert all(len(row) == 64 for row in X_train + X_test) and set(y_train) == set(range(10))
    assert max(max(row) for row in X_train) == 1.0 and min(min(row) for row in X_train) == 0.0
    assert nn.data.digits(seed=0)[3] == y_test and nn.data.digits(seed=1)[3] != y_test
    assert max(max(row) for row in nn.data.digits(scale=False)[0]) == 16.0
    images, labels = nn.data.digits(test_size=1 / 1797, seed=None, scale=False)[0::2]  # nearly all, shuffled
    first = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]  # scikit-learn's first image, a 0: its top rows
    assert any(row[:16] == first and label == 0 for row, label in zip(images, labels))
    assert "sklearn" not in sys.modules  # read from the package's files, not imported (that takes seconds)


def test_digits_without_scikit_learn_say_what_to_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else find_spec(name, *a))
    with pytest.raises(ImportError, match=r"nn.data.digits needs scikit-learn .*pip install 'scalargrad-lab\[labs\]'"):
        nn.data.digits()


def test_train_test_split_refusals():
    with pytest.raises(ValueError, match="2 inputs but 1 labels"):
        nn.data.train_test_split([[1], [2]], [0])
    with pytest.raises(ValueError, match="test_size must be a finite number > 0.0"):
        nn.data.train_test_split([[1], [2]], [0, 1], test_size=0.0)
    a, b, c, d = nn.data.train_test_split([[i] for i in range(10)], list(range(10)), 0.3, seed=0)
    assert len(b) == 3 and sorted(c + d) == list(range(10)) and [r[0] for r in a] == c


# ---------------------------------------------------------------- fit and the bridge without torch


def test_fit_gives_a_batchnorm_model_whole_batches():
    X, y = nn.data.moons(24, seed=0)
    model = nn.Sequential(nn.Linear(2, 8, seed=1), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1, seed=2))
    history = nn.fit(model, X, y, nn.bce_with_logits, optim.Adam(model.parameters(), lr=0.05), epochs=15, batch_size=8, seed=3, progress=False)
    assert model[1].num_batches_tracked == 15 * 3
    assert history["loss"][-1] < history["loss"][0]


def test_the_bridge_says_how_to_get_torch_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"need PyTorch, which is not installed: pip install 'scalargrad-lab\[torch\]'"):
        nn.to_torch(nn.Linear(1, 1))
    with pytest.raises(ImportError, match="need PyTorch"):
        nn.from_torch(object())


def test_fit_refuses_before_training_when_batchnorm_would_get_a_lone_sample():
    X, y = nn.data.moons(9, seed=0)
    model = nn.Sequential(nn.Linear(2, 4, seed=1), nn.BatchNorm1d(4), nn.Linear(4, 1, seed=2))
    before = model.state_dict()
    for batch_size in (1, 4):  # 9 = 4 + 4 + 1
        with pytest.raises(ValueError, match=f"batch_size={batch_size} with 9 examples makes one"):
            nn.fit(model, X, y, "bce_with_logits", optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=batch_size, progress=False)
    assert model.state_dict() == before


def test_batchnorm_leaves_its_statistics_alone_when_a_number_overflows():
    bn = nn.BatchNorm1d(2)
    with pytest.raises(ArithmeticError):
        bn([[1e200, 1.0], [2.0, 3.0]])
    assert (bn.running_mean, bn.running_var, bn.num_batches_tracked) == ([0.0, 0.0], [1.0, 1.0], 0)


@pytest.mark.parametrize("loss", [nn.L1Loss(), nn.MSELoss(reduction="sum"), nn.BCEWithLogitsLoss()])
def test_batchnorm_gradients_match_central_differences(loss):
    from scalargrad import gradcheck

    weights = [0.3, -1.1, 0.7, 2.0, -0.4, 0.9]
    target = [[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]]

    def f(*xs):
        bn = nn.BatchNorm1d(2)  # fresh, so every evaluation uses the same (initial) statistics
        rows = [[xs[0] * weights[0], xs[1] * weights[1]], [xs[2] * weights[2], xs[3] * weights[3]], [xs[4] * weights[4], xs[5] * weights[5]]]
        return loss(bn(rows), target)

    assert gradcheck(f, [0.5, -1.0, 1.5, 0.25, -0.75, 2.0])
