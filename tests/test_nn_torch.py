"""PyTorch parity for the lectures' labs: modules, losses, BatchNorm1d, print(model), the bridge,
and lecture 003's training loop. Skipped without torch (.ci/run installs the CPU wheel)."""

import math
import random

import pytest

import nn
from nn import optim
from scalargrad import NonFiniteError, Value

torch = tnn = None  # set by _torch: importing torch takes 3 s, paid only by a worker that runs these tests


@pytest.fixture(autouse=True, scope="module")
def _torch():
    global torch, tnn
    torch = pytest.importorskip("torch")
    tnn = torch.nn


def _rows(n, features, seed):
    rng = random.Random(seed)
    return [[rng.uniform(-2.0, 2.0) for _ in range(features)] for _ in range(n)]


def _values(rows):
    return [[Value(x) for x in row] for row in rows]


def _data(x):
    if isinstance(x, list):
        return [_data(item) for item in x]
    return x.data


def _close(ours, theirs, tol):
    ours, theirs = torch.tensor(ours, dtype=torch.float64), torch.as_tensor(theirs, dtype=torch.float64)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=0.0, atol=tol), (ours - theirs).abs().max().item()


def _grads(model):
    return [p.grad for p in model.parameters()]


def _torch_grads(module):
    return torch.cat([p.grad.flatten() for p in module.parameters()]).tolist()


class Model(nn.Module):
    """Lecture 000's model (8x8 digits instead of MNIST)."""

    def __init__(self, features=64):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(features, 50, bias=False), nn.BatchNorm1d(50), nn.ReLU(), nn.Dropout(0.5))
        self.layer2 = nn.Sequential(nn.Linear(50, 10, bias=False))

    def forward(self, x):
        x = self.layer1(x)
        x = self.layer2(x)
        return x


def TorchModel():
    """Lecture 000's model as the slide writes it in PyTorch."""

    class TorchModel(tnn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = tnn.Sequential(tnn.Linear(28 * 28, 50, bias=False), tnn.BatchNorm1d(50), tnn.ReLU(), tnn.Dropout(0.5))
            self.layer2 = tnn.Sequential(tnn.Linear(50, 10, bias=False))

        def forward(self, x):
            x = x.view(-1, 28 * 28)
            return self.layer2(self.layer1(x))

    return TorchModel()


# ---------------------------------------------------------------- print(model)


def _Ordered(lib):
    """The same own Module class on either side, attributes set z first, then a (kept in that order)."""
    base = lib.Module

    class Ordered(base):
        def __init__(self):
            super().__init__()
            self.z = lib.Linear(2, 3)
            self.a = lib.Sequential(lib.Tanh(), lib.Sequential(lib.Linear(3, 1), lib.Sigmoid()))

        def forward(self, x):
            return self.a(self.z(x))

    return Ordered()


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 1)),
         lambda: tnn.Sequential(tnn.Linear(1, 10), tnn.ReLU(), tnn.Linear(10, 6), tnn.ReLU(), tnn.Linear(6, 1))),
        (lambda: nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Dropout(0.2), nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())),
         lambda: tnn.Sequential(tnn.Linear(3, 4, bias=False), tnn.Tanh(), tnn.Dropout(0.2), tnn.Sequential(tnn.Linear(4, 1), tnn.Sigmoid()))),
        (lambda: nn.Sequential(nn.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False), nn.BatchNorm1d(3, bias=False)),
         lambda: tnn.Sequential(tnn.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False), tnn.BatchNorm1d(3, bias=False))),
        (lambda: nn.Sequential(), lambda: tnn.Sequential()),
        (lambda: nn.Sequential(nn.L1Loss(), nn.MSELoss(reduction="sum"), nn.BCELoss(), nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss(), nn.HingeEmbeddingLoss()),
         lambda: tnn.Sequential(tnn.L1Loss(), tnn.MSELoss(reduction="sum"), tnn.BCELoss(), tnn.BCEWithLogitsLoss(), tnn.CrossEntropyLoss(), tnn.HingeEmbeddingLoss())),
        (lambda: Model(784), TorchModel),
        (lambda: _Ordered(nn), lambda: _Ordered(tnn)),
    ],
)
def test_print_model_is_pytorchs(ours, theirs):
    assert repr(ours()) == repr(theirs()).replace("TorchModel(", "Model(", 1)


def test_lecture_000_model_prints_as_the_slide_but_for_the_newer_bias_field():
    text = repr(Model(784))
    assert text.splitlines()[2] == "    (0): Linear(in_features=784, out_features=50, bias=False)"
    assert text.splitlines()[3] == "    (1): BatchNorm1d(50, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert text.splitlines()[5] == "    (3): Dropout(p=0.5, inplace=False)"


# ---------------------------------------------------------------- modules: values and gradients


def test_linear_batch_values_and_gradients_match_pytorch():
    model = nn.Sequential(nn.Linear(3, 4, seed=1), nn.Tanh(), nn.Linear(4, 2, bias=False, seed=2), nn.Sigmoid())
    twin = nn.to_torch(model)
    rows = _rows(5, 3, seed=3)
    out = model(rows)
    assert len(out) == 5 and all(len(r) == 2 for r in out)
    sum(v for r in out for v in r).backward()
    theirs = twin(torch.tensor(rows, dtype=torch.float64))
    theirs.sum().backward()
    _close(_data(out), theirs.detach(), 1e-12)
    _close(_grads(model), _torch_grads(twin), 1e-12)


def _bn_pair(**options):
    ours = nn.BatchNorm1d(3, **options)
    for i, (g, b) in enumerate(zip(ours.weight, ours.bias or [Value(0.0)] * 3)):
        g.data, b.data = 1.0 + 0.25 * i, -0.5 + 0.3 * i
    return ours, nn.to_torch(nn.Sequential(ours))[0]


@pytest.mark.parametrize("options", [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False}, {"bias": False}, {"track_running_stats": False}])
def test_batchnorm_training_matches_pytorch_over_steps(options):
    ours, theirs = _bn_pair(**options)
    weights = _rows(4, 3, seed=9)  # a weighted sum makes every gradient differ
    for step in range(3):
        rows = _rows(4, 3, seed=step)
        inputs = _values(rows)
        out = ours(inputs)
        sum(w * v for wr, r in zip(weights, out) for w, v in zip(wr, r)).backward()
        x = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
        y = theirs(x)
        (torch.tensor(weights, dtype=torch.float64) * y).sum().backward()
        _close(_data(out), y.detach(), 1e-9)
        _close([[v.grad for v in r] for r in inputs], x.grad, 1e-9)
        if ours.affine:
            _close(_grads(ours), _torch_grads(theirs), 1e-9)
            for p in ours.parameters():
                p.grad = 0.0
            theirs.zero_grad()
        if ours.track_running_stats:
            _close(ours.running_mean, theirs.running_mean, 1e-9)
            _close(ours.running_var, theirs.running_var, 1e-9)
            assert ours.num_batches_tracked == int(theirs.num_batches_tracked) == step + 1
    ours.eval()
    theirs.eval()
    rows = _rows(3, 3, seed=7)
    _close(_data(ours(rows)), theirs(torch.tensor(rows, dtype=torch.float64)).detach(), 1e-9)


def test_batchnorm_refuses_a_training_batch_of_one_as_pytorch_does():
    ours, theirs = _bn_pair()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training") as ours_error:
        ours([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        theirs(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    assert "input size [1, 3]" in str(ours_error.value)
    assert ours.running_mean == [0.0, 0.0, 0.0] and ours.num_batches_tracked == 0


# ---------------------------------------------------------------- losses


def _loss_case(name, n=4, k=3):
    rng = random.Random(name)
    if name == "CrossEntropyLoss":
        return [[rng.uniform(-3, 3) for _ in range(k)] for _ in range(n)], [rng.randrange(k) for _ in range(n)]
    if name == "BCELoss":
        return [[rng.uniform(0.05, 0.95)] for _ in range(n)], [[rng.choice([0.0, 1.0, 0.3])] for _ in range(n)]
    if name == "BCEWithLogitsLoss":
        return [[rng.uniform(-4, 4)] for _ in range(n)], [[rng.choice([0.0, 1.0, 0.7])] for _ in range(n)]
    if name == "HingeEmbeddingLoss":
        return [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(n)], [[rng.choice([-1.0, 1.0]), rng.choice([-1.0, 1.0])] for _ in range(n)]
    return [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(n)], [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(n)]


@pytest.mark.parametrize("name", ["L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HingeEmbeddingLoss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_pytorch(name, reduction):
    rows, target = _loss_case(name)
    inputs = _values(rows)
    loss = getattr(nn, name)(reduction=reduction)(inputs, target)
    x = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target, dtype=torch.long if name == "CrossEntropyLoss" else torch.float64)
    theirs = getattr(tnn, name)(reduction=reduction)(x, t)
    if reduction == "none":  # weigh the terms so that each one's gradient is checked
        weights = torch.linspace(0.5, 1.5, theirs.numel(), dtype=torch.float64).reshape(theirs.shape)
        _close(_data(loss), theirs.detach(), 1e-12)
        flat = [v for row in loss for v in (row if isinstance(row, list) else [row])]
        sum(w * v for w, v in zip(weights.flatten().tolist(), flat)).backward()
        (weights * theirs).sum().backward()
    else:
        assert abs(loss.data - theirs.item()) <= 1e-12
        loss.backward()
        theirs.backward()
    _close([[v.grad for v in r] for r in inputs], x.grad, 1e-12)


def test_cross_entropy_of_one_row_and_class_matches_pytorch():
    logits = [Value(0.3), Value(-1.2), Value(2.0)]
    loss = nn.CrossEntropyLoss()(logits, 2)
    theirs = tnn.CrossEntropyLoss()(torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64), torch.tensor(2))
    assert abs(loss.data - theirs.item()) <= 1e-12


# ---------------------------------------------------------------- the bridge


def test_lecture_000_model_goes_to_torch_and_back_with_its_weights_and_statistics():
    model = Model()
    model([[0.1 * ((i * j) % 7) for j in range(64)] for i in range(3)])  # moves the running statistics
    twin = nn.to_torch(model)
    assert type(twin).__name__ == "Model" and isinstance(twin, tnn.Module)
    assert repr(twin) == repr(model)
    assert twin.layer1[0].weight.dtype == torch.float64
    _close(model.layer1[1].running_mean, twin.layer1[1].running_mean, 0.0)
    assert int(twin.layer1[1].num_batches_tracked) == 1
    back = nn.from_torch(twin)
    assert back.state_dict() == model.state_dict()
    assert repr(back) == repr(model) and back.training
    model.eval()
    back.eval()
    twin.eval()
    rows = _rows(2, 64, seed=4)
    out, out_back = model(rows), back(rows)
    assert _data(out) == _data(out_back)
    _close(_data(out), twin(torch.tensor(rows, dtype=torch.float64)).detach(), 1e-12)


def test_from_torch_keeps_the_torch_model_outputs_and_gradients():
    torch.manual_seed(0)
    theirs = tnn.Sequential(tnn.Linear(2, 5), tnn.Sigmoid(), tnn.Linear(5, 3), tnn.Tanh(), tnn.Dropout(0.1), tnn.Linear(3, 1)).double()
    ours = nn.from_torch(theirs)
    ours.eval()
    theirs.eval()
    rows = _rows(4, 2, seed=5)
    out = ours(rows)
    sum(r[0] for r in out).backward()
    t_out = theirs(torch.tensor(rows, dtype=torch.float64))
    t_out.sum().backward()
    _close(_data(out), t_out.detach(), 1e-12)
    _close(_grads(ours), _torch_grads(theirs), 1e-12)


def test_from_torch_refuses_unsupported_layers_naming_them():
    with pytest.raises(TypeError, match=r"from_torch: Conv1d \(at Sequential.1\) has no scalargrad counterpart"):
        nn.from_torch(tnn.Sequential(tnn.Linear(2, 2), tnn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match=r"GELU \(at Sequential.0\)"):
        nn.from_torch(tnn.Sequential(tnn.GELU()))
    with pytest.raises(TypeError, match="expects a torch.nn.Module"):
        nn.from_torch(nn.Linear(1, 1))


def test_own_modules_must_be_a_chain_of_their_layers():
    class Skip(tnn.Module):
        def __init__(self):
            super().__init__()
            self.a = tnn.Linear(2, 2)

        def forward(self, x):
            return self.a(x) + x  # a residual: not a chain

    with pytest.raises(TypeError, match="Skip: its forward does not give what the chain of its layers gives"):
        nn.from_torch(Skip())

    class Scaled(tnn.Module):
        def __init__(self):
            super().__init__()
            self.a = tnn.Linear(2, 2)
            self.scale = tnn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.a(x) * self.scale

    with pytest.raises(TypeError, match="Scaled .at Scaled. has parameters of its own"):
        nn.from_torch(Scaled())

    class Doubled(nn.Module):
        def __init__(self):
            self.a = nn.Linear(2, 2, seed=0)

        def forward(self, x):
            return [[2 * v for v in row] for row in self.a(x)]

    with pytest.raises(TypeError, match="Doubled: its forward does not give"):
        nn.to_torch(Doubled())


def test_to_torch_refuses_what_pytorch_has_no_twin_for():
    with pytest.raises(TypeError, match=r"to_torch: MLP \(at MLP\) has no PyTorch counterpart"):
        nn.to_torch(nn.MLP(2, [3, 1], seed=0))
    with pytest.raises(TypeError, match="to_torch expects an nn Module"):
        nn.to_torch(tnn.Linear(1, 1))


# ---------------------------------------------------------------- lecture 003, as on the slide


def _lecture_003_loop(model, loss_func, optimizer, x, label, num_epoch):
    loss_arr = []
    for i in range(num_epoch):
        output = model(x)
        optimizer.zero_grad()
        loss = loss_func(output, label)
        loss.backward()
        optimizer.step()
        loss_arr.append(float(loss.data) if isinstance(loss, Value) else loss.item())
    return loss_arr


def test_lecture_003_loop_gives_pytorchs_loss_trajectory():
    x, y_noise = nn.data.parabola(50, seed=3)
    model = nn.Sequential(
        nn.Linear(1, 10, seed=1),
        nn.ReLU(),
        nn.Linear(10, 6, seed=2),
        nn.ReLU(),
        nn.Linear(6, 1, seed=3),
    )
    twin = nn.to_torch(model)
    ours = _lecture_003_loop(model, nn.L1Loss(), optim.SGD(model.parameters(), lr=0.001), x, y_noise, 20)
    theirs = _lecture_003_loop(
        twin, tnn.L1Loss(), torch.optim.SGD(twin.parameters(), lr=0.001),
        torch.tensor(x, dtype=torch.float64), torch.tensor(y_noise, dtype=torch.float64), 20,
    )
    assert ours[-1] < ours[0]  # it learns
    assert max(abs(a - b) for a, b in zip(ours, theirs)) <= 1e-9
    _close([p.data for p in model.parameters()], torch.cat([p.detach().flatten() for p in twin.parameters()]), 1e-9)


def test_training_the_digits_model_with_adam_matches_pytorch_while_dropout_is_off():
    X, _, y, _ = nn.data.digits(seed=0)
    X, y = X[:8], y[:8]  # a batch of 8: BatchNorm's statistics and Adam's steps are the same code for any batch
    model = Model()
    model.layer1[3].p = 0.0
    twin = nn.to_torch(model)
    ours = [0.0] * 3
    opt = optim.Adam(model.parameters(), lr=0.01)
    t_opt = torch.optim.Adam(twin.parameters(), lr=0.01)
    criterion, t_criterion = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    for step in range(3):
        loss = criterion(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_loss = t_criterion(twin(torch.tensor(X, dtype=torch.float64)), torch.tensor(y))
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        ours[step] = abs(loss.data - t_loss.item())
    assert max(ours) <= 1e-9
    _close(model.layer1[1].running_var, twin.layer1[1].running_var, 1e-9)
    assert not math.isnan(sum(model.layer1[1].running_var))


def test_shared_layers_are_refused_both_ways():
    layer = nn.Linear(2, 2, seed=0)
    with pytest.raises(TypeError, match=r"Sequential: the same Linear sits at Sequential.0 and Sequential.2; shared layers do not convert"):
        nn.to_torch(nn.Sequential(layer, nn.ReLU(), layer))
    t_layer = tnn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"the same Linear sits at Sequential.0 and Sequential.2"):
        nn.from_torch(tnn.Sequential(t_layer, tnn.ReLU(), t_layer))


# ------------------------------------------------------------ the bridge keeps each module's own mode


def _modes(modules):
    return [m.training for m in modules]


def test_to_torch_and_back_keep_each_modules_own_mode_and_leave_the_source_alone():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 1, seed=1))
    model.train()
    model[1].eval()  # statistics frozen inside a model that trains
    ours = lambda m: [m, *m]  # noqa: E731
    theirs = torch_model = nn.to_torch(model)
    assert _modes(ours(model)) == [True, True, False, True, True, True]
    assert _modes(theirs.modules()) == [True, True, False, True, True, True]
    back = nn.from_torch(torch_model)
    assert _modes(ours(back)) == [True, True, False, True, True, True]
    assert _modes(torch_model.modules()) == [True, True, False, True, True, True]
    before = list(model[1].running_mean)
    model([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]])  # the frozen norm's statistics do not move
    assert model[1].running_mean == before


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_the_bridge_refuses_a_non_finite_weight_naming_it(bad):
    model = nn.Sequential(nn.Linear(2, 2, seed=0), nn.ReLU(), nn.Linear(2, 1, seed=1))
    model[2].weight[0][1].data = bad
    with pytest.raises(NonFiniteError, match=r"2\.weight\.0\.1 is inf|2\.weight\.0\.1 is -inf|2\.weight\.0\.1 is nan"):
        nn.to_torch(model)
    model[2].weight[0][1].data = 0.5
    theirs = nn.to_torch(model)
    with torch.no_grad():
        theirs[0].bias[1] = bad
    with pytest.raises(ArithmeticError, match=r"0\.bias is .*only finite numbers convert"):
        nn.from_torch(theirs)
    assert theirs.training and math.isfinite(model[2].weight[0][1].data)
