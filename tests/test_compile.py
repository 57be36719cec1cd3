"""scalargrad.compile: the compiled program computes what the eager engine computes (values,
input gradients, parameter .grad), on floats and on numpy batches, with eager's errors."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from draw_helpers import lecture_graph
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import nn
import scalargrad as sg
from scalargrad import NonFiniteError, Value, apply
from scalargrad.engine import primitives as P

# ------------------------------------------------------------ helpers


@pytest.fixture(autouse=True, params=[True, False], ids=["grouped", "per-node"])
def batch_program(request, monkeypatch):
    """Every test here runs twice: batches through grouped programs, and through per-node ones
    (Program.grouping for every program the test makes, fit's included, unless it sets its own)."""
    monkeypatch.setattr(sg.Program, "grouping", request.param)
    return request.param


def close(a, b, rel=1e-12, atol=1e-300):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.all(np.isclose(a, b, rtol=rel, atol=atol)), (a, b)


# numpy's exp/tanh may differ from math's in the last bit, and a local rule such as 1 − tanh²
# near saturation turns that bit into ~1e-11 relative (found by hypothesis: tanh(exp(1.703125))).
# Batch gradients are therefore held to 1e-12 relative or 1e-14 absolute.
BATCH_GRADIENT_ATOL = 1e-14


def eager(build, params, samples):
    """Per sample: (output, input gradients, parameter gradients) from the eager engine, or the
    NonFiniteError it raised; each sample's backward() starts from zero parameter gradients (the
    batch's sums are checked apart: a sum may overflow where no sample does)."""
    results = []
    for sample in samples:
        xs = [Value(v) for v in sample]
        kept = [p.grad for p in params]
        for p in params:
            p.grad = 0.0
        try:
            out = build(xs, params)
            grads = [g.data for g in sg.grad(out, xs)]
            out.backward()
            scale = max((abs(v.data) for v in sg.topological_order(out) if math.isfinite(v.data)), default=0.0)
            results.append((out.data, grads, [p.grad for p in params], scale))
        except NonFiniteError as error:
            results.append(error)
        finally:
            for p, g in zip(params, kept):
                p.grad = g
    return results


def check_against_eager(build, n_inputs, params, samples, set_to=None, grouping="auto"):
    """Compile build(placeholders, params) and compare it with eager, sample by sample (floats)
    and as one batch (arrays). ``set_to``: the parameters' data after compiling (any floats,
    inf and nan included, as an optimizer or a careless script may leave them). ``grouping``:
    how batches run (the program's :attr:`grouping`)."""
    placeholders = [Value(0.37 + 0.11 * i, f"x{i}") for i in range(n_inputs)]
    try:
        traced = build(placeholders, params)
    except NonFiniteError:  # this graph cannot be built at all with these parameters
        assume(False)
    program = sg.compile(traced, placeholders)
    program.grouping = grouping
    for p, w in zip(params, set_to or ()):
        p.data = w
    start = [p.grad for p in params]
    expected = eager(build, params, samples)
    for sample, want in zip(samples, expected):
        if isinstance(want, NonFiniteError):
            before = [p.grad for p in params]
            with pytest.raises(NonFiniteError):
                program.backward(*sample)
            assert [p.grad for p in params] == before
            continue
        out, grads = program.grad(*sample)
        close(out, want[0])
        close(grads, want[1])
        assert program(*sample) == out
    columns = [np.array(c) for c in zip(*samples)]
    failing = [i for i, want in enumerate(expected) if isinstance(want, NonFiniteError)]
    if failing:
        before = [p.grad for p in params]
        with pytest.raises(NonFiniteError, match=f"sample {failing[0]}: "):
            program.backward(*columns)
        assert [p.grad for p in params] == before
        return
    sums = [sum(w[2][j] for w in expected) for j in range(len(params))]
    if not all(map(math.isfinite, sums)):  # a batch's sum overflows where no sample's gradient does
        with pytest.raises(NonFiniteError, match="summed over the batch"):
            program.backward(*columns)
        assert [p.grad for p in params] == start
        return
    out, grads = program.grad(*columns)
    # A grouped sum adds in another order: where it cancels to near 0 only an absolute accuracy is
    # left, relative to the largest number in the sample's graph (found by hypothesis: (c − 1 + c)
    # + 1 + c with c = 1.6e-115 gives c node by node, 0 grouped; and terms of 5e8 that cancel to 18
    # agree within 2e-8, one rounding of 5e8). numpy's exp may differ from math's by one rounding too.
    atol = np.array([BATCH_GRADIENT_ATOL * max(1.0, w[3]) for w in expected])
    close(out, [w[0] for w in expected], atol=atol if program.grouped else 1e-300)
    for i in range(n_inputs):
        close(grads[i], [w[1][i] for w in expected], atol=atol)
    program.backward(*columns)
    for p, g0, want in zip(params, start, sums):
        close(p.grad - g0, want, rel=1e-9, atol=BATCH_GRADIENT_ATOL)


# ------------------------------------------------------------ the lecture's example


def test_the_lecture_example_reads_like_the_slide():
    f, inputs = lecture_graph()
    program = sg.compile(f, inputs)
    lines = [line.strip() for line in program.source.splitlines()]
    for line in ["q = x + y", "f = q * z", "df = 1.0", "dq += df * z", "dz += df * q", "dx += dq * 1.0", "dy += dq * 1.0"]:
        assert line in lines
    assert lines.index("f = q * z") < lines.index("df = 1.0") < lines.index("dq += df * z") < lines.index("dx += dq * 1.0")
    assert str(program) == program.source
    assert program.grad(-2.0, 5.0, -4.0) == (-12.0, (-4.0, -4.0, 3.0))


def test_a_program_from_the_source_alone_runs():
    """The source is plain Python: exec it with the table's float functions and call it."""
    f, inputs = lecture_graph()
    scope = dict(P.FLOATS)
    exec(sg.compile(f, inputs).source, scope)
    assert scope["program"](-2.0, 5.0, -4.0) == (-12.0, (-4.0, -4.0, 3.0))


# ------------------------------------------------------------ generated programs


OPS = ["+", "*", "exp", "1/x", "max", "log", "relu", "sigmoid", "tanh", "**2", "**3", "**0.5", "**-1", "-", "const*"]
NUMBERS = st.sampled_from([0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 3.0]) | st.floats(-3, 3, allow_nan=False)


BINARY = {"+", "*", "max", "-"}


def build_from(recipe, constant, leaves=4):
    # Only the nodes the last one depends on are built (eager would refuse a dead node too).
    needed = {leaves + len(recipe) - 1}
    for k in reversed(range(len(recipe))):
        op, i, j = recipe[k]
        if leaves + k in needed:
            needed |= {i % (leaves + k)} | ({j % (leaves + k)} if op in BINARY else set())

    def build(xs, params):
        nodes = [*xs, *params]
        for op, i, j in recipe:
            if len(nodes) not in needed:
                nodes.append(None)
                continue
            a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
            if op == "+":
                v = a + b
            elif op == "*":
                v = a * b
            elif op == "max":
                v = a.max(b)
            elif op == "-":
                v = a - b
            elif op == "const*":
                v = constant * a + constant
            elif op.startswith("**"):
                v = a ** float(op[2:])
            elif op == "1/x":
                v = a.reciprocal()
            else:
                v = getattr(a, op)()
            nodes.append(v)
        return nodes[-1]

    return build


@settings(max_examples=60, deadline=None)
# Found by hypothesis: tanh(exp(exp(0))·2.5) is saturated, its parameter gradient 1.3e-9 differs
# by 2.7e-15 between numpy's and math's exp/tanh: within BATCH_GRADIENT_ATOL, not within 1e-9 relative.
@example(recipe=[("exp", 3, 0), ("tanh", 4, 0)], samples=[(0.0, 0.0)], weights=(0.0, 2.5), constant=0.0)
@given(
    recipe=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=8),
    samples=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4),
    weights=st.tuples(NUMBERS, NUMBERS),
    constant=NUMBERS,
)
def test_generated_programs_match_eager(recipe, samples, weights, constant):
    params = [Value(w, f"w{i}") for i, w in enumerate(weights)]
    check_against_eager(build_from(recipe, constant), 2, params, samples)
    params = [Value(w, f"w{i}") for i, w in enumerate(weights)]
    check_against_eager(build_from(recipe, constant), 2, params, samples, grouping=True)


PARAMETER_VALUES = NUMBERS | st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 1e154])


@settings(max_examples=60, deadline=None)
@given(
    recipe=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=6),
    samples=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1, max_size=4),
    traced=st.tuples(NUMBERS, NUMBERS),
    weights=st.tuples(PARAMETER_VALUES, PARAMETER_VALUES),
    constant=NUMBERS,
)
def test_generated_programs_match_eager_for_any_parameter_values(recipe, samples, traced, weights, constant):
    """Compiled with some parameter values, run with others (inf, nan, the largest and smallest
    floats): every call gives eager's numbers, or eager's error for the first failing sample."""
    for grouping in ("auto", True):
        params = [Value(w, f"w{i}") for i, w in enumerate(traced)]
        check_against_eager(build_from(recipe, constant), 2, params, samples, set_to=weights, grouping=grouping)


@pytest.mark.parametrize("prim", [*P.TABLE, P.power(2.0), P.power(3.0), P.power(0.5), P.power(-1.0), P.power(0.0), P.power(1.0)],
                         ids=lambda p: p.name)
def test_every_primitive_and_its_edges(prim):
    # ties (max at a == b), zero (relu's kink, the power rule at 0), negatives (log, fractional powers)
    points = [-2.0, -0.5, 0.0, 0.5, 1.0, 2.0]
    if len(prim.inputs) == 1:
        samples = [(a,) for a in points]
        build = lambda xs, ps: apply(prim, xs[0] * ps[0])  # noqa: E731 - the parameter gets gradients too
    else:
        samples = [(a, b) for a in points for b in points]
        build = lambda xs, ps: apply(prim, xs[0] * ps[0], xs[1])  # noqa: E731
    check_against_eager(build, len(prim.inputs), [Value(1.0, "w")], samples)
    # each sample alone too: a batch stops at the first failing sample
    for sample in samples:
        check_against_eager(build, len(prim.inputs), [Value(1.0, "w")], [sample])


def test_max_ties_split_the_gradient_and_relu_at_zero_passes_none():
    a, b = Value(0.0, "a"), Value(0.0, "b")
    program = sg.compile(a.max(b) + a.relu(), [a, b])
    out, (da, db) = program.grad(np.array([1.0, 0.0, -1.0]), np.array([1.0, 0.0, 2.0]))
    assert list(da) == [1.5, 0.5, 0.0] and list(db) == [0.5, 0.5, 1.0]


def test_shared_nodes_add_both_contributions():
    a = Value(3.0, "a")
    for build, want in [(lambda a: a + a, 2.0), (lambda a: a * a, 6.0)]:
        program = sg.compile(build(a), [a])
        assert program.grad(3.0)[1] == (want,)
        assert program.source.count("da += ") == 2


def test_constants_are_baked_and_constant_subgraphs_folded():
    x = Value(1.0, "x")
    folded = apply(P.ADD, 2.0, 3.0)  # a node made from constants only
    program = sg.compile(x * 2.0 + folded, [x])
    assert program.parameters == ()
    assert "2.0" in program.source and "5.0" in program.source
    assert program.grad(4.0) == (13.0, (2.0,))


def test_parameters_are_read_live_and_a_parameter_in_some_paths_gets_only_those():
    x, w, v = Value(1.0, "x"), Value(2.0, "w"), Value(3.0, "v")
    out = (x * w).relu() + x * v  # w only through relu: no gradient where x * w <= 0
    program = sg.compile(out, [x])
    assert program.parameters == (w, v)
    program.backward(np.array([1.0, -1.0, 2.0]))
    assert (w.grad, v.grad) == (3.0, 2.0)
    w.data = -2.0
    assert list(program(np.array([1.0, -1.0]))) == [3.0, -1.0]


def test_an_output_independent_of_an_input_gives_it_zero_gradients():
    x, y, w = Value(1.0, "x"), Value(1.0, "y"), Value(2.0, "w")
    program = sg.compile(x * w, [x, y])
    assert program.grad(3.0, 4.0) == (6.0, (2.0, 0.0))
    out, (dx, dy) = program.grad(np.array([1.0, 2.0]), np.array([5.0, 6.0]))
    assert list(dy) == [0.0, 0.0] and list(dx) == [2.0, 2.0]
    # the output is the input itself; an output made of parameters only is the same for every sample
    assert sg.compile(x, [x]).grad(np.array([7.0, 8.0]))[1][0].tolist() == [1.0, 1.0]
    program = sg.compile(w * w, [x])
    assert program(np.array([1.0, 2.0])).tolist() == [4.0, 4.0]
    w.grad = 0.0
    program.backward(np.array([1.0, 2.0, 3.0]))
    assert w.grad == 12.0  # 4 per sample


def test_run_reports_watched_values_and_writes_only_when_asked():
    x, w = Value(1.0, "x"), Value(2.0, "w")
    h = x * w
    out = h.relu()
    program = sg.Program(out, [x], watch=[h])
    run = program.run(np.array([1.0, -1.0]))
    assert run.output.tolist() == [2.0, 0.0] and run.watched[0].tolist() == [2.0, -2.0]
    assert run.input_gradients[0].tolist() == [2.0, 0.0] and run.parameter_gradients == (1.0,)
    assert w.grad == 0.0
    program.run(np.array([1.0, -1.0]), seed=0.5, accumulate=True)
    assert w.grad == 0.5
    assert program.run(3.0, gradients=False) == (6.0, (6.0,), (), ())


def test_broadcast_numbers_with_arrays():
    x, y = Value(1.0, "x"), Value(1.0, "y")
    program = sg.compile(x * y, [x, y])
    out, (dx, dy) = program.grad(np.array([1.0, 2.0]), 3.0)
    assert out.tolist() == [3.0, 6.0] and dx.tolist() == [3.0, 3.0] and dy.tolist() == [1.0, 2.0]
    w = Value(2.0, "w")
    program = sg.compile(w * y + w * x, [x, y])  # a parameter's gradient is summed over the batch's numbers too
    program.backward(np.array([1.0, 2.0]), 3.0)
    assert w.grad == 9.0


def test_gradients_returned_are_separate_arrays():
    x, y = Value(1.0, "x"), Value(1.0, "y")
    _, (dx, dy) = sg.compile(x + y, [x, y]).grad(np.array([1.0]), np.array([2.0]))
    dx += 1.0
    assert dy.tolist() == [1.0]


def test_a_user_primitive_compiles_from_its_rules():
    cube = sg.primitive("cube_for_compile", ("x",), "x * x * x", ("3.0 * x * x",))
    x = Value(2.0, "x")
    program = sg.compile(apply(cube, x), [x])
    assert "3.0 * x * x" in program.source
    close(program.grad(np.array([2.0, -1.0]))[1][0], [12.0, 3.0])


def test_labels_become_names_without_clashes():
    x, dx, lam = Value(1.0, "x"), Value(2.0, "dx"), Value(3.0, "lambda")
    h = x * dx
    h.label = "h2-in"
    out = (h + lam).exp()
    out.label = "exp"  # a name the code uses for the function
    program = sg.compile(out, [x])
    assert "h2_in = x * dx" in program.source
    close(program.grad(0.5)[1], [2.0 * math.exp(4.0)])
    # a label is never code: whatever it says becomes an identifier
    hostile = Value(1.0, "y); import os; os.system('echo owned'); (")
    program = sg.compile(hostile * 2.0, [hostile])
    assert "import os" not in program.source and program.grad(3.0) == (6.0, (2.0,))


# ------------------------------------------------------------ errors


def test_refusals_of_compile():
    x = Value(1.0, "x")
    y = x * 2.0
    with pytest.raises(ValueError, match="leaf"):
        sg.compile(y, [y])
    with pytest.raises(ValueError, match="more than once"):
        sg.compile(y, [x, x])
    with pytest.raises(TypeError, match=r"inputs\[0\]"):
        sg.compile(y, [1.0])
    with pytest.raises(TypeError, match="output"):
        sg.compile(2.0, [x])
    with pytest.raises(ValueError, match="Constant"):
        sg.compile(y, [y._b])


@pytest.mark.parametrize("args, error, message", [
    ((1.0,), TypeError, "takes 2"),
    ((np.ones((2, 2)), 1.0), ValueError, "1-D"),
    ((np.ones(2), np.ones(3)), ValueError, "same length"),
    (("1", 1.0), TypeError, "real number"),
    ((True, 1.0), TypeError, "real number"),
    (([1.0, 2.0], 1.0), TypeError, "numpy array"),
    ((np.array([1.0, np.nan]), 1.0), ValueError, "index 1"),
    ((math.inf, 1.0), ValueError, "finite"),
    ((np.array([]), 1.0), ValueError, "empty"),
    ((np.array(["a"]), 1.0), TypeError, "dtype"),
])
def test_refusals_of_calls(args, error, message):
    x, y = Value(1.0, "x"), Value(1.0, "y")
    with pytest.raises(error, match=message):
        sg.compile(x * y, [x, y])(*args)


def test_a_non_finite_sample_is_named_and_nothing_changes():
    x, w = Value(1.0, "x"), Value(1.0, "w")
    program = sg.compile((x * w).log(), [x])
    with pytest.raises(NonFiniteError, match=r"sample 1: log: log\(-2.0\)"):
        program.backward(np.array([1.0, -2.0, -3.0]))
    assert w.grad == 0.0
    with pytest.raises(NonFiniteError, match="log"):
        program(-2.0)


def test_an_overflow_hidden_by_a_later_node_is_still_refused():
    """exp overflows; 1/exp would be 0 and the output finite, but eager refuses the exp."""
    x = Value(1.0, "x")
    program = sg.compile((x * x).exp().reciprocal(), [x])
    with pytest.raises(NonFiniteError, match="sample 1: exp"):
        program(np.array([1.0, 1000.0]))
    with pytest.raises(NonFiniteError, match="exp"):
        program(1000.0)
    product = sg.compile((x * x).reciprocal(), [x])  # a float product overflows to inf without raising
    with pytest.raises(NonFiniteError, match=r"\*: 1e\+200 \* 1e\+200"):
        product(1e200)
    with pytest.raises(NonFiniteError, match="sample 0: "):
        product(np.array([1e200]))


def test_a_user_primitive_with_where_agrees_with_eager_on_both_branches():
    """where(c, p, q) computes p and q in eager too (they are its arguments), so log(-1) in the
    branch not taken is an error in both engines, and where both branches are finite, none is."""
    safe_log = sg.primitive("log_or_zero", ("x",), "where(x > 0.0, log(x), 0.0)", ("where(x > 0.0, 1.0 / x, 0.0)",))
    build = lambda xs, ps: apply(safe_log, xs[0] * ps[0])  # noqa: E731
    check_against_eager(build, 1, [Value(1.0, "w")], [(0.5,), (-1.0,), (math.e,)])
    check_against_eager(build, 1, [Value(1.0, "w")], [(0.5,), (math.e,)])


def test_compiling_and_running_leave_the_graph_alone():
    f, inputs = lecture_graph()
    nodes = sg.topological_order(f)
    before = [(v.data, v.grad, v.label) for v in nodes]
    program = sg.compile(f, inputs)
    program.backward(np.array([1.0, 2.0]), 3.0, 4.0)
    program.grad(1.0, 2.0, 3.0)
    assert [(v.data, v.grad, v.label) for v in nodes] == before


def test_the_engine_and_the_float_path_work_without_numpy():
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import scalargrad as sg\n"
        "x = sg.Value(2.0, 'x'); p = sg.compile((x * x).tanh(), [x])\n"
        "print(p.grad(0.5)[1][0] > 0)\n"
        "try:\n    p(sg.Value(1.0))\nexcept TypeError as e:\n    print('refused')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["True", "refused"], result.stderr


# ------------------------------------------------------------ nn.fit(compile=True)


def _histories(make_model, X, y, loss, make_optimizer, **kwargs):
    runs = []
    for compiled in (False, True):
        model = make_model()
        history = nn.fit(model, X, y, loss, make_optimizer(model.parameters()), progress=False, compile=compiled, **kwargs)
        runs.append((history, [p.data for p in model.parameters()]))
    return runs


@pytest.fixture(scope="module")
def moons():
    return nn.data.moons(24, seed=0)


@pytest.mark.parametrize("optimizer", [
    lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), lambda ps: nn.Adagrad(ps, lr=0.1),
    lambda ps: nn.RMSprop(ps, lr=0.01, centered=True), lambda ps: nn.Adam(ps, lr=0.01), lambda ps: nn.AdamW(ps, lr=0.01),
], ids=["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_fit_compiled_gives_eager_history_for_every_optimizer(optimizer, moons):
    X, y = moons
    model = lambda: nn.Sequential(nn.Linear(2, 6, seed=1), nn.ReLU(), nn.Linear(6, 1, seed=2))  # noqa: E731
    (eager_h, eager_p), (comp_h, comp_p) = _histories(model, X, y, "mse", optimizer, epochs=3, batch_size=10, seed=4, l2=1e-3)
    close(comp_h["loss"], eager_h["loss"], rel=1e-9)
    assert comp_h["accuracy"] == eager_h["accuracy"]
    close(comp_p, eager_p, rel=1e-9)


@pytest.mark.parametrize("loss", ["l1", "hinge", "bce_with_logits"])
def test_fit_compiled_with_dropout_draws_eagers_masks(loss, moons):
    X, y = moons
    y = [2 * t - 1 for t in y] if loss == "hinge" else y
    model = lambda: nn.Sequential(nn.Linear(2, 6, seed=1), nn.Tanh(), nn.Dropout(0.4, seed=7), nn.Linear(6, 1, seed=2))  # noqa: E731
    (eager_h, eager_p), (comp_h, comp_p) = _histories(model, X, y, loss, lambda ps: nn.SGD(ps, lr=0.1), epochs=3, batch_size=8, seed=2)
    close(comp_h["loss"], eager_h["loss"], rel=1e-9)
    assert comp_h["accuracy"] == eager_h["accuracy"]
    close(comp_p, eager_p, rel=1e-9)


@pytest.mark.parametrize("loss", ["cross_entropy", nn.CrossEntropyLoss(), nn.CrossEntropyLoss(reduction="none")],
                         ids=["function (one-hot program)", "module (one-hot program)", "reduction none (one program per class)"])
def test_fit_compiled_with_class_targets(loss):
    X, y = nn.data.spiral(12, classes=3, seed=0)
    model = lambda: nn.MLP(2, [6, 3], seed=1)  # noqa: E731
    (eager_h, eager_p), (comp_h, comp_p) = _histories(model, X, y, loss, lambda ps: nn.Adam(ps, lr=0.05), epochs=3)
    close(comp_h["loss"], eager_h["loss"], rel=1e-9)
    assert comp_h["accuracy"] == eager_h["accuracy"]
    close(comp_p, eager_p, rel=1e-9)


@pytest.mark.parametrize("bad", [3, -1, 1.5, "2"])
def test_fit_compiled_refuses_a_bad_class_index_as_eager_does(bad):
    X, y = nn.data.spiral(6, classes=3, seed=0)
    y = [*y[:-1], bad]
    messages = []
    for compiled in (False, True):
        model = nn.MLP(2, [4, 3], seed=1)
        before = [p.data for p in model.parameters()]
        with pytest.raises((TypeError, ValueError)) as refused:
            nn.fit(model, X, y, "cross_entropy", nn.SGD(model.parameters(), lr=0.1), epochs=1, shuffle=False,
                   progress=False, compile=compiled)
        assert [p.data for p in model.parameters()] == before
        messages.append((type(refused.value), str(refused.value)))
    assert messages[0] == messages[1]


def test_fit_compiled_refuses_what_it_cannot_compile():
    model = nn.MLP(1, [2, 1], seed=1)
    with pytest.raises(TypeError, match="compile"):
        nn.fit(model, [[1.0]], [1.0], "mse", nn.SGD(model.parameters(), lr=0.1), epochs=1, progress=False, compile="yes")
    with pytest.raises(ValueError, match="same"):
        nn.fit(nn.MLP(2, [2, 1], seed=1), [[1.0, 2.0], [1.0]], [1.0, 0.0], "mse",
               nn.SGD(model.parameters(), lr=0.1), epochs=1, progress=False, compile=True)


def test_the_benchmark_steps_compute_what_eager_does(batch_program):
    """bench/bench_compile.py's compiled steps (not their timings) against the eager steps."""
    import importlib.util
    from pathlib import Path

    bench_dir = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench_dir))
    try:
        spec = importlib.util.spec_from_file_location("bench_compile", bench_dir / "bench_compile.py")
        bench_compile = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench_compile)
    finally:
        sys.path.remove(str(bench_dir))
    xs, ys = bench_compile.lab_data(30)
    compiled, _ = bench_compile.compiled_lab_step(bench_compile.lab_model(), xs, ys)
    eager_step = bench_compile.eager_lab_step(bench_compile.lab_model(), xs, ys)
    close([compiled() for _ in range(3)], [eager_step() for _ in range(3)], rel=1e-12)
    X, y = bench_compile.bench.moons(20)
    ours = bench_compile.bench.GenericMLP(Value, 2, [4, 4, 1])
    eager_model = bench_compile.bench.GenericMLP(Value, 2, [4, 4, 1])
    step, _ = bench_compile.compiled_moons_step(ours, X, y)
    close([step() for _ in range(3)], [bench_compile.bench.training_step(Value, eager_model, X, y).data for _ in range(3)],
          rel=1e-12)
    if batch_program is True and importlib.util.find_spec("torch") is not None:  # PyTorch's steps start from the same weights
        import torch

        bench_compile.torch = torch
        eager_lab = bench_compile.eager_lab_step(bench_compile.lab_model(), xs, ys)
        torch_lab = bench_compile.torch_lab_step(bench_compile.lab_model(), xs, ys)
        close([torch_lab() for _ in range(3)], [eager_lab() for _ in range(3)], rel=1e-12)
        X, y = bench_compile.bench.moons(20)  # the same model, fewer points: eager steps in 50 ms
        eager_model = bench_compile.bench.GenericMLP(Value, 2, [16, 16, 1])
        torch_moons = bench_compile.torch_moons_step(X, y)
        close([torch_moons() for _ in range(3)],
              [bench_compile.bench.training_step(Value, eager_model, X, y).data for _ in range(3)], rel=1e-12)


@pytest.mark.parametrize("loss, dropout", [("cross_entropy", True), ("mse", False)])
def test_fit_compiled_with_batchnorm_gives_eagers_history_and_statistics(loss, dropout, moons):
    """μ and σ² are the program's inputs; their own gradients come back through the layers before the norm."""
    X, y = moons
    y = y if loss == "cross_entropy" else [[t, 1 - t] for t in y]

    def model():
        after = [nn.Dropout(0.3, seed=5), nn.Linear(5, 3, seed=2), nn.Tanh(), nn.Dropout(0.2, seed=9)] if dropout else [nn.Linear(5, 3, seed=2)]
        return nn.Sequential(nn.Linear(2, 5, seed=1), nn.BatchNorm1d(5), nn.ReLU(), *after, nn.Linear(3, 2, seed=4))

    runs = []
    for compiled in (False, True):
        m = model()
        history = nn.fit(m, X, y, loss, nn.SGD(m.parameters(), lr=0.1, momentum=0.9), epochs=3, batch_size=10, seed=3,
                         progress=False, compile=compiled)
        runs.append((history, [p.data for p in m.parameters()], m[1].running_mean + m[1].running_var, m[1].num_batches_tracked))
    (eager_h, eager_p, eager_s, eager_n), (comp_h, comp_p, comp_s, comp_n) = runs
    close(comp_h["loss"], eager_h["loss"], rel=1e-9)
    assert comp_h["accuracy"] == eager_h["accuracy"]
    close(comp_p, eager_p, rel=1e-9)
    close(comp_s, eager_s, rel=1e-9)
    assert comp_n == eager_n == 9


class _NormNeverCalled(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear, self.norm = nn.Linear(2, 1, seed=1), nn.BatchNorm1d(2)

    def forward(self, x):
        return self.linear(x)


class _NormCalledTwice(_NormNeverCalled):
    def forward(self, x):
        return self.linear(self.norm(self.norm(x)))


@pytest.mark.parametrize("model", [
    lambda: nn.Sequential(nn.BatchNorm1d(2, momentum=None), nn.Linear(2, 1, seed=2)),
    lambda: nn.Sequential(nn.Linear(2, 3, seed=1), nn.BatchNorm1d(3, affine=False, track_running_stats=False), nn.Tanh(),
                          nn.Linear(3, 1, seed=2)),
    _NormNeverCalled,
], ids=["norm first, momentum None", "no affine, no running statistics", "norm never called"])
def test_fit_compiled_with_batchnorm_variants_gives_eagers_history(model, moons):
    X, y = moons
    y = [2 * t - 1 for t in y]  # hinge: one program per target, the statistics in each
    runs = []
    for compiled in (False, True):
        m = model()
        history = nn.fit(m, X, y, "hinge", nn.SGD(m.parameters(), lr=0.1), epochs=2, batch_size=10, seed=1, l2=1e-3,
                         progress=False, compile=compiled)
        runs.append((history, list(m.state_dict().values())))
    (eager_h, eager_state), (comp_h, comp_state) = runs
    close(comp_h["loss"], eager_h["loss"], rel=1e-9)
    assert comp_h["accuracy"] == eager_h["accuracy"]
    close(comp_state, eager_state, rel=1e-9)


@pytest.mark.parametrize("layers", [
    lambda: [nn.Linear(2, 4, seed=1), nn.BatchNorm1d(4), nn.BatchNorm1d(4), nn.Linear(4, 1, seed=2)],
    lambda: [nn.Dropout(0.5, seed=1), nn.Linear(2, 4, seed=1), nn.BatchNorm1d(4), nn.Linear(4, 1, seed=2)],
    lambda: [_NormCalledTwice()],
], ids=["two norms", "dropout before the norm", "one norm called twice"])
def test_fit_compiled_refuses_batchnorm_it_cannot_compile_and_changes_nothing(layers, moons):
    X, y = moons
    model = nn.Sequential(*layers())
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="BatchNorm1d.*compile=False"):
        nn.fit(model, X, y, "mse", nn.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8, progress=False, compile=True)
    assert [p.data for p in model.parameters()] == before


def test_a_lecture_closure_node_is_refused_with_a_clear_error():
    x = Value(0.5, "x")
    out = Value(0.9, (x,), "tanh")  # the lecture's way: a node with a _backward closure

    def _backward():
        x.grad += 0.19 * out.grad

    out._backward = _backward
    with pytest.raises(TypeError, match=r"'tanh'.*_backward closure.*scalargrad.primitive"):
        sg.compile(out * 2.0, [x])
