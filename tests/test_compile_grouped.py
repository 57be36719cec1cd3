"""Grouped programs (scalargrad.engine.grouping): a batch runs as a few array operations, a
layer's sums as one matrix product, with the numbers of the per-node program and of eager."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_compile import BATCH_GRADIENT_ATOL, NUMBERS, check_against_eager, close

import nn
import scalargrad as sg
from scalargrad import NonFiniteError, Overflow, Value

LAYER_OPS = ["lin", "lin", "relu", "tanh", "sigmoid", "max", "*", "+", "exp", "log"]


def build_layered(recipe, coefficients, leaves=3):
    """Graphs with a neural network's structure: "lin" makes sums of parameters times earlier
    nodes (a neuron, with a constant or a parameter as its bias), the others act on earlier nodes;
    nodes are shared freely."""

    def build(xs, params):
        nodes = list(xs)
        for k, (op, picks) in enumerate(recipe):
            chosen = [nodes[i % len(nodes)] for i in picks]
            if op == "lin":
                bias = params[k % len(params)] if k % 2 else coefficients[k % len(coefficients)]
                v = sum((params[(k + j) % len(params)] * a for j, a in enumerate(chosen)), bias)
            elif op in ("*", "+", "max"):
                a, b = chosen[0], chosen[-1]
                v = a * b if op == "*" else a + b if op == "+" else a.max(b)
            elif op == "log":
                v = (chosen[0] * chosen[0] + 1.0).log()
            else:
                v = getattr(chosen[0], op)()
            nodes.append(v)
        return sum(nodes[leaves:], nodes[-1]) if len(nodes) > leaves + 1 else nodes[-1]

    return build


@settings(max_examples=40, deadline=None)
@given(
    recipe=st.lists(st.tuples(st.sampled_from(LAYER_OPS), st.lists(st.integers(0, 40), min_size=1, max_size=6)),
                    min_size=1, max_size=14),
    samples=st.lists(st.tuples(NUMBERS, NUMBERS, NUMBERS), min_size=1, max_size=5),
    weights=st.lists(NUMBERS, min_size=1, max_size=6),
    coefficients=st.lists(NUMBERS, min_size=1, max_size=3),
)
def test_layered_programs_match_eager_grouped_and_not(recipe, samples, weights, coefficients):
    """Shared nodes, repeated operands in one sum, constants, ties: eager's numbers both ways."""
    for grouping in (True, False):
        params = [Value(w, f"w{i}") for i, w in enumerate(weights)]
        check_against_eager(build_layered(recipe, coefficients), 3, params, samples, grouping=grouping)


@pytest.fixture(scope="module")
def mlp_program():
    model = nn.MLP(3, [8, 8, 1], seed=0)
    xs = [Value(0.0, f"x{i}") for i in range(3)]
    return model, xs, sg.compile(model(xs), xs)


def test_a_layer_is_one_matrix_product(mlp_program):
    _, _, program = mlp_program
    assert program.grouped  # "auto" chose groups: 3 layers, 2 relus, far fewer steps than nodes
    code = program.array_source
    forward = code.split("# backward")[0]
    assert forward.count(" @ ") == 3 and forward.count("× relu") == 2
    assert ".reshape(8, 3)" in code and "z1 = W1 @ x " in code and "z1 += b1[:, None]" in code  # z = W x + b
    backward = code.split("# backward")[1]
    assert "dh1 = W2.T @ dz2" in backward and "dW2 = dz2 @ h1.T" in backward  # dA = Wᵀ dz, dW = dz Aᵀ
    assert len(code.splitlines()) < 60 < len(program.batch_source.splitlines())


def test_the_array_view_reads_as_the_lectures_matrix_calculus():
    x, t = Value(0.0, "x"), Value(0.0, "t")
    model = nn.Sequential(nn.Linear(1, 10, seed=1), nn.ReLU(), nn.Linear(10, 6, seed=2), nn.ReLU(), nn.Linear(6, 1, seed=3))
    program = sg.compile(nn.l1(model([x]), [t]), [x, t])  # lecture 003's model and loss
    view = program.array_view.splitlines()
    forward = [line.split("#")[0].strip() for line in view[1:8]]
    assert forward == ["z1 = W1 @ x + b1", "h1 = relu(z1)", "z2 = W2 @ h1 + b2", "h2 = relu(z2)",
                       "z3 = W3 @ [h2; t] + b3", "m1 = z3 * -1.0", "h3 = max(z3, m1)"]  # |ŷ − t| = max(ŷ − t, t − ŷ)
    assert view[8].startswith("# backward")
    assert "dW1 = dz1 @ x.T,  db1 = dz1.sum(over samples),  dx += W1.T @ dz1" in view
    assert "dz2 += dh2 * (where(z2 > 0.0, 1.0, 0.0))" in view  # the table's own rule for relu's slope
    assert "x" in program.source and "W1 @" not in program.source  # print(program): still node by node


def test_a_constant_only_layer_shows_no_weight_gradient():
    x = Value(0.0, "x")
    w = Value(0.5, "w")
    program = sg.compile((x * 2.0 + x * 3.0).tanh() * w, [x])
    program.grouping = True
    view = program.array_view
    assert "of constants" in view and "dW" not in view
    out, (dx,) = program.grad(np.array([0.1]))
    close(dx, [0.5 * 5.0 * (1 - np.tanh(0.5) ** 2)])


def test_grouped_batches_give_the_per_node_numbers_within_rounding(mlp_program):
    """A matrix product adds a sum in another order: outputs and gradients agree within 1e-12
    relative (plus 1e-14 absolute for gradients near 0)."""
    model, xs, program = mlp_program
    batch = np.random.default_rng(1).normal(size=(3, 50))
    results = {}
    for grouping in (True, False):
        program.grouping = grouping
        results[grouping] = program.run(*batch)
    program.grouping = "auto"
    close(results[True].output, results[False].output)
    for a, b in zip(results[True].input_gradients, results[False].input_gradients):
        close(a, b, atol=BATCH_GRADIENT_ATOL)
    close(results[True].parameter_gradients, results[False].parameter_gradients, atol=BATCH_GRADIENT_ATOL)


def test_auto_keeps_the_per_node_program_for_a_small_graph():
    x, y = Value(0.0, "x"), Value(0.0, "y")
    program = sg.compile((x * y + x).tanh(), [x, y])
    assert not program.grouped
    program.grouping = True
    assert program.grouped
    out, grads = program.grad(np.array([1.0, 2.0]), np.array([3.0, -1.0]))
    close(out, np.tanh([4.0, 0.0]))
    close(grads[0], (1 - np.tanh([4.0, 0.0]) ** 2) * np.array([4.0, 0.0]))


def test_an_overflow_inside_a_matrix_product_is_refused_for_its_sample():
    """BLAS raises no floating-point flag; the grouped program checks every product and sends the
    batch down the per-node path, which names eager's error and the sample. No .grad changes."""
    model = nn.MLP(2, [4, 1], seed=0)
    xs = [Value(0.0, "x0"), Value(0.0, "x1")]
    program = sg.compile(model(xs).tanh(), xs)  # tanh would hide the inf
    program.grouping = True
    for p in model.parameters():
        p.data = 1.0
    before = [p.grad for p in model.parameters()]
    big = np.array([1.0, 2.0, 1e308, 1.0])  # sample 2: 1e308 + 1e308 overflows in the first layer
    with pytest.raises(Overflow, match="sample 2: "):
        program.backward(big, big)
    assert [p.grad for p in model.parameters()] == before
    out = program.backward(big / 10, big / 10)  # sums of 1e307s stay finite: no false alarm
    close(out, [model([a, a]).tanh().data for a in big / 10])


def test_a_node_feeding_hundreds_adds_every_gradient():
    x = Value(0.0, "x")
    ws = [Value(0.01 * k, f"w{k}") for k in range(300)]
    hs = [(w * x).tanh() for w in ws]  # x feeds 300 products
    total = sum(h * h for h in hs) + sum(w * x for w in ws) + x * ws[0] + x * ws[0]  # x twice in one sum
    program = sg.compile(total, [x])
    program.grouping = True
    batch = np.array([0.5, -1.5])
    out, (dx,) = program.grad(batch)
    for i, b in enumerate(batch):
        xv = Value(float(b))
        eager_total = sum(((w.data * xv).tanh() ** 2 for w in ws), Value(0.0)) + sum(w.data * xv for w in ws) + 2 * xv * ws[0].data
        eager_total.backward()
        close(out[i], eager_total.data)
        close(dx[i], xv.grad)


def test_watched_values_and_ties_in_a_grouped_batch():
    x0, x1 = Value(0.0, "x0"), Value(0.0, "x1")
    w = [Value(1.0, "w0"), Value(-1.0, "w1")]
    z = w[0] * x0 + w[1] * x1
    h = z.relu()
    out = h.max(x0 * 0.5)
    program = sg.Program(out, [x0, x1], watch=[z, h])
    program.grouping = True
    run = program.run(np.array([1.0, 2.0, 0.0]), np.array([1.0, 1.0, 0.0]))  # z = 0, 1, 0: relu at 0
    close(run.watched[0], [0.0, 1.0, 0.0])
    close(run.output, [0.5, 1.0, 0.0])
    # sample 1: max's tie 1 = 1 splits the gradient half and half; sample 2: the tie 0 = 0 too,
    # and relu(0) passes none of its half
    close(run.input_gradients[0], [0.5, 0.5 + 0.5 * 0.5, 0.5 * 0.5])
    grads = dict(zip(program.parameters, run.parameter_gradients))
    assert (grads[w[0]], grads[w[1]]) == (0.5 * 2.0, 0.5 * 1.0)


def test_max_at_the_ends_of_the_range_gives_eagers_gradients():
    """max's slope runs as 0.5 + 0.5·sign(a − b); where a − b overflows (1e308 − (−1e308)), the
    batch takes the long way and still gives eager's numbers, refusing nothing."""
    x0, x1 = Value(0.0, "x0"), Value(0.0, "x1")
    w = Value(1.0, "w")
    program = sg.compile((w * x0).max(w * x1) * 0.5, [x0, x1])
    program.grouping = True
    a, b = np.array([1e308, -1e308, 3.0, 2.0]), np.array([-1e308, 1e308, 3.0, -2.0])
    run = program.run(a, b)
    close(run.output, [5e307, 5e307, 1.5, 1.0])
    close(run.input_gradients[0], [0.5, 0.0, 0.25, 0.5])
    close(run.input_gradients[1], [0.0, 0.5, 0.25, 0.0])
    assert run.parameter_gradients[0] == pytest.approx(5e307 + 5e307 + 1.5 + 1.0, rel=1e-15)
    assert "sign(" in program.array_source


def test_a_refused_batch_in_the_grouped_path_changes_nothing():
    x = Value(0.0, "x")
    w = Value(1.0, "w")
    program = sg.compile((w * x + 1.0).log() * 2.0 + (w * x) * 3.0, [x])
    program.grouping = True
    with pytest.raises(NonFiniteError, match="sample 1: "):
        program.backward(np.array([1.0, -5.0, -6.0]))
    assert w.grad == 0.0


def test_a_batch_too_large_for_memory_is_refused_before_any_array(monkeypatch, mlp_program):
    model, xs, program = mlp_program
    monkeypatch.setattr("scalargrad.engine.compile._physical_memory", lambda: 10**6)  # a 1 MB machine
    before = [p.grad for p in model.parameters()]
    with pytest.raises(MemoryError, match=r"a batch of 1,000 samples .* needs about 0.6 MB .* 1.0 MB; run it in smaller batches"):
        program.backward(*np.zeros((3, 1000)))
    assert [p.grad for p in model.parameters()] == before
    program.backward(*np.zeros((3, 10)))  # 10 samples fit


def test_two_threads_on_one_grouped_program_add_both_batches():
    import threading

    model = nn.MLP(2, [6, 1], seed=3)
    xs = [Value(0.0, "x0"), Value(0.0, "x1")]
    program = sg.compile(model(xs), xs)
    program.grouping = True
    batch = np.random.default_rng(2).normal(size=(2, 200))
    once = program.run(*batch).parameter_gradients
    barrier = threading.Barrier(2)

    def work():
        barrier.wait()
        for _ in range(20):
            program.backward(*batch)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close([p.grad for p in program.parameters], [40 * g for g in once], rel=1e-10)


def test_a_sum_of_many_products_folds_without_recursion():
    x = Value(0.0, "x")
    ws = [Value(1e-5 * k, f"w{k}") for k in range(20_000)]
    total = x * 0.0
    for w in ws:
        total = total + w * x  # a left-leaning chain of 20,000 additions: one row of W
    program = sg.compile(total.tanh(), [x])
    program.grouping = True
    assert [line.split("#")[0].strip() for line in program.array_view.splitlines()[1:3]] == ["z1 = W1 @ x", "h1 = tanh(z1)"]
    out, (dx,) = program.grad(np.array([0.5]))
    s = sum(w.data for w in ws)
    close(out, [np.tanh(0.5 * s)])
    close(dx, [(1 - np.tanh(0.5 * s) ** 2) * s], rel=1e-9)


def test_a_grouping_that_is_not_a_choice_is_refused_and_a_chosen_one_pickles(mlp_program):
    import pickle

    model, xs, _ = mlp_program
    program = sg.compile(model(xs), xs)
    for wrong in ("yes", 1, None):
        program.grouping = wrong
        with pytest.raises(ValueError, match=f"Program.grouping must be 'auto', True or False, got {wrong!r}"):
            program(*np.zeros((3, 4)))
    program.grouping = False
    again = pickle.loads(pickle.dumps(program))
    assert again.grouping is False and not again.grouped
    assert pickle.loads(pickle.dumps(sg.compile(model(xs), xs))).grouping == "auto"


@pytest.mark.parametrize("grouping", [True, False])
@pytest.mark.parametrize("shape", ["product", "sum"])
def test_a_constants_gradient_that_overflows_is_refused_as_eager_refuses_it(grouping, shape):
    """Eager's backward() gives the 0.25 of x·0.25 the gradient 2·x, and refuses it when that
    overflows, though the output and x's gradient are finite: compiled programs do the same."""
    x, y = Value(0.0, "x"), Value(0.0, "y")
    out = (x * 0.25) * 2.0 if shape == "product" else (x * 0.25 + y) * 2.0
    program = sg.compile(out, [x, y])
    program.grouping = grouping
    batch = np.array([1.0, 1e308]), np.array([1.0, 1.0])
    with pytest.raises(Overflow, match="sample 1: backpropagation: the gradient of a leaf with data 0.25"):
        program.backward(*batch)
    with pytest.raises(Overflow, match="the gradient of a leaf with data 0.25"):  # eager, for sample 1
        ((Value(1e308) * 0.25) * 2.0).backward()
    out, (dx, _) = program.grad(np.array([1.0, 1e307]), np.array([1.0, 1.0]))  # 2e307 is finite
    close(dx, [0.5, 0.5])
