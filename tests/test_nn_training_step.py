"""nn.TrainingStep: zero_grad + program.backward + optimizer.step in one call, the same numbers
and the same refusals as the three calls, bit for bit."""

import math

import numpy as np
import pytest

import nn
import scalargrad as sg
from nn import SGD, Adam, Linear, ReLU, Sequential, TrainingStep
from scalargrad import NonFiniteError, Value

OPTIMIZERS = [
    (SGD, dict(lr=0.01)),
    (SGD, dict(lr=0.01, momentum=0.9, weight_decay=0.01, nesterov=True)),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (nn.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
]


def lab(seed=1, hidden=10):
    """Lecture 003's model (93 parameters: stepped together as arrays) or a small one (one at a time)."""
    model = Sequential(Linear(1, hidden, seed=seed), ReLU(), Linear(hidden, 6, seed=seed + 1), ReLU(), Linear(6, 1, seed=seed + 2))
    x, y = Value(0.0, "x"), Value(0.0, "y")
    return model, sg.compile(nn.l1(model([x]), [y]), [x, y])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-15, 15, 200)
    return X, 8 * X**2 + 7 * X + 3 + rng.normal(size=200)


def state(model, optimizer):
    return ([(p.data.hex(), p.grad.hex()) for p in model.parameters()],
            [tuple(x.hex() for x in s) if s else s for s in optimizer.state], optimizer.steps)


def both(make, make_optimizer, steps, run):
    """(fused, three calls): what ``run(step_or_none, program, optimizer)`` leaves, each way."""
    results = []
    for fused in (True, False):
        model, program = make()
        optimizer = make_optimizer(model)
        step = TrainingStep(program, optimizer) if fused else None
        outputs = [run(step, program, optimizer) for _ in range(steps)]
        results.append((outputs, state(model, optimizer)))
    return results


def three_calls(program, optimizer, *batch, seed):
    optimizer.zero_grad()
    loss = program.backward(*batch, seed=seed)
    optimizer.step()
    return loss


@pytest.mark.parametrize("hidden", [10, 2], ids=["93 parameters", "small"])
@pytest.mark.parametrize("opt, options", OPTIMIZERS, ids=[f"{o.__name__}{i}" for i, (o, _) in enumerate(OPTIMIZERS)])
def test_a_fused_step_is_the_three_calls_bit_for_bit(data, opt, options, hidden):
    X, Y = data

    def run(step, program, optimizer):
        out = step(X, Y, seed=1 / len(X)) if step else three_calls(program, optimizer, X, Y, seed=1 / len(X))
        return out.tobytes()

    fused, unfused = both(lambda: lab(hidden=hidden), lambda m: opt(m.parameters(), **options), 4, run)
    assert fused == unfused


def test_per_node_programs_one_sample_and_int_data_take_the_same_steps(data):
    X, Y = data

    def make():
        model, program = lab()
        program.grouping = False
        model[0].bias[3].data = 2  # an int: the optimizer takes it one number at a time
        return model, program

    def run(step, program, optimizer):
        batch = (float(X[0]), float(Y[0]))  # one sample: floats, not arrays
        out = step(*batch, seed=0.5) if step else three_calls(program, optimizer, *batch, seed=0.5)
        return [out, (step(X, Y) if step else three_calls(program, optimizer, X, Y, seed=1.0)).tobytes()]

    fused, unfused = both(make, lambda m: SGD(m.parameters(), lr=1e-4, momentum=0.5), 3, run)
    assert fused == unfused


def test_parameters_outside_the_optimizer_or_the_program(data):
    """A frozen layer (in the program, not the optimizer) adds up its .grad; an extra Value (in the
    optimizer, not the program) gets gradient 0, which weight decay still moves."""
    X, Y = data
    extra = {}

    def make_optimizer(model):
        extra[model] = Value(1.5, "extra")
        return SGD([*model[2].parameters(), *model[4].parameters(), extra[model]], lr=0.001, weight_decay=0.1)

    def run(step, program, optimizer):
        out = step(X, Y, seed=0.01) if step else three_calls(program, optimizer, X, Y, seed=0.01)
        return out.tobytes()

    fused, unfused = both(lab, make_optimizer, 3, run)
    assert fused == unfused
    frozen = [p for m in extra for p in m[0].parameters()]
    assert all(p.grad != 0.0 for p in frozen[:3])  # summed over three steps: never zeroed


def test_a_refused_batch_leaves_what_the_three_calls_leave(data):
    """After a good step, a batch whose gradients overflow (x · 1e306, seed 100): the same error,
    the .grad zeroed, the parameters and the optimizer's state as the good step left them."""
    X, Y = data
    errors = []

    def run(step, program, optimizer):
        for batch, seed in (((X, Y), 0.01), ((X * 1e306, Y), 100.0)):
            try:
                step(*batch, seed=seed) if step else three_calls(program, optimizer, *batch, seed=seed)
            except NonFiniteError as error:
                errors.append(str(error))
        return None

    fused, unfused = both(lab, lambda m: SGD(m.parameters(), lr=0.001, momentum=0.9), 1, run)
    assert fused == unfused and len(errors) == 2 and errors[0] == errors[1] and "summed over the batch would be" in errors[0]
    assert all(g == (0.0).hex() for _, g in fused[1][0]) and fused[1][2] == 1


def test_a_step_the_optimizer_refuses_leaves_the_gradients_written(data):
    X, Y = data
    errors = []

    def run(step, program, optimizer):
        try:
            step(X, Y, seed=1.0) if step else three_calls(program, optimizer, X, Y, seed=1.0)
        except NonFiniteError as error:
            errors.append(str(error))
        return None

    fused, unfused = both(lab, lambda m: SGD(m.parameters(), lr=1e306), 1, run)
    assert fused == unfused and len(errors) == 2 and errors[0] == errors[1] and "would become" in errors[0]
    assert any(g != (0.0).hex() for _, g in fused[1][0])


def test_a_training_step_checks_what_it_is_given():
    model, program = lab()
    with pytest.raises(TypeError, match=r"program must be a scalargrad.compile\(...\) program, got list"):
        TrainingStep([], SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"optimizer must be an nn.optim optimizer, got str 'sgd'"):
        TrainingStep(program, "sgd")
    step = TrainingStep(program, SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"input 0 \(x\) must hold finite numbers, got nan at index 1"):
        step(np.array([0.0, math.nan]), np.zeros(2))


def test_fit_compiled_steps_fused_as_it_did_in_three_calls(monkeypatch):
    """fit(compile=True) steps through TrainingStep where one program gives every gradient; its
    history and weights are the three calls' bit for bit (Dropout's masks, mini-batches, Adam)."""
    from nn.compiled import CompiledTrainer
    from nn.data import moons

    X, y = moons(40, 0.1, seed=1)

    def train():
        model = Sequential(Linear(2, 8, seed=4), nn.Tanh(), nn.Dropout(0.2, seed=5), Linear(8, 1, seed=6))
        history = nn.fit(model, X, y, "bce_with_logits", Adam(model, lr=0.05), epochs=3, batch_size=16, seed=3,
                         progress=False, compile=True)
        return history, [p.data.hex() for p in model.parameters()]

    calls = []
    fused_run = TrainingStep.run
    monkeypatch.setattr(TrainingStep, "run", lambda self, *a, **k: calls.append(1) or fused_run(self, *a, **k))
    fused = train()
    assert len(calls) == 9  # 3 epochs of 3 batches
    monkeypatch.undo()

    def three_calls_step(self, Xb, yb, optimizer):
        optimizer.zero_grad()
        result = self.backward(Xb, yb)
        optimizer.step()
        return result

    monkeypatch.setattr(CompiledTrainer, "step", three_calls_step)
    assert train() == fused
